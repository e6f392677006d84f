"""Batched look-ups: BC's current rows for many records in few requests.

Records are looked up by their id and by their natural key in ``$filter`` chains on one field
(``number eq 'A' or number eq 'B'``; BC refuses ``or`` across fields), 40 values a request and up to
100 requests per ``$batch``. A compound natural key (``documentId``, ``sequence``) is looked up
by its first field (all lines of a document) and matched here. Every value passes through
:func:`~businesscentral_api.odata.literal`, so ``O'Brien`` is one value and can never widen a
filter.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from businesscentral_api.batch import BatchOperation
from businesscentral_api.odata import encode_query, literal

from target_businesscentral.ledger import Rejection
from target_businesscentral.plan import Item, norm

if TYPE_CHECKING:
    from businesscentral_api.metadata import Property

__all__ = ["Lookup", "assign_found", "lookup_operations"]

VALUES_PER_REQUEST = 40


@dataclass(frozen=True)
class Lookup:
    """One GET of a look-up and the items it answers for."""

    operation: BatchOperation
    group: tuple[Any, ...]


def lookup_operations(items: list[Item]) -> tuple[list[Lookup], dict[tuple[Any, ...], list[Item]]]:
    """The GETs that find the current rows of ``items``, and the items of each look-up group."""
    groups: dict[tuple[Any, ...], list[Item]] = defaultdict(list)
    for item in items:
        groups[(item.api, item.company_id, item.model.name)].append(item)
    lookups: list[Lookup] = []
    for group, members in groups.items():
        first = members[0]
        model = first.model
        select = _select(members)
        ids = sorted({item.record_id.lower() for item in members if item.record_id})
        filters = [
            _any_of(model.key_field, model.properties[model.key_field], chunk)
            for chunk in _chunks(ids)
        ]
        key = model.natural_key
        if key:
            wanted = sorted({item.natural_key[0] for item in members if item.natural_key}, key=str)
            filters.extend(
                _any_of(key[0], model.properties[key[0]], chunk) for chunk in _chunks(wanted)
            )
        for condition in filters:
            query = encode_query({"$filter": condition, "$select": ",".join(select)})
            operation = BatchOperation("GET", f"{first.set_path()}?{query}")
            lookups.append(Lookup(operation, group))
    return lookups, groups


def assign_found(members: list[Item], rows: list[dict[str, Any]]) -> list[tuple[Item, Rejection]]:
    """Give each item its current row (by id first, then natural key); ambiguous keys reject."""
    if not members:
        return []
    model = members[0].model
    by_id = {str(row.get(model.key_field, "")).lower(): row for row in rows}
    by_key: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
    if model.natural_key:
        for row in rows:
            by_key[tuple(norm(row.get(name)) for name in model.natural_key)].append(row)
    ambiguous = []
    for item in members:
        item.found, item.matched_by_id = None, False
        if item.record_id and item.record_id.lower() in by_id:
            item.found, item.matched_by_id = by_id[item.record_id.lower()], True
            continue
        if item.natural_key is None:
            continue
        matches = by_key.get(tuple(map(norm, item.natural_key)), [])
        if len(matches) == 1:
            item.found = matches[0]
        elif len(matches) > 1:
            message = (
                f"{len(matches)} {model.name} records match {item.describe()};"
                " the natural key must identify one record"
            )
            ambiguous.append((item, Rejection("lookup", message)))
    return ambiguous


def _select(members: list[Item]) -> list[str]:
    model = members[0].model
    names = {model.key_field, *model.natural_key}
    if model.change_date:
        names.add(model.change_date)
    if "status" in model.properties:
        names.add("status")
    for item in members:
        names.update(name for name in item.values if name in model.properties)
    return sorted(names)


def _chunks(values: list[Any]) -> list[list[Any]]:
    return [values[i : i + VALUES_PER_REQUEST] for i in range(0, len(values), VALUES_PER_REQUEST)]


def _any_of(field: str, prop: Property, values: list[Any]) -> str:
    """``field eq v1 or field eq v2 ...`` with every value as a typed OData literal."""
    return " or ".join(f"{field} eq {literal(_typed(prop, value))}" for value in values)


def _typed(prop: Property, value: Any) -> object:  # noqa: ANN401
    """The Python value whose OData literal has the property's type (GUIDs bare, text quoted)."""
    if prop.type_name == "Edm.Guid":
        return uuid.UUID(str(value))
    if prop.type_name == "Edm.Date":
        return dt.date.fromisoformat(str(value))
    return value


def rows_of(document: Any) -> list[dict[str, Any]]:  # noqa: ANN401
    """The rows of a look-up answer (each with its ``@odata.etag``)."""
    rows = (document or {}).get("value") or []
    return [row for row in rows if isinstance(row, dict)]
