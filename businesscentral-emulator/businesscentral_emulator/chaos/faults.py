"""Injected faults: the failures a client of the real BC meets, on demand and deterministic.

Rules are set through `/_emulator/faults`. Each rule fires on the next `count` requests that match
its method and path fragment, so a test knows exactly which request fails and how:

- `status`: an error status (429, 502, 503, 504, 408, ...) with BC's body and `Retry-After`
  (on the sign-in routes, Entra's error body instead; `body` sends that text instead of either,
  as a gateway's error page would);
- `deadlock`: BC's retryable 409 `Internal_ServerError` "...deadlocked...";
- `reset`: the connection is dropped before any response byte;
- `truncate`: the response starts, half its body is sent, then the connection drops;
- `stall`: the response is delayed by `seconds` (a client timeout test);
- `slow`: BC itself takes `seconds` to process the request (subject to the operation timeout);
- `token_expired`: the bearer token is refused as expired (401), as when it expires mid-run;
- `rewrite`: the JSON page is altered as a broken server or proxy might, not as BC does (a test
  hook for the client's defences): `next_link` "self" points `@odata.nextLink` back at the
  request, any other value is an origin (`http://127.0.0.1:9`) the link is moved to; `empty`
  drops the page's rows but keeps its link; `set_fields` overwrites fields of every row.

A rule with `rate` fires on each matching request with that probability instead, drawn from a
generator seeded with the emulator's fault seed and the rule's position: the same requests in the
same order meet the same faults. `count` then caps how often it fires (None: no cap). `skip` lets
the first matching requests through (the second `$batch` of a run, not the first). `writes_only`
matches only requests that write: not a GET, and for a `$batch`, one with an operation that is not
a GET (a target's look-ups and writes both go to `$batch`).

`Latency` adds a fixed delay per request and a delay per KB of response body, so the emulator
answers like the cloud (100-300 ms a request) rather than loopback.

This is an ASGI middleware; it reaches the connection through the scope (see `app`).
"""

from __future__ import annotations

import asyncio
import decimal
import hashlib
import random
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import msgspec

from businesscentral_emulator.entra.http import is_sign_in_path, sign_in_fault
from businesscentral_emulator.odata.errors import BusinessCentralError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, MutableMapping

    from businesscentral_emulator.store.backend import Counters

    Scope = MutableMapping[str, Any]
    Message = MutableMapping[str, Any]
    Receive = Callable[[], Awaitable[Message]]
    Send = Callable[[Message], Awaitable[None]]
    ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_READS = frozenset({"GET", "HEAD"})
KINDS = ("status", "deadlock", "reset", "truncate", "stall", "slow", "token_expired", "rewrite")
_STATUS_ERRORS = {
    408: ("Request_Timeout", "The operation has timed out."),
    429: ("Application_TooManyRequests", "Too many requests reached. Actual (101). Maximum (100)."),
    500: ("Internal_ServerError", "An unexpected error occurred."),
    502: ("BadGateway", "Bad Gateway."),
    503: ("Application_ServiceUnavailable", "The service is temporarily unavailable."),
    504: ("GatewayTimeout", "The request execution timed out."),
}

# A rewritten page keeps its numbers digit for digit.
_PAGE_DECODER = msgspec.json.Decoder(float_hook=decimal.Decimal)
_PAGE_ENCODER = msgspec.json.Encoder(decimal_format="number")


class FaultRule(msgspec.Struct, forbid_unknown_fields=True):
    """One rule: what to do to the next `count` matching requests."""

    kind: str
    count: int | None = None
    rate: float | None = None
    status: int = 503
    retry_after: float | None = None
    seconds: float = 0.0
    method: str | None = None
    path_contains: str | None = None
    skip: int = 0
    body: str | None = None
    writes_only: bool = False
    next_link: str | None = None
    empty: bool = False
    set_fields: dict[str, Any] | None = None


class FaultPlan(msgspec.Struct, forbid_unknown_fields=True):
    """The body of `POST /_emulator/faults`."""

    faults: list[FaultRule]


@dataclass
class Latency:
    """Added delay: `per_request_ms` before each answer, `per_kb_ms` per KB of its body."""

    per_request_ms: float = 0.0
    per_kb_ms: float = 0.0


@dataclass
class _Armed:
    rule: FaultRule
    left: int | None
    rng: random.Random | None
    skip: int = 0


class Faults:
    """The armed rules, shared by all requests."""

    def __init__(self, counters: Counters, seed: int = 0) -> None:
        """Start with no faults; count the ones that fire in `counters`."""
        self._rules: list[_Armed] = []
        self._lock = threading.Lock()
        self._counters = counters
        self._armed_total = 0
        self.seed = seed
        self.latency = Latency()

    def _rng(self, index: int) -> random.Random:
        digest = hashlib.blake2b(f"{self.seed}|{index}".encode(), digest_size=8).digest()
        return random.Random(int.from_bytes(digest, "big"))  # noqa: S311 - reproducible, not secret

    def arm(self, plan: FaultPlan) -> None:
        """Add rules; each fires on its next `count` matching requests."""
        for rule in plan.faults:
            if rule.kind not in KINDS:
                msg = f"unknown fault kind {rule.kind!r}; expected one of {', '.join(KINDS)}"
                raise ValueError(msg)
            if rule.rate is not None and not 0 <= rule.rate <= 1:
                msg = f"fault rate must be between 0 and 1, not {rule.rate}"
                raise ValueError(msg)
        with self._lock:
            for rule in plan.faults:
                self._armed_total += 1
                if rule.rate is None:
                    left = 1 if rule.count is None else rule.count
                    self._rules.append(_Armed(rule, left, None, rule.skip))
                else:
                    rng = self._rng(self._armed_total)
                    self._rules.append(_Armed(rule, rule.count, rng, rule.skip))

    def clear(self) -> None:
        """Disarm every rule."""
        with self._lock:
            self._rules.clear()
            self._armed_total = 0

    @property
    def needs_body(self) -> bool:
        """Whether a rule looks into a `$batch` body to tell writes from reads."""
        with self._lock:
            return any(armed.rule.writes_only for armed in self._rules)

    def take(self, method: str, path: str, *, writes: bool = True) -> FaultRule | None:
        """The rule that fires for this request, if any (consuming one of its shots)."""
        with self._lock:
            for armed in self._rules:
                rule = armed.rule
                if rule.method and rule.method.upper() != method:
                    continue
                if rule.writes_only and not writes:
                    continue
                if rule.path_contains and rule.path_contains not in path:
                    continue
                if armed.skip > 0:  # let the first `skip` matching requests through
                    armed.skip -= 1
                    continue
                if armed.rng is not None and armed.rng.random() >= (rule.rate or 0.0):
                    continue
                if armed.left is not None:
                    armed.left -= 1
                    if armed.left <= 0:
                        self._rules.remove(armed)
                with self._counters.lock:
                    self._counters.faults[rule.kind] += 1
                return rule
        return None


class FaultMiddleware:
    """Applies the armed faults to API and sign-in requests (never to the test hooks)."""

    def __init__(self, app: ASGIApp, faults: Faults) -> None:
        """Wrap `app`."""
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request, or fail it as the first matching rule says."""
        path = scope.get("path", "")
        if scope["type"] != "http" or path.startswith("/_emulator"):
            await self.app(scope, receive, send)
            return
        writes = scope["method"] not in _READS
        if writes and path.endswith("$batch") and self.faults.needs_body:
            body, receive = await _buffered(receive)
            writes = _batch_writes(body)
        rule = self.faults.take(
            scope["method"], path + "?" + scope["query_string"].decode(), writes=writes
        )
        latency = self.faults.latency
        if latency.per_request_ms or latency.per_kb_ms:
            send = _delaying(send, latency)
        if rule is None:
            await self.app(scope, receive, send)
        else:
            await self._fail(rule, scope, receive, send)

    async def _fail(self, rule: FaultRule, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer as the rule says: slower, broken, rewritten, or an error in BC's shape."""
        path = scope.get("path", "")
        if rule.kind == "slow":
            scope["emulator.slow"] = rule.seconds
            await self.app(scope, receive, send)
        elif rule.kind == "token_expired":
            await _send_expired(send)
        elif rule.kind == "stall":
            await asyncio.sleep(rule.seconds)
            await self.app(scope, receive, send)
        elif rule.kind == "reset":
            _abort(scope)
        elif rule.kind == "truncate":
            await self.app(scope, receive, _truncating(scope, send))
        elif rule.kind == "rewrite":
            # Plain bodies only (no gzip), so the page can be decoded and changed.
            headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"accept-encoding"]
            scope = {**scope, "headers": headers}
            await self.app(scope, receive, _rewriting(scope, send, rule))
        else:
            await _send_error(send, rule, sign_in=is_sign_in_path(path))


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """Read the whole request body; a `receive` that hands it to the app again."""
    chunks: list[bytes] = []
    first: list[Message] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            first.append(message)  # the client left: pass that on
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    first.insert(0, {"type": "http.request", "body": body, "more_body": False})

    async def replay() -> Message:
        return first.pop(0) if first else await receive()

    return body, replay


def _batch_writes(body: bytes) -> bool:
    """Whether a JSON `$batch` body holds an operation that writes (unreadable: assume so)."""
    try:
        document = msgspec.json.decode(body)
        methods = [str(r.get("method", "")).upper() for r in document.get("requests") or []]
    except (msgspec.DecodeError, AttributeError):
        return True
    return any(method not in _READS for method in methods)


def _abort(scope: Scope) -> None:
    """Drop the connection under this request (the counting middleware put it in the scope)."""
    transport = scope.get("emulator.transport")
    if transport is None:
        msg = "cannot reach the connection to reset it"
        raise RuntimeError(msg)
    transport.abort()


def _delaying(send: Send, latency: Latency) -> Send:
    async def delayed(message: Message) -> None:
        if message["type"] == "http.response.start" and latency.per_request_ms:
            await asyncio.sleep(latency.per_request_ms / 1000)
        elif message["type"] == "http.response.body" and latency.per_kb_ms:
            await asyncio.sleep(len(message.get("body", b"")) / 1024 * latency.per_kb_ms / 1000)
        await send(message)

    return delayed


async def _send_expired(send: Send) -> None:
    challenge = (
        'Bearer authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize",'
        ' error="invalid_token", error_description="The token is expired"'
    )
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [(b"www-authenticate", challenge.encode()), (b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b""})


def _truncating(scope: Scope, send: Send) -> Send:
    async def cut(message: Message) -> None:
        if message["type"] == "http.response.body":
            body = message.get("body", b"")
            await send(
                {"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True}
            )
            _abort(scope)
            return
        await send(message)

    return cut


def _rewriting(scope: Scope, send: Send, rule: FaultRule) -> Send:
    start: Message | None = None
    chunks: list[bytes] = []

    async def rewrite(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
            return
        if message["type"] != "http.response.body" or start is None:
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body"):
            return
        body = _rewrite_page(scope, b"".join(chunks), rule)
        headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return rewrite


def _rewrite_page(scope: Scope, body: bytes, rule: FaultRule) -> bytes:
    try:
        page = _PAGE_DECODER.decode(body)
    except msgspec.DecodeError:
        return body
    if not isinstance(page, dict) or not isinstance(page.get("value"), list):
        return body
    link = page.get("@odata.nextLink")
    if rule.next_link == "self":
        host = dict(scope["headers"]).get(b"host", b"").decode()
        query = scope["query_string"].decode()
        page["@odata.nextLink"] = f"{scope['scheme']}://{host}{scope['path']}" + (
            f"?{query}" if query else ""
        )
    elif rule.next_link and isinstance(link, str):
        parts = urlsplit(link)
        page["@odata.nextLink"] = rule.next_link.rstrip("/") + urlunsplit(
            ("", "", parts.path, parts.query, "")
        )
    if rule.empty:
        page["value"] = []
    for row in page["value"]:
        if isinstance(row, dict):
            row.update(rule.set_fields or {})
    return _PAGE_ENCODER.encode(page)


async def _send_error(send: Send, rule: FaultRule, *, sign_in: bool = False) -> None:
    extra: dict[str, str] = {}
    if rule.body is not None:
        status, body, content_type = rule.status, rule.body.encode(), b"text/html; charset=utf-8"
    elif sign_in and rule.kind == "status":
        status, body, extra = sign_in_fault(rule.status)
        content_type = b"application/json; charset=utf-8"
    else:
        status, body = _bc_error(rule)
        content_type = b"application/json; odata.metadata=minimal"
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    headers += [(name.lower().encode(), value.encode()) for name, value in extra.items()]
    if rule.retry_after is not None:
        headers.append((b"retry-after", f"{rule.retry_after:g}".encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _bc_error(rule: FaultRule) -> tuple[int, bytes]:
    if rule.kind == "deadlock":
        error = BusinessCentralError(
            409,
            "Internal_ServerError",
            "The activity was deadlocked with another user. Please retry the activity.",
        )
    else:
        code, message = _STATUS_ERRORS.get(rule.status, ("Internal_ServerError", "Error."))
        error = BusinessCentralError(rule.status, code, message)
    return error.status, error.body()
