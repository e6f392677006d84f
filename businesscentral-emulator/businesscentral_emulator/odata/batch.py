"""OData JSON `$batch`: many operations in one request, answered in BC's shape.

`{"requests": [{"id", "method", "url", "headers", "body"}]}` in, `{"responses": [{"id", "status",
"headers", "body"}]}` out; at most 100 operations. `Isolation: snapshot` runs the batch in one
transaction (all or nothing: the answer is then the failed operation alone, as OData answers a
failed atomicity group); `Prefer: odata.continue-on-error` runs the operations after a failure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import msgspec

from businesscentral_emulator.odata.errors import BusinessCentralError
from businesscentral_emulator.rules.writes import transaction

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.responses import Response

    from businesscentral_emulator.store.backend import Counters
    from businesscentral_emulator.store.sqlite import Store

_KEPT_HEADERS = ("location", "content-type", "odata-version", "retry-after", "preference-applied")


@dataclass
class Operation:
    """One API request, from HTTP or from inside a batch: what the handlers need of it."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    url: str


class _Rollback(Exception):  # noqa: N818 - control flow, not an error
    """Unwinds an atomic batch's savepoint after a failed operation."""


def _operation(raw: Any, api_root: str, outer: Operation) -> tuple[Any, Operation]:  # noqa: ANN401
    if not isinstance(raw, dict) or not isinstance(raw.get("url"), str):
        raise BusinessCentralError(400, "BadRequest", "Each batch request needs a method and url.")
    url: str = raw["url"]
    url = url.removeprefix(api_root)
    url = url.lstrip("/")
    path, _, query = url.partition("?")
    headers = {str(k).lower(): str(v) for k, v in (raw.get("headers") or {}).items()}
    intent = outer.headers.get("data-access-intent")
    if intent is not None:
        headers.setdefault("data-access-intent", intent)
    body = msgspec.json.encode(raw["body"]) if raw.get("body") is not None else b""
    method = str(raw.get("method", "GET")).upper()
    return raw.get("id"), Operation(method, path, query, headers, body, f"{api_root}/{url}")


def _entry(op_id: Any, response: Response) -> dict[str, Any]:  # noqa: ANN401
    headers = {name: response.headers[name] for name in _KEPT_HEADERS if name in response.headers}
    entry: dict[str, Any] = {"id": op_id, "status": response.status_code, "headers": headers}
    if response.body:
        headers.setdefault("odata-version", "4.0")
        entry["body"] = msgspec.Raw(bytes(response.body))
    return entry


def run_batch(  # noqa: PLR0913, PLR0917
    outer: Operation,
    api_root: str,
    store: Store,
    counters: Counters,
    execute: Callable[[Operation], Response],
    max_operations: int,
) -> bytes:
    """Run a batch; the JSON body of its answer (the caller sends it with status 200)."""
    try:
        payload = msgspec.json.decode(outer.body or b"{}")
    except msgspec.DecodeError as error:
        raise BusinessCentralError(
            400, "BadRequest", "The batch body is not valid JSON."
        ) from error
    requests = payload.get("requests") if isinstance(payload, dict) else None
    if not isinstance(requests, list):
        raise BusinessCentralError(400, "BadRequest", "The batch body must have a 'requests' list.")
    if len(requests) > max_operations:
        raise BusinessCentralError(
            400,
            "BadRequest",
            f"The batch has {len(requests)} operations; at most {max_operations} are allowed.",
        )
    operations = [_operation(raw, api_root, outer) for raw in requests]
    atomic = outer.headers.get("isolation", "").lower() == "snapshot"
    keep_going = "odata.continue-on-error" in outer.headers.get("prefer", "").lower()
    counters.count("batches")
    entries: list[dict[str, Any]] = []
    if atomic:
        try:
            with transaction(store):
                for op_id, op in operations:
                    counters.count("batch_operations")
                    entry = _entry(op_id, execute(op))
                    entries.append(entry)
                    if entry["status"] >= 400:  # noqa: PLR2004
                        entries = [entry]
                        raise _Rollback  # noqa: TRY301 - unwinds the savepoint
        except _Rollback:
            pass
    else:
        for op_id, op in operations:
            counters.count("batch_operations")
            entry = _entry(op_id, execute(op))
            entries.append(entry)
            if entry["status"] >= 400 and not keep_going:  # noqa: PLR2004
                break
    return msgspec.json.encode({"responses": entries})
