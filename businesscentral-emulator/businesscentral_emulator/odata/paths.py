"""Resolve an OData resource path (`companies(x)/salesInvoices(y)/salesInvoiceLines`) to rows.

A path names an entity set, narrowed step by step: by company, by key, and by the referential
constraints of each navigation. The result is a `Target` the reader turns into SQL.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from businesscentral_emulator.odata.errors import BusinessCentralError, not_found_segment
from businesscentral_emulator.store.sqlite import quote, table_name

if TYPE_CHECKING:
    from businesscentral_emulator.odata.edmx import ApiModel, EntitySet, Navigation
    from businesscentral_emulator.store.sqlite import Store

_SEGMENT = re.compile(r"^(?P<name>[A-Za-z_][\w.]*)(?:\((?P<key>[^()]*)\))?$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass
class Target:
    """What a resource path names: rows of one entity set under some conditions."""

    api: ApiModel
    entity_set: EntitySet
    company: str | None
    conditions: list[tuple[str, list[Any]]] = field(default_factory=list)
    single: bool = False
    key: str | None = None
    context: str = ""
    parent: Target | None = None
    navigation: Navigation | None = None
    action: str | None = None
    stream: str | None = None

    def where(self) -> tuple[str, list[Any]]:
        """The SQL condition (and its parameters) selecting the target's rows."""
        parts: list[str] = []
        params: list[Any] = []
        if self.entity_set.company_scoped:
            parts.append("_company = ?")
            params.append(self.company)
        for sql, values in self.conditions:
            parts.append(sql)
            params.extend(values)
        return (" AND ".join(parts) or "1"), params


def parse_key(text: str) -> str:
    """A key predicate's value: an unquoted GUID, or a quoted string with `''` escapes."""
    text = text.strip()
    if "=" in text and not text.startswith("'"):
        text = text.split("=", 1)[1].strip()
    if _GUID.match(text):
        return text.lower()
    if len(text) >= 2 and text[0] == text[-1] == "'":  # noqa: PLR2004
        return text[1:-1].replace("''", "'")
    raise BusinessCentralError(
        400,
        "BadRequest",
        f"Bad Request - Error in query syntax: the key value '{text}' is invalid.",
    )


def _company_exists(store: Store, api: ApiModel, company_id: str) -> bool:
    row = store.fetch_one(
        f"SELECT 1 FROM {table_name(api.route, 'companies')} WHERE id = ?", (company_id,)
    )
    return row is not None


def resolve(api: ApiModel, path: str) -> Target:
    """Turn the path after the API root into a Target, or fail as BC does."""
    segments = [s for s in path.split("/") if s] or [""]
    target: Target | None = None
    for raw in segments:
        match = _SEGMENT.match(raw)
        if match is None:
            raise not_found_segment(raw)
        name, key = match.group("name"), match.group("key")
        if target is None:
            target = _root(api, name, raw)
        elif target.single and "." in name:
            return _bind_action(target, name, raw)
        elif target.single and _is_stream(target, name) and key is None:
            target.stream = name  # a media property: `attachments(id)/attachmentContent`
            return target
        elif target.single:
            target = _navigate(api, target, name, raw)
        else:
            raise not_found_segment(raw)
        if key is not None:
            _narrow_to_key(target, key, raw)
    if target is None:  # pragma: no cover - there is always a segment
        raise not_found_segment(path)
    return target


def _is_stream(target: Target, name: str) -> bool:
    prop = target.entity_set.entity_type.properties.get(name)
    return prop is not None and prop.kind == "stream"


def _bind_action(target: Target, name: str, raw: str) -> Target:
    action = name.rsplit(".", 1)[-1]
    if action not in target.entity_set.entity_type.actions:
        raise not_found_segment(raw)
    target.action = action
    return target


def _narrow_to_key(target: Target, key: str, raw: str) -> None:
    if target.single:
        raise not_found_segment(raw)
    key_value = parse_key(key)
    key_name = target.entity_set.entity_type.key[0]
    target.conditions.append((f"{quote(key_name)} = ?", [key_value]))
    target.single = True
    target.key = key_value
    target.context += f"({key})"


def _root(api: ApiModel, name: str, raw: str) -> Target:
    entity_set = api.entity_sets.get(name)
    if entity_set is None or entity_set.company_scoped:
        raise not_found_segment(raw)
    return Target(api=api, entity_set=entity_set, company=None, context=name)


def _navigate(api: ApiModel, parent: Target, name: str, raw: str) -> Target:
    parent_type = parent.entity_set.entity_type
    if parent.entity_set.name == "companies":
        child = api.entity_sets.get(name)
        if child is None or not child.company_scoped:
            raise not_found_segment(raw)
        return Target(
            api=api,
            entity_set=child,
            company=parent.key,
            context=f"{parent.context}/{name}",
            parent=parent,
        )
    nav = parent_type.navigations.get(name)
    child_set = api.set_for_navigation(nav) if nav else None
    if nav is None or child_set is None:
        raise not_found_segment(raw)
    # The child's rows are those whose referenced properties equal the parent's: resolved lazily
    # by a sub-select so the parent row is read only once, inside the same statement.
    parent_where, parent_params = parent.where()
    conditions: list[tuple[str, list[Any]]] = []
    for own, referenced in nav.constraints:
        parent_table = table_name(api.route, parent.entity_set.name)
        sub_select = f"SELECT {quote(own)} FROM {parent_table} WHERE {parent_where}"
        conditions.append((f"{quote(referenced)} IN ({sub_select})", list(parent_params)))
    if not conditions:
        conditions.append(("0", []))
    return Target(
        api=api,
        entity_set=child_set,
        company=parent.company,
        conditions=conditions,
        single=not nav.collection,
        context=f"{parent.context}/{name}",
        parent=parent,
        navigation=nav,
    )


def check_company(store: Store, api: ApiModel, target: Target) -> None:
    """Fail as BC does when the path names a company that does not exist."""
    if target.company is not None and not _company_exists(store, api, target.company):
        raise BusinessCentralError(
            404,
            "Internal_CompanyNotFound",
            f"The company '{target.company}' does not exist or you do not have access to it.",
        )
