"""The HTTP face of the BC API: URL shapes, bearer or Basic auth, headers, bodies and paging.

Online: `/v2.0/{tenant}/{environment}/api/v2.0/...` (and `/v2.0/{environment}/api/...`, where the
token's tenant decides), custom API pages at `.../api/{publisher}/{group}/{version}/...`, and the
admin list `/environments/v1.1`. On-premises: `/BC/api/v2.0/...` with Basic auth (user name and
web service access key). The rules themselves live in `backend`, `paths` and `reader`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import msgspec
from starlette.responses import Response
from starlette.routing import Route

from businesscentral_emulator.entra import AccessTokenError
from businesscentral_emulator.errors import BusinessCentralError, not_found_segment
from businesscentral_emulator.paths import check_company, resolve
from businesscentral_emulator.query import QueryError, parse_query_options
from businesscentral_emulator.reader import MAX_PAGE_SIZE

if TYPE_CHECKING:
    from starlette.requests import Request

    from businesscentral_emulator.backend import Backend, Environment
    from businesscentral_emulator.edmx import ApiModel
    from businesscentral_emulator.entra import EntraService

JSON_TYPE = "application/json; odata.metadata=minimal; odata.streaming=true"
_MAXPAGESIZE = re.compile(r"odata\.maxpagesize\s*=\s*(\d+)")
ONPREM_INSTANCE = "BC"
_encoder = msgspec.json.Encoder()


def error_response(error: BusinessCentralError) -> Response:
    """BC's error body and status."""
    return Response(
        error.body(),
        status_code=error.status,
        media_type="application/json; odata.metadata=minimal",
    )


def json_response(payload: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    """An OData JSON response, encoded with msgspec (fast, and decimals keep their digits)."""
    return Response(
        _encoder.encode(payload),
        media_type=JSON_TYPE,
        headers={"OData-Version": "4.0", **(headers or {})},
    )


class ApiEndpoints:
    """Request handlers of the BC API. Sync handlers: Starlette runs them in its thread pool."""

    def __init__(self, backend: Backend, entra: EntraService, basic_auth: tuple[str, str]) -> None:
        """Serve `backend`, trusting tokens of `entra`, and Basic auth for on-premises URLs."""
        self.backend = backend
        self.entra = entra
        self.basic_auth = basic_auth

    def routes(self) -> list[Route]:
        """The Starlette routes of the API."""
        methods = ["GET", "POST", "PATCH", "PUT", "DELETE"]
        return [
            Route("/environments/v1.1", self.environments, methods=["GET"]),
            Route("/v2.0/{rest:path}", self.online, methods=methods),
            Route(f"/{ONPREM_INSTANCE}/api/{{rest:path}}", self.onprem, methods=methods),
        ]

    # -- authentication ----------------------------------------------------------------------

    def _unauthorized(self, request: Request, tenant: str | None, reason: str) -> Response:
        authority = f"{request.base_url}".rstrip("/")
        challenge = (
            f'Bearer authorization_uri="{authority}/{tenant or "common"}/oauth2/authorize",'
            f' error="invalid_token", error_description="{reason}"'
        )
        return Response(status_code=401, headers={"WWW-Authenticate": challenge})

    def _bearer(self, request: Request, tenant: str | None) -> Response | dict[str, Any]:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return self._unauthorized(request, tenant, "The access token is missing.")
        try:
            return self.entra.validate_access_token(token.strip(), tenant)
        except AccessTokenError as error:
            return self._unauthorized(request, tenant, str(error))

    def _basic_ok(self, request: Request) -> bool:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        expected_user, expected_password = self.basic_auth
        return hmac.compare_digest(user, expected_user) and hmac.compare_digest(
            password, expected_password
        )

    # -- handlers ----------------------------------------------------------------------------

    def environments(self, request: Request) -> Response:
        """`GET /environments/v1.1`: the environments of the token's tenant."""
        claims = self._bearer(request, None)
        if isinstance(claims, Response):
            return claims
        tenant = claims.get("tid", "")
        value = [
            {
                "aadTenantId": tenant,
                "applicationFamily": "BusinessCentral",
                "type": env.type,
                "name": env.name,
                "countryCode": "US",
                "webServiceUrl": f"{request.base_url}v2.0/{tenant}/{env.name}",
                "status": "Active",
                "applicationVersion": "26.0.30643.32100",
                "platformVersion": "26.0.30586.0",
            }
            for env in self.backend.environments.values()
        ]
        return json_response({"value": value})

    def online(self, request: Request) -> Response:
        """Every `/v2.0/...` API request."""
        parts = request.path_params["rest"].split("/")
        if len(parts) >= 2 and parts[1] == "api":  # noqa: PLR2004 - /v2.0/{env}/api/...
            tenant, environment, rest = None, parts[0], parts[2:]
        elif len(parts) >= 3 and parts[2] == "api":  # noqa: PLR2004 - /v2.0/{tenant}/{env}/api/...
            tenant, environment, rest = parts[0], parts[1], parts[3:]
        else:
            return error_response(not_found_segment(parts[0] if parts else ""))
        claims = self._bearer(request, tenant)
        if isinstance(claims, Response):
            return claims
        prefix = "/".join(["v2.0", *([tenant] if tenant else []), environment, "api"])
        return self._serve(request, environment, rest, f"{request.base_url}{prefix}")

    def onprem(self, request: Request) -> Response:
        """Every on-premises `/BC/api/...` request (Basic auth; one environment)."""
        if not self._basic_ok(request):
            return Response(status_code=401, headers={"WWW-Authenticate": 'Basic realm="BC"'})
        rest = request.path_params["rest"].split("/")
        return self._serve(request, "production", rest, f"{request.base_url}{ONPREM_INSTANCE}/api")

    def _serve(
        self, request: Request, environment: str, rest: list[str], api_base: str
    ) -> Response:
        try:
            env = self.backend.environment(environment)
            api, odata_path = _split_api(env, rest)
            api_root = f"{api_base}/{api.route}"
            if odata_path == "$metadata":
                return Response(api.edmx, media_type="application/xml")
            if request.method != "GET":
                return error_response(_method_not_allowed(request.method, odata_path))
            return self._read(request, env, api, odata_path, api_root)
        except QueryError as error:
            return error_response(BusinessCentralError(error.status, error.code, error.message))
        except BusinessCentralError as error:
            return error_response(error)

    def _read(
        self, request: Request, env: Environment, api: ApiModel, odata_path: str, api_root: str
    ) -> Response:
        target = resolve(api, odata_path)
        check_company(env.store, api, target)
        options = parse_query_options(request.query_params, target.entity_set.entity_type, api)
        context = f"{api_root}/$metadata#{target.context}"
        if target.single:
            row = env.reader.read_single(target, options)
            if row is None:
                return Response(status_code=204)
            return json_response({"@odata.context": f"{context}/$entity", **row})
        page_size, applied = _page_size(request.headers.get("prefer", ""))
        skiptoken = request.query_params.get("$skiptoken")
        page = env.reader.read_collection(target, options, page_size, skiptoken)
        payload: dict[str, Any] = {"@odata.context": context, "value": page.rows}
        if page.next_token is not None:
            params = [(k, v) for k, v in request.query_params.multi_items() if k != "$skiptoken"]
            params.append(("$skiptoken", page.next_token))
            query = urlencode(params, safe="$,()'=:")
            payload["@odata.nextLink"] = f"{request.url.replace(query=query)}"
        headers = {"Preference-Applied": f"odata.maxpagesize={page_size}"} if applied else None
        return json_response(payload, headers)


def _method_not_allowed(method: str, odata_path: str) -> BusinessCentralError:
    message = f"'{method}' requests for '{odata_path}' are not allowed."
    return BusinessCentralError(405, "BadRequest_MethodNotAllowed", message)


def _split_api(env: Environment, rest: list[str]) -> tuple[ApiModel, str]:
    """Which API a path addresses (`v2.0` or `publisher/group/version`), and the path after it."""
    if rest and rest[0] in env.apis:
        return env.apis[rest[0]], "/".join(rest[1:])
    route = "/".join(rest[:3])
    if len(rest) >= 3 and route in env.apis:  # noqa: PLR2004
        return env.apis[route], "/".join(rest[3:])
    raise not_found_segment(rest[0] if rest else "api")


def _page_size(prefer: str) -> tuple[int, bool]:
    """The page size the client prefers (at most BC's 20,000), and whether it asked."""
    match = _MAXPAGESIZE.search(prefer)
    if match is None:
        return MAX_PAGE_SIZE, False
    return max(1, min(int(match.group(1)), MAX_PAGE_SIZE)), True
