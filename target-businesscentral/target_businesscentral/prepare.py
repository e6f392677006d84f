"""Turn one input record into an :class:`~target_businesscentral.plan.Item`, or refuse it.

This is where a record meets ``$metadata``: its company is chosen, unknown fields are dropped or
refused, every writable value is checked against its property, a copy from another company loses
that company's ids, and a line finds its document.
"""

from __future__ import annotations

import decimal
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from businesscentral_api.metadata import CHANGE_DATE_FIELDS

from target_businesscentral.checks import checker_for, instant
from target_businesscentral.entities import reference_fields
from target_businesscentral.ledger import Rejection
from target_businesscentral.plan import ETAG, Item, complete_key

if TYPE_CHECKING:
    from collections.abc import Callable

    from businesscentral_api.odata import ApiRoute

    from target_businesscentral.entities import WriteModel
    from target_businesscentral.settings import StreamSettings

__all__ = ["COMPANY_ID", "IdMap", "RecordPreparer", "SetTarget"]

LOGGER = logging.getLogger("target_businesscentral")
COMPANY_ID = "companyId"
DELETED_AT = "_sdc_deleted_at"
# Fields the target reads for routing; never sent, never "unknown".
_ROUTING = frozenset({COMPANY_ID, ETAG, DELETED_AT})

IdMap = dict[tuple[str, str, str], str]
"""(header set, source company id, source id) -> id of the same record in the written company."""


@dataclass(frozen=True)
class SetTarget:
    """Where a stream is written: the set's write model and its API."""

    model: WriteModel
    api: ApiRoute
    company_scoped: bool
    lines_models: dict[str, WriteModel] = field(default_factory=dict)


class RecordPreparer:
    """Prepares the records of one stream; its checks are built once."""

    def __init__(  # noqa: PLR0913 - everything a record is judged by
        self,
        stream: str,
        target: SetTarget,
        settings: StreamSettings,
        *,
        company_of: Callable[[str | None], str | None],
        copy_to: str | None,
        id_map: IdMap,
        reject_unknown: bool,
        hard_delete: bool,
        overwrite: bool,
    ) -> None:
        """``company_of`` resolves a record's companyId (None: use the default; unknown: None)."""
        self.stream = stream
        self.target = target
        self.settings = settings
        self.company_of = company_of
        self.copy_to = copy_to
        self.id_map = id_map
        self.reject_unknown = reject_unknown
        self.hard_delete = hard_delete
        self.overwrite = overwrite
        model = target.model
        self.checks = {name: checker_for(model.properties[name]) for name in model.insertable}
        self.line_checks = {
            navigation: {name: checker_for(m.properties[name]) for name in m.insertable}
            for navigation, m in target.lines_models.items()
        }
        # What the planner and the look-up use as they came: an id, a natural key or a change
        # date that BC could not read would fail a whole batch, so each is checked here too.
        self.key_checks = {
            name: checker_for(model.properties[name])
            for name in {model.key_field, *model.natural_key}
            if name in model.properties
        }
        self.known = frozenset(model.properties) | frozenset(model.entity_set.navigations)
        self.references = reference_fields(model.entity_set)
        self._warned: set[str] = set()

    def prepare(self, record: dict[str, Any]) -> Item | Rejection:  # noqa: C901, PLR0911
        """The item for ``record``, or why it cannot be written."""
        model = self.target.model
        source_company = record.get(COMPANY_ID)
        company = self.copy_to or self.company_of(source_company)
        if company is None:
            if source_company is None:
                return Rejection(
                    "validate",
                    "the record has no companyId and setting default_company is not set",
                )
            return Rejection("validate", f"companyId {source_company} is not a company of BC")
        foreign = source_company is not None and str(source_company).lower() != company.lower()
        unknown = [
            name
            for name in record
            if name not in self.known
            and name not in _ROUTING
            and not name.startswith("_sdc_")
            and name != self.settings.document_key_field
        ]
        if unknown and self.reject_unknown:
            return Rejection(
                "validate",
                f"field {unknown[0]!r} is not a field of {model.name} in $metadata",
            )
        for name in unknown:
            if name not in self._warned:
                self._warned.add(name)
                LOGGER.warning(
                    "%s: field %r is not a field of %s in $metadata; it is not sent",
                    self.stream,
                    name,
                    model.name,
                )
        values = {name: record[name] for name in model.insertable if name in record}
        if foreign:
            self._drop_foreign_references(values)
        refused = self._translate_parent(values, record, source_company)
        if refused is not None:
            return refused
        problem = _first_problem(self.checks, values, model.name)
        if problem is not None:
            return Rejection("validate", problem)
        key_values = {**record, **values}
        refused = self._check_keys(key_values, values, foreign=foreign)
        if refused is not None:
            return refused
        nested = self._nested_lines(record, foreign=foreign)
        if isinstance(nested, Rejection):
            return nested
        natural_key = tuple(key_values.get(name) for name in model.natural_key)
        action = self.settings.action
        if self.hard_delete and record.get(DELETED_AT):
            action = "delete"
        record_id = None if foreign else _text(record.get(model.key_field))
        return Item(
            stream=self.stream,
            record=record,
            model=model,
            api=self.target.api,
            company_id=company,
            company_scoped=self.target.company_scoped,
            action=action,
            values=values,
            nested_lines=nested,
            record_id=record_id,
            natural_key=natural_key if complete_key(natural_key) else None,
            etag=None if foreign else _text(record.get(ETAG)),
            change_date=None if foreign else _change_date(record),
            overwrite=self.overwrite,
        )

    def _check_keys(
        self, key_values: dict[str, Any], values: dict[str, Any], *, foreign: bool
    ) -> Rejection | None:
        """The id, natural key, etag and change date a record is matched by must be readable."""
        model = self.target.model
        ignored = {model.key_field} if foreign else set()  # another company's id is not used
        keys = {
            name: key_values[name]
            for name in self.key_checks
            if name not in values and name not in ignored and key_values.get(name) not in (None, "")
        }
        problem = _first_problem(self.key_checks, keys, model.name)
        if problem is not None:
            return Rejection("validate", problem)
        if foreign:
            return None
        etag = key_values.get(ETAG)
        if etag not in (None, "") and not isinstance(etag, str):
            return Rejection("validate", f"field {ETAG!r} of {model.name} is not a string")
        for name in CHANGE_DATE_FIELDS:
            value = key_values.get(name)
            if not value:  # as _change_date: the first one set is the one compared
                continue
            try:
                instant(str(value))
            except ValueError:
                return Rejection(
                    "validate", _problem(name, model.name, "is not a date-time", value)
                )
            break
        return None

    def _drop_foreign_references(self, values: dict[str, Any]) -> None:
        """Another company's ids mean nothing here: BC resolves the number or code instead."""
        lines_of = self.target.model.lines_of
        for name in self.references:
            if lines_of is not None and name == lines_of.parent_field:
                continue
            values.pop(name, None)

    def _translate_parent(
        self,
        values: dict[str, Any],
        record: dict[str, Any],
        source_company: Any,  # noqa: ANN401
    ) -> Rejection | None:
        """A line's documentId: the written copy of its header, when the header was copied."""
        lines_of = self.target.model.lines_of
        if lines_of is None:
            return None
        parent = _text(record.get(lines_of.parent_field))
        if parent is None:
            document_key = record.get(self.settings.document_key_field)
            if isinstance(document_key, str) or (
                isinstance(document_key, int) and not isinstance(document_key, bool)
            ):
                return None  # found by the header's natural key before writing
            if document_key is not None:
                problem = "is not text or a whole number"
                field = self.settings.document_key_field
                where = self.target.model.name
                return Rejection("validate", _problem(field, where, problem, document_key))
            return Rejection(
                "validate",
                f"the line has neither {lines_of.parent_field} nor"
                f" {self.settings.document_key_field} to find its {lines_of.header_set} record",
            )
        source = str(source_company or "").lower()
        mapped = self.id_map.get((lines_of.header_set, source, parent.lower()))
        if mapped is not None:
            values[lines_of.parent_field] = mapped
        elif self.copy_to is not None and source and source != self.copy_to.lower():
            return Rejection(
                "validate",
                f"its {lines_of.header_set} record {parent} was not copied in this run, so the"
                " line has no document to go to",
            )
        else:
            values[lines_of.parent_field] = parent
        return None

    def _nested_lines(
        self, record: dict[str, Any], *, foreign: bool
    ) -> dict[str, list[dict[str, Any]]] | Rejection:
        nested: dict[str, list[dict[str, Any]]] = {}
        for navigation, line_model in self.target.lines_models.items():
            lines = record.get(navigation)
            if lines is None:
                continue
            if not isinstance(lines, list) or not all(isinstance(x, dict) for x in lines):
                return Rejection("validate", f"field {navigation!r} must be a list of lines")
            parent = line_model.lines_of.parent_field if line_model.lines_of else None
            references = reference_fields(line_model.entity_set) if foreign else {}
            cleaned = []
            for index, line in enumerate(lines):
                values = {
                    name: line[name]
                    for name in line_model.insertable
                    if name in line and name != parent and name not in references
                }
                problem = _first_problem(
                    self.line_checks[navigation], values, f"{navigation}[{index}]"
                )
                if problem is not None:
                    return Rejection("validate", problem)
                cleaned.append(values)
            nested[navigation] = cleaned
        return nested


def _first_problem(
    checks: dict[str, Callable[[Any], str | None]], values: dict[str, Any], where: str
) -> str | None:
    for name, value in values.items():
        problem = checks[name](value)
        if problem is not None:
            return _problem(name, where, problem, value)
    return None


def _problem(name: str, where: str, problem: str, value: Any) -> str:  # noqa: ANN401
    """``field 'x' of customers is not a GUID (value 'abc')``, the value cut to 60 characters."""
    text = str(value) if isinstance(value, decimal.Decimal) else repr(value)
    shown = text if len(text) <= 60 else text[:57] + "..."  # noqa: PLR2004
    return f"field {name!r} of {where} {problem} (value {shown})"


def _text(value: Any) -> str | None:  # noqa: ANN401
    return str(value) if value not in (None, "") else None


def _change_date(record: dict[str, Any]) -> str | None:
    return next((str(record[f]) for f in CHANGE_DATE_FIELDS if record.get(f)), None)
