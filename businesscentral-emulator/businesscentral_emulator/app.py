"""The emulator's ASGI application: sign-in, the BC API and the test hooks behind one origin."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware

from businesscentral_emulator.chaos.faults import FaultMiddleware, Faults
from businesscentral_emulator.entra.http import entra_routes
from businesscentral_emulator.hooks import Hooks
from businesscentral_emulator.odata.http import ApiEndpoints

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, MutableMapping

    from businesscentral_emulator.chaos.limits import LimitSettings
    from businesscentral_emulator.entra.service import EntraService
    from businesscentral_emulator.rules.writes import WriteSettings
    from businesscentral_emulator.store.backend import Backend, Counters

    Scope = MutableMapping[str, Any]
    Message = MutableMapping[str, Any]
    Receive = Callable[[], Awaitable[Message]]
    Send = Callable[[Message], Awaitable[None]]
    ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def path_kind(path: str) -> str:
    """The kind of request a path is, for the counters."""
    if path.startswith("/_emulator"):
        return "hook"
    if "/oauth2/" in path or "/.well-known/" in path or "/discovery/" in path:
        return "auth"
    if path.startswith("/environments/"):
        return "environments"
    if path.endswith("/$metadata"):
        return "metadata"
    if path.endswith("/$batch"):
        return "batch"
    return "api"


class CountingMiddleware:
    """Counts every request by method, path kind and final status."""

    def __init__(self, app: ASGIApp, counters: Counters) -> None:
        """Wrap `app`."""
        self.app = app
        self.counters = counters

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request through and record its status."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # uvicorn's `send` is bound to its request cycle, which holds the connection (for faults).
        scope["emulator.transport"] = getattr(getattr(send, "__self__", None), "transport", None)
        status = 0

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            self.counters.record(scope["method"], path_kind(scope["path"]), status)


def create_app(  # noqa: PLR0913, PLR0917
    backend: Backend,
    entra: EntraService,
    basic_auth: tuple[str, str],
    info: Callable[[], dict[str, Any]],
    settings: tuple[WriteSettings, LimitSettings] | None = None,
    fault_seed: int = 0,
) -> tuple[ASGIApp, Faults]:
    """Assemble the application; returns it with its fault switchboard."""
    faults = Faults(backend.counters, fault_seed)
    api = ApiEndpoints(backend, entra, basic_auth, settings)
    hooks = Hooks(backend, entra, faults, info, api)
    starlette = Starlette(
        routes=[*hooks.routes(), *entra_routes(entra), *api.routes()],
        middleware=[Middleware(GZipMiddleware, minimum_size=1024, compresslevel=1)],
    )
    # The counters sit outermost so that faulted requests are counted too (status 0: no response).
    return CountingMiddleware(FaultMiddleware(starlette, faults), backend.counters), faults
