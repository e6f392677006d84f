"""Streams, catalogs and state: the tap's, translated to Airbyte's and back.

Discovery is the tap's: one Airbyte stream per tap stream, with the tap's JSON schema, its
primary key (``companyId`` first) and, for sets with a change date, ``incremental`` with that
date as the source-defined cursor. Document lines have no change date of their own but travel
with their header: read incrementally with it they are the lines of the headers changed since,
so they offer ``incremental`` too (the cursor is the header's).

State is the tap's too: each Airbyte per-stream STATE carries the tap's bookmark of that stream
(one partition per company) unchanged, and a read hands those back to the tap as its state.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airbyte_protocol.models import (
    AirbyteCatalog,
    AirbyteStateMessage,
    AirbyteStateType,
    AirbyteStream,
    ConfiguredAirbyteCatalog,
    SyncMode,
)
from businesscentral_api.errors import ConfigurationError
from pydantic import TypeAdapter, ValidationError

from tap_businesscentral.client import BusinessCentralStream

if TYPE_CHECKING:
    from tap_businesscentral.tap import TapBusinessCentral

__all__ = [
    "AB_CDC_DELETED_AT",
    "SDC_DELETED_AT",
    "ReadPlan",
    "airbyte_catalog",
    "airbyte_schema",
    "parse_configured_catalog",
    "parse_state",
    "plan_read",
]

# The tap marks a deleted row with Singer's _sdc_deleted_at; Airbyte's CDC convention is
# _ab_cdc_deleted_at (destinations then delete or soft-delete the row).
SDC_DELETED_AT = "_sdc_deleted_at"
AB_CDC_DELETED_AT = "_ab_cdc_deleted_at"
_STATE_LIST = TypeAdapter(list[AirbyteStateMessage])


def bc_streams(tap: TapBusinessCentral) -> list[BusinessCentralStream]:
    """The tap's streams, in its order (discovered from ``$metadata``)."""
    return [s for s in tap.streams.values() if isinstance(s, BusinessCentralStream)]


def airbyte_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The tap's JSON schema with Singer's delete marker renamed to Airbyte's."""
    properties = schema.get("properties") or {}
    if SDC_DELETED_AT not in properties:
        return schema
    renamed = {AB_CDC_DELETED_AT if k == SDC_DELETED_AT else k: v for k, v in properties.items()}
    return {**schema, "properties": renamed}


def airbyte_stream(stream: BusinessCentralStream) -> AirbyteStream:
    """One tap stream as an Airbyte stream."""
    cursor = stream.replication_key
    incremental = cursor is not None or stream.spec.header is not None
    declared: dict[str, Any] = {}  # only what applies: unset fields are left out of the JSON
    if incremental:
        declared["source_defined_cursor"] = True
    if cursor:
        declared["default_cursor_field"] = [cursor]
    return AirbyteStream(
        name=stream.name,
        json_schema=airbyte_schema(stream.schema),
        supported_sync_modes=[
            SyncMode.full_refresh,
            *([SyncMode.incremental] if incremental else []),
        ],
        source_defined_primary_key=[[key] for key in stream.primary_keys],
        is_resumable=cursor is not None,
        **declared,
    )


def airbyte_catalog(tap: TapBusinessCentral) -> AirbyteCatalog:
    """The CATALOG of ``discover``: every stream the tap discovers."""
    return AirbyteCatalog(streams=[airbyte_stream(s) for s in bc_streams(tap)])


def parse_configured_catalog(text: str) -> ConfiguredAirbyteCatalog:
    """Read ``--catalog``.

    Raises:
        ConfigurationError: One line naming what is wrong with it.
    """
    try:
        return ConfiguredAirbyteCatalog.model_validate_json(text)
    except ValidationError as exc:
        raise ConfigurationError(_first_error("--catalog", exc)) from None


def parse_state(text: str) -> dict[str, dict[str, Any]]:
    """Read ``--state``: the tap's bookmark per stream name.

    Takes Airbyte's per-stream state (a list of STREAM state messages; GLOBAL ones are read for
    their stream states) and, for old platforms, a legacy object: the tap's own Singer state
    (``{"bookmarks": ...}``) or a mapping of stream name to state.

    Raises:
        ConfigurationError: One line naming what is wrong with it.
    """
    if not text.strip():
        return {}
    try:
        document = json.loads(text)
    except ValueError:
        msg = "--state is not JSON."
        raise ConfigurationError(msg) from None
    if isinstance(document, dict):
        legacy = document.get("bookmarks", document)
        return {k: v for k, v in legacy.items() if isinstance(v, dict)}
    try:
        messages = _STATE_LIST.validate_python(document)
    except ValidationError as exc:
        raise ConfigurationError(_first_error("--state", exc)) from None
    bookmarks: dict[str, dict[str, Any]] = {}
    for message in messages:
        streams = []
        if message.type == AirbyteStateType.GLOBAL and message.global_ is not None:
            streams = list(message.global_.stream_states)
        elif message.stream is not None:
            streams = [message.stream]
        for stream_state in streams:
            blob = stream_state.stream_state
            if blob is not None:
                name = stream_state.stream_descriptor.name
                bookmarks[name] = blob.model_dump(mode="json", by_alias=True)
    return bookmarks


def _first_error(what: str, exc: ValidationError) -> str:
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "the document"
    return f"{what} is not valid: {where}: {error['msg']}."


@dataclass(frozen=True)
class ReadPlan:
    """What a ``read`` asks of the tap.

    Attributes:
        streams: Names of the configured streams, in the tap's order.
        state: The tap's input state (only bookmarks that the sync modes let stand).
        notes: Why a bookmark was set aside, for the log.
    """

    streams: tuple[str, ...]
    state: dict[str, Any]
    notes: tuple[str, ...]


def plan_read(
    tap: TapBusinessCentral,
    catalog: ConfiguredAirbyteCatalog,
    bookmarks: dict[str, dict[str, Any]],
) -> ReadPlan:
    """Select the configured streams and keep the bookmarks that their sync modes allow.

    A stream configured ``full_refresh`` reads everything: its bookmark is set aside. A lines
    stream configured ``full_refresh`` whose header is read incrementally would get only the
    lines of changed headers, so the header is read in full too (its bookmark set aside).

    Raises:
        ConfigurationError: A configured stream the tap does not offer.
    """
    streams = {s.name: s for s in bc_streams(tap)}
    modes: dict[str, SyncMode] = {}
    for configured in catalog.streams:
        name = configured.stream.name
        if name not in streams:
            msg = f"--catalog names stream {name}, which this Business Central does not offer."
            raise ConfigurationError(msg)
        modes[name] = configured.sync_mode
    full = {name for name, mode in modes.items() if mode == SyncMode.full_refresh}
    notes: list[str] = []
    for name in sorted(full):
        header = streams[name].spec.header
        if header in modes and header not in full and header in bookmarks:
            full.add(header)
            notes.append(
                f"Stream {header} is read in full: its lines stream {name} is full_refresh."
            )
    for stream in streams.values():
        stream.selected = stream.name in modes
    kept = {name: value for name, value in bookmarks.items() if name in modes and name not in full}
    return ReadPlan(
        streams=tuple(name for name in streams if name in modes),
        state={"bookmarks": kept} if kept else {},
        notes=tuple(notes),
    )
