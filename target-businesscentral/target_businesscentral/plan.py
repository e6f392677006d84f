"""The write planner: one record and BC's current row in, the one request to send (or none) out.

Pure rules, no HTTP: what an upsert, create, update or delete means for a record that BC does or
does not hold yet; which fields differ; which etag guards the write; when a record read earlier
has been changed in BC since (a conflict, never an overwrite unless asked).
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from businesscentral_api.odata import guid_literal, key_segment

from target_businesscentral.checks import GUID, instant, same_value
from target_businesscentral.ledger import Rejection

if TYPE_CHECKING:
    from businesscentral_api.odata import ApiRoute

    from target_businesscentral.entities import WriteModel

__all__ = [
    "ACTIONS",
    "ETAG",
    "Done",
    "Item",
    "Write",
    "complete_key",
    "findable",
    "norm",
    "plan",
]

ETAG = "@odata.etag"
ACTIONS = ("upsert", "create", "update", "delete")


@dataclass
class Item:
    """One input record on its way to BC, with what the look-up found.

    Attributes:
        stream: The stream it came in (the summary and rejected file use it).
        record: The record as received, for the rejected-records file.
        model: The entity set it is written to.
        api: The API that serves the set.
        company_id: The company it is written to.
        company_scoped: Whether the set lives below a company.
        action: upsert, create, update or delete.
        values: Writable fields to send, already checked.
        nested_lines: Lines to create with the header (deep insert), by navigation.
        record_id: The record's id in this company, when it has one.
        natural_key: Values of the set's natural key, when all are present.
        etag: The etag the record was read with, if it carries one.
        change_date: The change date the record was read with, if it carries one.
        found: BC's current row, after the look-up (None: BC has none).
        matched_by_id: Whether ``found`` was matched by the record's own id.
        sent: The operation last sent without a trustworthy answer (create/update/delete).
        attempts: Rounds this record has been through.
        overwrite: Conflicts are re-read and applied instead of rejected.
        outcome: How the item ended (created, updated, ..., rejected), once it has.
        waits: Rounds it waited because BC did not run its write (throttled, deadlocked).
        in_flight_until: For a create whose answer was lost: until when (``time.monotonic``) it
            may still commit in BC, so it is looked up and not resent; None otherwise.
        look_again_at: When (``time.monotonic``) to look it up next while it may be in flight.
        looks: Look-ups made while it may be in flight (they space out).
    """

    stream: str
    record: dict[str, Any]
    model: WriteModel
    api: ApiRoute
    company_id: str
    company_scoped: bool
    action: str
    values: dict[str, Any]
    nested_lines: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    record_id: str | None = None
    natural_key: tuple[Any, ...] | None = None
    etag: str | None = None
    change_date: str | None = None
    found: dict[str, Any] | None = None
    matched_by_id: bool = False
    sent: str | None = None
    attempts: int = 0
    overwrite: bool = False
    outcome: str | None = None
    waits: int = 0
    in_flight_until: float | None = None
    look_again_at: float = 0.0
    looks: int = 0

    def identity(self) -> tuple[Any, ...] | None:
        """What makes two records the same BC row (for keeping their order); None if unknown."""
        if self.natural_key is not None:
            return (self.model.name, self.company_id, "key", *map(norm, self.natural_key))
        if self.record_id is not None:
            return (self.model.name, self.company_id, "id", self.record_id.lower())
        return None

    def set_path(self) -> str:
        """URL of the entity set, relative to the API root."""
        if not self.company_scoped:
            return self.model.name
        return f"companies({guid_literal(self.company_id)})/{self.model.name}"

    def entity_path(self, key: object) -> str:
        """URL of one row of the set, relative to the API root."""
        return f"{self.set_path()}({key_segment(key)})"

    def describe(self) -> str:
        """How the record was looked for, for a message."""
        if self.record_id is not None:
            return f"id {self.record_id}"
        if self.natural_key is not None:
            pairs = zip(self.model.natural_key, self.natural_key, strict=True)
            return ", ".join(f"{name} {value!r}" for name, value in pairs)
        return "no id or natural key"


@dataclass(frozen=True)
class Write:
    """One request to send for an item."""

    operation: str  # create, update or delete
    method: str
    path: str
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Done:
    """An item settled without a request: its outcome, or its rejection."""

    outcome: str
    rejection: Rejection | None = None


def plan(item: Item) -> Write | Done:  # noqa: PLR0911 - one answer per case
    """Decide what to send for ``item`` given ``item.found`` (BC's current row or None)."""
    found = item.found
    if item.action == "delete":
        if found is None:
            return Done("deleted" if item.sent == "delete" else "unchanged")
        return Write("delete", "DELETE", _row_path(item, found), None, _if_match(item, found))
    if found is None:
        if item.action == "update":
            message = f"BC has no {item.model.name} record with {item.describe()} to update"
            return Done("rejected", Rejection("update", message, 404, "Internal_RecordNotFound"))
        if item.action == "upsert" and not findable(item):
            return Done("rejected", Rejection("create", _not_findable(item)))
        return _create(item)
    if item.action == "create":
        return Done("created" if item.sent == "create" else "unchanged")
    changes = _changes(item, found)
    if not changes:
        settled = {"create": "created", "update": "updated"}.get(item.sent or "", "unchanged")
        return Done(settled)
    conflict = None if item.overwrite else _conflict(item, found)
    if conflict is not None:
        return Done("rejected", conflict)
    return Write("update", "PATCH", _row_path(item, found), changes, _if_match(item, found))


def _create(item: Item) -> Write:
    model = item.model
    body = {k: v for k, v in item.values.items() if k in model.insertable}
    lines_of = model.lines_of
    if lines_of is not None:
        parent = body.pop(lines_of.parent_field, None)
        company = f"companies({guid_literal(item.company_id)})/" if item.company_scoped else ""
        path = f"{company}{lines_of.header_set}({key_segment(parent)})/{lines_of.navigation}"
        return Write("create", "POST", path, body)
    body.update(item.nested_lines)
    return Write("create", "POST", item.set_path(), body)


def _changes(item: Item, found: dict[str, Any]) -> dict[str, Any]:
    properties = item.model.properties
    return {
        name: value
        for name, value in item.values.items()
        if name in item.model.updatable
        and not same_value(properties[name].type_name, value, found.get(name))
    }


def _conflict(item: Item, found: dict[str, Any]) -> Rejection | None:
    """A record read earlier whose row BC has changed since: its etag or change date is stale."""
    if not item.matched_by_id:
        return None  # matched by natural key: the record was not read from this row
    current = found.get(ETAG)
    stale = item.etag is not None and current is not None and item.etag != current
    change_field = item.model.change_date
    if not stale and item.etag is None and item.change_date and change_field:
        theirs = found.get(change_field)
        stale = bool(theirs) and instant(str(theirs)) > instant(item.change_date)
    if not stale:
        return None
    return Rejection(
        "update",
        "Another user has already changed the record since it was read"
        f" ({item.model.name} {item.describe()}); not overwritten",
        409,
        "Request_EntityChanged",
        current_etag=current,
    )


def _if_match(item: Item, found: dict[str, Any]) -> dict[str, str]:
    etag = item.etag if item.matched_by_id and item.etag and not item.overwrite else None
    etag = etag or found.get(ETAG)
    return {"If-Match": str(etag)} if etag else {}


def _row_path(item: Item, found: dict[str, Any]) -> str:
    return item.entity_path(found[item.model.key_field])


def findable(item: Item) -> bool:
    """Whether the record, once created, can be found again by what it carries.

    Only by a complete natural key that BC stores as sent: BC assigns the id of a new row (and the
    number of a document from its number series), so neither finds a created record on a rerun or
    after a lost answer.
    """
    key = item.model.natural_key
    return item.natural_key is not None and all(name in item.model.insertable for name in key)


def _not_findable(item: Item) -> str:
    """Why an upsert does not create this record, and the settings that decide otherwise."""
    model, stream = item.model, item.stream
    key = model.natural_key
    if stream.endswith(f".{model.name}"):  # a nested line of a header that already existed
        return (
            f"{stream}: not created, because the line has no complete {'+'.join(key)}: a rerun"
            " would create it a second time. Give each nested line its sequence"
        )
    assigned = [name for name in key if name not in model.insertable]
    give = ""
    if not key:
        why = f"{model.name} has no natural key to find it by"
    elif assigned:
        why = (
            f"BC assigns {', '.join(assigned)} of a new {model.name} record itself, so the"
            f" natural key {'+'.join(key)} cannot find it again"
        )
    else:
        why = f"the record has no {'+'.join(key)} (the natural key of {model.name})"
        give = f"give each record its {'+'.join(key)}, "
    return (
        f"{stream}: not created, because {why}: a rerun would create it a second time. To fix,"
        f" {give}set stream_settings.{stream}.natural_key to fields the records carry, or set"
        f" stream_settings.{stream}.action to create to create them on every run"
    )


def complete_key(key: tuple[Any, ...]) -> bool:
    """A natural key identifies a record only when none of its values is missing or blank."""
    return bool(key) and all(value not in (None, "") for value in key)


def norm(value: object) -> str:
    """A natural-key value as compared: GUIDs without case, text as is, numbers by value."""
    if isinstance(value, str):
        return value.lower() if GUID.match(value) else value
    if isinstance(value, (int, decimal.Decimal)) and not isinstance(value, bool):
        return str(decimal.Decimal(value).normalize())
    return str(value)
