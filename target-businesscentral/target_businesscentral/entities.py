"""What the target may write to an entity set: read from ``$metadata``, plus BC's page rules.

The EDMX names the fields, their types, which sets take inserts, updates and deletes, and the bound
actions. What it cannot say (fields an API page keeps read-only, natural keys, which set holds a
document's lines) lives in the small tables below, the only hand-written per-entity knowledge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from businesscentral_api.metadata import CHANGE_DATE_FIELDS

if TYPE_CHECKING:
    from businesscentral_api.metadata import EntitySet, Property, ServiceModel

__all__ = ["WriteModel", "write_model"]

_TOTALS = frozenset({"totalAmountExcludingTax", "totalTaxAmount", "totalAmountIncludingTax"})
_HEADER = _TOTALS | {"number", "status", "discountAppliedBeforeTax"}
_BILL_TO_ADDRESS = frozenset(
    {
        "billToAddressLine1",
        "billToAddressLine2",
        "billToCity",
        "billToCountry",
        "billToState",
        "billToPostCode",
    }
)
_PAY_TO = frozenset(
    {
        "payToName",
        "payToContact",
        "payToAddressLine1",
        "payToAddressLine2",
        "payToCity",
        "payToCountry",
        "payToState",
        "payToPostCode",
    }
)
_LINE_AMOUNTS = frozenset(
    {
        "discountAppliedBeforeTax",
        "amountExcludingTax",
        "taxPercent",
        "totalTaxAmount",
        "amountIncludingTax",
        "invoiceDiscountAllocation",
        "netAmount",
        "netTaxAmount",
        "netAmountIncludingTax",
    }
)
# Fields BC's API pages do not let a client set: each page's `Editable = false` fields (Microsoft's
# APIV2 AL source; the emulator's rules/validation.py names the page and commit per set). BC
# refuses them with 400 "Control '<field>' is read-only.", so the target never sends them.
READ_ONLY: dict[str, frozenset[str]] = {
    "salesInvoices": _HEADER
    | _BILL_TO_ADDRESS
    | {"customerName", "billToName", "orderId", "orderNumber", "pricesIncludeTax"}
    | {"remainingAmount"},
    "salesOrders": _HEADER | _BILL_TO_ADDRESS | {"customerName", "billToName"},
    "salesCreditMemos": _HEADER | {"customerName", "billToName", "pricesIncludeTax"},
    "salesQuotes": (_HEADER - {"discountAppliedBeforeTax"})
    | _BILL_TO_ADDRESS
    | {"customerName", "billToName"},
    "purchaseInvoices": _HEADER | _PAY_TO | {"vendorName", "orderId", "orderNumber"},
    "purchaseOrders": _HEADER | (_PAY_TO - {"payToContact"}) | {"vendorName"},
    "purchaseCreditMemos": _HEADER,
    "salesInvoiceLines": _LINE_AMOUNTS,
    "salesOrderLines": _LINE_AMOUNTS,
    "salesCreditMemoLines": _LINE_AMOUNTS,
    "salesQuoteLines": _LINE_AMOUNTS - {"netAmount", "invoiceDiscountAllocation"},
    "purchaseInvoiceLines": frozenset({"taxPercent", "totalTaxAmount"}),
    "purchaseOrderLines": _LINE_AMOUNTS,
    "purchaseCreditMemoLines": _LINE_AMOUNTS,
    "customers": frozenset({"balanceDue", "taxAreaDisplayName"}),
    "vendors": frozenset({"balance"}),
    "employees": frozenset({"displayName"}),
    "contacts": frozenset({"lastInteractionDate"}),
    "journals": frozenset({"balancingAccountNumber", "templateDisplayName"}),
    "customerPaymentJournals": frozenset({"balancingAccountNumber"}),
    "vendorPaymentJournals": frozenset({"balancingAccountNumber"}),
    "journalLines": frozenset({"journalDisplayName"}),  # "... isn't editable." whenever sent
    "opportunities": frozenset(
        {
            "contactName",
            "contactCompanyName",
            "status",
            "closed",
            "creationDate",
            "dateClosed",
            "calculatedCurrentValue",
            "chancesOfSuccessPrc",
            "completedPrc",
            "estimatedClosingDate",
            "estimatedValue",
            "systemCreatedAt",
        }
    ),
    "taxAreas": frozenset({"taxType"}),
    "taxGroups": frozenset({"taxType"}),
    "companyInformation": frozenset({"currencyCode", "currentFiscalYearStartDate", "picture"}),
    "defaultDimensions": frozenset({"dimensionCode", "dimensionValueCode"}),
    "customerContacts": frozenset({"customerName"}),
    "timeRegistrationEntries": frozenset(
        {"absence", "lineNumber", "status", "unitOfMeasureId", "unitOfMeasureCode"}
    ),
    "documentAttachments": frozenset({"byteSize"}),
}
# Fields BC refuses on POST but takes on PATCH ("Inventory cannot be changed during on insert.";
# a PATCH of inventory posts an adjustment, which the target does not do unasked).
INSERT_ONLY_REFUSED: dict[str, frozenset[str]] = {"items": frozenset({"inventory"})}
# Natural keys that are not the set's ``number`` or ``code``.
NATURAL_KEYS: dict[str, tuple[str, ...]] = {
    "journalLines": ("journalId", "lineNumber"),
    "dimensionValues": ("dimensionId", "code"),
    "itemVariants": ("itemId", "code"),
    "defaultDimensions": ("parentId", "dimensionId"),
    "subscriptions": ("subscriptionId",),
    # BC numbers a new document from its number series (``number`` is read-only on insert), so a
    # document is found again by the reference the client sets and BC keeps.
    "salesInvoices": ("externalDocumentNumber",),
    "salesOrders": ("externalDocumentNumber",),
    "salesCreditMemos": ("externalDocumentNumber",),
    "salesQuotes": ("externalDocumentNumber",),
    "purchaseInvoices": ("vendorInvoiceNumber",),
    "purchaseCreditMemos": ("vendorCreditMemoNumber",),
}
# The field of a lines set that names its header, where it is not ``documentId``.
PARENT_FIELDS: dict[str, str] = {"journalLines": "journalId"}
# Reference ids that name their target by a differently spelled field (the rest use xId -> xNumber).
REFERENCE_PARTNERS: dict[str, str] = {"itemId": "lineObjectNumber", "accountId": "lineObjectNumber"}


@dataclass(frozen=True)
class LinesOf:
    """How a lines set hangs off its header set."""

    header_set: str
    navigation: str
    parent_field: str


@dataclass(frozen=True)
class WriteModel:
    """One entity set as the target writes it.

    Attributes:
        entity_set: The set from ``$metadata``.
        insertable: Fields a POST may carry.
        updatable: Fields a PATCH may carry.
        natural_key: Fields that identify a record without its id (empty: none).
        change_date: The set's change-date field, if any.
        lines: Lines navigations of a header set (named as their lines set), for deep insert.
        lines_of: For a lines set: its header.
    """

    entity_set: EntitySet
    insertable: frozenset[str]
    updatable: frozenset[str]
    natural_key: tuple[str, ...]
    change_date: str | None
    lines: frozenset[str]
    lines_of: LinesOf | None

    @property
    def name(self) -> str:
        """The entity set name."""
        return self.entity_set.name

    @property
    def properties(self) -> dict[str, Property]:
        """Structural properties by name."""
        return self.entity_set.properties

    @property
    def key_field(self) -> str:
        """The set's key property (``id`` everywhere but subscriptions)."""
        return self.entity_set.key[0] if self.entity_set.key else "id"

    def can_post(self) -> bool:
        """Whether drafts of this set can be posted through the bound ``post`` action."""
        return "post" in self.entity_set.bound_actions


def write_model(
    model: ServiceModel, set_name: str, natural_key: tuple[str, ...] | None = None
) -> WriteModel:
    """Build the write model of one set; ``natural_key`` overrides the default.

    Raises:
        KeyError: The set is not in ``$metadata``.
        ValueError: The natural key names a field the set does not have.
    """
    entity_set = model.entity_set(set_name)
    properties = entity_set.properties
    lines_of = _lines_of(model, set_name)
    never = {
        *entity_set.key,
        *CHANGE_DATE_FIELDS,
        *READ_ONLY.get(set_name, ()),
        *INSERT_ONLY_REFUSED.get(set_name, ()),
    }
    writable = frozenset(
        name
        for name, prop in properties.items()
        if name not in never and not prop.is_stream and not prop.is_collection
    )
    updatable = writable - ({lines_of.parent_field} if lines_of else set())
    key = natural_key if natural_key is not None else _default_natural_key(entity_set, lines_of)
    unknown = [name for name in key if name not in properties]
    if unknown:
        msg = f"{set_name} has no field {unknown[0]!r} for its natural key"
        raise ValueError(msg)
    lines = frozenset(
        navigation.name
        for navigation in entity_set.navigations.values()
        if navigation.is_collection
        and (child := _lines_of(model, navigation.name)) is not None
        and child.header_set == set_name
    )
    return WriteModel(
        entity_set=entity_set,
        insertable=writable,
        updatable=updatable,
        natural_key=key,
        change_date=entity_set.change_date,
        lines=lines,
        lines_of=lines_of,
    )


def _default_natural_key(entity_set: EntitySet, lines_of: LinesOf | None) -> tuple[str, ...]:
    if entity_set.name in NATURAL_KEYS:
        return NATURAL_KEYS[entity_set.name]
    if lines_of is not None and "sequence" in entity_set.properties:
        return (lines_of.parent_field, "sequence")
    for name in ("number", "code", "no"):  # custom API pages often call No. "no"
        if name in entity_set.properties:
            return (name,)
    return ()


def _lines_of(model: ServiceModel, set_name: str) -> LinesOf | None:
    """The one header set with a change date whose collection navigation of this name holds it.

    Document lines have no change date of their own; journal lines do, but BC refuses one
    without its journal (`You must specify a journal batch ID or a journal ID to get a journal
    line.`), so they too follow their header's copy (PARENT_FIELDS).
    """
    entity_set = model.entity_sets.get(set_name)
    if entity_set is None or (entity_set.change_date is not None and set_name not in PARENT_FIELDS):
        return None
    parent_field = PARENT_FIELDS.get(set_name, "documentId")
    if parent_field not in entity_set.properties:
        return None
    headers = [
        header
        for header in model.entity_sets.values()
        if header.name != "companies"  # the parent of every set, not a document
        and header.change_date is not None
        and (navigation := header.navigations.get(set_name)) is not None
        and navigation.is_collection
        and navigation.target_type == entity_set.entity_type.qualified_name
    ]
    if len(headers) != 1:
        return None
    return LinesOf(headers[0].name, set_name, parent_field)


def reference_fields(entity_set: EntitySet) -> dict[str, str | None]:
    """GUID reference fields (``customerId``) and the field naming the same target by number/code.

    A record copied from another company carries that company's ids; BC can only resolve the
    number or code there, so those ids are dropped (and ids with no partner field are dropped too).
    """
    properties = entity_set.properties
    found: dict[str, str | None] = {}
    for name, prop in properties.items():
        if prop.type_name != "Edm.Guid" or name in entity_set.key or not name.endswith("Id"):
            continue
        stem = name[: -len("Id")]
        partner = REFERENCE_PARTNERS.get(name)
        if partner is None:
            partner = next(
                (
                    f"{stem}{suffix}"
                    for suffix in ("Number", "Code")
                    if f"{stem}{suffix}" in properties
                ),
                None,
            )
        found[name] = partner if partner in properties else None
    return found
