"""Why a connection failed, and whether trying again can help.

``requests`` reports every way a connection can fail as one ``ConnectionError`` (or ``SSLError``)
wrapping urllib3's and the ``ssl`` and ``socket`` modules' exceptions. Only some are transient:

- a certificate that does not verify against ``ca_bundle`` fails the same way every time;
- a host name that does not resolve, a port where nothing listens, or a host that lets a
  connection attempt time out is usually a wrong URL or a firewall, so a host that never answered
  in this run gets a few quick attempts, not minutes of backoff (connecting is bounded by
  ``CONNECT_TIMEOUT``, however long a response may take);
- a connection reset, a timeout or a half-read body are what retries are for.

:func:`classify` looks through the wrapped exceptions and says which case it is, in words a user
can act on (without any URL credentials: settings refuse those, and ``redact`` scrubs them).
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "CONNECT_TIMEOUT",
    "QUICK_ATTEMPTS",
    "QUICK_DELAY",
    "ConnectionProblem",
    "classify",
    "timeouts",
]

# A host that never answered: this many attempts, this far apart, before saying so.
QUICK_ATTEMPTS = 3
QUICK_DELAY = 0.5
# Seconds to establish a connection (TCP and TLS handshake); BC and Entra take well under one.
CONNECT_TIMEOUT = 15.0

Kind = Literal["tls", "dns", "refused", "no_connect", "transient"]


@dataclass(frozen=True)
class ConnectionProblem:
    """What went wrong on the way to a host.

    Attributes:
        kind: ``tls`` (certificate verification failed: never retried), ``dns`` (the name does
            not resolve), ``refused`` (nothing listens there), ``no_connect`` (connecting timed
            out), or ``transient`` (reset, read timeout, cut: retried as any transient failure).
        detail: The cause in a few words, e.g. ``certificate verify failed: self-signed
            certificate in certificate chain``.
    """

    kind: Kind
    detail: str

    def explain(self, host: str, *, url_setting: str, ca_bundle: str | None) -> str:
        """One sentence naming the cause and the setting to check."""
        if self.kind == "tls":
            if ca_bundle:
                advice = (
                    f"check ca_bundle: {ca_bundle} does not hold the CA that signed "
                    f"{host}'s certificate"
                )
            else:
                advice = (
                    "no CA this machine trusts signed its certificate; set ca_bundle to the "
                    "PEM file of the CA that did (e.g. a TLS-inspecting proxy's)"
                )
            return f"TLS verification of {host} failed ({self.detail}); {advice}"
        if self.kind == "dns":
            return f"the host name {host} does not resolve ({self.detail}); check {url_setting}"
        if self.kind == "refused":
            return (
                f"nothing accepts connections at {host} ({self.detail}); check {url_setting} "
                "and that the service is reachable from here"
            )
        if self.kind == "no_connect":
            return (
                f"{host} did not accept a connection within {CONNECT_TIMEOUT:g}s; check "
                f"{url_setting} and that the service is reachable from here (firewall, proxy)"
            )
        return f"the connection to {host} failed ({self.detail})"


def timeouts(read_timeout: float) -> tuple[float, float]:
    """``requests``' (connect, read) timeouts: a short connect bound, the long read bound."""
    return (min(read_timeout, CONNECT_TIMEOUT), read_timeout)


def classify(exc: BaseException) -> ConnectionProblem:
    """Sort a ``requests`` exception into TLS, DNS, refused or transient."""
    for cause in _causes(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            detail = cause.verify_message or cause.reason or "certificate verify failed"
            return ConnectionProblem("tls", f"certificate verify failed: {detail}")
        if isinstance(cause, ssl.SSLError) and "CERTIFICATE_VERIFY_FAILED" in str(cause):
            return ConnectionProblem("tls", "certificate verify failed")
        if isinstance(cause, socket.gaierror) or type(cause).__name__ == "NameResolutionError":
            return ConnectionProblem("dns", "name resolution failed")
        if isinstance(cause, ConnectionRefusedError):
            return ConnectionProblem("refused", "connection refused")
        if type(cause).__name__ in {"ConnectTimeout", "ConnectTimeoutError"}:
            return ConnectionProblem("no_connect", "connect timed out")
    return ConnectionProblem("transient", type(exc).__name__)


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and everything it wraps: args, ``reason``, cause and context."""
    seen: set[int] = set()
    pending: list[object] = [exc]
    while pending:
        item = pending.pop(0)
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        pending.extend(item.args)
        pending.extend((getattr(item, "reason", None), item.__cause__, item.__context__))
