"""Contract: corrections of posted invoices, payments and their posting answer as BC does.

Each test names its source. `AL:` paths are in StefanMaron/MSDyn365BC.Code.History:
- SALES-INVOICES: APIV2/Source/_Exclude_APIV2_/src/pages/APIV2SalesInvoices.Page.al @02a8df41
  (Cancel, CancelAndSend, MakeCorrectiveCreditMemo, CheckInvoiceCanBeCanceled, GetRemainingAmount)
- CORRECT: BaseApp/Source/Base Application/Sales/History/CorrectPostedSalesInvoice.Codeunit.al
  @0b1be9d5501f950379661f3fb2ea996a28d1b57d (codeunit 1303: TestCorrectInvoiceIsAllowed,
  ErrorHelperHeader, OnRun posts the corrective credit memo)
- STATUS: Sales Invoice Aggregator SetStatusOptionFromSalesInvoiceHeader (Canceled, Corrective,
  Paid when Closed, else Open) and table 112 Sales Invoice Header (Closed, Cancelled flowfields)
- CUST-PAYMENTS: APIV2/Source/_Exclude_APIV2_/src/pages/APIV2CustomerPayments.Page.al @6098c9c0
- VEND-PAYMENTS: APIV2/Source/_Exclude_APIV2_/src/pages/APIV2VendorPayments.Page.al @05d57db6
- JOURNALS: APIV2/Source/_Exclude_APIV2_/src/pages/APIV2Journals.Page.al @06a21a8c
An AL `Error(...)` reaches the client as 400 `Application_DialogException` with the label's text.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from bc_answers import DIALOG, error_of, first

EMPTY_GUID = "00000000-0000-0000-0000-000000000000"
CANCEL_PAID = (
    "You cannot cancel this posted sales invoice because it is fully or partially paid."
    "\\\\To reverse a paid sales invoice, you must manually create a sales credit memo."
)
PARTLY_PAID = (
    "The invoice is partially paid or credited. The corrective credit memo may not be fully"
    " closed by the invoice."
)
CLOSED_PERIOD = (
    "You cannot cancel this posted sales invoice because it was posted in a posting period that"
    " is closed."
)
NOT_AN_INVOICE = (
    'The "appliesToInvoiceId" should be the ID of an Open, Paid, Corrective, or Canceled Invoice.'
)


@pytest.fixture(scope="module")
def bc(start_emulator):
    """A small emulator of its own: these tests post, cancel and pay documents."""
    return start_emulator(seed=31, scale=0.1)


def get(bc, path: str) -> dict[str, Any]:
    response = bc.get(bc.company_url(path))
    assert response.status_code == 200, response.text
    return response.json()


def create(bc, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = bc.request("POST", bc.company_url(path), json=body)
    assert response.status_code == 201, response.text
    return response.json()


def act(bc, entity_set: str, key: str, action: str):
    return bc.request("POST", bc.company_url(f"{entity_set}({key})/Microsoft.NAV.{action}"))


def posted_invoice(bc, quantity: int = 2) -> dict[str, Any]:
    item = first(bc, "items")["number"]
    draft = create(
        bc,
        "salesInvoices",
        {
            "customerNumber": first(bc, "customers")["number"],
            "salesInvoiceLines": [{"lineObjectNumber": item, "quantity": quantity}],
        },
    )
    assert act(bc, "salesInvoices", draft["id"], "post").status_code == 204
    return get(bc, f"salesInvoices({draft['id']})")


def posted_purchase_invoice(bc) -> dict[str, Any]:
    item = first(bc, "items")["number"]
    draft = create(
        bc,
        "purchaseInvoices",
        {
            "vendorNumber": first(bc, "vendors")["number"],
            "purchaseInvoiceLines": [{"lineObjectNumber": item, "quantity": 3}],
        },
    )
    assert act(bc, "purchaseInvoices", draft["id"], "post").status_code == 204
    return get(bc, f"purchaseInvoices({draft['id']})")


def memos_of(bc, invoice: dict[str, Any]) -> list[dict[str, Any]]:
    url = bc.company_url("salesCreditMemos")
    response = bc.get(url, params={"$filter": f"invoiceId eq {invoice['id']}"})
    return response.json()["value"]


def test_a_draft_invoice_owes_its_amount_including_tax(bc):
    """remainingAmount of a draft is its Amount Including VAT; of a posted one, what is open.

    Source: SALES-INVOICES GetRemainingAmount (`RemainingAmountVar := "Amount Including VAT"`;
    posted: SalesInvoiceHeader.GetRemainingAmount(); canceled: 0).
    """
    item = first(bc, "items")["number"]
    draft = create(
        bc,
        "salesInvoices",
        {
            "customerNumber": first(bc, "customers")["number"],
            "salesInvoiceLines": [{"lineObjectNumber": item, "quantity": 1, "unitPrice": 10}],
        },
    )
    assert draft["status"] == "Draft"
    assert Decimal(str(draft["remainingAmount"])) == Decimal(str(draft["totalAmountIncludingTax"]))
    assert Decimal(str(draft["remainingAmount"])) > 0


def test_cancel_posts_a_corrective_credit_memo_and_the_invoice_is_canceled(bc):
    """cancel: 204; a posted credit memo applied to the invoice; the invoice Canceled, owing 0.

    Sources: SALES-INVOICES Cancel (GetPostedInvoice, CancelInvoice -> codeunit 1303, answer with
    the invoice's key, result code Deleted -> 204) and GetRemainingAmount (canceled: 0); CORRECT
    OnRun (CreateCopyDocument of the invoice into a Credit Memo applied to it, Sales-Post,
    SetTrackInfoForCancellation: a Cancelled Document row); STATUS: the invoice is Canceled; the
    credit memo's own Corrective flowfield (Sales Cr.Memo Header: Source ID 112 cancelled by it)
    makes it Corrective. A second cancel: `The invoice cannot be canceled because it has already
    been canceled.` (SALES-INVOICES AlreadyCanceledErr, checked before codeunit 1303).
    """
    invoice = posted_invoice(bc)
    response = act(bc, "salesInvoices", invoice["id"], "cancel")
    assert (response.status_code, response.content) == (204, b"")
    canceled = get(bc, f"salesInvoices({invoice['id']})")
    assert (canceled["status"], Decimal(str(canceled["remainingAmount"]))) == ("Canceled", 0)
    [memo] = memos_of(bc, invoice)
    assert (memo["status"], memo["invoiceNumber"]) == ("Corrective", invoice["number"])
    assert memo["customerNumber"] == invoice["customerNumber"]
    assert memo["totalAmountIncludingTax"] == invoice["totalAmountIncludingTax"]
    lines = get(bc, f"salesCreditMemos({memo['id']})/salesCreditMemoLines")["value"]
    assert [line["quantity"] for line in lines] == [2]
    again = act(bc, "salesInvoices", invoice["id"], "cancelAndSend")
    assert error_of(again) == (
        400,
        DIALOG,
        "The invoice cannot be canceled because it has already been canceled.",
    )


def test_a_paid_invoice_cannot_be_canceled(bc):
    """cancel of a (partly) paid invoice: codeunit 1303's PostedInvoiceIsPaidCancelErr.

    Sources: CORRECT TestIfInvoiceIsPaid (`"Amount Including VAT" <> "Remaining Amount"` ->
    ErrorHelperHeader IsPaid -> PostedInvoiceIsPaidCancelErr when cancelling). The label holds
    AL's `\\\\` as written; how BC renders it over the API is unconfirmed.
    """
    invoice = posted_invoice(bc)
    journal = first(bc, "customerPaymentJournals")
    create(
        bc,
        f"customerPaymentJournals({journal['id']})/customerPayments",
        {"appliesToInvoiceId": invoice["id"], "amount": -1},
    )
    assert act(bc, "journals", journal["id"], "post").status_code == 204
    assert error_of(act(bc, "salesInvoices", invoice["id"], "cancel")) == (
        400,
        DIALOG,
        CANCEL_PAID,
    )


def test_make_corrective_credit_memo_creates_a_draft_applied_to_the_invoice(bc):
    """makeCorrectiveCreditMemo: 204 and a DRAFT credit memo copied from the invoice.

    Sources: SALES-INVOICES MakeCorrectiveCreditMemo (InvoicePartiallyPaidErr / InvoiceClosedErr
    when "Amount Including VAT" <> "Remaining Amount"; CreateCreditMemoCopyDocument; answer with
    the credit memo's key on APIV2 - Sales Credit Memos, result code Deleted -> 204); CORRECT
    CreateCreditMemoCopyDocument (no posting: the credit memo stays a draft).
    """
    invoice = posted_invoice(bc, quantity=3)
    response = act(bc, "salesInvoices", invoice["id"], "makeCorrectiveCreditMemo")
    assert (response.status_code, response.content) == (204, b"")
    [memo] = memos_of(bc, invoice)
    assert (memo["status"], memo["invoiceNumber"]) == ("Draft", invoice["number"])
    assert memo["totalAmountIncludingTax"] == invoice["totalAmountIncludingTax"]
    assert get(bc, f"salesInvoices({invoice['id']})")["status"] == "Open"
    canceled = posted_invoice(bc)
    assert act(bc, "salesInvoices", canceled["id"], "cancel").status_code == 204
    assert error_of(act(bc, "salesInvoices", canceled["id"], "makeCorrectiveCreditMemo")) == (
        400,
        DIALOG,
        "The invoice is closed. The corrective credit memo will not be applied to the invoice.",
    )
    partly = posted_invoice(bc)
    journal = first(bc, "customerPaymentJournals")
    create(
        bc,
        f"customerPaymentJournals({journal['id']})/customerPayments",
        {"appliesToInvoiceNumber": partly["number"], "amount": -1},
    )
    assert act(bc, "journals", journal["id"], "post").status_code == 204
    assert error_of(act(bc, "salesInvoices", partly["id"], "makeCorrectiveCreditMemo")) == (
        400,
        DIALOG,
        PARTLY_PAID,
    )


def test_a_payment_takes_number_and_customer_from_the_invoice_it_applies_to(bc):
    """appliesToInvoiceId names a posted invoice: its number and bill-to customer follow.

    Sources: CUST-PAYMENTS appliesToInvoiceId OnValidate (GetSalesInvoiceHeaderFromId; number :=
    the invoice's No.; with no customer yet, "Account No." := Bill-to (else Sell-to) Customer No.)
    and InitializeLine's Line No.; Graph Mgt - Journal Lines.SetPaymentsValues validates the
    Account No. (Gen. Journal Line GetCustomerAccount: Description := the customer's name) before
    a sent non-blank description.
    """
    invoice = posted_invoice(bc)
    journal = first(bc, "customerPaymentJournals")
    payment = create(
        bc,
        f"customerPaymentJournals({journal['id']})/customerPayments",
        {"appliesToInvoiceId": invoice["id"], "amount": -5},
    )
    customer = get(bc, f"customers({invoice['customerId']})")
    assert payment["appliesToInvoiceNumber"] == invoice["number"]
    assert (payment["customerNumber"], payment["customerId"]) == (
        invoice["billToCustomerNumber"],
        customer["id"],
    )
    assert payment["description"] == customer["displayName"]
    assert payment["journalDisplayName"] == journal["code"]
    assert payment["lineNumber"] > 0
    by_number = create(
        bc,
        f"customerPaymentJournals({journal['id']})/customerPayments",
        {"appliesToInvoiceNumber": invoice["number"], "description": "Mine"},
    )
    assert (by_number["appliesToInvoiceId"], by_number["description"]) == (invoice["id"], "Mine")
    unknown = create(
        bc,
        f"customerPaymentJournals({journal['id']})/customerPayments",
        {"customerNumber": customer["number"], "appliesToInvoiceNumber": "NO-SUCH"},
    )
    assert (unknown["appliesToInvoiceId"], unknown["appliesToInvoiceNumber"]) == (
        EMPTY_GUID,
        "NO-SUCH",
    )


def test_payments_refuse_unknown_parties_drafts_and_mismatches_in_the_pages_words(bc):
    """The payment pages' labels, word for word.

    Sources: CUST-PAYMENTS CustomerIdDoesNotMatchACustomerErr,
    CustomerNumberDoesNotMatchACustomerErr, CustomerValuesDontMatchErr,
    AppliesToInvoiceIdDoesNotMatchAnInvoiceErr (a draft is not in Sales Invoice Header),
    AppliesToDocValuesDontMatchErr, FiltersNotSpecifiedErr (OnInsertRecord without a journal),
    JournalBatchIdNameNotMatchErr (a body journalId other than the URL's journal);
    VEND-PAYMENTS the vendor labels.
    """
    journal = first(bc, "customerPaymentJournals")
    url = f"customerPaymentJournals({journal['id']})/customerPayments"
    customers = bc.get(bc.company_url("customers"), params={"$top": 2}).json()["value"]
    invoice = posted_invoice(bc)
    draft = create(bc, "salesInvoices", {"customerNumber": customers[0]["number"]})
    cases = [
        ({"customerId": "11111111-1111-1111-1111-111111111111"},
         'The "customerId" does not match to a Customer.'),
        ({"customerNumber": "NO-SUCH"}, 'The "customerNumber" does not match to a Customer.'),
        ({"customerId": customers[0]["id"], "customerNumber": customers[1]["number"]},
         "The customer values do not match to a specific Customer."),
        ({"appliesToInvoiceId": draft["id"]},
         NOT_AN_INVOICE),
        ({"appliesToInvoiceId": invoice["id"], "appliesToInvoiceNumber": "OTHER"},
         "The Applies To Invoice values do not match to the same Invoice."),
    ]  # fmt: skip
    for body, label in cases:
        response = bc.request("POST", bc.company_url(url), json=body)
        assert response.status_code == 400, body
        assert error_of(response) == (400, DIALOG, label), body
    other = bc.get(bc.company_url("customerPaymentJournals"), params={"$top": 2}).json()["value"][1]
    elsewhere = bc.request("POST", bc.company_url(url), json={"journalId": other["id"]})
    assert error_of(elsewhere) == (
        400,
        DIALOG,
        "The Journal Id and Journal Display Name do not match.",
    )
    orphan = bc.request("POST", bc.company_url("customerPayments"), json={"amount": -1})
    assert error_of(orphan) == (
        400,
        DIALOG,
        "You must specify a journal batch ID or a journal ID to get a journal line.",
    )
    vendor_journal = first(bc, "vendorPaymentJournals")
    response = bc.request(
        "POST",
        bc.company_url(f"vendorPaymentJournals({vendor_journal['id']})/vendorPayments"),
        json={"vendorNumber": "NO-SUCH"},
    )
    assert error_of(response) == (400, DIALOG, 'The "vendorNumber" does not match to a Vendor.')


def test_posting_a_payment_journal_pays_the_invoices_it_applies_to(bc):
    """journals(<payment journal id>)/post posts its payments: the invoice is Paid, owes 0.

    Sources: JOURNALS OnFindRecord (an id filter: GetBySystemId of any Gen. Journal Batch) and
    post (PostBatch: Gen. Jnl.-Post of the batch's lines; none -> `There is nothing to post.`;
    answer 204); STATUS (Closed -> Paid) and SALES-INVOICES GetRemainingAmount; the payment
    lines leave the journal and G/L entries carry the payment's document number (simplified:
    one entry against receivables or payables, one against the journal's balancing account).
    """
    invoice = posted_invoice(bc)
    journal = create(bc, "customerPaymentJournals", {"code": "PAYTEST", "displayName": "Test"})
    payments_url = f"customerPaymentJournals({journal['id']})/customerPayments"
    amount = -Decimal(str(invoice["totalAmountIncludingTax"]))
    create(
        bc,
        payments_url,
        {"appliesToInvoiceId": invoice["id"], "amount": float(amount), "documentNumber": "PAY1"},
    )
    assert act(bc, "journals", journal["id"], "post").status_code == 204
    paid = get(bc, f"salesInvoices({invoice['id']})")
    assert (paid["status"], Decimal(str(paid["remainingAmount"]))) == ("Paid", 0)
    assert get(bc, payments_url)["value"] == []
    entries = bc.get(
        bc.company_url("generalLedgerEntries"), params={"$filter": "documentNumber eq 'PAY1'"}
    ).json()["value"]
    debit = sum(Decimal(str(e["debitAmount"])) for e in entries)
    credit = sum(Decimal(str(e["creditAmount"])) for e in entries)
    assert debit == credit == -amount
    assert error_of(act(bc, "journals", journal["id"], "post")) == (
        400,
        DIALOG,
        "There is nothing to post.",
    )
    purchase = posted_purchase_invoice(bc)
    vendor_journal = first(bc, "vendorPaymentJournals")
    create(
        bc,
        f"vendorPaymentJournals({vendor_journal['id']})/vendorPayments",
        {
            "appliesToInvoiceNumber": purchase["number"],
            "amount": purchase["totalAmountIncludingTax"],
        },
    )
    assert act(bc, "journals", vendor_journal["id"], "post").status_code == 204
    assert get(bc, f"purchaseInvoices({purchase['id']})")["status"] == "Paid"


def test_only_a_corrective_credit_memo_can_be_canceled_and_it_takes_an_invoice(bc):
    """salesCreditMemos cancel: a Corrective credit memo becomes Canceled; a Corrective invoice.

    Sources: AL `APIV2/Source/_Exclude_APIV2_/src/pages/APIV2SalesCreditMemos.Page.al` @406aa00d
    (Cancel, CheckCreditMemoCanBeCancelled: AlreadyCancelledErr 'The credit memo cannot be
    cancelled because it has already been canceled.'); BaseApp codeunit 1339 `Cancel Posted
    Sales Cr. Memo` @0599fda7 (TestIfCrMemoIsCorrectiveDoc -> NotCorrectiveDocErr 'You cannot
    cancel this posted sales credit memo because it is not a corrective document.'; OnRun copies
    the credit memo into an invoice applied to it and posts it); STATUS: that invoice's
    Corrective flowfield (a Cancelled Document of Source ID 114 cancelled by it).
    """
    plain = create(
        bc,
        "salesCreditMemos",
        {
            "customerNumber": first(bc, "customers")["number"],
            "salesCreditMemoLines": [
                {"lineObjectNumber": first(bc, "items")["number"], "quantity": 1}
            ],
        },
    )
    assert act(bc, "salesCreditMemos", plain["id"], "post").status_code == 204
    assert error_of(act(bc, "salesCreditMemos", plain["id"], "cancel")) == (
        400,
        DIALOG,
        "You cannot cancel this posted sales credit memo because it is not a corrective document.",
    )
    invoice = posted_invoice(bc)
    assert act(bc, "salesInvoices", invoice["id"], "cancel").status_code == 204
    [memo] = memos_of(bc, invoice)
    response = act(bc, "salesCreditMemos", memo["id"], "cancel")
    assert (response.status_code, response.content) == (204, b"")
    assert get(bc, f"salesCreditMemos({memo['id']})")["status"] == "Canceled"
    corrective = bc.get(
        bc.company_url("salesInvoices"), params={"$filter": "status eq 'Corrective'"}
    ).json()["value"]
    assert [i["totalAmountIncludingTax"] for i in corrective] == [
        invoice["totalAmountIncludingTax"]
    ]
    assert error_of(act(bc, "salesCreditMemos", memo["id"], "cancelAndSend")) == (
        400,
        DIALOG,
        "The credit memo cannot be cancelled because it has already been canceled.",
    )


def test_posting_and_cancelling_stay_inside_the_allowed_posting_dates(bc):
    """A post dated outside Allow Posting From..To is refused; so is cancelling such a document.

    Sources: Sales-Post CheckAndUpdate (GenJnlCheckLine.IsDateNotAllowed → PostingDateNotAllowedErr
    '%1 is not within your range of allowed posting dates.', %1 = 'Posting Date'; Microsoft's
    posting test expects 'Posting Date is not within your range of allowed posting dates.');
    codeunit 11 Gen. Jnl.-Check Line DateNotAllowed (General Ledger Setup's Allow Posting From /
    To); CORRECT TestIfPostingIsAllowed → PostingNotAllowedCancelErr. The setup is changed
    through the emulator's edit hook, as an administrator would in BC's client
    (generalLedgerSetup is read-only in API v2.0).
    """
    invoice = posted_invoice(bc)
    setup = first(bc, "generalLedgerSetup")
    item = first(bc, "items")["number"]
    draft = create(
        bc,
        "salesInvoices",
        {
            "customerNumber": first(bc, "customers")["number"],
            "postingDate": "2001-01-31",
            "salesInvoiceLines": [{"lineObjectNumber": item, "quantity": 1}],
        },
    )
    assert error_of(act(bc, "salesInvoices", draft["id"], "post")) == (
        400,
        DIALOG,
        "Posting Date is not within your range of allowed posting dates.",
    )
    assert get(bc, f"salesInvoices({draft['id']})")["status"] == "Draft"
    bc.hook(
        "POST",
        "edit",
        {
            "entity_set": "generalLedgerSetup",
            "ids": [setup["id"]],
            "changes": {"allowPostingFrom": "9990-01-01"},
        },
    )
    try:
        assert error_of(act(bc, "salesInvoices", invoice["id"], "cancel")) == (
            400,
            DIALOG,
            CLOSED_PERIOD,
        )
    finally:
        bc.hook(
            "POST",
            "edit",
            {
                "entity_set": "generalLedgerSetup",
                "ids": [setup["id"]],
                "changes": {"allowPostingFrom": setup["allowPostingFrom"]},
            },
        )
    assert act(bc, "salesInvoices", invoice["id"], "cancel").status_code == 204


def test_a_payments_journal_cannot_be_changed(bc):
    """A payment's journalId may not move it to another journal.

    Source: StefanMaron/MSDyn365BC.Code.History P/APIV2CustomerPayments.Page.al @6098c9c0 and
    P/APIV2VendorPayments.Page.al @05d57db6: the journalId field's OnValidate,
    `The Journal Id cannot be changed.` when xRec's journal differs.
    """
    journals = bc.get(bc.company_url("customerPaymentJournals"), params={"$top": 2}).json()["value"]
    url = f"customerPaymentJournals({journals[0]['id']})/customerPayments"
    customer = first(bc, "customers")
    payment = create(bc, url, {"customerNumber": customer["number"], "amount": -1})
    moved = bc.request(
        "PATCH",
        bc.company_url(f"customerPayments({payment['id']})"),
        json={"journalId": journals[1]["id"]},
        headers={"If-Match": "*"},
    )
    assert error_of(moved) == (400, DIALOG, "The Journal Id cannot be changed.")
