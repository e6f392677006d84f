"""The emulated tenant: its environments, each with its companies, APIs and rows.

This is the model side (state and rules). The HTTP layer (`api_http`, `entra_http`, `hooks`)
translates requests into calls on it.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from businesscentral_emulator.odata.edmx import ApiModel, bundled_edmx, parse_edmx, standard_api
from businesscentral_emulator.odata.errors import BusinessCentralError
from businesscentral_emulator.odata.values import format_datetime
from businesscentral_emulator.seed.populate import CompanySpec, default_companies, populate
from businesscentral_emulator.store.reader import Reader
from businesscentral_emulator.store.sqlite import Store, quote, table_name

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

CUSTOM_APIS = {"contoso/sales/v1.0": "custom-contoso-sales-v1.0.xml"}
SANDBOX_SCALE_CAP = 0.2


@dataclass
class Environment:
    """One BC environment (production or sandbox): its own database and companies."""

    name: str
    type: str
    store: Store
    reader: Reader
    apis: dict[str, ApiModel]
    companies: list[CompanySpec]
    row_counts: dict[str, int] = field(default_factory=dict)


@dataclass
class Counters:
    """What the emulator has seen, for tests that must say exactly what happened."""

    requests: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, event: str, amount: int = 1) -> None:
        """Count an event: `writes.POST`, `actions`, `batches`, `batch_operations`, ..."""
        with self.lock:
            self.events[event] += amount

    def clear(self) -> None:
        """Zero every counter."""
        with self.lock:
            self.requests.clear()
            self.faults.clear()
            self.events.clear()

    def record(self, method: str, kind: str, status: int) -> None:
        """Count one request by method, path kind and status."""
        with self.lock:
            self.requests[(method, kind, status)] += 1

    def snapshot(self, rows_served: int) -> dict[str, Any]:
        """A JSON-friendly view: totals by method, by kind, by status, and each combination."""
        with self.lock:
            items = list(self.requests.items())
            faults = dict(self.faults)
            events = dict(self.events)
        by_method: Counter[str] = Counter()
        by_kind: Counter[str] = Counter()
        by_status: Counter[str] = Counter()
        for (method, kind, status), count in items:
            by_method[method] += count
            by_kind[kind] += count
            by_status[str(status)] += count
        return {
            "requests_total": sum(by_method.values()),
            "by_method": dict(by_method),
            "by_kind": dict(by_kind),
            "by_status": dict(by_status),
            "requests": [
                {"method": m, "kind": k, "status": s, "count": c} for (m, k, s), c in items
            ],
            "rows_served": rows_served,
            "faults": faults,
            "writes": {
                name.split(".", 1)[1]: n for name, n in events.items() if name.startswith("writes.")
            },
            "actions": events.get("actions", 0),
            "batches": events.get("batches", 0),
            "batch_operations": events.get("batch_operations", 0),
            "conflicts": events.get("conflicts", 0),
            "throttled": events.get("throttled", 0),
            "timeouts": events.get("timeouts", 0),
        }


class Backend:
    """All environments of the emulated tenant, seeded deterministically."""

    def __init__(self, data_dir: Path, *, seed: int, scale: float, companies: int = 2) -> None:
        """Create and seed the production and sandbox environments under `data_dir`.

        Each environment has `companies` companies (the two CRONUS ones by default).
        """
        self.data_dir = data_dir
        self.seed = seed
        self.scale = scale
        self.company_count = companies
        self.counters = Counters()
        self.environments: dict[str, Environment] = {}
        self._lock = threading.RLock()
        self.reseed(seed=seed, scale=scale)

    def reseed(self, *, seed: int | None = None, scale: float | None = None) -> None:
        """Drop every row and seed again: the `/_emulator/reset` hook."""
        with self._lock:
            self.seed = self.seed if seed is None else seed
            self.scale = self.scale if scale is None else scale
            for environment in self.environments.values():
                environment.store.close()
            now = dt.datetime.now(dt.timezone.utc)
            self.environments = {
                "production": self._build("production", "Production", self.scale, now),
                "sandbox": self._build(
                    "sandbox", "Sandbox", min(self.scale, SANDBOX_SCALE_CAP), now
                ),
            }

    def _build(self, name: str, kind: str, scale: float, now: dt.datetime) -> Environment:
        path = self.data_dir / f"{name}.sqlite"
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        store = Store(path)
        apis = {"v2.0": standard_api()}
        for route, filename in CUSTOM_APIS.items():
            apis[route] = parse_edmx(bundled_edmx(filename), route)
        companies = default_companies(self.seed, self.company_count)
        counts: dict[str, int] = {}
        for api in apis.values():
            store.create_tables(api)
            counts.update(
                {
                    (name if api.route == "v2.0" else f"{api.route}/{name}"): count
                    for name, count in populate(
                        store, api, seed=self.seed, scale=scale, companies=companies, now=now
                    ).items()
                }
            )
        return Environment(name, kind, store, Reader(store), apis, companies, counts)

    def environment(self, name: str) -> Environment:
        """The environment a URL names (case-insensitive, as BC's are)."""
        environment = self.environments.get(name.lower())
        if environment is None:
            raise BusinessCentralError(
                404,
                "NoEnvironmentFound",
                f"Environment '{name}' does not exist or you do not have access to it.",
            )
        return environment

    def rows_served(self) -> int:
        """Rows served by every environment since the last reset."""
        return sum(e.reader.rows_served for e in self.environments.values())

    def touch(
        self,
        environment: str,
        api_route: str,
        set_name: str,
        ids: list[str],
        changes: Mapping[str, Any],
    ) -> list[dict[str, Any]]:
        """Change rows as a BC user would: new values, a new etag and a new change time.

        `changes` are in stored form (see `values`). Returns the rows' new etag and change time.
        """
        env = self.environment(environment)
        api = env.apis[api_route]
        entity_set = api.entity_sets[set_name]
        props = entity_set.entity_type.properties
        unknown = [name for name in changes if name not in props]
        if unknown:
            msg = f"unknown properties for {set_name}: {', '.join(unknown)}"
            raise ValueError(msg)
        changed_field = api.change_date_field(entity_set)
        table = table_name(api.route, set_name)
        key = entity_set.entity_type.key[0]
        result = []
        db = env.store.connection()
        with env.store.write_lock:
            for row_id in ids:
                values = dict(changes)
                stamp = format_datetime(dt.datetime.now(dt.timezone.utc))
                if changed_field:
                    values[changed_field] = stamp
                etag = env.store.new_etag()
                assignments = ", ".join(f"{quote(name)} = ?" for name in values)
                cursor = db.execute(
                    f"UPDATE {table} SET _etag = ?{', ' if values else ''}{assignments}"
                    f" WHERE {quote(key)} = ?",
                    [etag, *values.values(), row_id],
                )
                if cursor.rowcount:
                    result.append({"id": row_id, "@odata.etag": etag, "changedAt": stamp})
        return result
