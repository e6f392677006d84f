"""Corrections of a posted sales invoice: `cancel`, `cancelAndSend`, `makeCorrectiveCreditMemo`.

What BC does, as the salesInvoices page and BaseApp's codeunit 1303 "Correct Posted Sales
Invoice" say (StefanMaron/MSDyn365BC.Code.History):
- SALES-INVOICES: APIV2/Source/_Exclude_APIV2_/src/pages/APIV2SalesInvoices.Page.al
  @02a8df419400b10bfc9cc4bc714de5cd2ddb9fad (Cancel, CancelAndSend, MakeCorrectiveCreditMemo,
  CheckInvoiceCanBeCanceled, GetRemainingAmount and their labels);
- CORRECT: BaseApp/Source/Base Application/Sales/History/CorrectPostedSalesInvoice.Codeunit.al
  @0b1be9d5501f950379661f3fb2ea996a28d1b57d (TestCorrectInvoiceIsAllowed in this order: Amount
  TestField, posting date allowed, already corrected, corrective, paid, ...; ErrorHelperHeader's
  `...Cancel...` labels; OnRun: a credit memo copied from the invoice is posted and a Cancelled
  Document row links the two);
- table 112 "Sales Invoice Header" (index id 879346896): Cancelled = a Cancelled Document with
  Source ID 112 for this invoice, Corrective = one with Source ID 114 (a credit memo) cancelled
  BY this invoice; Closed = its customer ledger entry is not open;
- Sales Invoice Aggregator SetStatusOptionFromSalesInvoiceHeader (index id 645069756): status
  Canceled, else Corrective, else Paid (Closed), else Open. The Sales Cr.Memo Header's own
  Corrective flowfield (Source ID 112, Cancelled By Doc. No. = the credit memo) makes the
  cancelling credit memo `Corrective` in the same way.

Simplified: the blocked customer/item, dimension, number series, posting period, external
document, inventory period, job and returned-quantity checks of TestCorrectInvoiceIsAllowed are
not modelled (the emulator has none of that setup); "paid" means the invoice's remainingAmount
differs from its totalAmountIncludingTax; the send half of cancelAndSend sends nothing.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from businesscentral_emulator.odata.errors import BusinessCentralError
from businesscentral_emulator.odata.values import format_decimal
from businesscentral_emulator.rules.posting_dates import CANCEL_NOT_ALLOWED
from businesscentral_emulator.rules.validation import dialog

if TYPE_CHECKING:
    from collections.abc import Mapping

CANCEL_ACTIONS = frozenset({"cancel", "cancelAndSend"})
CORRECTIVE_ACTION = "makeCorrectiveCreditMemo"
CREDIT_MEMOS = "salesCreditMemos"
INVOICE_LINES = "salesInvoiceLines"

# SALES-INVOICES labels.
ALREADY_CANCELED = "The invoice cannot be canceled because it has already been canceled."
INVOICE_CLOSED = (
    "The invoice is closed. The corrective credit memo will not be applied to the invoice."
)
INVOICE_PARTIALLY_PAID = (
    "The invoice is partially paid or credited. The corrective credit memo may not be fully"
    " closed by the invoice."
)
# CORRECT labels (the `Cancel` variants: the page calls TestCorrectInvoiceIsAllowed(.., true)).
# The AL text holds `\\` (a line break in the client's dialog); how the API renders it is
# unconfirmed, so the label is kept as written.
CANCEL_CORRECTIVE = (
    "You cannot cancel this posted sales invoice because it represents a correction of a"
    " credit memo."
)
CANCEL_PAID = (
    "You cannot cancel this posted sales invoice because it is fully or partially paid."
    "\\\\To reverse a paid sales invoice, you must manually create a sales credit memo."
)

# salesCreditMemos cancel: APIV2/Source/_Exclude_APIV2_/src/pages/APIV2SalesCreditMemos.Page.al
# @406aa00d20f4de9b6c097bc1956977caf4b8cc33 (Cancel, CheckCreditMemoCanBeCancelled,
# AlreadyCancelledErr) and BaseApp/Source/Base Application/Sales/History/
# CancelPostedSalesCrMemo.Codeunit.al @0599fda749f78d9a340ec01b4c6c2a7ab61351dd (codeunit 1339:
# only a corrective credit memo can be cancelled, NotCorrectiveDocErr; OnRun unapplies it, copies
# it into an invoice applied to it, posts that invoice and records the cancellation).
CREDIT_MEMO_LINES = "salesCreditMemoLines"
INVOICES = "salesInvoices"
MEMO_ALREADY_CANCELED = "The credit memo cannot be cancelled because it has already been canceled."
MEMO_NOT_CORRECTIVE = (
    "You cannot cancel this posted sales credit memo because it is not a corrective document."
)

CANCELED = "Canceled"
CORRECTIVE = "Corrective"


def _money(value: Any) -> Decimal:  # noqa: ANN401
    return Decimal(str(value)) if value not in (None, "") else Decimal(0)


def _fully_open(invoice: dict[str, Any]) -> bool:
    """Sales Invoice Header.IsFullyOpen: Amount Including VAT = Remaining Amount."""
    return _money(invoice.get("totalAmountIncludingTax")) == _money(invoice.get("remainingAmount"))


def check_cancel(invoice: dict[str, Any], *, posting_allowed: bool) -> None:
    """Refuse to cancel a posted invoice, in the page's and codeunit 1303's order and words.

    Raises:
        BusinessCentralError: Already canceled, zero amount, posted in a closed period, a
            corrective invoice, or paid.
    """
    status = invoice.get("status")
    if status == CANCELED:
        raise dialog(ALREADY_CANCELED)
    if _money(invoice.get("totalAmountExcludingTax")) == 0:
        # TestSalesInvoiceHeaderAmount: TestField(Amount), in TestField's usual words.
        raise BusinessCentralError(
            400,
            "Application_FieldValidationException",
            "Amount must have a value in Sales Invoice Header:"
            f" No.={invoice.get('number')}. It cannot be zero or empty.",
        )
    if not posting_allowed:
        raise dialog(CANCEL_NOT_ALLOWED["salesInvoices"])
    if status == CORRECTIVE:
        raise dialog(CANCEL_CORRECTIVE)
    if not _fully_open(invoice):
        raise dialog(CANCEL_PAID)


def check_corrective_credit_memo(invoice: dict[str, Any]) -> None:
    """MakeCorrectiveCreditMemo: only a fully open invoice (closed vs partly paid wording).

    Raises:
        BusinessCentralError: The invoice is closed, or partly paid or credited.
    """
    if _fully_open(invoice):
        return
    closed = _money(invoice.get("remainingAmount")) == 0
    raise dialog(INVOICE_CLOSED if closed else INVOICE_PARTIALLY_PAID)


def credit_memo_links(invoice: dict[str, Any]) -> dict[str, Any]:
    """The corrective credit memo applies to the invoice (Applies-to Doc. No. = its No.)."""
    return {"invoiceId": invoice["id"], "invoiceNumber": invoice.get("number") or ""}


def canceled_invoice() -> dict[str, Any]:
    """The canceled invoice: status Canceled, remainingAmount 0 (page GetRemainingAmount)."""
    return {"status": CANCELED, "remainingAmount": format_decimal(Decimal(0))}


def draft_remaining(set_name: str, totals: Mapping[str, object]) -> dict[str, str]:
    """A draft invoice's remainingAmount is its Amount Including VAT (page GetRemainingAmount)."""
    if set_name != "salesInvoices":
        return {}
    return {"remainingAmount": str(totals.get("totalAmountIncludingTax", "0"))}


def check_cancel_credit_memo(memo: dict[str, Any], *, posting_allowed: bool) -> None:
    """Refuse to cancel a posted credit memo: canceled, closed period, or not a corrective one.

    Raises:
        BusinessCentralError: The page's AlreadyCancelledErr, or codeunit 1339's
            PostingNotAllowedCancelErr or NotCorrectiveDocErr.
    """
    if memo.get("status") == CANCELED:
        raise dialog(MEMO_ALREADY_CANCELED)
    if not posting_allowed:
        raise dialog(CANCEL_NOT_ALLOWED["salesCreditMemos"])
    if memo.get("status") != CORRECTIVE:
        raise dialog(MEMO_NOT_CORRECTIVE)


def corrective_invoice() -> dict[str, Any]:
    """The invoice that cancels a credit memo: posted, Corrective, closed by the credit memo."""
    return {"status": CORRECTIVE, "remainingAmount": format_decimal(Decimal(0))}
