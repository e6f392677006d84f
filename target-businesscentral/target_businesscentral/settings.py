"""The target's own settings (the connection settings come from ``businesscentral_api``).

Every default is the safe one: upsert, reject conflicts, never delete, reject nothing silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from businesscentral_api.errors import ConfigurationError
from businesscentral_api.odata import ApiRoute
from businesscentral_api.settings import SETTINGS
from singer_sdk import typing as th

from target_businesscentral.plan import ACTIONS

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["CONFIG_SCHEMA", "StreamSettings", "TargetSettings"]

CONFLICT_POLICIES = ("reject", "overwrite")
UNKNOWN_FIELD_POLICIES = ("drop", "reject")
# A write whose answer was lost can still commit while BC works on it. BC online answers 504 once a
# request has run 10 minutes (Microsoft Learn, "Current API Limits", api-reference/v2.0/
# dynamics-current-limits) and a request may first wait up to 8 minutes in a busy user's queue
# ("Operational limits for Business Central online"): 18 minutes in all.
DEFAULT_WRITE_SETTLE_SECONDS = 1080

_STREAM_SETTINGS = th.ObjectType(
    th.Property(
        "action",
        th.StringType(allowed_values=list(ACTIONS)),
        description="upsert (default), create (only new records), update (only existing), delete.",
    ),
    th.Property(
        "natural_key",
        th.ArrayType(th.StringType),
        description=(
            "Fields that identify a record without its id; an upsert creates only records that"
            " carry them (default: number, code, ...; externalDocumentNumber for sales documents)."
        ),
    ),
    th.Property(
        "entity_set",
        th.StringType,
        description="Entity set to write to, when it is not the stream name.",
    ),
    th.Property(
        "api",
        th.StringType,
        description="API of that set: v2.0 or a custom API as publisher/group/version.",
    ),
    th.Property(
        "post",
        th.BooleanType,
        description="Post the stream's draft documents after writing them (bound action post).",
    ),
    th.Property(
        "document_key_field",
        th.StringType,
        description=(
            "For a lines stream: the record field holding its header's natural key, used when"
            " the line has no documentId (default documentNumber)."
        ),
    ),
)

CONFIG_SCHEMA = th.PropertiesList(
    *(prop for prop in SETTINGS if prop.name != "company_ids"),
    th.Property(
        "default_company",
        th.StringType,
        description="Company (id or name) for records that carry no companyId.",
    ),
    th.Property(
        "write_all_to_default_company",
        th.BooleanType,
        default=False,
        description=(
            "Write every record to default_company whatever its companyId: a copy between"
            " companies. Ids from the other company are not used; references go by number/code."
        ),
    ),
    th.Property(
        "stream_settings",
        th.ObjectType(additional_properties=_STREAM_SETTINGS),
        description=(
            'Per stream, e.g. {"customers": {"action": "create", "natural_key": ["email"]}}.'
        ),
    ),
    th.Property(
        "conflicts",
        th.StringType(allowed_values=list(CONFLICT_POLICIES)),
        default="reject",
        description=(
            "When BC changed a record since it was read (stale etag): reject it (with BC's"
            " current etag) or overwrite (re-read and apply)."
        ),
    ),
    th.Property(
        "unknown_fields",
        th.StringType(allowed_values=list(UNKNOWN_FIELD_POLICIES)),
        default="drop",
        description="Fields not in $metadata: drop them with a warning, or reject the record.",
    ),
    th.Property(
        "hard_delete",
        th.BooleanType,
        default=False,
        description="Delete the BC record of each record that carries _sdc_deleted_at.",
    ),
    th.Property(
        "rejected_records_path",
        th.StringType,
        default="rejected-records.jsonl",
        description="JSON Lines file that receives every rejected record with BC's reason.",
    ),
    th.Property(
        "max_rejections",
        th.IntegerType,
        default=0,
        description="Exit with status 1 (after handling every record) when more are rejected.",
    ),
    th.Property(
        "count_batch_operations",
        th.BooleanType,
        default=False,
        description=(
            "Pace requests_per_5_minutes by $batch operations, not requests (whether BC counts a"
            " batch once or per operation is unconfirmed; either way its 429s are waited out)."
        ),
    ),
    th.Property(
        "write_settle_seconds",
        th.NumberType,
        default=DEFAULT_WRITE_SETTLE_SECONDS,
        description=(
            "A create whose answer was lost (timeout, cut connection) may still commit in BC: it is"
            " looked up, never resent, until this many seconds after the loss (BC online queues a"
            " request up to 8 minutes and runs it up to 10)."
        ),
    ),
    th.Property(
        "dry_run",
        th.BooleanType,
        default=False,
        description="Validate and plan (creates, updates, deletes, rejections), write nothing.",
    ),
)


@dataclass(frozen=True)
class StreamSettings:
    """Settings of one stream, defaults filled in."""

    action: str = "upsert"
    natural_key: tuple[str, ...] | None = None
    entity_set: str | None = None
    api: ApiRoute | None = None
    post: bool = False
    document_key_field: str = "documentNumber"


@dataclass(frozen=True)
class TargetSettings:
    """The target's settings, checked."""

    default_company: str | None
    write_all_to_default_company: bool
    streams: dict[str, StreamSettings]
    overwrite_conflicts: bool
    reject_unknown_fields: bool
    hard_delete: bool
    rejected_records_path: str
    max_rejections: int
    dry_run: bool
    count_batch_operations: bool = False
    write_settle_seconds: float = DEFAULT_WRITE_SETTLE_SECONDS

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TargetSettings:
        """Read and check the settings.

        Raises:
            ConfigurationError: A setting is wrong; the message names it.
        """
        streams = {
            name: _stream_settings(name, value)
            for name, value in (config.get("stream_settings") or {}).items()
        }
        max_rejections = int(config.get("max_rejections") or 0)
        if max_rejections < 0:
            msg = "Setting max_rejections must be 0 or more."
            raise ConfigurationError(msg)
        settle = config.get("write_settle_seconds")
        settle = DEFAULT_WRITE_SETTLE_SECONDS if settle is None else settle
        if isinstance(settle, bool) or not isinstance(settle, (int, float)) or settle < 0:
            msg = f"Setting write_settle_seconds is {settle!r}; use a number of seconds, 0 or more."
            raise ConfigurationError(msg)
        default_company = config.get("default_company") or None
        copy = bool(config.get("write_all_to_default_company"))
        if copy and not default_company:
            msg = "Setting write_all_to_default_company needs default_company."
            raise ConfigurationError(msg)
        return cls(
            default_company=default_company,
            write_all_to_default_company=copy,
            streams=streams,
            overwrite_conflicts=config.get("conflicts", "reject") == "overwrite",
            reject_unknown_fields=config.get("unknown_fields", "drop") == "reject",
            hard_delete=bool(config.get("hard_delete")),
            rejected_records_path=str(
                config.get("rejected_records_path") or "rejected-records.jsonl"
            ),
            max_rejections=max_rejections,
            dry_run=bool(config.get("dry_run")),
            count_batch_operations=bool(config.get("count_batch_operations")),
            write_settle_seconds=float(settle),
        )

    def stream(self, name: str) -> StreamSettings:
        """The settings of a stream (defaults when it has none)."""
        return self.streams.get(name) or StreamSettings()


def _stream_settings(name: str, value: Any) -> StreamSettings:  # noqa: ANN401
    where = f"Setting stream_settings.{name}"
    if not isinstance(value, dict):
        msg = f"{where} must be an object."
        raise ConfigurationError(msg)
    action = value.get("action") or "upsert"
    if action not in ACTIONS:
        msg = f"{where}.action is {action!r}; use one of {', '.join(ACTIONS)}."
        raise ConfigurationError(msg)
    natural_key = value.get("natural_key")
    if natural_key is not None and (
        not isinstance(natural_key, list) or not all(isinstance(k, str) for k in natural_key)
    ):
        msg = f"{where}.natural_key must be a list of field names."
        raise ConfigurationError(msg)
    api = value.get("api")
    try:
        route = ApiRoute.parse(api) if api else None
    except ConfigurationError:
        msg = f"{where}.api is {api!r}; use v2.0 or publisher/group/version."
        raise ConfigurationError(msg) from None
    return StreamSettings(
        action=action,
        natural_key=tuple(natural_key) if natural_key is not None else None,
        entity_set=value.get("entity_set") or None,
        api=route,
        post=bool(value.get("post")),
        document_key_field=value.get("document_key_field") or "documentNumber",
    )
