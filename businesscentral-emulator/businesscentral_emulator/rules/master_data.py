"""Master data (customers, vendors, items, variants, opportunities...): BC's table rules.

What the API pages hand on to BaseApp's tables and to the platform, as a client sees it:

- **Number series.** A POST without `number` gets the next number of the set's series
  (`<Table>.OnInsert`: `NoSeries.GetNextNo`, then `while <Table>.Get("No.") do GetNextNo`, so a
  number already taken is skipped). The series are the Contoso demo company's, whose pattern the
  seed follows: Customer `C00010` by 10, Vendor `V00010` by 10, Item `1000` by 1, Contact
  `CT000001`, Opportunity `OP000001`, Bank `B010` by 10 (ContosoCoffeeDemoDataset
  `DemoData/Foundation/1.Setup data/CreateNoSeries.Codeunit.al` @08a5b6c8, codeunit 5278),
  Employee `E0010` by 10 (codeunit 5177 "Create Employee No Series"), Project `PR00010` by 10
  (codeunit 5195 "Create Job No Series"), Fixed Asset `FA000010` by 10 (codeunit 4780 "Create FA
  No Series"). Simplified: a series' "last number used" is the highest number of its pattern in
  the table, so a deleted last number is handed out again (BC never goes back).
- **Table relations.** A code or id field bound to a table field with a `TableRelation` is checked
  by the platform before the page's own `OnValidate` runs: BC answered an unknown `taxGroupId` on
  `items` with `Internal_InvalidTableRelation` "The field Tax Group Id of table Item contains a
  value ({...}) that cannot be found in the related table (Tax Group)." although the page has its
  own label for it (MicrosoftDocs/dynamics365smb-devitpro-pb issue 2801, v2.0 items). The wording
  is the platform's (Microsoft Learn dynamics-error-codes.md: NavCSideValidateTableRelationException
  -> Internal_InvalidTableRelation "The field Account No. of table Gen. Journal Line contains a
  value (ABL001) that cannot be found in the related table (Vendor)."). The HTTP status (400) is
  unconfirmed. A GUID is shown as AL formats it: upper case in braces.
- **Deletes.** `Customer.OnDelete` / `Vendor.OnDelete` run MoveEntries.MoveCustEntries /
  MoveVendorEntries (ledger entries in an open fiscal year, then open ledger entries) and then
  CheckIfSalesOrderLinesExist / CheckOutstandingPurchaseDocuments (any document line of the
  party, first by document type); each refusal is an AL `Error` (400 Application_DialogException).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from businesscentral_emulator.odata.errors import BusinessCentralError
from businesscentral_emulator.rules.references import find_row
from businesscentral_emulator.rules.validation import EMPTY_GUID, STANDARD_ROUTE, dialog
from businesscentral_emulator.store.sqlite import quote, table_name

if TYPE_CHECKING:
    from businesscentral_emulator.odata.edmx import ApiModel
    from businesscentral_emulator.store.sqlite import Store

_TRAILING_DIGITS = re.compile(r"^(.*?)(\d+)$")


@dataclass(frozen=True)
class NumberSeries:
    """A number series: its first number and the step between numbers."""

    start: str
    increment: int

    def pattern(self) -> re.Pattern[str]:
        """Numbers of this series: the start's prefix and as many digits."""
        match = _TRAILING_DIGITS.match(self.start)
        prefix, digits = (match.group(1), match.group(2)) if match else (self.start, "")
        return re.compile(re.escape(prefix) + r"(\d{" + str(len(digits)) + "})")

    def after(self, number: str) -> str:
        """The series' number that follows `number`, with the same width."""
        match = _TRAILING_DIGITS.match(number)
        if match is None:  # pragma: no cover - only numbers of the pattern are passed
            return self.start
        prefix, digits = match.groups()
        return prefix + str(int(digits) + self.increment).rjust(len(digits), "0")


# The Contoso demo company's series per entity set (module docstring for the sources).
NUMBER_SERIES: dict[str, NumberSeries] = {
    "customers": NumberSeries("C00010", 10),
    "vendors": NumberSeries("V00010", 10),
    "items": NumberSeries("1000", 1),
    "contacts": NumberSeries("CT000001", 1),
    "opportunities": NumberSeries("OP000001", 1),
    "bankAccounts": NumberSeries("B010", 10),
    "employees": NumberSeries("E0010", 10),
    "projects": NumberSeries("PR00010", 10),
    "fixedAssets": NumberSeries("FA000010", 10),
}


def next_number(store: Store, api: ApiModel, set_name: str, company: str | None) -> str | None:
    """The number BC gives a new record sent without one (None: not a master-data series)."""
    series = NUMBER_SERIES.get(set_name)
    if api.route != STANDARD_ROUTE or series is None:
        return None
    pattern = series.pattern()
    used = sorted(
        str(number)
        for (number,) in store.fetch(
            f"SELECT number FROM {table_name(api.route, set_name)} WHERE _company IS ?",
            (company,),
        )
        if pattern.fullmatch(str(number))
    )
    taken = set(used)
    number = series.after(used[-1]) if used else series.start
    while number in taken:  # pragma: no cover - the highest used is never followed by a used one
        number = series.after(number)
    return number


@dataclass(frozen=True)
class Relation:
    """A field whose table field has a validated TableRelation.

    Attributes:
        field: The API field.
        target: The entity set of the related table.
        by: The target's field the value must match (`id` or `code`/`number`).
        caption: The table field's caption, as the platform names it.
        related: The related table's caption.
    """

    field: str
    target: str
    by: str
    caption: str
    related: str


# Page layout order (the first failing field answers). Table captions and relations from
# BaseApp: Customer.Table.al (fields 8002-8004, `TableRelation = "Payment Terms".SystemId` ...;
# index id 11748815), Vendor.Table.al (fields 8002, 8003; index id 10831087), Item.Table.al
# (fields 11, 91, 98, 5702 @020a921f; 8001 `"Unit of Measure".SystemId`, 8002
# `"Tax Group".SystemId`, index id 34719523041), ItemVariant.Table.al @05d57db6 (fields 2, 5).
_TABLE_CAPTIONS = {
    "customers": "Customer",
    "vendors": "Vendor",
    "items": "Item",
    "itemVariants": "Item Variant",
}
RELATIONS: dict[str, tuple[Relation, ...]] = {
    "customers": (
        Relation("paymentTermsId", "paymentTerms", "id", "Payment Terms Id", "Payment Terms"),
        Relation(
            "shipmentMethodId", "shipmentMethods", "id", "Shipment Method Id", "Shipment Method"
        ),
        Relation("paymentMethodId", "paymentMethods", "id", "Payment Method Id", "Payment Method"),
    ),
    "vendors": (
        Relation("paymentTermsId", "paymentTerms", "id", "Payment Terms Id", "Payment Terms"),
        Relation("paymentMethodId", "paymentMethods", "id", "Payment Method Id", "Payment Method"),
    ),
    "items": (
        Relation(
            "itemCategoryCode", "itemCategories", "code", "Item Category Code", "Item Category"
        ),
        Relation("taxGroupId", "taxGroups", "id", "Tax Group Id", "Tax Group"),
        Relation("taxGroupCode", "taxGroups", "code", "Tax Group Code", "Tax Group"),
        Relation(
            "baseUnitOfMeasureId", "unitsOfMeasure", "id", "Unit of Measure Id", "Unit of Measure"
        ),
        Relation(
            "generalProductPostingGroupCode",
            "generalProductPostingGroups",
            "code",
            "Gen. Prod. Posting Group",
            "Gen. Product Posting Group",
        ),
        Relation(
            "inventoryPostingGroupCode",
            "inventoryPostingGroups",
            "code",
            "Inventory Posting Group",
            "Inventory Posting Group",
        ),
    ),
    "itemVariants": (
        Relation("itemId", "items", "id", "Item Id", "Item"),
        Relation("itemNumber", "items", "number", "Item No.", "Item"),
    ),
}


def _given(value: Any) -> bool:  # noqa: ANN401
    return value not in (None, "", EMPTY_GUID)


def _shown(value: Any, by: str) -> str:  # noqa: ANN401
    """A value as AL's Format shows it in a message: GUIDs upper case in braces."""
    return "{" + str(value).upper() + "}" if by == "id" else str(value)


def invalid_relation(table: str, relation: Relation, value: Any) -> BusinessCentralError:  # noqa: ANN401
    """The platform's refusal of a value its related table does not have."""
    return BusinessCentralError(
        400,
        "Internal_InvalidTableRelation",
        f"The field {relation.caption} of table {table} contains a value"
        f" ({_shown(value, relation.by)}) that cannot be found in the related table"
        f" ({relation.related}).",
    )


# Pairs kept in step on an item and a variant: (code field, id field, target set, code of target).
_PAIRS: dict[str, tuple[tuple[str, str, str, str], ...]] = {
    "items": (
        ("itemCategoryCode", "itemCategoryId", "itemCategories", "code"),
        ("taxGroupCode", "taxGroupId", "taxGroups", "code"),
        ("baseUnitOfMeasureCode", "baseUnitOfMeasureId", "unitsOfMeasure", "code"),
        (
            "generalProductPostingGroupCode",
            "generalProductPostingGroupId",
            "generalProductPostingGroups",
            "code",
        ),
        ("inventoryPostingGroupCode", "inventoryPostingGroupId", "inventoryPostingGroups", "code"),
    ),
    "itemVariants": (("itemNumber", "itemId", "items", "number"),),
}
# APIV2Items.Page.al @05d57db6d43e38869cac1b56c2346aba8a889eec: a code sent with an id that names
# another record (the page compares with the record the id loaded).
_PAIR_MISMATCH = {
    "itemCategoryCode": "The item categories values do not match to a specific item category.",
    "taxGroupCode": "The tax group values do not match to a specific Tax Group.",
    "baseUnitOfMeasureCode": (
        "The unit of measure values do not match to a specific Unit of Measure."
    ),
}
# Item.Table.al "Base Unit of Measure" (ValidateTableRelation = false): an unknown code is looked
# up as an International Standard Code, else UnitOfMeasureNotExistErr.
_NO_UNIT = "The Unit of Measure with Code {} does not exist."
# APIV2Opportunities.Page.al @1076e0b5f48b1b285f391e93649328b178109a5f: OnValidate of these
# fields errors whenever the opportunity is Won or Lost (labels verbatim, typos included).
_CLOSED_OPPORTUNITY = {
    "contactNumber": 'The "contactNumber of a Won or Lost Opportunity cannot be changed',
    "salespersonCode": 'The "salespersonCode" of a Won or Lost Opportunity cannot be changed',
}


def apply(  # noqa: PLR0913, PLR0917
    store: Store,
    api: ApiModel,
    set_name: str,
    company: str | None,
    row: dict[str, Any],
    changed: set[str],
    old: dict[str, Any] | None = None,
) -> None:
    """Check what a POST or PATCH of master data sets, and keep codes and ids in step.

    `row` is the whole record after the write, `changed` the fields the client sent, `old` the
    record before a PATCH (None on POST).

    Raises:
        BusinessCentralError: A refused value, in BC's words.
    """
    if api.route != STANDARD_ROUTE:
        return
    if set_name == "opportunities" and old is not None:
        _check_closed_opportunity(old, changed)
    for relation in RELATIONS.get(set_name, ()):
        value = row.get(relation.field)
        if relation.field not in changed or not _given(value):
            continue
        if find_row(store, api, relation.target, company, (relation.by, value)) is None:
            raise invalid_relation(_TABLE_CAPTIONS[set_name], relation, value)
    if set_name == "items":
        _base_unit(store, api, company, row, changed)
    for code_field, id_field, target, code_of in _PAIRS.get(set_name, ()):
        _keep_in_step(store, api, company, row, changed, (code_field, id_field, target, code_of))


def _check_closed_opportunity(old: dict[str, Any], changed: set[str]) -> None:
    if old.get("status") not in {"Won", "Lost"}:
        return
    for field, label in _CLOSED_OPPORTUNITY.items():
        if field in changed:
            raise dialog(label)


def _base_unit(
    store: Store, api: ApiModel, company: str | None, row: dict[str, Any], changed: set[str]
) -> None:
    code = row.get("baseUnitOfMeasureCode")
    if "baseUnitOfMeasureCode" not in changed or not _given(code):
        return
    if find_row(store, api, "unitsOfMeasure", company, ("code", code)) is not None:
        return
    unit = find_row(store, api, "unitsOfMeasure", company, ("internationalStandardCode", code))
    if unit is None:
        raise dialog(_NO_UNIT.format(code))
    row["baseUnitOfMeasureCode"] = unit["code"]


def _keep_in_step(  # noqa: PLR0913, PLR0917
    store: Store,
    api: ApiModel,
    company: str | None,
    row: dict[str, Any],
    changed: set[str],
    pair: tuple[str, str, str, str],
) -> None:
    """Fill a code from its id or an id from its code, as the pages and tables do."""
    code_field, id_field, target, code_of = pair
    if id_field in changed:
        by_id = (
            find_row(store, api, target, company, ("id", row[id_field]))
            if _given(row.get(id_field))
            else None
        )
        if (
            code_field in changed
            and by_id is not None
            and code_field in _PAIR_MISMATCH
            and _given(row.get(code_field))
            and row[code_field] != by_id[code_of]
        ):
            raise dialog(_PAIR_MISMATCH[code_field])
        if by_id is not None:
            row[code_field] = by_id[code_of]
        elif not _given(row.get(id_field)):
            row[code_field] = ""
        return
    if code_field in changed:
        by_code = (
            find_row(store, api, target, company, (code_of, row[code_field]))
            if _given(row.get(code_field))
            else None
        )
        row[id_field] = by_code["id"] if by_code is not None else EMPTY_GUID


# -- unique keys -------------------------------------------------------------------------------

# Entity sets whose table key is not `number`/`code` alone: (API field, table field caption).
COMPOSITE_KEYS: dict[str, tuple[tuple[str, str], ...]] = {
    # ItemVariant.Table.al @05d57db6: key(Key1; "Item No.", "Code")
    "itemVariants": (("itemNumber", "Item No."), ("code", "Code")),
}


def has_composite_key(api: ApiModel, set_name: str) -> bool:
    """Whether the set's table key is several fields (checked by `duplicate_key` alone)."""
    return api.route == STANDARD_ROUTE and set_name in COMPOSITE_KEYS


def duplicate_key(
    store: Store, api: ApiModel, set_name: str, row: dict[str, Any], own_rowid: int | None
) -> tuple[str, ...] | None:
    """The identification fields of a clash with another row of a composite key, if any."""
    key = COMPOSITE_KEYS.get(set_name)
    if api.route != STANDARD_ROUTE or key is None or not all(row.get(f) for f, _ in key):
        return None
    where = " AND ".join(f"{quote(field)} = ?" for field, _ in key)
    clash = store.fetch_one(
        f"SELECT _rowid FROM {table_name(api.route, set_name)}"
        f" WHERE _company IS ? AND {where} AND _rowid IS NOT ?",
        (row.get("_company"), *(row[f] for f, _ in key), own_rowid),
    )
    if clash is None:
        return None
    return tuple(f"{caption}='{row[field]}'" for field, caption in key)


# -- deletes -----------------------------------------------------------------------------------

_POSTED = ("Open", "Paid", "Canceled", "Corrective")
# (documents, lines, the document type BC names, party field, bill-to/pay-to field), in the
# Document Type enum's order: Quote, Order, Invoice, Credit Memo.
_SALES_DOCUMENTS = (
    ("salesQuotes", "salesQuoteLines", "Quote"),
    ("salesOrders", "salesOrderLines", "Order"),
    ("salesInvoices", "salesInvoiceLines", "Invoice"),
    ("salesCreditMemos", "salesCreditMemoLines", "Credit Memo"),
)
_PURCHASE_DOCUMENTS = (
    ("purchaseOrders", "purchaseOrderLines", "Order"),
    ("purchaseInvoices", "purchaseInvoiceLines", "Invoice"),
    ("purchaseCreditMemos", "purchaseCreditMemoLines", "Credit Memo"),
)
# MoveEntries.Codeunit.al (codeunit 361; index id 628378684) Text000 / Text001.
_IN_OPEN_YEAR = (
    "You cannot delete {} {} because it has ledger entries in a fiscal year that has not been"
    " closed yet."
)
_OPEN_ENTRIES = "You cannot delete {} {} because there are one or more open ledger entries."


@dataclass(frozen=True)
class _Party:
    table: str  # the table caption
    posted: tuple[str, ...]  # posted document sets that make ledger entries
    documents: tuple[tuple[str, str, str], ...]
    bill_to: str  # the header's bill-to / pay-to id field
    party: str  # the header's sell-to / buy-from id field
    outstanding: str  # the table's Text000


_PARTIES = {
    "customers": _Party(
        "Customer",
        ("salesInvoices", "salesCreditMemos"),
        _SALES_DOCUMENTS,
        "billToCustomerId",
        "customerId",
        "You cannot delete {} {} because there is at least one outstanding Sales {} for this"
        " customer.",
    ),
    "vendors": _Party(
        "Vendor",
        ("purchaseInvoices", "purchaseCreditMemos"),
        _PURCHASE_DOCUMENTS,
        "payToVendorId",
        "payToVendorId",  # the buy-from branch is not modelled (see check_delete)
        "You cannot delete {} {} because there is at least one outstanding Purchase {} for this"
        " vendor.",
    ),
}


def check_delete(store: Store, api: ApiModel, set_name: str, row: dict[str, Any]) -> None:
    """Refuse deleting a customer or vendor that BC's OnDelete refuses, in its words.

    Customer.OnDelete (BaseApp Customer.Table.al; index id 11748815): MoveCustEntries, then
    CheckIfSalesOrderLinesExist (a Sales Line whose Bill-to, then Sell-to, Customer No. is the
    customer); Vendor.OnDelete (index id 10831087): MoveVendorEntries, then
    CheckOutstandingPurchaseDocuments (Pay-to Vendor No.). Simplified: ledger entries are the
    party's posted invoices and credit memos (an `Open` one is an open entry); the fiscal year is
    open from the first accounting period not closed; only the bill-to/pay-to branch of the
    document check is modelled (the vendor's buy-from branch calls Error with a missing `%3`).
    """
    party = _PARTIES.get(set_name)
    if api.route != STANDARD_ROUTE or party is None:
        return
    company, number, party_id = row.get("_company"), row.get("number"), row.get("id")
    open_from = _open_year_start(store, api, company)
    for posted in party.posted:
        if posted not in api.entity_sets:
            continue
        statuses = ", ".join(f"'{s}'" for s in _POSTED)
        found = store.fetch_one(
            f"SELECT 1 FROM {table_name(api.route, posted)} WHERE _company IS ?"
            f" AND {quote(party.bill_to)} = ? AND status IN ({statuses})"
            ' AND "postingDate" >= ? LIMIT 1',
            (company, party_id, open_from),
        )
        if found is not None:
            raise dialog(_IN_OPEN_YEAR.format(party.table, number))
    for posted in party.posted:
        if posted in api.entity_sets and store.fetch_one(
            f"SELECT 1 FROM {table_name(api.route, posted)} WHERE _company IS ?"
            f" AND {quote(party.bill_to)} = ? AND status = 'Open' LIMIT 1",
            (company, party_id),
        ):
            raise dialog(_OPEN_ENTRIES.format(party.table, number))
    for field in (party.bill_to, party.party):
        found_type = _outstanding(store, api, party, field, row)
        if found_type is not None:
            raise dialog(party.outstanding.format(party.table, number, found_type))


def _outstanding(
    store: Store, api: ApiModel, party: _Party, field: str, row: dict[str, Any]
) -> str | None:
    """The first document type (enum order) with a line whose header's `field` is the party."""
    for headers, lines, document_type in party.documents:
        if headers not in api.entity_sets or lines not in api.entity_sets:
            continue
        unposted = ""
        if headers in party.posted:  # only sets that post have posted rows
            unposted = f" AND header.status NOT IN ({', '.join(repr(s) for s in _POSTED)})"
        found = store.fetch_one(
            f"SELECT 1 FROM {table_name(api.route, lines)} AS line"
            f' JOIN {table_name(api.route, headers)} AS header ON header."id" = line."documentId"'
            f" WHERE header._company IS ? AND header.{quote(field)} = ?{unposted} LIMIT 1",
            (row.get("_company"), row.get("id")),
        )
        if found is not None:
            return document_type
    return None


def _open_year_start(store: Store, api: ApiModel, company: str | None) -> str:
    """The first day of the first accounting period not closed ('' when none: no filter)."""
    if "accountingPeriods" not in api.entity_sets:
        return ""
    found = store.fetch_one(
        f'SELECT min("startingDate") FROM {table_name(api.route, "accountingPeriods")}'
        ' WHERE _company IS ? AND NOT "closed"',
        (company,),
    )
    return str(found[0]) if found and found[0] else ""
