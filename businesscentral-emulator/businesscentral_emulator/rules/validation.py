"""Check a client's JSON body against the entity model, as BC refuses it, and convert it.

Everything here follows the EDMX (names, types, MaxLength, enums); what the EDMX cannot say
(read-only and required fields) lives in the one small table `RULES`.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from businesscentral_emulator.odata.errors import BusinessCentralError
from businesscentral_emulator.odata.values import to_stored

if TYPE_CHECKING:
    from businesscentral_emulator.odata.edmx import ApiModel, EntitySet, Property

_ENCODED = re.compile(r"_x([0-9A-Fa-f]{4})_")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CHANGE_FIELDS = frozenset({"lastModifiedDateTime", "lastModfiedDateTime", "systemModifiedAt"})
_HEADER_TOTALS = frozenset(
    {
        "number",
        "status",
        "totalAmountExcludingTax",
        "totalTaxAmount",
        "totalAmountIncludingTax",
        "remainingAmount",
    }
)
_LINE_AMOUNTS = frozenset(
    {
        "amountExcludingTax",
        "totalTaxAmount",
        "amountIncludingTax",
        "invoiceDiscountAllocation",
        "netAmount",
        "netTaxAmount",
        "netAmountIncludingTax",
    }
)


@dataclass(frozen=True)
class SetRules:
    """What a set's API page makes read-only or required, beyond the EDMX."""

    read_only: frozenset[str] = frozenset()
    read_only_on_update: frozenset[str] = frozenset()
    required_one_of: tuple[str, ...] = ()


_DOCUMENT = SetRules(read_only=_HEADER_TOTALS)
_LINE = SetRules(read_only=_LINE_AMOUNTS, read_only_on_update=frozenset({"documentId"}))

# The one table of per-set write rules (BC's API pages mark these fields Editable = false).
RULES: dict[str, SetRules] = {
    "salesInvoices": SetRules(_HEADER_TOTALS, required_one_of=("customerNumber", "customerId")),
    "salesOrders": SetRules(
        _HEADER_TOTALS | {"fullyShipped"}, required_one_of=("customerNumber", "customerId")
    ),
    "salesCreditMemos": SetRules(_HEADER_TOTALS, required_one_of=("customerNumber", "customerId")),
    "purchaseInvoices": SetRules(_HEADER_TOTALS, required_one_of=("vendorNumber", "vendorId")),
    "salesInvoiceLines": _LINE,
    "salesOrderLines": _LINE,
    "salesCreditMemoLines": _LINE,
    "purchaseInvoiceLines": _LINE,
    "customers": SetRules(frozenset({"balanceDue", "taxAreaDisplayName"})),
    "vendors": SetRules(frozenset({"balance"})),
    "items": SetRules(frozenset({"inventory"})),
    "journals": SetRules(required_one_of=("code",)),
    "journalLines": SetRules(read_only_on_update=frozenset({"journalId"})),
}


def decode_member(name: str) -> str:
    """An enum member as BC shows it in messages: `In_x0020_Review` -> `In Review`."""
    return _ENCODED.sub(lambda m: chr(int(m.group(1), 16)), name)


def bad_literal(value: Any, edm_type: str) -> BusinessCentralError:  # noqa: ANN401
    """ODataLib's refusal of a value of the wrong type."""
    value = "null" if value is None else value
    return BusinessCentralError(
        400,
        "BadRequest",
        f"Cannot convert the literal '{value}' to the expected type '{edm_type}'.",
    )


def unknown_property(api: ApiModel, entity_set: EntitySet, name: str) -> BusinessCentralError:
    """BC's refusal of a property the type does not have (wording from a real response)."""
    type_name = f"{api.namespace}.{entity_set.entity_type.name}"
    return BusinessCentralError(
        400,
        "BadRequest",
        f"The property '{name}' does not exist on type '{type_name}'. Make sure to only use"
        " property names that are defined by the type.",
    )


def read_only(name: str) -> BusinessCentralError:
    """A write to a field the API page does not let clients change (wording invented)."""
    return BusinessCentralError(
        400, "BadRequest", f"The property '{name}' is read-only and cannot be modified."
    )


def _check_string(prop: Property, value: Any) -> None:  # noqa: ANN401
    if not isinstance(value, str):
        raise bad_literal(value, prop.edm_type)
    if prop.max_length is not None and len(value) > prop.max_length:
        raise BusinessCentralError(
            400,
            "Application_StringExceededLength",
            f"The length of the string is {len(value)}, but it must be less than or equal to"
            f" {prop.max_length} characters. Value: {value}",
        )


def _check_enum(prop: Property, value: Any) -> None:  # noqa: ANN401
    members = prop.enum.members if prop.enum else ()
    if not isinstance(value, str) or value not in members:
        options = ",".join(decode_member(m) for m in members)
        raise BusinessCentralError(  # code and wording as in BC's docs (errors.json)
            400,
            "Unknown",
            f"'{value}' is not an option. The existing options are: {options}",
        )


def _check_scalar(prop: Property, value: Any) -> None:  # noqa: ANN401, C901, PLR0912
    kind = prop.kind
    ok = True
    if kind == "guid":
        try:
            uuid.UUID(str(value))
        except ValueError:
            ok = False
        ok = ok and isinstance(value, str)
    elif kind == "decimal":
        ok = isinstance(value, (int, float, decimal.Decimal)) and not isinstance(value, bool)
        if isinstance(value, str):
            try:
                decimal.Decimal(value)
                ok = True
            except decimal.InvalidOperation:
                ok = False
    elif kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "bool":
        ok = isinstance(value, bool)
    elif kind == "date":
        ok = isinstance(value, str) and bool(_DATE.match(value))
        if ok:
            try:
                dt.date.fromisoformat(value)
            except ValueError:
                ok = False
    elif kind == "datetime":
        try:
            dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            ok = False
        ok = ok and isinstance(value, str)
    if not ok:
        raise bad_literal(value, prop.edm_type)


def check_value(prop: Property, value: Any) -> Any:  # noqa: ANN401
    """Check one value against its property; its stored form."""
    if value is None:
        if not prop.nullable:
            raise bad_literal(None, prop.edm_type)
        return None
    if prop.kind == "string":
        _check_string(prop, value)
    elif prop.kind == "enum":
        _check_enum(prop, value)
    elif prop.kind in {"json", "stream"}:
        raise read_only(prop.name)
    else:
        _check_scalar(prop, value)
    return to_stored(prop, value)


def convert_body(
    api: ApiModel,
    entity_set: EntitySet,
    body: Any,  # noqa: ANN401 - JSON
    *,
    insert: bool,
    allowed_navigations: frozenset[str] = frozenset(),
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Validate a POST/PATCH body: (stored values, navigation payloads for deep insert)."""
    if not isinstance(body, dict):
        msg = "The request body must be a JSON object."
        raise BusinessCentralError(400, "BadRequest", msg)
    props = entity_set.entity_type.properties
    rules = RULES.get(entity_set.name, SetRules())
    stored: dict[str, Any] = {}
    nested: dict[str, Any] = {}
    for name, value in body.items():
        if name.startswith("@odata.") or "@odata." in name:
            continue
        if name in allowed_navigations:
            nested[name] = value
            continue
        prop = props.get(name)
        if prop is None:
            raise unknown_property(api, entity_set, name)
        if (
            name == "id"
            or name in _CHANGE_FIELDS
            or name in rules.read_only
            or (not insert and name in rules.read_only_on_update)
        ):
            raise read_only(name)
        stored[name] = check_value(prop, value)
    return stored, nested


def check_required(entity_set: EntitySet, row: dict[str, Any]) -> None:
    """A new row must name what its page requires (modelled on BC's TestField message)."""
    rules = RULES.get(entity_set.name)
    if rules is None or not rules.required_one_of:
        return
    if any(
        row.get(name) not in (None, "", "00000000-0000-0000-0000-000000000000")
        for name in rules.required_one_of
    ):
        return
    field_name = rules.required_one_of[0]
    raise BusinessCentralError(
        400,
        "Application_FieldValidationException",
        f"{field_name} must have a value in {entity_set.entity_type.name}: id=. It cannot be"
        " zero or empty.",
    )
