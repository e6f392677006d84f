"""The HTTP client: one keep-alive session, retries that are safe, and the rate limiter.

Reads (GET, HEAD) are retried on 408, 429, 502, 503, 504, BC's 409 deadlock, connection errors and
truncated bodies, honouring ``Retry-After`` and otherwise backing off exponentially with jitter,
bounded by a number of attempts and a total time. Writes are retried only when BC cannot have
acted on them (refused with 429, rolled back by a deadlock, or never sent); when a write may or may
not have happened, :class:`~businesscentral_api.errors.OutcomeUnknownError` tells the caller.
"""

from __future__ import annotations

import dataclasses
import email.utils
import logging
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from businesscentral_api.connection import (
    QUICK_ATTEMPTS,
    QUICK_DELAY,
    ConnectionProblem,
    classify,
    timeouts,
)
from businesscentral_api.errors import (
    AuthenticationError,
    BusinessCentralError,
    ConnectionFailedError,
    OutcomeUnknownError,
    RetriesExhaustedError,
)
from businesscentral_api.jsonutil import dump_json, parse_json
from businesscentral_api.odata import NO_MESSAGE, error_from_response
from businesscentral_api.ratelimit import RateLimiter
from businesscentral_api.settings import require_safe_transport

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = [
    "Credential",
    "HttpClient",
    "HttpResponse",
    "RetryPolicy",
    "new_session",
]

LOGGER = logging.getLogger("businesscentral_api.http")
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
RETRYABLE_STATUSES = frozenset({408, 429, 502, 503, 504})
# Statuses at which BC did not act on a write: throttled before running, or a deadlock rolled back.
WRITE_SAFE_STATUSES = frozenset({429})
USER_AGENT = "businesscentral-singer/0.1 (+singer-sdk)"


class Credential(Protocol):
    """What the HTTP client needs from a sign-in method."""

    def authorization(self) -> str:
        """Value of the ``Authorization`` header for the next request."""
        ...

    def invalidate(self, authorization: str) -> bool:
        """Forget a header BC answered 401 to; False when renewing cannot help (Basic)."""
        ...


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before giving up.

    Attributes:
        max_attempts: Attempts per request, the first included.
        max_total_seconds: Wall time across all attempts and waits of one request.
        backoff_base: First backoff in seconds when BC gives no ``Retry-After``.
        backoff_max: Longest single backoff.
        max_retry_after: Longest ``Retry-After`` honoured before giving up instead.
    """

    max_attempts: int = 8
    max_total_seconds: float = 900.0
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    max_retry_after: float = 300.0

    def backoff(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """Exponential backoff with equal jitter: half fixed, half random."""
        ceiling = min(self.backoff_max, self.backoff_base * 2.0 ** (attempt - 1))
        return ceiling / 2 + rng() * ceiling / 2


@dataclass(frozen=True)
class HttpResponse:
    """A complete response: status, headers and body bytes (already fully read)."""

    status: int
    headers: Mapping[str, str]
    content: bytes
    url: str
    # The body already parsed while checking it was complete (``parse=True``): not parsed twice.
    parsed: Any = dataclasses.field(default=None, compare=False, repr=False)

    def json(self) -> Any:  # noqa: ANN401 - JSON is any shape
        """The body parsed with decimals kept exact (see :func:`parse_json`)."""
        if self.parsed is not None:
            return self.parsed
        return parse_json(self.content) if self.content else None


def new_session(pool_size: int = 10) -> requests.Session:
    """A keep-alive session with gzip and a connection pool sized for the concurrency bound."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=2, pool_maxsize=max(pool_size, 2), max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.headers.update(
        {
            "Accept": "application/json",
            "Accept-Encoding": "gzip, deflate",
            "User-Agent": USER_AGENT,
        },
    )
    return session


class _Retry(Exception):  # noqa: N818 - internal control flow, not an error for callers
    """One attempt failed in a way the policy may retry."""

    def __init__(
        self,
        error: BusinessCentralError,
        delay: float | None,
        *,
        unknown: bool,
        unreached: ConnectionFailedError | None = None,
    ) -> None:
        super().__init__(str(error))
        self.error = error
        self.delay = delay
        self.unknown = unknown
        # Set when the host never answered and the failure looks like a wrong URL: a few quick
        # attempts, then this error instead of minutes of backoff.
        self.unreached = unreached


class HttpClient:
    """Sends requests to BC through one shared session, the limiter and the retry policy."""

    def __init__(  # noqa: PLR0913 - all injectable for tests
        self,
        session: requests.Session,
        credential: Credential | None,
        *,
        limiter: RateLimiter | None = None,
        policy: RetryPolicy | None = None,
        timeout: float = 600.0,
        verify: bool | str = True,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        """Share ``session`` and ``limiter`` across threads; ``verify`` is never False."""
        if verify is False:
            msg = "TLS verification cannot be turned off"
            raise ValueError(msg)
        self.session = session
        self.credential = credential
        self.limiter = limiter or RateLimiter()
        self.policy = policy or RetryPolicy()
        self.timeout = timeout
        self.verify = verify
        session.verify = verify
        self._sleep = sleep
        self._clock = clock
        self._rng = rng
        self.retries = 0
        self._reached: set[str] = set()  # hosts that answered at least once in this run

    def get_json(self, url: str, headers: Mapping[str, str] | None = None) -> Any:  # noqa: ANN401
        """GET a JSON document, retrying truncated or unparsable bodies like any transient error."""
        response = self.request("GET", url, headers=headers, parse=True)
        return response.json()

    def request(  # noqa: PLR0913 - the parts of an HTTP request
        self,
        method: str,
        url: str,
        *,
        json_body: object = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        parse: bool = False,
        cost: int = 1,
    ) -> HttpResponse:
        """Send one request with retries; return the 2xx response or raise.

        Args:
            method: HTTP method.
            url: Full URL, query included (see :func:`businesscentral_api.odata.with_query`).
            json_body: Body to serialize as JSON (decimals exact).
            body: Raw body, when not JSON.
            headers: Extra headers (``If-Match``, ``Prefer``, ...).
            idempotent: Whether repeating the request is harmless; defaults to True for reads
                only. Say True for a write only when a duplicate cannot arise.
            parse: Check that a 2xx body is complete JSON, and retry if not (reads).
            cost: What the request counts against BC's request window (operations of a batch).

        Raises:
            BusinessCentralError: BC answered an error that is not retryable.
            RetriesExhaustedError: A retryable failure persisted past the policy.
            OutcomeUnknownError: A non-idempotent write may or may not have happened.
            AuthenticationError: Credentials were refused twice.
            ConnectionFailedError: The host cannot be reached in a way retrying will not fix
                (certificate not trusted, name not resolved, nothing listening).
        """
        method = method.upper()
        safe_to_repeat = method in READ_METHODS if idempotent is None else idempotent
        data = dump_json(json_body) if json_body is not None else body
        send_headers = dict(headers or {})
        if json_body is not None:
            send_headers.setdefault("Content-Type", "application/json")
        started = self._clock()
        renewed = False
        attempt = 0
        while True:
            attempt += 1
            refused: AuthenticationError | None = None
            try:
                return self._attempt(method, url, data, send_headers, parse=parse, cost=cost)
            except _Unauthorized as exc:
                if renewed or not exc.renewable:
                    refused = self._refusal(exc, renewed=renewed)
                else:
                    renewed = True
                    attempt -= 1  # a renewed token is not a retry of the same failure
                    continue
            except _Retry as retry:
                if retry.unknown and not safe_to_repeat:
                    raise OutcomeUnknownError(
                        "the write may or may not have happened: " + retry.error.message,
                        status=retry.error.status,
                        code=retry.error.code,
                        correlation_id=retry.error.correlation_id,
                        method=method,
                        url=url,
                    ) from None
                delay = self._delay(retry, attempt)
                elapsed = self._clock() - started
                if (
                    attempt >= self.policy.max_attempts
                    or delay > self.policy.max_retry_after
                    or elapsed + delay > self.policy.max_total_seconds
                ):
                    msg = f"gave up after {attempt} attempts: {retry.error.message}"
                    raise RetriesExhaustedError(
                        msg,
                        status=retry.error.status,
                        code=retry.error.code,
                        correlation_id=retry.error.correlation_id,
                        method=method,
                        url=url,
                    ) from None
                LOGGER.warning(
                    "%s %s failed (%s); retry %d in %.1fs",
                    method,
                    _path(url),
                    _describe(retry.error),
                    attempt,
                    delay,
                )
                self.retries += 1
                self._sleep(delay)
            if refused is not None:
                raise refused

    def _delay(self, retry: _Retry, attempt: int) -> float:
        """Seconds before the next attempt; a host that never answered gets only quick ones."""
        if retry.unreached is not None:
            if attempt >= QUICK_ATTEMPTS:
                raise retry.unreached from None
            return QUICK_DELAY
        if retry.delay is not None:
            return retry.delay
        return self.policy.backoff(attempt, self._rng)

    def _attempt(  # noqa: PLR0913 - the parts of a request and its cost
        self,
        method: str,
        url: str,
        data: bytes | None,
        headers: dict[str, str],
        *,
        parse: bool,
        cost: int = 1,
    ) -> HttpResponse:
        authorization = None
        if self.credential is not None:
            require_safe_transport(url, "api_url / base_url")
            authorization = self.credential.authorization()
            headers = {**headers, "Authorization": authorization}
        response, problem, never_sent = self._send(method, url, data, headers, cost)
        if response is None:
            raise self._connection_failure(method, url, problem, never_sent=never_sent)
        self._reached.add(urlsplit(url).netloc)
        content = response.content
        LOGGER.debug("%s %s -> %d", method, _path(url), response.status)
        if 200 <= response.status < 300:  # noqa: PLR2004
            if parse and content:
                try:
                    return dataclasses.replace(response, parsed=parse_json(content))
                except ValueError:
                    error = BusinessCentralError(
                        "the response body was incomplete or not JSON",
                        status=response.status,
                        method=method,
                        url=url,
                    )
                    raise _Retry(error, None, unknown=True) from None
            return response
        error = error_from_response(
            response.status,
            content,
            method=method,
            url=url,
            headers=response.headers,
        )
        if response.status == 401 and authorization is not None:  # noqa: PLR2004
            renewable = self.credential is not None and self.credential.invalidate(authorization)
            auth_error = AuthenticationError(
                error.message,
                status=401,
                code=error.code,
                correlation_id=error.correlation_id,
                method=method,
                url=url,
            )
            raise _Unauthorized(auth_error, renewable=renewable, headers=response.headers)
        delay = _retry_after(response.headers, self._clock)
        if response.status == 429:  # noqa: PLR2004
            self.limiter.pause(delay if delay is not None else self.policy.backoff(1, self._rng))
            raise _Retry(error, delay, unknown=False)
        if is_deadlock(error):
            raise _Retry(error, delay, unknown=False)
        if response.status in RETRYABLE_STATUSES:
            # A gateway or timeout status says nothing about whether a write ran.
            raise _Retry(error, delay, unknown=True)
        raise error

    def _send(
        self,
        method: str,
        url: str,
        data: bytes | None,
        headers: dict[str, str],
        cost: int = 1,
    ) -> tuple[HttpResponse | None, ConnectionProblem, bool]:
        """One exchange, body read in full: (response, _, _) or (None, problem, never_sent).

        Nothing of the ``requests`` response (which holds the socket) outlives this call, so no
        exception traceback can keep a connection open.
        """
        with self.limiter.slot(cost):
            try:
                raw = self.session.request(
                    method,
                    url,
                    data=data,
                    headers=headers,
                    timeout=timeouts(self.timeout),
                    verify=self.verify,
                    allow_redirects=False,
                )
                with raw:
                    answer = HttpResponse(raw.status_code, raw.headers, raw.content, url)
                    return answer, _NO_PROBLEM, False
            except requests.RequestException as exc:
                return None, classify(exc), _never_sent(exc)

    def _connection_failure(
        self,
        method: str,
        url: str,
        problem: ConnectionProblem,
        *,
        never_sent: bool,
    ) -> Exception:
        """What to raise for a failed exchange: retry it, retry it quickly, or give up now."""
        host = urlsplit(url).netloc
        ca_bundle = self.verify if isinstance(self.verify, str) else None
        explained = problem.explain(host, url_setting="api_url / base_url", ca_bundle=ca_bundle)
        if problem.kind == "tls":
            return ConnectionFailedError(explained, method=method, url=url)
        error = BusinessCentralError(
            f"{problem.detail}: connection failed or was cut"
            if problem.kind == "transient"
            else explained,
            method=method,
            url=url,
        )
        unreached = None
        if problem.kind != "transient" and host not in self._reached:
            unreached = ConnectionFailedError(explained, method=method, url=url)
        return _Retry(error, None, unknown=not never_sent, unreached=unreached)

    def _refusal(self, exc: _Unauthorized, *, renewed: bool) -> AuthenticationError:
        """The error for a final 401, saying who refused and what to check, never empty."""
        error = exc.error
        said = error.message  # BC's code, when there is one, heads the rendered error
        if error.message == NO_MESSAGE:
            challenge = exc.headers.get("WWW-Authenticate")
            said = f"WWW-Authenticate: {challenge}" if challenge else "no reason given"
        if renewed:
            head = (
                "Microsoft Entra ID issued a token but Business Central refused it, also after "
                "signing in again (HTTP 401"
            )
        else:
            head = "Business Central refused the credentials (HTTP 401"
        advice = getattr(self.credential, "refusal_advice", "")
        message = f"{head}; {said})" + (f"; {advice}" if advice else "")
        return AuthenticationError(
            message,
            status=401,
            code=error.code,
            correlation_id=error.correlation_id,
            method=error.method,
            url=error.url,
        )


class _Unauthorized(Exception):  # noqa: N818 - internal control flow
    def __init__(
        self,
        error: AuthenticationError,
        *,
        renewable: bool,
        headers: Mapping[str, str],
    ) -> None:
        super().__init__(str(error))
        self.error = error
        self.renewable = renewable
        self.headers = headers


_NO_PROBLEM = ConnectionProblem("transient", "")


def is_deadlock(error: BusinessCentralError) -> bool:
    """BC's retryable 409: the operation was rolled back after a deadlock."""
    return error.status == 409 and "deadlock" in error.message.lower()  # noqa: PLR2004


def _never_sent(exc: requests.RequestException) -> bool:
    """Whether the request surely did not reach BC (connect failed), so a write can be resent."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0], "reason", None) if exc.args else None
    return type(reason).__name__ in {"NewConnectionError", "NameResolutionError"}


def _retry_after(headers: Mapping[str, str], clock: Callable[[], float]) -> float | None:
    """Seconds from ``Retry-After`` (delta-seconds or HTTP date), None when absent or unreadable."""
    del clock  # HTTP dates are wall-clock; the monotonic clock cannot convert them
    value = headers.get("Retry-After")
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def _path(url: str) -> str:
    """URL without its query, for logs: filters may carry customer data."""
    return url.split("?", 1)[0]


def _describe(error: BusinessCentralError) -> str:
    parts = [str(error.status) if error.status else "no response"]
    if error.code:
        parts.append(error.code)
    if error.correlation_id:
        parts.append(f"CorrelationId {error.correlation_id}")
    if not error.status:
        parts.append(error.message)
    return ", ".join(parts)
