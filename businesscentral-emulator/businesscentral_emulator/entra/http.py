"""The HTTP face of the emulated Microsoft Entra ID: discovery, keys, authorize, device code, token.

Paths are those of `login.microsoftonline.com`, mounted at the root of the emulator's origin, so an
msal authority is simply `https://127.0.0.1:{port}/{tenant}` (with `instance_discovery=False` and
the emulator's CA as `verify`). All rules live in `entra.EntraService`; this module only parses
requests and renders answers.
"""

from __future__ import annotations

import html
import json
import re
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from businesscentral_emulator.entra.service import (
    AuthorizeRedirect,
    EntraError,
    EntraService,
    transient_refusal,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.requests import Request

_MAX_FORM_BYTES = 1 << 20
_NO_STORE = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}
_SIGN_IN_PATH = re.compile(
    r"^/[^/]+/(?:oauth2/v2\.0/|v2\.0/\.well-known/|\.well-known/|discovery/)"
)


def entra_routes(service: EntraService) -> list[Route]:
    """The Starlette routes of the sign-in service, to put at the root of the emulator's app.

    Args:
        service: the tenant's state and rules; the routes share it with whoever validates
            access tokens (the API layer).
    """
    endpoints = _Endpoints(service)
    return [
        Route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            endpoints.openid_configuration_v2,
            methods=["GET"],
        ),
        Route(
            "/{tenant}/.well-known/openid-configuration",
            endpoints.openid_configuration_v1,
            methods=["GET"],
        ),
        Route("/{tenant}/discovery/v2.0/keys", endpoints.keys, methods=["GET"]),
        Route("/{tenant}/discovery/keys", endpoints.keys, methods=["GET"]),
        Route(
            "/{tenant}/oauth2/v2.0/token",
            endpoints.token,
            methods=["POST"],
            max_body_size=_MAX_FORM_BYTES,
        ),
        Route("/{tenant}/oauth2/v2.0/authorize", endpoints.authorize, methods=["GET", "POST"]),
        Route(
            "/{tenant}/oauth2/v2.0/devicecode",
            endpoints.devicecode,
            methods=["POST"],
            max_body_size=_MAX_FORM_BYTES,
        ),
    ]


class _Endpoints:
    """Request handlers bound to one `EntraService`."""

    def __init__(self, service: EntraService) -> None:
        self.service = service

    async def openid_configuration_v2(self, request: Request) -> Response:
        """The OpenID Connect discovery document msal reads first (its tenant discovery)."""
        return _guarded(request, lambda: self._configuration(request, v2=True))

    async def openid_configuration_v1(self, request: Request) -> Response:
        """The v1 discovery document: its issuer is the `iss` of access tokens."""
        return _guarded(request, lambda: self._configuration(request, v2=False))

    async def keys(self, request: Request) -> Response:
        """The JSON Web Key Set that verifies the emulator's access and ID tokens."""

        def answer() -> Response:
            self.service.resolve_tenant(
                request.path_params["tenant"], delegated=True, error="invalid_tenant"
            )
            return JSONResponse(self.service.jwks())

        return _guarded(request, answer)

    async def token(self, request: Request) -> Response:
        """Every grant msal uses: client credentials, authorization code, refresh, device code."""
        form = await _form(request)
        return _guarded(
            request,
            lambda: JSONResponse(
                self.service.token(
                    request.path_params["tenant"], form, base_url=_base_url(request)
                ),
                headers=_NO_STORE,
            ),
        )

    async def devicecode(self, request: Request) -> Response:
        """Open a device-code sign-in (approved by the emulated user after the first poll)."""
        form = await _form(request)
        return _guarded(
            request,
            lambda: JSONResponse(
                self.service.start_device_flow(request.path_params["tenant"], form),
                headers=_NO_STORE,
            ),
        )

    async def authorize(self, request: Request) -> Response:
        """Sign in and consent without a page: straight back to the loopback redirect URI."""
        params: dict[str, str] = dict(request.query_params)
        if request.method == "POST":
            params.update(await _form(request))
        return _guarded(
            request,
            lambda: _redirect(self.service.authorize(request.path_params["tenant"], params)),
        )

    def _configuration(self, request: Request, *, v2: bool) -> Response:
        service = self.service
        segment = service.resolve_tenant(
            request.path_params["tenant"], delegated=True, error="invalid_tenant"
        )
        root = f"{_base_url(request)}/{segment}"
        if segment == service.config.tenant_id:
            issuer = service.id_token_issuer if v2 else service.access_token_issuer
        else:
            issuer = (
                "https://login.microsoftonline.com/{tenantid}/v2.0"
                if v2
                else "https://sts.windows.net/{tenantid}/"
            )
        document: dict[str, Any] = {
            "token_endpoint": f"{root}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
            ],
            "jwks_uri": f"{root}/discovery/v2.0/keys" if v2 else f"{root}/discovery/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "grant_types_supported": [
                "authorization_code",
                "client_credentials",
                "refresh_token",
                "urn:ietf:params:oauth:grant-type:device_code",
            ],
            "code_challenge_methods_supported": ["S256", "plain"],
            "issuer": issuer,
            "request_uri_parameter_supported": False,
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
            "http_logout_supported": False,
            "frontchannel_logout_supported": False,
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "nonce",
                "preferred_username",
                "name",
                "oid",
                "tid",
                "ver",
            ],
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
        }
        return JSONResponse(document)


def is_sign_in_path(path: str) -> bool:
    """Whether `path` is one of the sign-in service's routes (faults answer there like Entra)."""
    return _SIGN_IN_PATH.match(path) is not None


def sign_in_fault(status: int) -> tuple[int, bytes, dict[str, str]]:
    """Status, JSON body and headers of Entra's answer for an injected 408, 429 or 5xx."""
    body = transient_refusal(status).body()
    return status, json.dumps(body).encode(), {**_NO_STORE, "x-ms-request-id": body["trace_id"]}


def _guarded(request: Request, answer: Callable[[], Response]) -> Response:
    """Run a handler; turn an `EntraError` into Entra's JSON error with its status."""
    correlation_id = request.headers.get("client-request-id") or str(uuid.uuid4())
    try:
        response = answer()
    except EntraError as error:
        body = error.body(correlation_id=correlation_id)
        headers = {**_NO_STORE, "x-ms-request-id": body["trace_id"]}
        response = JSONResponse(body, status_code=error.status, headers=headers)
    response.headers["client-request-id"] = correlation_id
    return response


async def _form(request: Request) -> dict[str, str]:
    """The fields of a form-encoded body (the only encoding the token endpoint accepts)."""
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("application/x-www-form-urlencoded"):
        return {}
    body = await request.body()
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def _base_url(request: Request) -> str:
    """Scheme and authority the client used, so discovery points back at the same origin."""
    return str(request.base_url).rstrip("/")


def _redirect(target: AuthorizeRedirect) -> Response:
    """Send the browser back: 302 for query/fragment, an auto-submitting form for form_post."""
    if target.response_mode != "form_post":
        return RedirectResponse(target.location, status_code=302)
    fields = "".join(
        f'<input type="hidden" name="{html.escape(name)}" value="{html.escape(value)}"/>'
        for name, value in target.params.items()
    )
    page = (
        "<html><head><title>Working...</title></head>"
        '<body onload="document.forms[0].submit()">'
        f'<form method="POST" action="{html.escape(target.redirect_uri)}">{fields}</form>'
        "</body></html>"
    )
    return HTMLResponse(page)
