"""Exceptions shared by the tap and the target.

Every failure that reaches a user names what went wrong in BC's own words (status, error code,
message, correlation id) so that a support ticket can be filed from the log alone, and never carries
a secret or a token.
"""

from __future__ import annotations

from typing_extensions import override


class ConfigurationError(ValueError):
    """A setting is missing or wrong; the message is one plain sentence naming it."""


class InsecureTransportError(ConfigurationError):
    """Credentials would travel over plain ``http://`` to a host that is not loopback."""


class BusinessCentralError(Exception):
    """An error answered by Business Central (or the way to it), as BC reported it.

    Attributes:
        status: HTTP status, or None when no response arrived.
        code: BC's error code, e.g. ``Request_EntityChanged``.
        message: BC's message without the correlation id suffix.
        correlation_id: The id BC logged the failure under, for support.
        method: HTTP method of the failed request.
        url: URL of the failed request.
    """

    def __init__(  # noqa: PLR0913 - each field is part of what a user must see
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        correlation_id: str | None = None,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        """Keep the parts apart so callers can branch on status and code."""
        self.message = message
        self.status = status
        self.code = code
        self.correlation_id = correlation_id
        self.method = method
        self.url = url
        super().__init__(self._render())

    def _render(self) -> str:
        head = []
        if self.method and self.url:
            head.append(f"{self.method} {self.url}")
        if self.status is not None:
            head.append(f"HTTP {self.status}")
        if self.code:
            head.append(self.code)
        text = ": ".join([" ".join(head), self.message]) if head else self.message
        if self.correlation_id:
            text += f" (CorrelationId: {self.correlation_id})"
        return text

    @override
    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only fields would otherwise be lost when the error crosses a process boundary.
        return (_rebuild, (type(self), self.message, self.__dict__.copy()))


def _rebuild(cls: type[BusinessCentralError], message: str, state: dict[str, object]) -> object:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class AuthenticationError(BusinessCentralError):
    """Sign-in failed or BC refused the credentials; the message has the AADSTS code if any."""


class OutcomeUnknownError(BusinessCentralError):
    """A write was sent but no trustworthy answer came back: it may or may not have happened.

    The caller must check BC (e.g. look the record up by its natural key) before sending it again.
    """


class RetriesExhaustedError(BusinessCentralError):
    """A retryable failure persisted past the attempt or time budget."""


class ConnectionFailedError(BusinessCentralError):
    """The host could not be reached in a way retrying will not fix.

    A certificate that does not verify against ``ca_bundle``, a host name that does not resolve or
    a port where nothing listens (on a host that never answered in this run). The message names the
    setting to check.
    """
