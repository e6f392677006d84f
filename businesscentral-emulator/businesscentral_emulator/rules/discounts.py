"""Invoice discounts and document totals, as BC spreads a header's discount amount over its lines.

A client sets a document's invoice discount by sending the header's `discountAmount`. The page
then runs `Sales - Calc Discount By Type`.ApplyInvDiscBasedOnAmt (purchase: `Purch - Calc Disc.
By Type`): the amount is shared first over the document's VAT amount lines (one per tax
identifier) in proportion to their invoice-discount base, then within each over its lines in
proportion to their line amounts, each share rounded to the cent with the rounding remainder
carried to the next share, so the shares add up to the amount exactly. Later line writes
redistribute the same amount (RedistributeInvoiceDiscounts: the header keeps "Invoice Discount
Calculation" = Amount and its value). Header totals are DocumentTotals.CalculateSalesTotals: the
sums of the lines' amounts after the invoice discount.

Sources (StefanMaron/MSDyn365BC.Code.History): BaseApp/Source/Base Application/Sales/Document/
SalesCalcDiscountByType.Codeunit.al @3af4baaef291447250293f18e89365ac047fa6d4
(ApplyInvDiscBasedOnAmt, InvDiscBaseAmountIsZeroErr); table VAT Amount Line
SetInvoiceDiscountAmount (index id 51979198335: NewRemainder carried over the VAT amount lines);
table Sales Line UpdateVATOnLines (index ids 60735043890, 7411350924: TempVATAmountLineRemainder
carried over the lines, only where "Allow Invoice Disc."); Sales Line GetLineAmountExclVAT /
GetLineAmountInclVAT (index id 45315374733); Graph Mgt - Sales Order Buffer (index id 633598466)
and GraphMgtSalesQuoteBuffer.Codeunit.al @0b1be9d5501f950379661f3fb2ea996a28d1b57d
(AssignTotalsFromSalesLine, UpdateLineAmountsFromSalesLine, UpdateInvoiceDiscountAmount);
APIV2/Source/_Exclude_APIV2_/src/pages/APIV2SalesInvoices.Page.al
@02a8df419400b10bfc9cc4bc714de5cd2ddb9fad (discountAmount OnValidate, UpdateDiscount).

Simplified: prices never include tax; a line's tax is rounded per line (BC rounds the running
VAT of each tax identifier); lines of type Account allow no invoice discount (Sales/Purchase Line
CopyFromGLAccount sets "Allow Invoice Disc." false) and every other line with an amount allows
it (the item's "Allow Invoice Disc." is not an API field); customer and vendor invoice discount
terms (Cust. Invoice Disc.) are not modelled: the API has no set for them and the seed has none.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from businesscentral_emulator.odata.values import format_decimal
from businesscentral_emulator.rules.validation import dialog
from businesscentral_emulator.store.sqlite import quote, table_name

if TYPE_CHECKING:
    from collections.abc import Sequence

    from businesscentral_emulator.odata.edmx import ApiModel
    from businesscentral_emulator.store.sqlite import Store

_CENT = Decimal("0.01")
# InvDiscBaseAmountIsZeroErr of Sales - Calc Discount By Type (the purchase codeunit's label is
# the same text with "Purchase"-free wording, not re-read: the sales text is used for both).
NO_DISCOUNT_BASE = (
    "Cannot apply an invoice discount because the document does not include lines where the"
    " Allow Invoice Disc. field is selected. To add a discount, specify a line discount in the"
    " Line Discount % field for the relevant lines, or add a line of type Item where the Allow"
    " Invoice Disc. field is selected."
)
_NO_INVOICE_DISCOUNT = frozenset({"Account", "Comment", "", "_x0020_"})
_NET_FIELDS = (
    "invoiceDiscountAllocation",
    "netAmount",
    "netTaxAmount",
    "netAmountIncludingTax",
)


def _money(value: Any) -> Decimal:  # noqa: ANN401
    return Decimal(str(value)) if value not in (None, "") else Decimal(0)


def _cents(value: Decimal) -> Decimal:
    return value.quantize(_CENT, ROUND_HALF_UP)


def _share(total: Decimal, parts: Sequence[Decimal]) -> list[Decimal]:
    """`total` shared in proportion to `parts`, each share rounded, the remainder carried on."""
    base = sum(parts, Decimal(0))
    shares: list[Decimal] = []
    remainder = Decimal(0)
    for part in parts:
        if part == 0 or base == 0:
            shares.append(Decimal(0))
            continue
        remainder += total * part / base
        share = _cents(remainder)
        remainder -= share
        shares.append(share)
    return shares


def allocate(lines: Sequence[dict[str, Any]], discount: Decimal) -> list[Decimal]:
    """Each line's share of the invoice discount (lines in sequence order).

    First over the tax groups (VAT Amount Line key order: tax identifier, then negative before
    positive amounts), then over each group's lines in line order.
    """
    bases: list[Decimal] = [
        Decimal(0)
        if str(line.get("lineType") or "") in _NO_INVOICE_DISCOUNT
        else _money(line.get("amountExcludingTax"))
        for line in lines
    ]
    groups: dict[tuple[str, bool], list[int]] = {}
    for index, (line, base) in enumerate(zip(lines, bases, strict=True)):
        if base != 0:
            groups.setdefault((str(line.get("taxCode") or ""), base > 0), []).append(index)
    keys = sorted(groups)
    group_bases = [sum((bases[i] for i in groups[key]), Decimal(0)) for key in keys]
    group_shares = _share(discount, group_bases)
    allocation = [Decimal(0)] * len(lines)
    for key, group_share in zip(keys, group_shares, strict=True):
        members = groups[key]
        for index, share in zip(
            members, _share(group_share, [bases[i] for i in members]), strict=True
        ):
            allocation[index] = share
    return allocation


def discount_base(lines: Sequence[dict[str, Any]]) -> Decimal:
    """The invoice-discount base: the line amounts of the lines that allow an invoice discount."""
    return sum(
        (
            _money(line.get("amountExcludingTax"))
            for line in lines
            if str(line.get("lineType") or "") not in _NO_INVOICE_DISCOUNT
        ),
        Decimal(0),
    )


def net_amounts(line: dict[str, Any], allocation: Decimal) -> dict[str, Decimal]:
    """A line's amounts after its invoice discount: Amount, Tax Amount, Amount Including VAT."""
    net = _money(line.get("amountExcludingTax")) - allocation
    tax = _cents(net * _money(line.get("taxPercent")) / 100)
    return {
        "invoiceDiscountAllocation": allocation,
        "netAmount": net,
        "netTaxAmount": tax,
        "netAmountIncludingTax": net + tax,
    }


def refresh_document(
    store: Store,
    api: ApiModel,
    sets: tuple[str, str],
    document_id: str,
    sent_discount: Any = None,  # noqa: ANN401
) -> dict[str, str | int]:
    """Spread the document's invoice discount over its lines; the header's new totals.

    `sets` is (header set, line set). `sent_discount` is the `discountAmount` the client sent
    with the header (None: redistribute the header's current discount).

    Raises:
        BusinessCentralError: A positive discount sent for a document without a discount base.
    """
    header_set, line_set = sets
    own = api.entity_sets[line_set].entity_type.properties
    header_props = api.entity_sets[header_set].entity_type.properties
    lines = _lines(store, api, line_set, document_id)
    if sent_discount is not None:
        discount = _money(sent_discount)
        if discount > 0 and discount_base(lines) == 0:
            raise dialog(NO_DISCOUNT_BASE)
    elif "discountAmount" in header_props:
        discount = _current_discount(store, api, header_set, document_id)
    else:
        discount = Decimal(0)
    allocation = allocate(lines, discount) if discount else [Decimal(0)] * len(lines)
    totals = dict.fromkeys(("discount", "excl", "incl"), Decimal(0))
    for line, share in zip(lines, allocation, strict=True):
        amounts = net_amounts(line, share)
        totals["discount"] += share
        totals["excl"] += amounts["netAmount"]
        totals["incl"] += amounts["netAmountIncludingTax"]
        changes = {
            name: format_decimal(value)
            for name, value in amounts.items()
            if name in own and _money(line.get(name)) != value
        }
        if changes:
            _update_line(store, api, line_set, line["_rowid"], changes)
    header: dict[str, str | int] = {
        "totalAmountExcludingTax": format_decimal(totals["excl"]),
        "totalTaxAmount": format_decimal(totals["incl"] - totals["excl"]),
        "totalAmountIncludingTax": format_decimal(totals["incl"]),
    }
    if "discountAmount" in header_props:
        header["discountAmount"] = format_decimal(totals["discount"])
    if lines and "discountAppliedBeforeTax" in header_props:
        # AssignTotalsFromSalesLine: true for Sales Tax, else not "Prices Including VAT"; the
        # emulator's prices never include tax. Without lines BlankTotals leaves it as it was.
        header["discountAppliedBeforeTax"] = 1
    return header


def _lines(store: Store, api: ApiModel, line_set: str, document_id: str) -> list[dict[str, Any]]:
    own = api.entity_sets[line_set].entity_type.properties
    names = [
        n
        for n in ("lineType", "taxCode", "taxPercent", "amountExcludingTax", *_NET_FIELDS)
        if n in own
    ]
    rows = store.fetch(
        f"SELECT _rowid, {', '.join(quote(n) for n in names)}"
        f' FROM {table_name(api.route, line_set)} WHERE "documentId" = ? ORDER BY "sequence"',
        (document_id,),
    )
    return [dict(zip(["_rowid", *names], row, strict=True)) for row in rows]


def _current_discount(store: Store, api: ApiModel, header_set: str, document_id: str) -> Decimal:
    row = store.fetch_one(
        f'SELECT "discountAmount" FROM {table_name(api.route, header_set)} WHERE "id" = ?',
        (document_id,),
    )
    return _money(row[0]) if row else Decimal(0)


def _update_line(
    store: Store, api: ApiModel, line_set: str, rowid: int, changes: dict[str, str]
) -> None:
    """A line whose share changed is modified (new etag), as BC modifies its Sales Line."""
    assignments = "".join(f", {quote(name)} = ?" for name in changes)
    store.connection().execute(
        f"UPDATE {table_name(api.route, line_set)} SET _etag = ?{assignments} WHERE _rowid = ?",
        [store.new_etag(), *changes.values(), rowid],
    )
