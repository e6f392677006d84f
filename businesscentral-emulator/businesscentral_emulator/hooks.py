"""Test hooks under `/_emulator/...`: not BC's API, so they can never collide with it.

- `GET  /_emulator/info`      the settings a client needs (as in the ready file);
- `POST /_emulator/reset`     drop every row and reseed (`{"seed": n, "scale": s}` optional);
- `GET  /_emulator/counters`  requests by method, kind and status, rows served, faults fired;
  `DELETE` zeroes them;
- `POST /_emulator/edit`      change rows as a BC user would (new etag and change time);
- `POST /_emulator/insert`    add rows as a BC user would (new ids, change time now);
- `POST /_emulator/faults`    arm fault rules (see `faults`); `DELETE` disarms them;
- `POST /_emulator/config`    change runtime settings (token lifetime, latency, the stale-etag
  status, the fault seed, the limits).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import TYPE_CHECKING, Any

import msgspec
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from businesscentral_emulator.chaos.faults import FaultPlan, Faults
from businesscentral_emulator.odata.errors import BusinessCentralError
from businesscentral_emulator.odata.values import format_datetime, to_stored

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.requests import Request

    from businesscentral_emulator.entra.service import EntraService
    from businesscentral_emulator.odata.http import ApiEndpoints
    from businesscentral_emulator.store.backend import Backend


class EditRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Rows to change: `changes` are JSON values as a client would send them."""

    entity_set: str
    ids: list[str]
    changes: dict[str, Any] = {}
    environment: str = "production"
    api: str = "v2.0"


class InsertRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Rows to add to one company's entity set."""

    entity_set: str
    company: str
    rows: list[dict[str, Any]]
    environment: str = "production"
    api: str = "v2.0"


class ResetRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Reseed, optionally with another seed or scale."""

    seed: int | None = None
    scale: float | None = None


class ConfigRequest(msgspec.Struct, forbid_unknown_fields=True):
    """Runtime settings a test may change (None: unchanged); `limits` fields as `LimitSettings`."""

    token_lifetime: int | None = None
    conflict_status: int | None = None
    latency_ms: float | None = None
    latency_per_kb_ms: float | None = None
    fault_seed: int | None = None
    limits: dict[str, Any] | None = None


class Hooks:
    """Handlers of the test hooks."""

    def __init__(
        self,
        backend: Backend,
        entra: EntraService,
        faults: Faults,
        info: Callable[[], dict[str, Any]],
        api: ApiEndpoints | None = None,
    ) -> None:
        """Act on `backend`, `entra`, `faults` and `api`; `info` gives the ready-file settings."""
        self.backend = backend
        self.entra = entra
        self.faults = faults
        self.info = info
        self.api = api

    def routes(self) -> list[Route]:
        """The Starlette routes of the hooks."""
        return [
            Route("/_emulator/info", self.get_info, methods=["GET"]),
            Route("/_emulator/reset", self.reset, methods=["POST"]),
            Route("/_emulator/counters", self.counters, methods=["GET", "DELETE"]),
            Route("/_emulator/edit", self.edit, methods=["POST"]),
            Route("/_emulator/insert", self.insert, methods=["POST"]),
            Route("/_emulator/faults", self.set_faults, methods=["POST", "DELETE"]),
            Route("/_emulator/config", self.config, methods=["POST"]),
        ]

    def get_info(self, _request: Request) -> Response:
        """The settings a client needs."""
        return JSONResponse(self.info())

    async def reset(self, request: Request) -> Response:
        """Reseed everything and zero the counters and faults."""
        body = await request.body()
        options = msgspec.json.decode(body or b"{}", type=ResetRequest)
        self.backend.reseed(seed=options.seed, scale=options.scale)
        self.backend.counters.clear()
        self.faults.clear()
        return JSONResponse(
            {"reset": True, "rows": self.backend.environments["production"].row_counts}
        )

    def counters(self, request: Request) -> Response:
        """Read (GET) or zero (DELETE) the counters."""
        if request.method == "DELETE":
            self.backend.counters.clear()
            for env in self.backend.environments.values():
                env.reader.rows_served = 0
            return Response(status_code=204)
        return JSONResponse(self.backend.counters.snapshot(self.backend.rows_served()))

    async def edit(self, request: Request) -> Response:
        """Change rows; answers their new etags and change times."""
        try:
            edit = msgspec.json.decode(await request.body(), type=EditRequest)
            env = self.backend.environment(edit.environment)
            props = env.apis[edit.api].entity_sets[edit.entity_set].entity_type.properties
            changes = {name: to_stored(props[name], value) for name, value in edit.changes.items()}
            changed = self.backend.touch(
                edit.environment, edit.api, edit.entity_set, edit.ids, changes
            )
        except (msgspec.ValidationError, msgspec.DecodeError, KeyError, ValueError) as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        except BusinessCentralError as error:
            return JSONResponse({"error": error.message}, status_code=error.status)
        return JSONResponse({"changed": changed})

    async def insert(self, request: Request) -> Response:
        """Add rows with new ids and the current time as their change time."""
        try:
            spec = msgspec.json.decode(await request.body(), type=InsertRequest)
            env = self.backend.environment(spec.environment)
            api = env.apis[spec.api]
            entity_set = api.entity_sets[spec.entity_set]
            props = entity_set.entity_type.properties
            changed_field = api.change_date_field(entity_set)
            rows = []
            for given in spec.rows:
                row = {name: to_stored(props[name], value) for name, value in given.items()}
                row.setdefault("id", str(uuid.uuid4()))
                if changed_field:
                    row[changed_field] = format_datetime(dt.datetime.now(dt.timezone.utc))
                rows.append(row)
            env.store.insert_many(api, entity_set, spec.company, rows)
        except (msgspec.ValidationError, msgspec.DecodeError, KeyError, ValueError) as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        except BusinessCentralError as error:
            return JSONResponse({"error": error.message}, status_code=error.status)
        return JSONResponse({"ids": [row["id"] for row in rows]})

    async def set_faults(self, request: Request) -> Response:
        """Arm (POST) or disarm (DELETE) fault rules."""
        if request.method == "DELETE":
            self.faults.clear()
            return Response(status_code=204)
        try:
            self.faults.arm(msgspec.json.decode(await request.body(), type=FaultPlan))
        except (msgspec.ValidationError, msgspec.DecodeError, ValueError) as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        return Response(status_code=204)

    async def config(self, request: Request) -> Response:
        """Change runtime settings."""
        try:
            change = msgspec.json.decode(await request.body(), type=ConfigRequest)
        except (msgspec.ValidationError, msgspec.DecodeError) as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        if change.token_lifetime is not None:
            self.entra.config = dataclasses.replace(
                self.entra.config, access_token_lifetime=change.token_lifetime
            )
        if change.latency_ms is not None:
            self.faults.latency.per_request_ms = change.latency_ms
        if change.latency_per_kb_ms is not None:
            self.faults.latency.per_kb_ms = change.latency_per_kb_ms
        if change.fault_seed is not None:
            self.faults.seed = change.fault_seed
        if self.api is not None:
            if change.conflict_status is not None:
                self.api.write_settings.conflict_status = change.conflict_status
            if change.limits is not None:
                try:
                    self.api.limits.settings = dataclasses.replace(
                        self.api.limits.settings, **change.limits
                    )
                except TypeError as error:
                    return JSONResponse({"error": str(error)}, status_code=400)
        return Response(status_code=204)
