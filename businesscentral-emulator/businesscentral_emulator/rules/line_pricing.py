"""A line's price and line discount as the Sales (Purchase) Line validates them, in page order.

The line pages apply the fields a client sent one by one, in the order the page lays them out
(RegisterFieldSet + TransferFieldsWithValidate), which is the order of the entity type's
properties in `$metadata`. Two validations matter here:

- Quantity on an Item line re-finds the price (Sales Line: `if Type = Type::Item then
  UpdateUnitPrice(FieldNo(Quantity))`; the Purchase Line re-finds the direct unit cost alike).
  So a price sent in the same body survives only where the page lays it out AFTER quantity
  (salesInvoiceLines, salesOrderLines, purchaseOrderLines); where it comes before
  (salesQuoteLines, salesCreditMemoLines, purchaseInvoiceLines, purchaseCreditMemoLines) the
  item's price replaces it, as recorded traffic showed for a purchase line (issue 10). A quantity
  repeated unchanged is not validated again (the aggregators skip equal values).
- Line Discount Amount sets Line Discount % := Round(amount / Round(Quantity * Unit Price) * 100,
  0.00001) (UpdateLineDiscPct), refusing a percent outside 0..100 with LineDiscountPctErr; Line
  Discount % sets the amount; the page lays discountAmount out before discountPercent, so a
  percent sent with an amount wins.

Sources: APIV2/Source/_Exclude_APIV2_/src/pages/APIV2SalesCreditMemLines.Page.al
@257a4d34e58c1a2968dad9ac6f4f10045bd96983 (unitPrice before quantity, discountAmount before
discountPercent); BC 26 `$metadata` (property order of the seven line types); table Sales Line
Quantity OnValidate (StefanMaron/MSDyn365BC.Code.History, index ids 9333017092, 417982268);
UpdateLineDiscPct and LineDiscountPctErr `The value in the Line Discount % field must be between
0 and 100.` (index id 34410743033, a copy of the Sales Line procedure; Microsoft's test library
uses the same label, index id 410454213).

Simplified: the price re-found is the item's own price (`unitPrice`, or `unitCost` for purchase
lines); the emulator has no price lists, customer prices or purchase prices.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from businesscentral_emulator.odata.values import EMPTY_GUID, format_decimal
from businesscentral_emulator.rules.documents import LINE_PRICE
from businesscentral_emulator.rules.references import find_row
from businesscentral_emulator.rules.validation import STANDARD_ROUTE, dialog

if TYPE_CHECKING:
    from businesscentral_emulator.odata.edmx import ApiModel
    from businesscentral_emulator.store.sqlite import Store

DISCOUNT_PERCENT_RANGE = "The value in the Line Discount % field must be between 0 and 100."
_CENT = Decimal("0.01")
_PERCENT_PLACES = Decimal("0.00001")


def _money(value: Any) -> Decimal:  # noqa: ANN401
    return Decimal(str(value)) if value not in (None, "") else Decimal(0)


def _validated(
    name: str, row: dict[str, Any], changed: set[str], stored: dict[str, Any] | None
) -> bool:
    """Whether the write validates field `name`: sent, and (on a PATCH) with a new value."""
    if name not in changed:
        return False
    return stored is None or _money(row.get(name)) != _money(stored.get(name))


def price_after_quantity(api: ApiModel, set_name: str) -> bool:
    """Whether the line page lays its price out after quantity (so a sent price wins)."""
    names = list(api.entity_sets[set_name].entity_type.properties)
    price = LINE_PRICE[set_name][1]
    return "quantity" in names and price in names and names.index(price) > names.index("quantity")


def apply(  # noqa: PLR0913, PLR0917
    store: Store,
    api: ApiModel,
    set_name: str,
    row: dict[str, Any],
    changed: set[str],
    stored: dict[str, Any] | None,
) -> None:
    """Re-find an Item line's price when its quantity is validated; tie discount % and amount.

    `stored` is the line before a PATCH (None on insert).

    Raises:
        BusinessCentralError: A discount amount worth more than 100 % of the line (or below 0).
    """
    if set_name not in LINE_PRICE or api.route != STANDARD_ROUTE:
        return
    price_field = LINE_PRICE[set_name][1]
    if (
        row.get("lineType") == "Item"
        and _validated("quantity", row, changed, stored)
        and not (price_field in changed and price_after_quantity(api, set_name))
        and row.get("itemId") not in (None, "", EMPTY_GUID)
    ):
        item = find_row(store, api, "items", row.get("_company"), ("id", row["itemId"]))
        if item is not None:
            row[price_field] = item.get(LINE_PRICE[set_name][0])
    if "discountAmount" in changed and "discountPercent" not in changed:
        row["discountPercent"] = format_decimal(_percent_of(row, price_field))


def _percent_of(row: dict[str, Any], price_field: str) -> Decimal:
    """UpdateLineDiscPct: the percent a line discount amount is of the line's gross amount."""
    gross = (_money(row.get("quantity")) * _money(row.get(price_field))).quantize(
        _CENT, ROUND_HALF_UP
    )
    if gross == 0:
        return Decimal(0)
    amount = _money(row.get("discountAmount")).quantize(_CENT, ROUND_HALF_UP)
    percent = (amount / gross * 100).quantize(_PERCENT_PLACES, ROUND_HALF_UP)
    if not Decimal(0) <= percent <= Decimal(100):
        raise dialog(DISCOUNT_PERCENT_RANGE)
    return percent
