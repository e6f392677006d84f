"""The `send` actions of salesInvoices, salesQuotes and salesCreditMemos: refused before e-mail.

What BC does (StefanMaron/MSDyn365BC.Code.History):
- APIV2/Source/_Exclude_APIV2_/src/pages/APIV2SalesInvoices.Page.al (index id 1475919947, the
  newest stored; @02a8df41 alike): Send of a draft runs SendDraftInvoice
  (APIV2SendSalesDocument.CheckDocumentIfNoItemsExists, then O365SetupEmail.CheckMailSetup, then
  CheckSendToEmailAddress, then EmailRecords); of a posted or canceled one SendPostedInvoice /
  SendCanceledInvoice, which start with CheckMailSetup too.
- APIV2SalesQuotes.Page.al @05d57db6 Send -> APIV2SendSalesDocument.SendQuote -> SendDocument: no
  lines -> ThereIsNothingToSellErr, then CheckMailSetup.
- APIV2SalesCreditMemos.Page.al @406aa00d Send: GetPostedCreditMemo (PostedCreditMemoActionErr
  for a draft), then SendCreditMemo: a cancelled credit memo is only queued (a Job Queue Entry
  runs the e-mail later: SendCancelledCreditMemoInBackground), another one runs CheckMailSetup.
- APIV2/Source/_Exclude_APIV2_/src/codeunits/APIV2SendSalesDocument.Codeunit.al @85acda4e
  (codeunit 30038: labels ThereIsNothingToSellErr, ThereIsNothingToSellInvoiceErr).
- codeunit 2135 "O365 Setup Email" CheckMailSetup (index id 9812467483): `if not EmailAccount.
  IsAnyAccountRegistered() then Error(MailNotConfiguredErr)`.
- codeunit 1320 "Lines Instruction Mgt." (index id 984137333, newest): the zero-quantity check
  only asks a question `if ... GuiAllowed()`, which an API call is not: nothing to model.

Simplified: the emulator has no e-mail account (a new BC company has none until one is set up
in the client), so every send that reaches CheckMailSetup is refused with its label and nothing
is ever e-mailed; the send-to address check that follows is never reached. Sending a cancelled
credit memo answers 204 as BC does, but no Job Queue Entry is recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from businesscentral_emulator.rules import documents as docs
from businesscentral_emulator.rules.validation import dialog

if TYPE_CHECKING:
    from businesscentral_emulator.odata.edmx import ApiModel
    from businesscentral_emulator.odata.errors import BusinessCentralError
    from businesscentral_emulator.store.sqlite import Store

SEND = "send"
MAIL_NOT_CONFIGURED = "An email account must be configured to send emails."
# A draft without lines: the label of the check each page's send runs first.
NOTHING_TO_SEND = {
    "salesInvoices": "Please add at least one line item to the invoice.",
    "salesQuotes": "Please add at least one line item to the document.",
}
SENDING_SETS = frozenset({*NOTHING_TO_SEND, "salesCreditMemos"})
# Actions that commit their post or cancel, then send: BC's PostAndSend / CancelAndSend run the
# post (Sales-Post commits; PostAndSend also calls Commit()) or the cancel (a posted corrective
# credit memo) before the send's CheckMailSetup, so without an e-mail account they answer its
# refusal with the document already posted or cancelled. salesCreditMemos cancelAndSend only
# queues its e-mail (SendCancelledCreditMemoInBackground) and succeeds.
SENDS_AFTER_COMMIT = frozenset(
    {
        ("salesInvoices", "postAndSend"),
        ("salesInvoices", "cancelAndSend"),
        ("salesCreditMemos", "postAndSend"),
    }
)
DRAFT_CREDIT_MEMO = "The action can be applied to a posted credit memo only."
_CANCELED = "Canceled"


def check_send(store: Store, api: ApiModel, set_name: str, row: dict[str, Any]) -> None:
    """Refuse `send` as BC does without an e-mail account; return where BC only queues it.

    Raises:
        BusinessCentralError: A draft credit memo, a draft without lines, or no e-mail account.
    """
    posted = docs.is_posted(set_name, row)
    if set_name == "salesCreditMemos":
        if not posted:
            raise dialog(DRAFT_CREDIT_MEMO)
        if row.get("status") == _CANCELED:
            return  # SendCancelledCreditMemoInBackground: queued, checked when the job runs
    elif not posted and not docs.has_lines(store, api, set_name, str(row["id"])):
        raise dialog(NOTHING_TO_SEND[set_name])
    raise dialog(MAIL_NOT_CONFIGURED)


def refuse_send_after_commit() -> BusinessCentralError:
    """The send half of PostAndSend / CancelAndSend, once the post or cancel is committed."""
    return dialog(MAIL_NOT_CONFIGURED)
