"""Injected faults: the failures a client of the real BC meets, on demand and deterministic.

Rules are set through `/_emulator/faults`. Each rule fires on the next `count` requests that match
its method and path fragment, so a test knows exactly which request fails and how:

- `status`: an error status (429, 502, 503, 504, 408, ...) with BC's body and `Retry-After`;
- `deadlock`: BC's retryable 409 `Internal_ServerError` "...deadlocked...";
- `reset`: the connection is dropped before any response byte;
- `truncate`: the response starts, half its body is sent, then the connection drops;
- `stall`: the response is delayed by `seconds` (a client timeout test).

This is an ASGI middleware; it reaches the connection through the scope (see `app`).
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from businesscentral_emulator.errors import BusinessCentralError

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, MutableMapping

    from businesscentral_emulator.backend import Counters

    Scope = MutableMapping[str, Any]
    Message = MutableMapping[str, Any]
    Receive = Callable[[], Awaitable[Message]]
    Send = Callable[[Message], Awaitable[None]]
    ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

KINDS = ("status", "deadlock", "reset", "truncate", "stall")
_STATUS_ERRORS = {
    408: ("Request_Timeout", "The operation has timed out."),
    429: ("Application_TooManyRequests", "Too many requests reached. Actual (101). Maximum (100)."),
    500: ("Internal_ServerError", "An unexpected error occurred."),
    502: ("BadGateway", "Bad Gateway."),
    503: ("Application_ServiceUnavailable", "The service is temporarily unavailable."),
    504: ("GatewayTimeout", "The request execution timed out."),
}


class FaultRule(msgspec.Struct, forbid_unknown_fields=True):
    """One rule: what to do to the next `count` matching requests."""

    kind: str
    count: int = 1
    status: int = 503
    retry_after: float | None = None
    seconds: float = 0.0
    method: str | None = None
    path_contains: str | None = None


class FaultPlan(msgspec.Struct, forbid_unknown_fields=True):
    """The body of `POST /_emulator/faults`."""

    faults: list[FaultRule]


@dataclass
class _Armed:
    rule: FaultRule
    left: int


class Faults:
    """The armed rules, shared by all requests."""

    def __init__(self, counters: Counters) -> None:
        """Start with no faults; count the ones that fire in `counters`."""
        self._rules: list[_Armed] = []
        self._lock = threading.Lock()
        self._counters = counters

    def arm(self, plan: FaultPlan) -> None:
        """Add rules; each fires on its next `count` matching requests."""
        for rule in plan.faults:
            if rule.kind not in KINDS:
                msg = f"unknown fault kind {rule.kind!r}; expected one of {', '.join(KINDS)}"
                raise ValueError(msg)
        with self._lock:
            self._rules.extend(_Armed(rule, rule.count) for rule in plan.faults)

    def clear(self) -> None:
        """Disarm every rule."""
        with self._lock:
            self._rules.clear()

    def take(self, method: str, path: str) -> FaultRule | None:
        """The rule that fires for this request, if any (consuming one of its shots)."""
        with self._lock:
            for armed in self._rules:
                rule = armed.rule
                if rule.method and rule.method.upper() != method:
                    continue
                if rule.path_contains and rule.path_contains not in path:
                    continue
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
        rule = self.faults.take(scope["method"], path + "?" + scope["query_string"].decode())
        if rule is None:
            await self.app(scope, receive, send)
        elif rule.kind == "stall":
            await asyncio.sleep(rule.seconds)
            await self.app(scope, receive, send)
        elif rule.kind == "reset":
            _abort(scope)
        elif rule.kind == "truncate":
            await self.app(scope, receive, _truncating(scope, send))
        else:
            await _send_error(send, rule)


def _abort(scope: Scope) -> None:
    """Drop the connection under this request (the counting middleware put it in the scope)."""
    transport = scope.get("emulator.transport")
    if transport is None:
        msg = "cannot reach the connection to reset it"
        raise RuntimeError(msg)
    transport.abort()


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


async def _send_error(send: Send, rule: FaultRule) -> None:
    if rule.kind == "deadlock":
        error = BusinessCentralError(
            409,
            "Internal_ServerError",
            "The activity was deadlocked with another user. Please retry the activity.",
        )
    else:
        code, message = _STATUS_ERRORS.get(rule.status, ("Internal_ServerError", "Error."))
        error = BusinessCentralError(rule.status, code, message)
    body = error.body()
    headers = [
        (b"content-type", b"application/json; odata.metadata=minimal"),
        (b"content-length", str(len(body)).encode()),
    ]
    if rule.retry_after is not None:
        headers.append((b"retry-after", f"{rule.retry_after:g}".encode()))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
