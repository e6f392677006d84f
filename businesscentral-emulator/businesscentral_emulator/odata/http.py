"""The HTTP face of the BC API: URL shapes, bearer or Basic auth, headers, bodies and paging.

Online: `/v2.0/{tenant}/{environment}/api/v2.0/...` (and `/v2.0/{environment}/api/...`, where the
token's tenant decides), custom API pages at `.../api/{publisher}/{group}/{version}/...`, and the
admin list `/environments/v1.1`. On-premises: `/BC/api/v2.0/...` with Basic auth (user name and
web service access key). The rules themselves live in `backend`, `paths` and `reader`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import URL, QueryParams
from starlette.responses import Response
from starlette.routing import Route

from businesscentral_emulator.chaos.limits import LimitError, Limits, LimitSettings
from businesscentral_emulator.entra.service import AccessTokenError
from businesscentral_emulator.odata.batch import Operation, run_batch, with_company
from businesscentral_emulator.odata.errors import BusinessCentralError, not_found_segment
from businesscentral_emulator.odata.paths import check_company, resolve
from businesscentral_emulator.odata.query import QueryError, parse_query_options
from businesscentral_emulator.odata.refusals import check_after_rows, check_read
from businesscentral_emulator.odata.values import ieee754_format
from businesscentral_emulator.rules.writes import Writer, WriteSettings
from businesscentral_emulator.store.reader import MAX_PAGE_SIZE

if TYPE_CHECKING:
    from starlette.requests import Request

    from businesscentral_emulator.entra.service import EntraService
    from businesscentral_emulator.odata.edmx import ApiModel
    from businesscentral_emulator.store.backend import Backend, Counters, Environment

JSON_TYPE = "application/json; odata.metadata=minimal; odata.streaming=true"
_MAXPAGESIZE = re.compile(r"odata\.maxpagesize\s*=\s*(\d+)")
ONPREM_INSTANCE = "BC"
_encoder = msgspec.json.Encoder()


def error_response(error: BusinessCentralError) -> Response:
    """BC's error body and status (with `Retry-After` when a limit says how long to wait)."""
    retry_after = getattr(error, "retry_after", None)
    return Response(
        error.body(),
        status_code=error.status,
        media_type="application/json; odata.metadata=minimal",
        headers={"Retry-After": f"{retry_after:g}"} if retry_after is not None else None,
    )


def json_response(
    payload: dict[str, Any], headers: dict[str, str] | None = None, status: int = 200
) -> Response:
    """An OData JSON response, encoded with msgspec (fast, and decimals keep their digits)."""
    return Response(
        _encoder.encode(payload),
        status_code=status,
        media_type=JSON_TYPE,
        headers={"OData-Version": "4.0", **(headers or {})},
    )


class ApiEndpoints:
    """Request handlers of the BC API. Sync handlers: Starlette runs them in its thread pool."""

    def __init__(
        self,
        backend: Backend,
        entra: EntraService,
        basic_auth: tuple[str, str],
        settings: tuple[WriteSettings, LimitSettings] | None = None,
    ) -> None:
        """Serve `backend`, trusting tokens of `entra`, and Basic auth for on-premises URLs."""
        self.backend = backend
        self.entra = entra
        self.basic_auth = basic_auth
        write_settings, limit_settings = settings or (WriteSettings(), LimitSettings(enabled=False))
        self.write_settings = write_settings
        self.limits = Limits(limit_settings, backend.counters)

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

    async def online(self, request: Request) -> Response:
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
        principal = str(claims.get("oid") or claims.get("appid") or claims.get("azp") or "")
        prefix = "/".join(["v2.0", *([tenant] if tenant else []), environment, "api"])
        return await self._admit(
            request, principal, environment, rest, f"{request.base_url}{prefix}"
        )

    async def onprem(self, request: Request) -> Response:
        """Every on-premises `/BC/api/...` request (Basic auth; one environment)."""
        if not self._basic_ok(request):
            return Response(status_code=401, headers={"WWW-Authenticate": 'Basic realm="BC"'})
        rest = request.path_params["rest"].split("/")
        api_base = f"{request.base_url}{ONPREM_INSTANCE}/api"
        return await self._admit(request, "onprem", "production", rest, api_base)

    async def _admit(
        self, request: Request, principal: str, environment: str, rest: list[str], api_base: str
    ) -> Response:
        """Apply the principal's limits, then serve in the thread pool within the timeout."""
        settings = self.limits.settings
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > settings.max_body_bytes:
            return error_response(_too_large(settings.max_body_bytes))
        body = await request.body()
        if len(body) > settings.max_body_bytes:
            return error_response(_too_large(settings.max_body_bytes))
        op = Operation(
            method=request.method,
            path="/".join(rest),
            query=request.url.query,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            url=str(request.url),
        )
        is_batch = rest[-1:] == ["$batch"]
        slow = float(request.scope.get("emulator.slow", 0.0))
        try:
            async with self.limits.admit(principal, charge=not is_batch):
                return await asyncio.wait_for(
                    self._run(op, principal, environment, rest, api_base, slow),
                    settings.operation_timeout or None,
                )
        except LimitError as error:
            return error_response(error)
        except TimeoutError:
            self.backend.counters.count("timeouts")
            return error_response(
                BusinessCentralError(408, "Request_Timeout", "The operation has timed out.")
            )

    async def _run(  # noqa: PLR0913, PLR0917
        self,
        op: Operation,
        principal: str,
        environment: str,
        rest: list[str],
        api_base: str,
        slow: float,
    ) -> Response:
        if slow:
            await asyncio.sleep(slow)
        return await run_in_threadpool(self._serve, op, principal, environment, rest, api_base)

    def _serve(
        self, op: Operation, principal: str, environment: str, rest: list[str], api_base: str
    ) -> Response:
        try:
            env = self.backend.environment(environment)
            api, odata_path = _split_api(env, rest)
            api_root = f"{api_base}/{api.route}"
            if odata_path == "$metadata":
                return Response(api.edmx, media_type="application/xml")
            if odata_path == "$batch":
                if op.method != "POST":
                    return error_response(_method_not_allowed(op.method, odata_path))

                def execute(inner: Operation) -> Response:
                    try:
                        self.limits.charge(principal)
                        inner = with_company(inner, env.store, api)
                    except LimitError as error:
                        return error_response(error)
                    except BusinessCentralError as error:
                        return error_response(error)
                    return self._operation(inner, env, api, inner.path, api_root)

                payload = run_batch(
                    op,
                    api_root,
                    env.store,
                    self.backend.counters,
                    execute,
                    self.limits.settings.max_batch_operations,
                )
                return Response(payload, media_type="application/json", headers=_ODATA)
            return self._operation(op, env, api, odata_path, api_root)
        except QueryError as error:
            return error_response(BusinessCentralError(error.status, error.code, error.message))
        except BusinessCentralError as error:
            return error_response(error)

    def _operation(
        self, op: Operation, env: Environment, api: ApiModel, odata_path: str, api_root: str
    ) -> Response:
        """One request or batch operation: a read, a write or an action; errors as BC's."""
        try:
            if op.method == "GET":
                return self._read(op, env, api, odata_path, api_root)
            with ieee754_format(op.headers.get("content-type", "")):
                return self._write(op, env, api, odata_path, api_root)
        except QueryError as error:
            return error_response(BusinessCentralError(error.status, error.code, error.message))
        except BusinessCentralError as error:
            if error.code == "Request_EntityChanged":
                self.backend.counters.count("conflicts")
            return error_response(error)

    def _write(
        self, op: Operation, env: Environment, api: ApiModel, odata_path: str, api_root: str
    ) -> Response:
        target = resolve(api, odata_path)
        check_company(env.store, api, target)
        if op.headers.get("data-access-intent", "").lower() == "readonly":
            raise _read_only_intent(op.method)
        writer = Writer(env.store, env.reader, self.write_settings)
        counters: Counters = self.backend.counters
        if target.stream is not None:
            if op.method not in {"PATCH", "PUT"}:
                raise _method_not_allowed(op.method, odata_path)
            writer.write_stream(target, op.body, op.headers.get("if-match"))
            counters.count("writes.PATCH")
            return Response(status_code=204)
        if target.action is not None:
            if op.method != "POST":
                raise _method_not_allowed(op.method, odata_path)
            writer.act(target)
            counters.count("actions")
            return Response(status_code=204)
        if op.method == "POST":
            new_id, row = writer.insert(target, _json_body(op.body))
            counters.count("writes.POST")
            context = f"{api_root}/$metadata#{target.context}/$entity"
            location = f"{api_root}/{target.context}({new_id})"
            return json_response(
                {"@odata.context": context, **row}, {"Location": location}, status=201
            )
        if op.method == "PATCH":
            row = writer.update(target, _json_body(op.body), op.headers.get("if-match"))
            counters.count("writes.PATCH")
            context = f"{api_root}/$metadata#{target.context}/$entity"
            return json_response({"@odata.context": context, **row})
        if op.method == "DELETE":
            writer.delete(target, op.headers.get("if-match"))
            counters.count("writes.DELETE")
            return Response(status_code=204)
        raise _method_not_allowed(op.method, odata_path)

    def _read(
        self, op: Operation, env: Environment, api: ApiModel, odata_path: str, api_root: str
    ) -> Response:
        query_params = QueryParams(op.query)
        target = resolve(api, odata_path)
        check_company(env.store, api, target)
        options = parse_query_options(query_params, target.entity_set.entity_type, api)
        check_read(target, options)
        if target.stream is not None:
            content = env.reader.read_stream(target)
            if not content:
                return Response(status_code=204)
            return Response(content, media_type="application/octet-stream")
        context = f"{api_root}/$metadata#{target.context}"
        if target.single:
            row = env.reader.read_single(target, options)
            check_after_rows(target, options, found_rows=row is not None)
            if row is None:
                return Response(status_code=204)
            return json_response({"@odata.context": f"{context}/$entity", **row})
        page_size, applied = _page_size(op.headers.get("prefer", ""))
        skiptoken = query_params.get("$skiptoken")
        page = env.reader.read_collection(target, options, page_size, skiptoken)
        check_after_rows(target, options, found_rows=bool(page.rows))
        payload: dict[str, Any] = {"@odata.context": context, "value": page.rows}
        if page.next_token is not None:
            params = [(k, v) for k, v in query_params.multi_items() if k != "$skiptoken"]
            params.append(("$skiptoken", page.next_token))
            query = urlencode(params, safe="$,()'=:")
            payload["@odata.nextLink"] = f"{URL(op.url).replace(query=query)}"
        headers = {"Preference-Applied": f"odata.maxpagesize={page_size}"} if applied else None
        return json_response(payload, headers)


_ODATA = {"OData-Version": "4.0"}


def _json_body(body: bytes) -> Any:  # noqa: ANN401 - JSON
    try:
        return msgspec.json.decode(body or b"{}")
    except msgspec.DecodeError as error:
        msg = "The request body is not valid JSON."
        raise BusinessCentralError(400, "BadRequest", msg) from error


def _too_large(limit: int) -> BusinessCentralError:
    # Status per HTTP; code and wording invented (BC's limit is 350 MB, its answer unknown).
    return BusinessCentralError(
        413, "RequestEntityTooLarge", f"The request body is larger than {limit} bytes."
    )


def _read_only_intent(method: str) -> BusinessCentralError:
    # BC routes `Data-Access-Intent: ReadOnly` to a read-only replica; wording invented.
    return BusinessCentralError(
        400,
        "BadRequest_InvalidOperation",
        f"'{method}' requests cannot be sent with 'Data-Access-Intent: ReadOnly'.",
    )


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
