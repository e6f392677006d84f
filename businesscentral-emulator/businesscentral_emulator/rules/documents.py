"""Sales and purchase documents: lines, totals, number series, and posting to the general ledger.

The rules are BC's as a client sees them: new documents are Draft; header totals are sums of the
lines; posting (`Microsoft.NAV.post`) makes a document Open and read-only and writes GL entries; a
posted journal's lines become GL entries and leave the journal.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from businesscentral_emulator.odata.errors import BusinessCentralError
from businesscentral_emulator.odata.values import EMPTY_GUID, format_datetime, format_decimal
from businesscentral_emulator.rules.references import find_row
from businesscentral_emulator.rules.validation import STANDARD_ROUTE, dialog
from businesscentral_emulator.store.sqlite import quote, table_name

if TYPE_CHECKING:
    from collections.abc import Iterable

    from businesscentral_emulator.odata.edmx import ApiModel
    from businesscentral_emulator.store.sqlite import Store

_CENT = Decimal("0.01")
_TRAILING_DIGITS = re.compile(r"(\d+)(\D*)$")


@dataclass(frozen=True)
class DocumentKind:
    """One document set: its lines, how it posts, and the words BC uses for it."""

    lines: str
    party: str  # "customer" or "vendor"
    noun: str
    gl_document_type: str | None  # None: the set has no post action here
    sign: int  # +1: an invoice to a customer; -1: a credit memo or a purchase


DOCUMENTS: dict[str, DocumentKind] = {
    "salesInvoices": DocumentKind("salesInvoiceLines", "customer", "invoice", "Invoice", 1),
    "salesOrders": DocumentKind("salesOrderLines", "customer", "order", None, 1),
    "salesCreditMemos": DocumentKind(
        "salesCreditMemoLines", "customer", "credit memo", "Credit_x0020_Memo", -1
    ),
    "purchaseInvoices": DocumentKind("purchaseInvoiceLines", "vendor", "invoice", "Invoice", -1),
}
# Every draft document set with its lines: those above, and three that do not post here.
LINES_OF: dict[str, str] = {
    **{name: kind.lines for name, kind in DOCUMENTS.items()},
    "salesQuotes": "salesQuoteLines",
    "purchaseOrders": "purchaseOrderLines",
    "purchaseCreditMemos": "purchaseCreditMemoLines",
}
HEADER_OF_LINES = {lines: name for name, lines in LINES_OF.items()}
# First numbers of the series, used when a company has no document of the set yet.
SERIES_START = {
    "salesInvoices": "S-INV100001",
    "salesOrders": "S-ORD100001",
    "salesCreditMemos": "S-CR100001",
    "purchaseInvoices": "P-INV100001",
    "customers": "C00010",
    "vendors": "V00010",
    "items": "1000",
}
_POSTED = frozenset({"Open", "Paid", "Canceled", "Corrective"})
# Sets with posted rows (seeded) that the emulator does not post, and the noun of their label:
# Graph Mgt - Purch. Cr. Memo refuses a write to a posted one with CannotModifyPostedCrMemoErr
# (PropagateOnModify, VerifyCRUDIsPossibleForLine; BaseApp/Source/Base Application/Integration/
# Graph/GraphMgtPurchCrMemo.Codeunit.al @37787026aff0a4e8423b677e9a9997d4abccccea).
_POSTED_NOT_POSTING = {"purchaseCreditMemos": "credit memo"}


def now_stored() -> str:
    """The current moment in stored form."""
    return format_datetime(dt.datetime.now(dt.timezone.utc))


def increment_number(number: str) -> str:
    """BC's IncStr: add one to the last group of digits, keeping its width."""
    match = _TRAILING_DIGITS.search(number)
    if match is None:
        return number + "1"
    digits = match.group(1)
    bumped = str(int(digits) + 1).rjust(len(digits), "0")
    return number[: match.start(1)] + bumped + match.group(2)


def next_number(store: Store, api: ApiModel, set_name: str, company: str | None) -> str | None:
    """The next number of the set's series: one past the highest number used so far."""
    if "number" not in api.entity_sets[set_name].entity_type.properties:
        return None
    row = store.fetch_one(
        f"SELECT number FROM {table_name(api.route, set_name)} WHERE _company IS ?"
        " AND number <> '' AND NOT number GLOB ?"
        " ORDER BY length(number) DESC, number DESC LIMIT 1",
        (company, _posted_glob(set_name)),
    )
    if row is None:
        return SERIES_START.get(set_name, "1")
    return increment_number(str(row[0]))


def _posted_glob(set_name: str) -> str:
    """A GLOB matching the numbers of the set's posted series (a draft's series skips them)."""
    start = POSTED_SERIES_START.get(set_name)
    match = _TRAILING_DIGITS.search(start) if start else None
    if start is None or match is None:
        return ""  # GLOB '' matches only '', which the query already leaves out
    return start[: match.start(1)] + "[0-9]*"


def is_posted(set_name: str, row: dict[str, Any]) -> bool:
    """Whether a document row is posted (sets that post, and purchase credit memos' seed)."""
    kind = DOCUMENTS.get(set_name)
    posts = kind is not None and kind.gl_document_type is not None
    return (posts or set_name in _POSTED_NOT_POSTING) and row.get("status") in _POSTED


def posted_error(set_name: str) -> BusinessCentralError:
    """A write to a posted document or to a line of one: BC's label, word for word.

    Sources (StefanMaron/MSDyn365BC.Code.History): CannotModifyPostedInvioceErr in
    BaseApp/Source/Base Application/Integration/Entity/SalesInvoiceAggregator.Codeunit.al
    @c845a0c4 (PropagateOnModify, VerifyCRUDIsPossibleForLine) and in Purch. Inv. Aggregator;
    CannotModifyPostedCrMemoErr ("The credit memo has been posted ...") in Graph Mgt - Sal. Cr.
    Memo Buf. and Graph Mgt - Purch. Cr. Memo. A DELETE of a posted document gets the same answer
    here: BC passes it to BaseApp, whose own refusal text was not found (simplified).
    """
    noun = _POSTED_NOT_POSTING.get(set_name) or DOCUMENTS[set_name].noun
    return BusinessCentralError(
        400,
        "Application_DialogException",
        f"The {noun} has been posted and can no longer be modified.",
    )


# -- bound actions -----------------------------------------------------------------------------

# Actions that need a draft document, and actions that need a posted one (salesInvoices and
# salesCreditMemos pages: GetDraftInvoice / GetPostedInvoice, GetDraftCreditMemo /
# GetPostedCreditMemo; purchaseInvoices: post only).
_DRAFT_ACTIONS = frozenset({"post", "postAndSend"})
_POSTED_ACTIONS = frozenset({"cancel", "cancelAndSend", "makeCorrectiveCreditMemo"})
# The first number of each posted-document series, as in CRONUS (Microsoft Learn API v2.0
# examples: dynamics_salesinvoice_get shows a posted invoice "PS-INV103001";
# dynamics_purchaseinvoice_get shows "108001"). Sets not listed keep the draft's number
# when posted (their posted series was not found).
POSTED_SERIES_START = {"salesInvoices": "PS-INV103001", "purchaseInvoices": "108001"}


def action_precondition(set_name: str, action: str, row: dict[str, Any]) -> None:
    """Refuse a bound action on a document in the wrong state, with the page's label.

    Sources: APIV2/Source/_Exclude_APIV2_/src/pages/APIV2SalesInvoices.Page.al @02a8df41
    (DraftInvoiceActionErr `The action can be applied to a draft invoice only.`,
    PostedInvoiceActionErr `The action can be applied to a posted invoice only.`),
    APIV2SalesCreditMemos.Page.al @406aa00d (DraftCreditMemoActionErr, PostedCreditMemoActionErr),
    APIV2PurchaseInvoices.Page.al (DraftInvoiceActionErr). AL `Error()` -> 400
    Application_DialogException.
    """
    if set_name not in DOCUMENTS or DOCUMENTS[set_name].gl_document_type is None:
        return
    posted = is_posted(set_name, row)
    noun = DOCUMENTS[set_name].noun
    if action in _DRAFT_ACTIONS and posted:
        state = "draft"
    elif action in _POSTED_ACTIONS and not posted:
        state = "posted"
    else:
        return
    raise BusinessCentralError(
        400, "Application_DialogException", f"The action can be applied to a {state} {noun} only."
    )


# salesQuotes' makeInvoice / makeOrder: Sales-Quote to Invoice (codeunit 1305) and Sales-Quote to
# Order (codeunit 86) copy the quote's header and lines into a new draft of the other set (its own
# number and id, status Draft), take the quote's posting date or the work date, then delete the
# quote and its lines (APIV2/Source/_Exclude_APIV2_/src/pages/APIV2SalesQuotes.Page.al @05d57db6
# MakeInvoice/MakeOrder; in BaseApp/Source/Base Application/Sales/Document/:
# SalesQuotetoInvoice.Codeunit.al @1605efae and SalesQuotetoOrder.Codeunit.al @026bfbb5:
# `Rec.Delete(); SalesQuoteLine.DeleteAll()`).
QUOTE_CONVERSIONS = {"makeInvoice": "salesInvoices", "makeOrder": "salesOrders"}
QUOTE_LINES = "salesQuoteLines"
_NOT_COPIED = frozenset(
    {
        "id",
        "number",
        "status",
        "documentId",
        "lastModifiedDateTime",
        "totalAmountExcludingTax",
        "totalTaxAmount",
        "totalAmountIncludingTax",
    }
)
_EMPTY_VALUES = frozenset({"", "00000000-0000-0000-0000-000000000000", "0001-01-01"})


# salesOrders.shipAndInvoice / purchaseOrders.receiveAndInvoice post the whole order (Ship/Receive
# and Invoice) through Sales-Post / Purch.-Post: the answer is 204 with the key of the new POSTED
# invoice, which has its own id (FixInvoicesCreatedFromOrders blanks "Draft Invoice SystemId"),
# and a fully posted order is deleted. Sources: APIV2/Source/_Exclude_APIV2_/src/pages/
# APIV2SalesOrders.Page.al @03c38418 (ShipAndInvoice, PostWithShipAndInvoice),
# APIV2PurchaseOrders.Page.al @02326b00 (ReceiveAndInvoice); SalesInvoiceAggregator @c845a0c4.
# The posted shipment / receipt is not modelled.
ORDER_POSTINGS = {
    ("salesOrders", "shipAndInvoice"): ("salesOrderLines", "salesInvoices"),
    ("purchaseOrders", "receiveAndInvoice"): ("purchaseOrderLines", "purchaseInvoices"),
}
# Order line fields that have another name on invoice lines.
_LINE_RENAMES = {"directUnitCost": "unitCost"}


def copied_fields(
    row: dict[str, Any], to_properties: Iterable[str]
) -> tuple[dict[str, Any], set[str]]:
    """What a converted document (or line) passes on: the fields both types have, and those set.

    The second set names the fields with a value, so that only they are checked as references.
    """
    row = {_LINE_RENAMES.get(name, name): value for name, value in row.items()}
    values = {name: row[name] for name in to_properties if name in row and name not in _NOT_COPIED}
    filled = {
        name for name, value in values.items() if value is not None and value not in _EMPTY_VALUES
    }
    return values, filled


_NO_LINES = {
    "salesCreditMemos": "Please add at least one line item to the credit memo.",
    "salesInvoices": "Please add at least one line item to the invoice.",
}


def no_lines_error(set_name: str) -> BusinessCentralError:
    """Posting a document without lines: the page's own check where it has one, else the poster's.

    salesCreditMemos: NoLineErr of APIV2SalesCreditMemos.Page.al @406aa00d (PostCreditMemo).
    salesInvoices: PostInvoice runs APIV2SendSalesDocument.CheckDocumentIfNoItemsExists first
    (APIV2SalesInvoices.Page.al, newest stored version, search index id 1475919947), whose label
    ThereIsNothingToSellInvoiceErr is `Please add at least one line item to the invoice.`.
    Others (purchaseInvoices: APIV2PurchaseInvoices.Page.al @114421e2 PostInvoice has no check of
    its own): Sales-Post / Purch.-Post refuse with Document Errors Mgt.'s NothingToPostErr (codeunit
    9070, index id 1073916541); Microsoft's test codeunit 134386 "ERM Sales Documents II"
    ErrorDialogOnSalesOrder asserts that label for a header without lines.
    """
    message = _NO_LINES.get(set_name, NOTHING_TO_POST_DOCUMENT)
    return BusinessCentralError(400, "Application_DialogException", message)


def posted_number(store: Store, api: ApiModel, set_name: str, company: str | None) -> str | None:
    """The number a posted document gets: the next of the posted series (None: keep the draft's).

    BC renames the document to the posted document's No. while keeping its id
    (OnBeforeSalesInvHeaderInsert / "Draft Invoice SystemId" in SalesInvoiceAggregator @c845a0c4;
    the same in Purch. Inv. Aggregator). The next number is one past the highest number of the
    series already in the company, as a number series hands them out.
    """
    start = POSTED_SERIES_START.get(set_name)
    if start is None:
        return None
    match = _TRAILING_DIGITS.search(start)
    prefix = start[: match.start(1)] if match else start
    pattern = re.compile(re.escape(prefix) + r"(\d+)")
    rows = store.fetch(
        f"SELECT number FROM {table_name(api.route, set_name)} WHERE _company IS ?"
        " AND number LIKE ? ESCAPE '\\'",
        (company, prefix.replace("%", "\\%").replace("_", "\\_") + "%"),
    )
    used = [m.group(1) for (number,) in rows if (m := pattern.fullmatch(str(number)))]
    if not used:
        return start
    highest = max(used, key=int)
    return increment_number(prefix + highest)


# Sales Lines by Document Type, in the order of that enum (Quote, Order, Invoice, Credit Memo):
# the line set, its header set, and the type's caption. Posted invoices' and credit memos' lines
# are not Sales Lines, so only draft headers count for those two.
_SALES_LINES = (
    ("salesQuoteLines", "salesQuotes", "Quote"),
    ("salesOrderLines", "salesOrders", "Order"),
    ("salesInvoiceLines", "salesInvoices", "Invoice"),
    ("salesCreditMemoLines", "salesCreditMemos", "Credit Memo"),
)


def check_delete(store: Store, api: ApiModel, set_name: str, row: dict[str, Any]) -> None:
    """Refuse deleting an item that a line of an unposted sales document still uses.

    Source: BaseApp/Source/Base Application/Sales/Document/CheckSalesDocumentLine.Codeunit.al
    @567b9e46 (codeunit 9069, CheckSalesLines on Item.OnBeforeCheckDocuments: the first Sales
    Line of Type Item and the item's No. -> CannotDeleteItemIfSalesDocExistErr 'You cannot
    delete %1 %2 because there is at least one outstanding Sales %3 that includes this item.',
    %1 = 'Item', %3 = the line's Document Type); MicrosoftDocs/dynamics365smb-devitpro-pb
    dev-itpro/webservices/dynamics-error-codes.md @777335ab shows it as
    Application_DialogException. Not modelled: purchase lines, ledger entries and the other
    checks of Item.OnDelete; customers' and vendors' delete checks.
    """
    if set_name != "items" or "number" not in row:
        return
    for lines, headers, caption in _SALES_LINES:
        if lines not in api.entity_sets or headers not in api.entity_sets:
            continue
        kind = DOCUMENTS.get(headers)
        posts = kind is not None and kind.gl_document_type is not None
        posted = ", ".join(f"'{status}'" for status in sorted(_POSTED))
        unposted = f' AND header."status" NOT IN ({posted})' if posts else ""
        found = store.fetch_one(
            f"SELECT 1 FROM {table_name(api.route, lines)} AS line"
            f" JOIN {table_name(api.route, headers)} AS header"
            ' ON header."id" = line."documentId"'
            " WHERE line._company IS ? AND line.\"lineType\" = 'Item'"
            ' AND (line."itemId" = ? OR line."lineObjectNumber" = ?)'
            f"{unposted} LIMIT 1",
            (row.get("_company"), row.get("id"), row["number"]),
        )
        if found is not None:
            raise BusinessCentralError(
                400,
                "Application_DialogException",
                f"You cannot delete Item {row['number']} because there is at least one"
                f" outstanding Sales {caption} that includes this item.",
            )


def _money(value: Any) -> Decimal:  # noqa: ANN401
    return Decimal(str(value)) if value not in (None, "") else Decimal(0)


def line_amounts(line: dict[str, Any]) -> dict[str, str]:
    """A line's computed amounts from quantity, price, discount and tax percent."""
    price = line.get("unitPrice", line.get("unitCost"))
    gross = (_money(line.get("quantity")) * _money(price)).quantize(_CENT, ROUND_HALF_UP)
    percent = _money(line.get("discountPercent"))
    discount = (gross * percent / 100) if percent else _money(line.get("discountAmount"))
    # As BC does (and the seed): the discount is rounded first, the line amount is what is left.
    discount = discount.quantize(_CENT, ROUND_HALF_UP)
    net = gross - discount
    tax = (net * _money(line.get("taxPercent")) / 100).quantize(_CENT, ROUND_HALF_UP)
    amounts = {
        "discountAmount": discount,
        "amountExcludingTax": net,
        "totalTaxAmount": tax,
        "amountIncludingTax": net + tax,
        "netAmount": net,
        "netTaxAmount": tax,
        "netAmountIncludingTax": net + tax,
    }
    return {name: format_decimal(value) for name, value in amounts.items()}


def next_sequence(  # noqa: PLR0913, PLR0917
    store: Store, api: ApiModel, set_name: str, parent_field: str, parent_id: str, field: str
) -> int:
    """The next line number under one parent: 10000 past the last, as BC numbers lines."""
    row = store.fetch_one(
        f"SELECT max({quote(field)}) FROM {table_name(api.route, set_name)}"
        f" WHERE {quote(parent_field)} = ?",
        (parent_id,),
    )
    return int(row[0] or 0) + 10000 if row else 10000


# -- lines: what BC derives from the item or G/L account ------------------------------------------

# The price field a line takes from its item: sales lines `unitPrice`, purchase lines the direct
# unit cost (`unitCost`, named `directUnitCost` on purchaseOrderLines).
LINE_PRICE: dict[str, tuple[str, str]] = {
    "salesInvoiceLines": ("unitPrice", "unitPrice"),
    "salesOrderLines": ("unitPrice", "unitPrice"),
    "salesCreditMemoLines": ("unitPrice", "unitPrice"),
    "salesQuoteLines": ("unitPrice", "unitPrice"),
    "purchaseInvoiceLines": ("unitCost", "unitCost"),
    "purchaseOrderLines": ("unitCost", "directUnitCost"),
    "purchaseCreditMemoLines": ("unitCost", "unitCost"),
}
# Credit memo line pages validate accountId only against itemId; they do not look the account up
# (APIV2SalesCreditMemLines.Page.al @257a4d34e58c1a2968dad9ac6f4f10045bd96983,
# APIV2PurchCrMemoLines.Page.al @533b609ee48a309eece8cde9e5d542c45ddf973b).
_ACCOUNT_UNCHECKED = frozenset({"salesCreditMemoLines", "purchaseCreditMemoLines"})
ITEM_MISSING = "Item does not exist."
ACCOUNT_MISSING = "Account does not exist."
BOTH_ITEM_AND_ACCOUNT = 'Both "itemId" and "accountId" are specified. Specify only one of them.'


def _sent(row: dict[str, Any], changed: set[str], name: str) -> bool:
    return name in changed and row.get(name) not in (None, "", EMPTY_GUID)


def derive_line(  # noqa: PLR0913, PLR0917
    store: Store,
    api: ApiModel,
    set_name: str,
    company: str | None,
    row: dict[str, Any],
    changed: set[str],
) -> None:
    """Resolve a line's item or account and fill what BC derives from it into `row`.

    In page order (APIV2SalesInvoiceLines.Page.al @1701efe5ad0799a43093ec6053cb5c258e4bb135):
    `itemId` must name an item (`Item does not exist.`) and sets lineObjectNumber and the type;
    `accountId` after an item in the same body is refused (`Both "itemId" and "accountId" ...`),
    must name a G/L account (`Account does not exist.`) and sets lineObjectNumber;
    `lineObjectNumber` is looked up by the line type and sets itemId or accountId. Then the Sales
    (Purchase) Line validation of No. fills description, unit of measure and price, unless sent.

    Raises:
        BusinessCentralError: An unknown item or account, or both itemId and accountId.
    """
    if set_name not in LINE_PRICE or api.route != STANDARD_ROUTE:
        return
    item, account = _line_target(store, api, set_name, company, row, changed)
    own = api.entity_sets[set_name].entity_type.properties
    if item is not None:
        _derive_from_item(set_name, row, changed, item, own)
    elif account is not None:
        row.update(lineType="Account", accountId=account["id"], itemId=EMPTY_GUID)
        row["lineObjectNumber"] = account["number"]
        if "description" not in changed:
            row["description"] = account["displayName"]


def _line_target(  # noqa: PLR0913, PLR0917
    store: Store,
    api: ApiModel,
    set_name: str,
    company: str | None,
    row: dict[str, Any],
    changed: set[str],
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The item or account the write points the line at: (item, account), in page order."""
    item: dict[str, Any] | None = None
    account: dict[str, Any] | None = None
    if _sent(row, changed, "itemId"):
        item = find_row(store, api, "items", company, ("id", row["itemId"]))
        if item is None:
            raise dialog(ITEM_MISSING)
    if _sent(row, changed, "accountId"):
        if item is not None:
            raise dialog(BOTH_ITEM_AND_ACCOUNT)
        account = find_row(store, api, "accounts", company, ("id", row["accountId"]))
        if account is None and set_name not in _ACCOUNT_UNCHECKED:
            raise dialog(ACCOUNT_MISSING)
    if _sent(row, changed, "lineObjectNumber"):
        by_number = _by_number(store, api, company, row, account)
        item, account = by_number if by_number != (None, None) else (item, account)
    return item, account


def _by_number(
    store: Store,
    api: ApiModel,
    company: str | None,
    row: dict[str, Any],
    account: dict[str, Any] | None,
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """`lineObjectNumber` looked up by the line type (Item unless the type or accountId says)."""
    line_type = row.get("lineType") or ("Account" if account is not None else "Item")
    number = row["lineObjectNumber"]
    if line_type == "Item":
        item = find_row(store, api, "items", company, ("number", number))
        if item is None:
            raise dialog(ITEM_MISSING)
        return item, None
    if line_type == "Account":
        found = find_row(store, api, "accounts", company, ("number", number))
        if found is None:
            raise dialog(ACCOUNT_MISSING)
        return None, found
    return None, None


def _derive_from_item(
    set_name: str,
    row: dict[str, Any],
    changed: set[str],
    item: dict[str, Any],
    own: dict[str, Any],
) -> None:
    """An Item line: number, type, description, unit of measure and price from the item.

    A price sent in the body is applied after the item; whether the quantity's validation then
    replaces it with the item's price again is rules/line_pricing.py's concern (page order).
    """
    row.update(lineType="Item", itemId=item["id"], accountId=EMPTY_GUID)
    row["lineObjectNumber"] = item["number"]
    source, price_field = LINE_PRICE[set_name]
    defaults = {
        "description": item.get("displayName"),
        "unitOfMeasureId": item.get("baseUnitOfMeasureId"),
        "unitOfMeasureCode": item.get("baseUnitOfMeasureCode"),
    }
    row.update(
        {
            name: value
            for name, value in defaults.items()
            if name in own and name not in changed and value is not None
        }
    )
    if price_field in own and price_field not in changed:
        row[price_field] = item.get(source)


def has_lines(store: Store, api: ApiModel, header_set: str, document_id: str) -> bool:
    """Whether a document has at least one line."""
    found = store.fetch_one(
        f'SELECT 1 FROM {table_name(api.route, LINES_OF[header_set])} WHERE "documentId" = ?'
        " LIMIT 1",
        (document_id,),
    )
    return found is not None


def line_exists(
    store: Store,
    api: ApiModel,
    set_name: str,
    document_id: str,
    sequence: Any,  # noqa: ANN401
) -> bool:
    """Whether the document already has a line with this sequence."""
    row = store.fetch_one(
        f'SELECT 1 FROM {table_name(api.route, set_name)} WHERE "documentId" = ?'
        ' AND "sequence" = ?',
        (document_id, int(sequence)),
    )
    return row is not None


def duplicate_line(set_name: str) -> BusinessCentralError:
    """A line POST whose sequence is taken, in the aggregator's words.

    Sales: `CannotInsertALineThatAlreadyExistsErr` in Sales Invoice Aggregator / Graph Mgt - Sales
    Order Buffer / Sales Quote Buffer / Sal. Cr. Memo Buf. and Purch Order Buffer; purchase
    invoices: the Purch. Inv. Aggregator's own label; purchase credit memos: Graph Mgt - Purch.
    Cr. Memo's, with its two spaces (BaseApp/Source/Base Application/Integration/Graph/
    GraphMgtPurchCrMemo.Codeunit.al @37787026aff0a4e8423b677e9a9997d4abccccea).
    """
    if set_name == "purchaseInvoiceLines":
        return dialog("You cannot insert a line with a duplicate sequence number.")
    if set_name == "purchaseCreditMemoLines":
        return dialog("You cannot insert the line because  line already exists.")
    return dialog("You cannot insert a line because a line already exists.")


def line_taxes(store: Store, api: ApiModel, set_name: str, document_id: str) -> str | None:
    """The tax percent a new line of the document gets: that of its other lines (simplified).

    BC computes it from the VAT/tax posting setup of the customer and item; the emulator has no
    posting setup, so a new line takes the rate of the document's other lines, else 0.
    """
    row = store.fetch_one(
        f'SELECT "taxPercent" FROM {table_name(api.route, set_name)} WHERE "documentId" = ?'
        ' ORDER BY "sequence" LIMIT 1',
        (document_id,),
    )
    return None if row is None else row[0]


# -- posting -----------------------------------------------------------------------------------


def _account(
    store: Store, api: ApiModel, company: str | None, names: tuple[str, ...]
) -> tuple[str, str]:
    table = table_name(api.route, "accounts")
    for name in names:
        row = store.fetch_one(
            f'SELECT id, number FROM {table} WHERE _company IS ? AND ("displayName" = ?'
            ' OR "category" = ?) AND "accountType" = \'Posting\' ORDER BY number LIMIT 1',
            (company, name, name),
        )
        if row is not None:
            return str(row[0]), str(row[1])
    row = store.fetch_one(f"SELECT id, number FROM {table} WHERE _company IS ? LIMIT 1", (company,))
    return (str(row[0]), str(row[1])) if row else ("00000000-0000-0000-0000-000000000000", "")


@dataclass
class GlEntry:
    """One general ledger entry to write."""

    account: tuple[str, str]
    amount: Decimal  # debit when positive
    description: str


def write_gl_entries(  # noqa: PLR0913
    store: Store,
    api: ApiModel,
    company: str | None,
    entries: list[GlEntry],
    *,
    document_number: str,
    document_type: str,
    posting_date: str,
) -> None:
    """Append GL entries with the next entry numbers (inside the caller's transaction)."""
    table = table_name(api.route, "generalLedgerEntries")
    row = store.fetch_one(f'SELECT max("entryNumber") FROM {table} WHERE _company IS ?', (company,))
    number = int(row[0] or 0) if row else 0
    stamp = now_stored()
    db = store.connection()
    for entry in entries:
        if entry.amount == 0:
            continue
        number += 1
        values = {
            "id": str(uuid.uuid4()),
            "entryNumber": number,
            "postingDate": posting_date,
            "documentNumber": document_number,
            "documentType": document_type,
            "accountId": entry.account[0],
            "accountNumber": entry.account[1],
            "description": entry.description[:100],
            "debitAmount": format_decimal(max(entry.amount, Decimal(0))),
            "creditAmount": format_decimal(max(-entry.amount, Decimal(0))),
            "additionalCurrencyDebitAmount": "0",
            "additionalCurrencyCreditAmount": "0",
            "lastModifiedDateTime": stamp,
        }
        names = ", ".join(quote(n) for n in values)
        db.execute(
            f"INSERT INTO {table} (_company, _etag, {names}) VALUES (?, ?{', ?' * len(values)})",
            [company, store.new_etag(), *values.values()],
        )


NOTHING_TO_POST_DOCUMENT = (
    "There is nothing to post because the document does not contain a quantity or amount."
)


def nothing_to_post() -> BusinessCentralError:
    """Posting a journal without lines: BC's classic label (Gen. Jnl.-Post not read)."""
    return BusinessCentralError(400, "Application_DialogException", "There is nothing to post.")


def document_entries(
    store: Store, api: ApiModel, set_name: str, header: dict[str, Any]
) -> list[GlEntry]:
    """The GL entries posting a document writes: receivable/payable against revenue/expense."""
    kind = DOCUMENTS[set_name]
    company = header["_company"]
    incl = _money(header.get("totalAmountIncludingTax"))
    excl = _money(header.get("totalAmountExcludingTax"))
    tax = incl - excl
    text = f"{kind.noun.capitalize()} {header.get('number', '')}"
    if kind.party == "customer":
        party = _account(store, api, company, ("Accounts Receivable",))
        other = _account(store, api, company, ("Income",))
        taxes = _account(store, api, company, ("Sales Tax Payable",))
        sign = Decimal(kind.sign)
        return [
            GlEntry(party, sign * incl, text),
            GlEntry(other, -sign * excl, text),
            GlEntry(taxes, -sign * tax, text),
        ]
    party = _account(store, api, company, ("Accounts Payable",))
    other = _account(store, api, company, ("Expense", "Cost_x0020_of_x0020_Goods_x0020_Sold"))
    taxes = _account(store, api, company, ("Sales Tax Payable",))
    return [
        GlEntry(party, -incl, text),
        GlEntry(other, excl, text),
        GlEntry(taxes, tax, text),
    ]


def journal_entries(
    store: Store,
    api: ApiModel,
    company: str | None,
    journal: dict[str, Any],
    lines: list[dict[str, Any]],
) -> list[GlEntry]:
    """The GL entries of a journal's lines, each balanced by its (or the journal's) account."""
    entries: list[GlEntry] = []
    fallback = _account(store, api, company, ("Checking account", "Assets"))
    for line in lines:
        amount = _money(line.get("amount"))
        account = (str(line.get("accountId") or ""), str(line.get("accountNumber") or ""))
        balancing_id = line.get("balancingAccountId") or journal.get("balancingAccountId")
        balancing_number = line.get("balancingAccountNumber") or journal.get(
            "balancingAccountNumber"
        )
        empty = "00000000-0000-0000-0000-000000000000"
        balancing = (
            (str(balancing_id), str(balancing_number or ""))
            if balancing_id and balancing_id != empty
            else fallback
        )
        text = str(line.get("description") or journal.get("displayName") or "")
        entries.extend([GlEntry(account, amount, text), GlEntry(balancing, -amount, text)])
    return entries


# Public names for the payment rules (rules/payments.py), which post against the same accounts.
account = _account
money = _money
