"""`purchaseCreditMemos(id)/Microsoft.NAV.cancel`: a corrective purchase credit memo is cancelled.

What BC does (StefanMaron/MSDyn365BC.Code.History):
- PAGE: APIV2/Source/_Exclude_APIV2_/src/pages/APIV2PurchaseCreditMemos.Page.al @3da3569a
  (Cancel -> GetPostedCreditMemo: PostedCreditMemoActionErr for a draft; CheckCreditMemoCanBe-
  Cancelled: AlreadyCancelledErr when the status is Canceled, then codeunit 1402's
  TestCorrectCrMemoIsAllowed; Codeunit.Run("Cancel Posted Purch. Cr. Memo"); answer with the
  memo's key, result code Deleted -> 204).
- CANCEL: BaseApp/Source/Base Application/Purchases/History/CancelPostedPurchCrMemo.Codeunit.al
  @9d4008cf (codeunit 1402; read at index id 961967287): TestCorrectCrMemoIsAllowed in this
  order: TestIfPostingIsAllowed (PostingNotAllowedCancelErr), TestIfVendorIsBlocked for the
  buy-from and the pay-to vendor (Blocked = All -> VendorIsBlockedCancelErr with the pay-to
  vendor's Name), TestIfInvoiceIsCorrectedOnce, TestIfCrMemoIsCorrectiveDoc (NotCorrectiveDocErr),
  ...; OnRun: UnapplyEntries, CreateCopyDocument (a purchase invoice copied from the memo, Vendor
  Invoice No. := its No.), Purch.-Post, SetTrackInfoForCancellation, Commit().

Simplified: the dimension, posting setup, number series, external document, inventory period and
blocked item checks are not modelled (the emulator has none of that setup); unapplying is not
modelled (a corrective memo is closed by the invoice it cancelled). The API offers no way to make
a Corrective purchase credit memo (purchaseInvoices have no cancel action), so the successful
path is reached only for rows set Corrective by the emulator's edit hook.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from businesscentral_emulator.rules import documents as docs
from businesscentral_emulator.rules.corrections import CANCELED, CORRECTIVE
from businesscentral_emulator.rules.references import find_row
from businesscentral_emulator.rules.validation import dialog

if TYPE_CHECKING:
    from businesscentral_emulator.odata.edmx import ApiModel
    from businesscentral_emulator.store.sqlite import Store

CREDIT_MEMOS = "purchaseCreditMemos"
CANCEL = (CREDIT_MEMOS, "cancel")
# Where the cancelling copy goes: the memo's lines into a new purchase invoice.
INTO = ("purchaseCreditMemoLines", "purchaseInvoices")

DRAFT = "The action can be applied to a posted credit memo only."
ALREADY_CANCELED = "The credit memo cannot be cancelled because it has already been canceled."
CLOSED_PERIOD = (
    "You cannot cancel this posted purchase credit memo because it was posted in a posting"
    " period that is closed."
)
VENDOR_BLOCKED = "You cannot cancel this posted purchase credit memo because vendor {} is blocked."
NOT_CORRECTIVE = (
    "You cannot cancel this posted purchase credit memo because it is not a corrective document."
)


def check_cancel(
    store: Store, api: ApiModel, memo: dict[str, Any], *, posting_allowed: bool
) -> None:
    """Refuse to cancel a purchase credit memo, in the page's and codeunit 1402's order and words.

    Raises:
        BusinessCentralError: A draft, already cancelled, a closed period, a blocked vendor, or
            not a corrective document.
    """
    if not docs.is_posted(CREDIT_MEMOS, memo):
        raise dialog(DRAFT)
    if memo.get("status") == CANCELED:
        raise dialog(ALREADY_CANCELED)
    if not posting_allowed:
        raise dialog(CLOSED_PERIOD)
    pay_to = _vendor(store, api, memo, str(memo.get("payToVendorNumber") or ""))
    for number in (memo.get("vendorNumber"), memo.get("payToVendorNumber")):
        vendor = _vendor(store, api, memo, str(number or ""))
        if vendor is not None and vendor[1] == "All":
            raise dialog(VENDOR_BLOCKED.format(pay_to[0] if pay_to else ""))
    if memo.get("status") != CORRECTIVE:
        raise dialog(NOT_CORRECTIVE)


def cancelling_invoice(number: str) -> dict[str, Any]:
    """The copy's own fields: its number, and Vendor Invoice No. := No. (CreateCopyDocument)."""
    return {"number": number, "vendorInvoiceNumber": number}


def _vendor(
    store: Store, api: ApiModel, memo: dict[str, Any], number: str
) -> tuple[str, str] | None:
    """A vendor's name and blocked value, by number in the memo's company."""
    if not number:
        return None
    row = find_row(store, api, "vendors", memo.get("_company"), ("number", number))
    return None if row is None else (str(row["displayName"] or ""), str(row["blocked"] or ""))
