"""Check a client's JSON body against the entity model, as BC refuses it, and convert it.

Types, names, MaxLength and enums follow the EDMX. What the EDMX cannot say (read-only fields,
fields fixed once set, required fields, with BC's labels) lives in the tables below, one entry per
entity set, each read from the set's API page in Microsoft's APIV2 AL source.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
import uuid
from typing import TYPE_CHECKING, Any

from businesscentral_emulator.odata.errors import BusinessCentralError
from businesscentral_emulator.odata.values import ieee754_compatible, to_stored

if TYPE_CHECKING:
    from businesscentral_emulator.odata.edmx import ApiModel, EntitySet, Property

_ENCODED = re.compile(r"_x([0-9A-Fa-f]{4})_")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INTEGER = re.compile(r"^\s*[+-]?\d{1,10}\s*$")
_CHANGE_FIELDS = frozenset({"lastModifiedDateTime", "lastModfiedDateTime", "systemModifiedAt"})
EMPTY_GUID = "00000000-0000-0000-0000-000000000000"

# Read-only fields: each API page's `Editable = false` fields, from Microsoft's APIV2 AL source
# (StefanMaron/MSDyn365BC.Code.History, APIV2/Source/_Exclude_APIV2_/src/pages/, the commit named
# per set). `id` and the change-date fields are handled for every set (see `convert_body`).
_TOTALS = frozenset({"totalAmountExcludingTax", "totalTaxAmount", "totalAmountIncludingTax"})
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
_HEADER = _TOTALS | {"number", "status", "discountAppliedBeforeTax"}
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
READ_ONLY: dict[str, frozenset[str]] = {
    # APIV2SalesInvoices.Page.al @02a8df419400b10bfc9cc4bc714de5cd2ddb9fad
    "salesInvoices": _HEADER
    | _BILL_TO_ADDRESS
    | {"customerName", "billToName", "orderId", "orderNumber", "pricesIncludeTax"}
    | {"remainingAmount"},
    # APIV2SalesOrders.Page.al @03c38418d322f60516c21dc3df9389ad3ada806f (pricesIncludeTax and
    # fullyShipped are editable here)
    "salesOrders": _HEADER | _BILL_TO_ADDRESS | {"customerName", "billToName"},
    # APIV2SalesCreditMemos.Page.al @406aa00d20f4de9b6c097bc1956977caf4b8cc33 (bill-to address
    # editable here)
    "salesCreditMemos": _HEADER | {"customerName", "billToName", "pricesIncludeTax"},
    # APIV2SalesQuotes.Page.al @05d57db6d43e38869cac1b56c2346aba8a889eec
    "salesQuotes": (_HEADER - {"discountAppliedBeforeTax"})
    | _BILL_TO_ADDRESS
    | {"customerName", "billToName"},
    # APIV2PurchaseInvoices.Page.al @114421e2d2490b5b431c9953b44d09e64c47ed21 (that version leaves
    # totalAmountIncludingTax and discountAppliedBeforeTax unmarked; kept read-only as on every
    # other document page)
    "purchaseInvoices": _HEADER | _PAY_TO | {"vendorName", "orderId", "orderNumber"},
    # APIV2PurchaseOrders.Page.al @02326b0079a61c1a35de8912007230f4f11e4f64
    "purchaseOrders": _HEADER | (_PAY_TO - {"payToContact"}) | {"vendorName"},
    # APIV2PurchaseCreditMemos.Page.al @3da3569a38ba567695e1b497643c910f65616830
    "purchaseCreditMemos": _HEADER,
    # APIV2SalesInvoiceLines.Page.al @1701efe5ad0799a43093ec6053cb5c258e4bb135
    "salesInvoiceLines": _LINE_AMOUNTS,
    # APIV2SalesOrderLines.Page.al @432e8a4ea56e52d3d3133d8a0c22b3561c214fa8
    "salesOrderLines": _LINE_AMOUNTS,
    # APIV2SalesCreditMemLines.Page.al @257a4d34e58c1a2968dad9ac6f4f10045bd96983
    "salesCreditMemoLines": _LINE_AMOUNTS,
    # APIV2SalesQuoteLines.Page.al @0812a5751b52e7c85053c8fb3c1ecb7bbb082d79
    "salesQuoteLines": _LINE_AMOUNTS - {"netAmount", "invoiceDiscountAllocation"},
    # APIV2PurchaseInvoiceLines.Page.al @38b9b432391128d2ef2a159c290ac2dbd0678cfb: only these; the
    # other amounts are accepted and recomputed (not propagated to the Purchase Line)
    "purchaseInvoiceLines": frozenset({"taxPercent", "totalTaxAmount"}),
    # APIV2PurchaseOrderLines.Page.al @173d43a58b32a5aa3afcde5bc70636f435cd6ac7
    "purchaseOrderLines": _LINE_AMOUNTS,
    # APIV2PurchCrMemoLines.Page.al @533b609ee48a309eece8cde9e5d542c45ddf973b
    "purchaseCreditMemoLines": _LINE_AMOUNTS,
    # APIV2Customers.Page.al @069a685cfdaa720c6f0665d3da7f1e30253b8938
    "customers": frozenset({"balanceDue", "taxAreaDisplayName"}),
    # APIV2Vendors.Page.al @220c9d4e085ea7298091e1f021d9814a57319224 (`balance` is a FlowField);
    # MicrosoftDocs/dynamics365smb-devitpro-pb issue 2390: a vendor POST with it fails
    "vendors": frozenset({"balance"}),
    # APIV2Employees.Page.al @270597d100da44810d4bc15d7e5ac31263b0e803 (displayName is computed)
    "employees": frozenset({"displayName"}),
    # APIV2Contacts.Page.al @06a21a8cf7913c4dbe7ee72ea383ad4f26c84c29
    "contacts": frozenset({"lastInteractionDate"}),
    # APIV2Journals.Page.al @06a21a8cf7913c4dbe7ee72ea383ad4f26c84c29
    "journals": frozenset({"balancingAccountNumber"}),
    # APIV2CustPaymJournals.Page.al @4761c2ff609291b394a6eed74217c88c59b9d764
    "customerPaymentJournals": frozenset({"balancingAccountNumber"}),
    # page 30061 "APIV2 - Vendor Paym. Journals"
    "vendorPaymentJournals": frozenset({"balancingAccountNumber"}),
    # APIV2Opportunities.Page.al @1076e0b5f48b1b285f391e93649328b178109a5f
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
    # APIV2TaxAreas.Page.al @0b1be9d5501f950379661f3fb2ea996a28d1b57d; issue 1953 of
    # MicrosoftDocs/dynamics365smb-devitpro-pb shows BC refusing `taxType`
    "taxAreas": frozenset({"taxType"}),
    # page 30015 "APIV2 - Tax Groups"
    "taxGroups": frozenset({"taxType"}),
    # APIV2CompanyInformation.Page.al @1f415a716a12399d625ae36870e355a94b197ffa
    "companyInformation": frozenset({"currencyCode", "currentFiscalYearStartDate", "picture"}),
    # APIV2DefaultDimensions.Page.al @3d025c27b90f4b1aa8e1f3b07a8b87d3a3e85c36
    "defaultDimensions": frozenset({"dimensionCode", "dimensionValueCode"}),
    # APIV2CustContacts.Page.al @5c7fb05ec0049945f291c4de952603e0fc4026bb
    "customerContacts": frozenset({"customerName"}),
    # page 30041 "APIV2 - Time Registr. Entries"
    "timeRegistrationEntries": frozenset(
        {"absence", "lineNumber", "status", "unitOfMeasureId", "unitOfMeasureCode"}
    ),
    # APIV2DocumentAttachments.Page.al @551714c693c771c5b13a6d219b5bfece87c922f8
    "documentAttachments": frozenset({"byteSize"}),
}

# Lines: fields that may be repeated on PATCH but not changed (OnValidate compares with xRec and
# calls Error(<label>)); BC's labels word for word, per page (the quote/purchase/credit-memo pages
# write `sequence` without quotes).
_DOCUMENT_ID_LABEL = 'The value for "documentId" cannot be modified.'
_OBJECT_NUMBER_LABEL = 'The value for "lineObjectNumber" cannot be modified.'
_SEQUENCE_QUOTED = 'The value for "sequence" cannot be modified. Delete and insert the line again.'
_SEQUENCE_BARE = "The value for sequence cannot be modified. Delete and insert the line again."


def _line_fixed(sequence_label: str) -> dict[str, str]:
    return {
        "documentId": _DOCUMENT_ID_LABEL,
        "sequence": sequence_label,
        "lineObjectNumber": _OBJECT_NUMBER_LABEL,
    }


FIXED_ONCE_SET: dict[str, dict[str, str]] = {
    "salesInvoiceLines": _line_fixed(_SEQUENCE_QUOTED),
    "salesOrderLines": _line_fixed(_SEQUENCE_QUOTED),
    "salesQuoteLines": _line_fixed(_SEQUENCE_BARE),
    "salesCreditMemoLines": _line_fixed(_SEQUENCE_BARE),
    "purchaseInvoiceLines": _line_fixed(_SEQUENCE_BARE),
    "purchaseOrderLines": _line_fixed(_SEQUENCE_BARE),
    "purchaseCreditMemoLines": _line_fixed(_SEQUENCE_BARE),
    # APIV2JournalLines.Page.al @10383a2a4754c10fba7f2bb9222d4c203ca769e4
    "journalLines": {"journalId": "The Journal Batch Id isn't editable."},
    # APIV2CustomerPayments.Page.al @6098c9c06c18a3edf801d76b1d2247c6502dfdd4, APIV2VendorPayments
    "customerPayments": {"journalId": "The Journal Id cannot be changed."},
    "vendorPayments": {"journalId": "The Journal Id cannot be changed."},
}
# Fields whose OnValidate always errors when sent (the journal lines page).
ALWAYS_REFUSED: dict[str, dict[str, str]] = {
    "journalLines": {"journalDisplayName": "The Journal Batch Display Name isn't editable."},
}
# Fields refused on POST only (APIV2Items.Page.al @05d57db6d43e38869cac1b56c2346aba8a889eec:
# a PATCH of `inventory` posts an adjustment; a POST errors).
REFUSED_ON_INSERT: dict[str, dict[str, str]] = {
    "items": {"inventory": "Inventory cannot be changed during on insert."},
}
# A PATCH that changes `id`: the document pages' OnModifyRecord label (salesInvoices without
# quotes, the others with). Other sets: the read-only control message.
ID_CHANGE_LABELS: dict[str, str] = {
    "salesInvoices": "The id cannot be changed.",
    **dict.fromkeys(
        (
            "salesOrders",
            "salesCreditMemos",
            "salesQuotes",
            "purchaseInvoices",
            "purchaseOrders",
            "purchaseCreditMemos",
        ),
        'The "id" cannot be changed.',
    ),
    # OnModifyRecord CannotModifyKeyFieldErr (APIV2Attachments.Page.al @0b66fe5f,
    # APIV2DocumentAttachments.Page.al @551714c6).
    **dict.fromkeys(
        ("attachments", "documentAttachments"), "You cannot change the value of the key field id."
    ),
}
# POST without a customer or vendor: CheckSellToCustomerSpecified / CheckBuyFromVendorSpecified.
_NO_CUSTOMER = 'A "customerNumber" or a "customerId" must be provided.'
REQUIRED_PARTY: dict[str, tuple[tuple[str, str], str]] = {
    "salesInvoices": (("customerNumber", "customerId"), _NO_CUSTOMER),
    "salesOrders": (("customerNumber", "customerId"), _NO_CUSTOMER),
    "salesCreditMemos": (("customerNumber", "customerId"), _NO_CUSTOMER),
    "salesQuotes": (("customerNumber", "customerId"), _NO_CUSTOMER),
    "purchaseInvoices": (
        ("vendorNumber", "vendorId"),
        'A "vendorNumber" or a "vendorID" must be provided.',
    ),
    "purchaseOrders": (
        ("vendorNumber", "vendorId"),
        'A "vendorNumber" or a "vendorId" must be provided.',
    ),
    "purchaseCreditMemos": (
        ("vendorNumber", "vendorId"),
        'A "vendorNumber" or a "vendorId" must be provided.',
    ),
}
NO_NAME = 'A "displayName" must be provided.'
BLANK_NAME = 'The blank "displayName" is not allowed.'
# customers and contacts: OnInsertRecord / displayName OnValidate (APIV2Customers.Page.al
# @069a685cfdaa720c6f0665d3da7f1e30253b8938, APIV2Contacts.Page.al); vendors have no such check.
NAME_REQUIRED = frozenset({"customers", "contacts"})


STANDARD_ROUTE = "v2.0"


def page_name(api: ApiModel, entity_set: EntitySet) -> str:
    """The key of a set's page rules: its name on BC's standard v2.0 API, else "" (no rules).

    A custom API page (a partner's `customers`) has its own AL page, not Microsoft's.
    """
    return entity_set.name if api.route == STANDARD_ROUTE else ""


def dialog(message: str) -> BusinessCentralError:
    """An AL `Error(...)` on an API page: BC answers 400 `Application_DialogException`."""
    return BusinessCentralError(400, "Application_DialogException", message)


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
    """A write to a field the API page keeps read-only (`Editable = false`, a FlowField).

    Wording and code from a real v2.0 response (MicrosoftDocs/dynamics365smb-devitpro-pb issue
    1953: `{"code": "BadRequest", "message": "Control 'taxType' is read-only. ..."}`; issue 618
    has the same message for `taxAreaDisplayName`). Microsoft Learn's error-code table
    (dynamics-error-codes.md, dated 2017) lists `BadRequest_InvalidOperation` for this exception;
    the later real response is followed.
    """
    return BusinessCentralError(400, "BadRequest", f"Control '{name}' is read-only.")


def decimal_as_string(edm_type: str) -> BusinessCentralError:
    """ODataLib's refusal of a decimal sent as a JSON string without `IEEE754Compatible=true`.

    Wording from ODataLib (seen on Dataverse, the same library: PowerPlatform-DataverseServiceClient
    issue 26); not confirmed on BC, see the notes.
    """
    return BusinessCentralError(
        400,
        "BadRequest",
        f"Cannot convert a value to target type '{edm_type}' because of conflict between input"
        " format string/number and parameter 'IEEE754Compatible' false/true.",
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


_BLANK_MEMBER = "_x0020_"


def _check_enum(prop: Property, value: Any) -> str:  # noqa: ANN401
    """The member a sent enum value names, or BC's option error.

    BC's option evaluation (NavOptionEvaluator) resolves an empty string to the blank member
    `value(0; " ")`: StefanMaron/BusinessCentral.AL.Runner issue 2303 ("Real BC resolves the
    empty string to it"); a single space is that member's own name.
    """
    members = prop.enum.members if prop.enum else ()
    if isinstance(value, str) and value in {"", " "} and _BLANK_MEMBER in members:
        return _BLANK_MEMBER
    if not isinstance(value, str) or value not in members:
        options = ",".join(decode_member(m) for m in members)
        raise BusinessCentralError(  # code and wording as in BC's docs (errors.json)
            400,
            "Unknown",
            f"'{value}' is not an option. The existing options are: {options}",
        )
    return value


def _check_scalar(prop: Property, value: Any) -> None:  # noqa: ANN401, C901
    kind = prop.kind
    ok = True
    if kind == "guid":
        try:
            uuid.UUID(str(value))
        except ValueError:
            ok = False
        ok = ok and isinstance(value, str)
    elif prop.edm_type in {"Edm.Decimal", "Edm.Int64"}:
        # ODataLib: `(result is string) ^ IsIeee754Compatible` refuses a string without, and a
        # number with, `IEEE754Compatible=true` in the request's Content-Type.
        if isinstance(value, str) != ieee754_compatible():
            raise decimal_as_string(prop.edm_type)
        ok = _numeric(value, integral=kind == "int")
    elif kind == "int":
        # A JSON string of digits is converted, as BC accepted `"sequence": "10"` (201, read
        # back as 10) in real recorded traffic (issue 10 of this project).
        ok = (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, str) and bool(_INTEGER.match(value))
        )
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


def _numeric(value: Any, *, integral: bool) -> bool:  # noqa: ANN401
    """A JSON number, or (with IEEE754Compatible=true) a string holding one."""
    if isinstance(value, bool):
        return False
    if isinstance(value, str):
        try:
            number = decimal.Decimal(value)
        except decimal.InvalidOperation:
            return False
        return number.is_finite() and (not integral or number == number.to_integral_value())
    return isinstance(value, (int, float, decimal.Decimal)) and (
        not integral or isinstance(value, int)
    )


def check_value(prop: Property, value: Any) -> Any:  # noqa: ANN401
    """Check one value against its property; its stored form."""
    if value is None:
        if not prop.nullable:
            raise bad_literal(None, prop.edm_type)
        return None
    if prop.kind == "string":
        _check_string(prop, value)
    elif prop.kind == "enum":
        value = _check_enum(prop, value)
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
    """Validate a POST/PATCH body: (stored values, navigation payloads for deep insert).

    `id` passes here: a POST may set it (the OData stack persists a SystemId sent on POST, BC
    2020 release wave 2 and later), and a PATCH may repeat it unchanged (200 on BC in real
    recorded traffic); `check_update` refuses a changed one.
    """
    if not isinstance(body, dict):
        msg = "The request body must be a JSON object."
        raise BusinessCentralError(400, "BadRequest", msg)
    props = entity_set.entity_type.properties
    name_of_set = page_name(api, entity_set)
    read_only_fields = READ_ONLY.get(name_of_set, frozenset())
    always = ALWAYS_REFUSED.get(name_of_set, {})
    on_insert = REFUSED_ON_INSERT.get(name_of_set, {}) if insert else {}
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
        if name in _CHANGE_FIELDS or name in read_only_fields:
            raise read_only(name)
        if name in always:
            raise dialog(always[name])
        if name in on_insert:
            raise dialog(on_insert[name])
        stored[name] = check_value(prop, value)
    return stored, nested


def check_update(
    api: ApiModel, entity_set: EntitySet, row: dict[str, Any], values: dict[str, Any]
) -> None:
    """Refuse a PATCH that changes what the page lets a client repeat but not change.

    `values` loses `id` (never written by a PATCH). A field of `FIXED_ONCE_SET` errors only when
    it had a value and the body changes it (the pages compare with xRec).
    """
    page = page_name(api, entity_set)
    new_id = values.pop("id", None)
    if new_id is not None and str(new_id).lower() != str(row.get("id") or "").lower():
        label = ID_CHANGE_LABELS.get(page)
        raise dialog(label) if label else read_only("id")
    for name, label in FIXED_ONCE_SET.get(page, {}).items():
        if name not in values:
            continue
        old = row.get(name)
        if old in (None, "", 0, EMPTY_GUID):
            continue
        if str(values[name]).lower() != str(old).lower():
            raise dialog(label)
    if page in NAME_REQUIRED and values.get("displayName") == "":
        raise dialog(BLANK_NAME)


def check_required(api: ApiModel, entity_set: EntitySet, body: dict[str, Any]) -> None:
    """A POST must name what its page's OnInsertRecord requires, in BC's words.

    Checked on the fields the client sent (before anything is derived), as the pages do.
    """
    name = page_name(api, entity_set)
    if name in NAME_REQUIRED:
        if "displayName" not in body:
            raise dialog(NO_NAME)
        if body["displayName"] == "":
            raise dialog(BLANK_NAME)
    required = REQUIRED_PARTY.get(name)
    if required is None:
        return
    fields, label = required
    if not any(body.get(field) not in (None, "", EMPTY_GUID) for field in fields):
        raise dialog(label)
