"""Contract: `send` of sales documents and `cancel` of purchase credit memos answer as BC does.

Each test names its source. `AL:` paths are in StefanMaron/MSDyn365BC.Code.History:
- SALES-INVOICES: APIV2/Source/_Exclude_APIV2_/src/pages/APIV2SalesInvoices.Page.al (index id
  1475919947; @02a8df41 alike): Send, SendDraftInvoice, SendPostedInvoice, SendCanceledInvoice
- SALES-QUOTES: APIV2/Source/_Exclude_APIV2_/src/pages/APIV2SalesQuotes.Page.al @05d57db6 (Send)
- SALES-CR-MEMOS: APIV2/Source/_Exclude_APIV2_/src/pages/APIV2SalesCreditMemos.Page.al @406aa00d
  (Send, GetPostedCreditMemo, PostedCreditMemoActionErr)
- SEND-DOC: APIV2/Source/_Exclude_APIV2_/src/codeunits/APIV2SendSalesDocument.Codeunit.al
  @85acda4e (SendQuote -> SendDocument, CheckDocumentIfNoItemsExists, SendCreditMemo)
- SETUP-EMAIL: codeunit 2135 "O365 Setup Email" CheckMailSetup (index id 9812467483)
- PURCH-CR-MEMOS: APIV2/Source/_Exclude_APIV2_/src/pages/APIV2PurchaseCreditMemos.Page.al
  @3da3569a (Cancel, GetPostedCreditMemo, CheckCreditMemoCanBeCancelled, AlreadyCancelledErr)
- CANCEL-PURCH: BaseApp/Source/Base Application/Purchases/History/
  CancelPostedPurchCrMemo.Codeunit.al @9d4008cf (codeunit 1402: TestCorrectCrMemoIsAllowed,
  ErrorHelperHeader, OnRun posts a copied invoice through Purch.-Post and commits)
An AL `Error(...)` reaches the client as 400 `Application_DialogException` with the label's text.
The emulator has no e-mail account, as a new BC company has none until one is set up.
"""

from __future__ import annotations

from typing import Any

import pytest
from bc_answers import DIALOG, created, error_of, first, rows

MAIL = "An email account must be configured to send emails."
NOT_CORRECTIVE = (
    "You cannot cancel this posted purchase credit memo because it is not a corrective document."
)


@pytest.fixture(scope="module")
def bc(start_emulator):
    """A small emulator of its own: these tests post, cancel and edit documents."""
    return start_emulator(seed=37, scale=0.3)


def act(bc, entity_set: str, key: str, action: str):
    return bc.request("POST", bc.company_url(f"{entity_set}({key})/Microsoft.NAV.{action}"))


def draft(bc, entity_set: str, lines: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {"customerNumber": first(bc, "customers")["number"]}
    if lines:
        item = first(bc, "items")["number"]
        body[f"{entity_set[:-1]}Lines"] = [{"lineObjectNumber": item, "quantity": 1}]
    return created(bc.request("POST", bc.company_url(entity_set), json=body))


def edit(bc, entity_set: str, row_id: str, changes: dict[str, Any]) -> None:
    """Change a row as BC's client could (the emulator's edit hook)."""
    bc.hook("POST", "edit", {"entity_set": entity_set, "ids": [row_id], "changes": changes})


def open_period(bc) -> tuple[str, str]:
    """General Ledger Setup's Allow Posting From..To (empty ends open)."""
    setup = first(bc, "generalLedgerSetup")
    start = setup["allowPostingFrom"] or "0001-01-01"
    end = setup["allowPostingTo"]
    return start, "9999-12-31" if end in (None, "", "0001-01-01") else end


def posted_purchase_credit_memo(bc) -> dict[str, Any]:
    """A seeded posted purchase credit memo dated in the open posting period (none are posted here).

    A memo dated outside General Ledger Setup's Allow Posting From..To would be refused first
    with codeunit 1402's PostingNotAllowedCancelErr.
    """
    start, end = open_period(bc)
    posted = "(status eq 'Open' or status eq 'Paid')"
    dated = f"postingDate ge {start} and postingDate le {end}"
    return first(bc, "purchaseCreditMemos", **{"$filter": f"{posted} and {dated}"})


def test_send_of_a_draft_invoice_without_lines_asks_for_a_line(bc):
    """A draft invoice without lines: codeunit 30038's ThereIsNothingToSellInvoiceErr.

    Source: SALES-INVOICES Send -> GetDraftInvoice -> SendDraftInvoice, whose first call is
    APIV2SendSalesDocument.CheckDocumentIfNoItemsExists (SEND-DOC: Invoice ->
    `Please add at least one line item to the invoice.`).
    """
    invoice = draft(bc, "salesInvoices", lines=False)
    assert error_of(act(bc, "salesInvoices", invoice["id"], "send")) == (
        400,
        DIALOG,
        "Please add at least one line item to the invoice.",
    )


def test_send_of_an_invoice_needs_an_email_account(bc):
    """A draft invoice with lines, and a posted one: `An email account must be configured ...`.

    Sources: SALES-INVOICES SendDraftInvoice and SendPostedInvoice both run
    O365SetupEmail.CheckMailSetup before anything is e-mailed; SETUP-EMAIL: `if not
    EmailAccount.IsAnyAccountRegistered() then Error(MailNotConfiguredErr)`. The invoice stays
    as it was (an AL error reverts the call).
    """
    invoice = draft(bc, "salesInvoices")
    assert error_of(act(bc, "salesInvoices", invoice["id"], "send")) == (400, DIALOG, MAIL)
    assert act(bc, "salesInvoices", invoice["id"], "post").status_code == 204
    assert error_of(act(bc, "salesInvoices", invoice["id"], "send")) == (400, DIALOG, MAIL)
    read = bc.get(bc.company_url(f"salesInvoices({invoice['id']})")).json()
    assert read["status"] == "Open"


def test_send_of_a_quote_asks_for_a_line_then_for_an_email_account(bc):
    """A quote without lines: ThereIsNothingToSellErr; with lines: MailNotConfiguredErr.

    Sources: SALES-QUOTES Send -> SEND-DOC SendQuote -> SendDocument (`if not SalesHeader.
    SalesLinesExist() then Error(ThereIsNothingToSellErr)` = `Please add at least one line item
    to the document.`, then CheckMailSetup); SETUP-EMAIL. The quote's sentDate stays empty.
    """
    empty = draft(bc, "salesQuotes", lines=False)
    assert error_of(act(bc, "salesQuotes", empty["id"], "send")) == (
        400,
        DIALOG,
        "Please add at least one line item to the document.",
    )
    quote = draft(bc, "salesQuotes")
    assert error_of(act(bc, "salesQuotes", quote["id"], "send")) == (400, DIALOG, MAIL)
    read = bc.get(bc.company_url(f"salesQuotes({quote['id']})")).json()
    assert (read["status"], read["sentDate"]) == (quote["status"], quote["sentDate"])


def test_send_of_a_credit_memo_needs_a_posted_one_and_an_email_account(bc):
    """A draft credit memo: PostedCreditMemoActionErr; a posted one: MailNotConfiguredErr.

    Sources: SALES-CR-MEMOS Send -> GetPostedCreditMemo (`The action can be applied to a posted
    credit memo only.`) -> SEND-DOC SendCreditMemo -> SendPostedCreditMemo -> CheckMailSetup.
    """
    memo = draft(bc, "salesCreditMemos")
    assert error_of(act(bc, "salesCreditMemos", memo["id"], "send")) == (
        400,
        DIALOG,
        "The action can be applied to a posted credit memo only.",
    )
    assert act(bc, "salesCreditMemos", memo["id"], "post").status_code == 204
    assert error_of(act(bc, "salesCreditMemos", memo["id"], "send")) == (400, DIALOG, MAIL)


def test_send_of_a_cancelled_credit_memo_is_only_queued(bc):
    """A cancelled credit memo: 204, the e-mail is left to a job queue entry.

    Sources: SEND-DOC SendCreditMemo (`if IsCreditMemoCancelled(...) then
    SendCancelledCreditMemoInBackground`: Job Queue - Enqueue, no mail check now); SALES-CR-MEMOS
    Send answers with the memo's key, result code Deleted -> 204. A cancelled credit memo is made
    here by cancelling a posted invoice (its Corrective memo) and then the memo.
    """
    invoice = draft(bc, "salesInvoices")
    assert act(bc, "salesInvoices", invoice["id"], "post").status_code == 204
    assert act(bc, "salesInvoices", invoice["id"], "cancel").status_code == 204
    [memo] = rows(bc, "salesCreditMemos", **{"$filter": f"invoiceId eq {invoice['id']}"})
    assert act(bc, "salesCreditMemos", memo["id"], "cancel").status_code == 204
    response = act(bc, "salesCreditMemos", memo["id"], "send")
    assert (response.status_code, response.content) == (204, b"")


def test_cancel_of_a_purchase_credit_memo_is_refused_unless_it_is_corrective(bc):
    """Draft, non-corrective and blocked-vendor purchase credit memos are refused in BC's words.

    Sources: PURCH-CR-MEMOS GetPostedCreditMemo (PostedCreditMemoActionErr); CANCEL-PURCH
    TestCorrectCrMemoIsAllowed: TestIfVendorIsBlocked (Blocked = All -> VendorIsBlockedCancelErr
    with the pay-to vendor's Name) before TestIfCrMemoIsCorrectiveDoc (NotCorrectiveDocErr).
    """
    vendor_number = first(bc, "vendors")["number"]
    body = {"vendorNumber": vendor_number}
    new = created(bc.request("POST", bc.company_url("purchaseCreditMemos"), json=body))
    assert error_of(act(bc, "purchaseCreditMemos", new["id"], "cancel")) == (
        400,
        DIALOG,
        "The action can be applied to a posted credit memo only.",
    )
    memo = posted_purchase_credit_memo(bc)
    assert error_of(act(bc, "purchaseCreditMemos", memo["id"], "cancel")) == (
        400,
        DIALOG,
        NOT_CORRECTIVE,
    )
    vendor = first(bc, "vendors", **{"$filter": f"number eq '{memo['payToVendorNumber']}'"})
    name = vendor["displayName"]
    edit(bc, "vendors", vendor["id"], {"blocked": "All"})
    try:
        assert error_of(act(bc, "purchaseCreditMemos", memo["id"], "cancel")) == (
            400,
            DIALOG,
            f"You cannot cancel this posted purchase credit memo because vendor {name} is blocked.",
        )
    finally:
        edit(bc, "vendors", vendor["id"], {"blocked": vendor["blocked"]})


def test_cancel_of_a_corrective_purchase_credit_memo_posts_an_invoice(bc):
    """A Corrective memo: 204, a posted Corrective purchase invoice copied from it, it Canceled.

    Sources: CANCEL-PURCH OnRun (CreateCopyDocument into a purchase invoice, Vendor Invoice No. :=
    its No., Purch.-Post, SetTrackInfoForCancellation); PURCH-CR-MEMOS Cancel (204) and
    AlreadyCancelledErr for a second cancel. The API cannot make a Corrective purchase credit
    memo, so the test sets one through the emulator's edit hook.
    """
    memo = posted_purchase_credit_memo(bc)
    edit(bc, "purchaseCreditMemos", memo["id"], {"status": "Corrective"})
    before = {row["id"] for row in bc.get_all(bc.company_url("purchaseInvoices"))}
    response = act(bc, "purchaseCreditMemos", memo["id"], "cancel")
    assert (response.status_code, response.content) == (204, b""), response.text
    read = bc.get(bc.company_url(f"purchaseCreditMemos({memo['id']})")).json()
    assert read["status"] == "Canceled"
    [invoice] = [r for r in bc.get_all(bc.company_url("purchaseInvoices")) if r["id"] not in before]
    assert invoice["status"] == "Corrective"
    assert invoice["vendorInvoiceNumber"] == invoice["number"]
    assert invoice["vendorNumber"] == memo["vendorNumber"]
    assert invoice["totalAmountIncludingTax"] == memo["totalAmountIncludingTax"]
    assert error_of(act(bc, "purchaseCreditMemos", memo["id"], "cancel")) == (
        400,
        DIALOG,
        "The credit memo cannot be cancelled because it has already been canceled.",
    )


def test_a_purchase_credit_memo_cancel_inside_an_atomic_batch_commits(bc):
    """Cancelling a purchase credit memo posts an invoice and commits, as a post does.

    Sources: CANCEL-PURCH OnRun (`CODEUNIT.Run(CODEUNIT::"Purch.-Post", PurchHeader); ...
    Commit();`); Microsoft Learn use-odata-batch.md @136c4ff1 ("for each commit, the transaction
    is committed, and a new one is started"): the failing operation after it does not undo it.
    A posted memo is made Corrective and dated in the open period through the edit hook.
    """
    memo = first(bc, "purchaseCreditMemos", **{"$filter": "status eq 'Open' or status eq 'Paid'"})
    start, end = open_period(bc)
    date = start if start != "0001-01-01" else min(end, "2025-01-01")
    edit(bc, "purchaseCreditMemos", memo["id"], {"status": "Corrective", "postingDate": date})
    company = f"companies({bc.companies[0]['id']})"
    ops = [
        {
            "id": "cancel",
            "method": "POST",
            "url": f"{company}/purchaseCreditMemos({memo['id']})/Microsoft.NAV.cancel",
        },
        {"id": "bad", "method": "POST", "url": f"{company}/customers", "body": {"bogus": 1}},
    ]
    response = bc.request(
        "POST",
        f"{bc.api_root()}/$batch",
        json={"requests": ops},
        headers={"Isolation": "snapshot"},
    )
    answers = response.json()["responses"]
    assert [(a["id"], a["status"]) for a in answers] == [("cancel", 204), ("bad", 400)]
    read = bc.get(bc.company_url(f"purchaseCreditMemos({memo['id']})")).json()
    assert read["status"] == "Canceled"


def read(bc, entity_set: str, key: str) -> dict[str, Any]:
    return bc.get(bc.company_url(f"{entity_set}({key})")).json()


@pytest.mark.parametrize("entity_set", ["salesInvoices", "salesCreditMemos"])
def test_post_and_send_posts_then_is_refused_by_the_send(bc, entity_set):
    """PostAndSend posts and commits, then its send needs an e-mail account BC does not have.

    Sources (StefanMaron/MSDyn365BC.Code.History): APIV2SalesInvoices.Page.al (newest stored,
    index id 1475919947) PostAndSend: PostInvoice; Commit(); SendPostedInvoice ->
    O365SetupEmail.CheckMailSetup (MailNotConfiguredErr, codeunit 2135, index id 9812467483);
    APIV2SalesCreditMemos.Page.al @406aa00d PostAndSend alike. The answer is the send's
    refusal while the document stays posted.
    """
    document = draft(bc, entity_set)
    assert error_of(act(bc, entity_set, document["id"], "postAndSend")) == (400, DIALOG, MAIL)
    assert read(bc, entity_set, document["id"])["status"] == "Open"


def test_cancel_and_send_cancels_then_is_refused_by_the_send(bc):
    """CancelAndSend of an invoice cancels it (the corrective credit memo is posted, and posting
    commits), then SendCanceledInvoice's CheckMailSetup refuses.

    Sources: APIV2SalesInvoices.Page.al (index id 1475919947) CancelAndSend: CancelInvoice;
    SendCanceledInvoice -> CheckMailSetup; codeunit 1303 "Correct Posted Sales Invoice" posts the
    credit memo through Sales-Post, which commits.
    """
    invoice = draft(bc, "salesInvoices")
    assert act(bc, "salesInvoices", invoice["id"], "post").status_code == 204
    answer = act(bc, "salesInvoices", invoice["id"], "cancelAndSend")
    assert error_of(answer) == (400, DIALOG, MAIL)
    assert read(bc, "salesInvoices", invoice["id"])["status"] == "Canceled"


def test_post_and_send_in_an_atomic_batch_keeps_the_post_it_committed(bc):
    """Inside `Isolation: snapshot` the post's commit survives the send's refusal.

    Sources: use-odata-batch.md (each commit ends the batch's transaction); PostAndSend's
    explicit Commit() before SendPostedInvoice (APIV2SalesInvoices.Page.al, index id 1475919947).
    """
    invoice = draft(bc, "salesInvoices")
    company = bc.companies[0]["id"]
    ops = [
        {
            "id": "1",
            "method": "POST",
            "url": f"companies({company})/salesInvoices({invoice['id']})/Microsoft.NAV.postAndSend",
        }
    ]
    answer = bc.request(
        "POST",
        f"{bc.api_root()}/$batch",
        json={"requests": ops},
        headers={"Isolation": "snapshot"},
    )
    (entry,) = answer.json()["responses"]
    assert entry["status"] == 400
    assert entry["body"]["error"]["message"].startswith(MAIL)
    assert read(bc, "salesInvoices", invoice["id"])["status"] == "Open"
