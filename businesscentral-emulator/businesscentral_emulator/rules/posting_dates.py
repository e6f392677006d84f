"""The allowed posting dates: a document posts only inside General Ledger Setup's range.

Sources (StefanMaron/MSDyn365BC.Code.History):
- Sales-Post CheckAndUpdate (index ids 4000669, 51769975495): `if GenJnlCheckLine.
  IsDateNotAllowed(SalesHeader."Posting Date", ...)` logs PostingDateNotAllowedErr `'%1 is not
  within your range of allowed posting dates.'` with %1 = the caption `Posting Date`; Microsoft's
  own posting test expects `Posting Date is not within your range of allowed posting dates.`
  (index id 27063933);
- codeunit 11 "Gen. Jnl.-Check Line" DateNotAllowed (index id 10937184559): the range is Allow
  Posting From .. Allow Posting To (an empty To has no end);
- codeunit 1303 / 1339 TestIfPostingIsAllowed: cancelling a document posted outside the range →
  PostingNotAllowedCancelErr.

Simplified: the user's own range (User Setup) is not modelled, only the company's
generalLedgerSetup row; the error code of a logged posting error is taken to be
Application_DialogException (unconfirmed); journals are not checked (Gen. Jnl.-Check Line's
FieldError wording names the line's template, which the emulator does not keep).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from businesscentral_emulator.rules.validation import dialog
from businesscentral_emulator.store.sqlite import table_name

if TYPE_CHECKING:
    from businesscentral_emulator.odata.edmx import ApiModel
    from businesscentral_emulator.store.sqlite import Store

NOT_ALLOWED = "Posting Date is not within your range of allowed posting dates."
CANCEL_NOT_ALLOWED = {
    "salesInvoices": (
        "You cannot cancel this posted sales invoice because it was posted in a posting period"
        " that is closed."
    ),
    "salesCreditMemos": (
        "You cannot cancel this posted sales credit memo because it was posted in a posting"
        " period that is closed."
    ),
}
_EMPTY_DATE = "0001-01-01"


def allowed(store: Store, api: ApiModel, company: str | None, posting_date: str) -> bool:
    """Whether `posting_date` lies in the company's Allow Posting From .. To (empty: open)."""
    if "generalLedgerSetup" not in api.entity_sets:
        return True
    row = store.fetch_one(
        f'SELECT "allowPostingFrom", "allowPostingTo" FROM'
        f" {table_name(api.route, 'generalLedgerSetup')} WHERE _company IS ? LIMIT 1",
        (company,),
    )
    if row is None:
        return True
    start = str(row[0] or _EMPTY_DATE)
    end = str(row[1] or _EMPTY_DATE)
    date = posting_date[:10]
    if not date or date == _EMPTY_DATE:
        return True  # no date to check (BC's TestField("Posting Date") comes first)
    if end == _EMPTY_DATE:
        end = "9999-12-31"
    return start <= date <= end


def check_post(store: Store, api: ApiModel, company: str | None, posting_date: str) -> None:
    """Refuse to post a document dated outside the allowed range (Sales-Post's words).

    Raises:
        BusinessCentralError: `Posting Date is not within your range of allowed posting dates.`
    """
    if not allowed(store, api, company, posting_date):
        raise dialog(NOT_ALLOWED)


def check_cancel(store: Store, api: ApiModel, set_name: str, row: dict[str, Any]) -> None:
    """Refuse to cancel a document posted in a period that is now closed (codeunit 1303/1339).

    Raises:
        BusinessCentralError: PostingNotAllowedCancelErr of the document's codeunit.
    """
    posting_date = str(row.get("postingDate") or "")
    if posting_date and not allowed(store, api, row.get("_company"), posting_date):
        raise dialog(CANCEL_NOT_ALLOWED[set_name])
