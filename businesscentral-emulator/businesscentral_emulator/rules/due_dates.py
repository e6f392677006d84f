"""A document's due date from its payment terms, as the Sales (Purchase) Header validates it.

Validating "Payment Terms Code" (which validating the customer, the vendor or the document date
also does) sets "Due Date" := CalcDate(PaymentTerms."Due Date Calculation", "Document Date");
a credit memo whose terms do not "Calc. Pmt. Disc. on Cr. Memos", and a document without payment
terms, are due on the document date. A due date the client sends wins: the API pages validate
`dueDate` after the document date (page layout order) and, on insert, apply it again after the
header is created (SetDates).

Sources (StefanMaron/MSDyn365BC.Code.History): table Sales Header, field 23 "Payment Terms Code"
OnValidate (index id 11965064021); APIV2/Source/_Exclude_APIV2_/src/pages/APIV2SalesInvoices.Page.al
@02a8df419400b10bfc9cc4bc714de5cd2ddb9fad (SetDates: DueDateSet wins). The Purchase Header
has the same validation (not re-read; partner copies show the same code).

Simplified: a document without a document date gets no due date (BC's InitRecord gives a new
document the work date; not read); date formulas other than sums of `<n>D/W/M/Q/Y` and
`C<D/W/M/Q/Y>` (weekday formulas such as `WD2`, `D10`) leave the due date as it was.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from typing import TYPE_CHECKING, Any

from businesscentral_emulator.odata.values import EMPTY_GUID
from businesscentral_emulator.rules.references import find_row
from businesscentral_emulator.rules.validation import STANDARD_ROUTE

if TYPE_CHECKING:
    from businesscentral_emulator.odata.edmx import ApiModel
    from businesscentral_emulator.store.sqlite import Store

# The field each document set shows "Document Date" as (sets without `dueDate` are left out).
DOCUMENT_DATE = {
    "salesInvoices": "invoiceDate",
    "salesCreditMemos": "creditMemoDate",
    "salesQuotes": "documentDate",
    "purchaseInvoices": "invoiceDate",
    "purchaseCreditMemos": "creditMemoDate",
}
_CREDIT_MEMOS = frozenset({"salesCreditMemos", "purchaseCreditMemos"})
# Fields whose change validates the payment terms again (the party's terms replace the old).
_TRIGGERS = frozenset(
    {
        "paymentTermsId",
        "customerId",
        "customerNumber",
        "billToCustomerId",
        "billToCustomerNumber",
        "vendorId",
        "vendorNumber",
        "payToVendorId",
        "payToVendorNumber",
    }
)
_TERM = re.compile(r"([+-]?)(?:(\d+)([DWMQY])|C([DWMQY]))")
_MONTHS = {"M": 1, "Q": 3, "Y": 12}


def _add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def _period_end(day: dt.date, unit: str) -> dt.date:
    """`C<unit>`: the last day of the current week (Sunday), month, quarter or year."""
    if unit == "D":
        return day
    if unit == "W":
        return day + dt.timedelta(days=6 - day.weekday())
    if unit == "Y":
        return dt.date(day.year, 12, 31)
    month = day.month if unit == "M" else ((day.month - 1) // 3 + 1) * 3
    return dt.date(day.year, month, calendar.monthrange(day.year, month)[1])


def calc_date(formula: str, day: dt.date) -> dt.date | None:
    """AL's CalcDate for formulas like `30D`, `1M`, `CM`, `CM+1M`, `-1W` (None: not supported)."""
    text = formula.strip().strip("<>").replace(" ", "").upper()
    position = 0
    for match in _TERM.finditer(text):
        if match.start() != position:
            return None
        position = match.end()
        sign, digits, unit, period = match.groups()
        if period is not None:
            if sign == "-":
                return None
            day = _period_end(day, period)
        else:
            day = _shift(day, int(digits) * (-1 if sign == "-" else 1), unit)
    return day if position == len(text) else None


def _shift(day: dt.date, amount: int, unit: str) -> dt.date:
    if unit == "D":
        return day + dt.timedelta(days=amount)
    if unit == "W":
        return day + dt.timedelta(weeks=amount)
    return _add_months(day, amount * _MONTHS[unit])


def _terms(
    store: Store, api: ApiModel, set_name: str, row: dict[str, Any]
) -> dict[str, Any] | None:
    """The document's payment terms: its own, or the pay-to vendor's (purchaseInvoices)."""
    company = row.get("_company")
    terms_id = row.get("paymentTermsId")
    if "paymentTermsId" not in api.entity_sets[set_name].entity_type.properties:
        vendor_id = row.get("payToVendorId") or row.get("vendorId")
        if vendor_id in (None, "", EMPTY_GUID):
            return None
        vendor = find_row(store, api, "vendors", company, ("id", vendor_id))
        terms_id = vendor.get("paymentTermsId") if vendor else None
    if terms_id in (None, "", EMPTY_GUID):
        return None
    return find_row(store, api, "paymentTerms", company, ("id", terms_id))


def derive(  # noqa: PLR0913
    store: Store,
    api: ApiModel,
    set_name: str,
    row: dict[str, Any],
    changed: set[str],
    *,
    inserting: bool,
) -> None:
    """Set `row["dueDate"]` from the payment terms, unless the client sent one.

    On insert always; on modify when the document date, the terms or the party changed.
    """
    date_field = DOCUMENT_DATE.get(set_name)
    if date_field is None or api.route != STANDARD_ROUTE or "dueDate" in changed:
        return
    if not inserting and not (changed & (_TRIGGERS | {date_field})):
        return
    text = str(row.get(date_field) or "")
    if text in {"", "0001-01-01"}:
        return
    document_date = dt.date.fromisoformat(text[:10])
    terms = _terms(store, api, set_name, row)
    if terms is None or (
        set_name in _CREDIT_MEMOS and not terms.get("calculateDiscountOnCreditMemos")
    ):
        row["dueDate"] = document_date.isoformat()
        return
    due = calc_date(str(terms.get("dueDateCalculation") or ""), document_date)
    if due is not None:
        row["dueDate"] = due.isoformat()
