"""Contract: posting, bound actions and document deletes answer as Business Central does.

Each test names its source. `AL:` paths are in StefanMaron/MSDyn365BC.Code.History:
- SALES-INVOICES: APIV2/Source/_Exclude_APIV2_/src/pages/APIV2SalesInvoices.Page.al @02a8df41
- SALES-CR-MEMOS: APIV2/Source/_Exclude_APIV2_/src/pages/APIV2SalesCreditMemos.Page.al @406aa00d
- AGGREGATOR: BaseApp/Source/Base Application/Integration/Entity/SalesInvoiceAggregator.Codeunit.al
  @c845a0c4974a573382204b27b5af2dd4397a6db6
An AL `Error(...)` reaches the client as 400 `Application_DialogException` with the label's text.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from bc_answers import DIALOG, error_of, first

# The posted series (as in CRONUS; see the first test's sources).
POSTED_NUMBER = {"salesInvoices": r"PS-INV1030\d\d", "purchaseInvoices": r"1080\d\d"}


@pytest.fixture(scope="module")
def bc(start_emulator):
    """A small emulator of its own: these tests post and delete documents."""
    return start_emulator(seed=29, scale=0.1)


def create(bc, entity_set: str, body: dict[str, Any]) -> dict[str, Any]:
    response = bc.request("POST", bc.company_url(entity_set), json=body)
    assert response.status_code == 201, response.text
    return response.json()


def sales_document(bc, entity_set: str, lines: str, count: int = 1) -> dict[str, Any]:
    item = first(bc, "items")["number"]
    body: dict[str, Any] = {"customerNumber": first(bc, "customers")["number"]}
    if count:
        body[lines] = [{"lineObjectNumber": item, "quantity": 2, "unitPrice": 7.5}] * count
    return create(bc, entity_set, body)


def purchase_invoice(bc) -> dict[str, Any]:
    item = first(bc, "items")["number"]
    return create(
        bc,
        "purchaseInvoices",
        {
            "vendorNumber": first(bc, "vendors")["number"],
            "purchaseInvoiceLines": [{"lineObjectNumber": item, "quantity": 3, "unitCost": 4}],
        },
    )


def act(bc, entity_set: str, document_id: str, action: str):
    url = bc.company_url(f"{entity_set}({document_id})/Microsoft.NAV.{action}")
    return bc.request("POST", url)


def test_posting_keeps_the_id_and_takes_the_posted_series_number(bc):
    """A posted invoice answers to the draft's id, with a number from the posted series.

    Sources: AGGREGATOR OnBeforeSalesInvHeaderInsert (the aggregate row is renamed to the posted
    No. and "Draft Invoice SystemId" := the draft's SystemId) and GetSalesInvoiceHeaderId; the
    post action answers 204 (SALES-INVOICES SetActionResponse: result code Deleted; Microsoft
    Learn v2.0 resources/dynamics_purchaseinvoice: "The response has no content; the response
    code is 204."). The series as in CRONUS: Microsoft Learn v2.0 api/dynamics_salesinvoice_get
    shows a posted sales invoice "PS-INV103001", api/dynamics_purchaseinvoice_get "108001".
    """
    numbers = []
    for _ in range(2):
        draft = sales_document(bc, "salesInvoices", "salesInvoiceLines")
        response = act(bc, "salesInvoices", draft["id"], "post")
        assert (response.status_code, response.content) == (204, b"")
        posted = bc.get(bc.company_url(f"salesInvoices({draft['id']})")).json()
        assert (posted["id"], posted["status"]) == (draft["id"], "Open")
        numbers.append(posted["number"])
    assert numbers == ["PS-INV103001", "PS-INV103002"]
    draft = purchase_invoice(bc)
    assert act(bc, "purchaseInvoices", draft["id"], "post").status_code == 204
    posted = bc.get(bc.company_url(f"purchaseInvoices({draft['id']})")).json()
    assert (posted["id"], posted["number"]) == (draft["id"], "108001")


def test_a_posted_invoice_and_its_lines_can_no_longer_be_modified(bc):
    """PATCH of a posted invoice, and a new line on it, answer BC's label word for word.

    Source: AGGREGATOR CannotModifyPostedInvioceErr 'The invoice has been posted and can no
    longer be modified.' (PropagateOnModify; VerifyCRUDIsPossibleForLine for lines); the same
    label in Purch. Inv. Aggregator; Graph Mgt - Sal. Cr. Memo Buf. CannotModifyPostedCrMemoErr
    'The credit memo has been posted and can no longer be modified.'.
    """
    invoice = sales_document(bc, "salesInvoices", "salesInvoiceLines")
    assert act(bc, "salesInvoices", invoice["id"], "post").status_code == 204
    url = bc.company_url(f"salesInvoices({invoice['id']})")
    label = "The invoice has been posted and can no longer be modified."
    patch = bc.request(
        "PATCH", url, json={"externalDocumentNumber": "X"}, headers={"If-Match": "*"}
    )
    assert error_of(patch) == (400, DIALOG, label)
    item = first(bc, "items")["number"]
    line = bc.request("POST", f"{url}/salesInvoiceLines", json={"lineObjectNumber": item})
    assert error_of(line) == (400, DIALOG, label)
    memo = sales_document(bc, "salesCreditMemos", "salesCreditMemoLines")
    assert act(bc, "salesCreditMemos", memo["id"], "post").status_code == 204
    memo_url = bc.company_url(f"salesCreditMemos({memo['id']})")
    patch = bc.request(
        "PATCH", memo_url, json={"externalDocumentNumber": "X"}, headers={"If-Match": "*"}
    )
    assert error_of(patch) == (
        400,
        DIALOG,
        "The credit memo has been posted and can no longer be modified.",
    )


def test_bound_actions_refuse_a_document_in_the_wrong_state(bc):
    """post needs a draft; cancel needs a posted document: the pages' labels, word for word.

    Sources: SALES-INVOICES GetDraftInvoice (DraftInvoiceActionErr 'The action can be applied to
    a draft invoice only.') and GetPostedInvoice (PostedInvoiceActionErr 'The action can be
    applied to a posted invoice only.'); APIV2PurchaseInvoices.Page.al DraftInvoiceActionErr;
    SALES-CR-MEMOS GetDraftCreditMemo (DraftCreditMemoActionErr 'The action can be applied to a
    draft credit memo only.') and GetPostedCreditMemo (PostedCreditMemoActionErr).
    """
    invoice = sales_document(bc, "salesInvoices", "salesInvoiceLines")
    assert error_of(act(bc, "salesInvoices", invoice["id"], "cancel")) == (
        400,
        DIALOG,
        "The action can be applied to a posted invoice only.",
    )
    assert act(bc, "salesInvoices", invoice["id"], "post").status_code == 204
    assert error_of(act(bc, "salesInvoices", invoice["id"], "post")) == (
        400,
        DIALOG,
        "The action can be applied to a draft invoice only.",
    )
    purchase = purchase_invoice(bc)
    assert act(bc, "purchaseInvoices", purchase["id"], "post").status_code == 204
    assert error_of(act(bc, "purchaseInvoices", purchase["id"], "post")) == (
        400,
        DIALOG,
        "The action can be applied to a draft invoice only.",
    )
    memo = sales_document(bc, "salesCreditMemos", "salesCreditMemoLines")
    assert error_of(act(bc, "salesCreditMemos", memo["id"], "cancel")) == (
        400,
        DIALOG,
        "The action can be applied to a posted credit memo only.",
    )
    assert act(bc, "salesCreditMemos", memo["id"], "post").status_code == 204
    assert error_of(act(bc, "salesCreditMemos", memo["id"], "post")) == (
        400,
        DIALOG,
        "The action can be applied to a draft credit memo only.",
    )


def test_posting_a_credit_memo_without_lines_is_refused(bc):
    """A credit memo with no lines cannot be posted.

    Source: SALES-CR-MEMOS PostCreditMemo: `if not SalesHeader.SalesLinesExist() then
    Error(NoLineErr)`, NoLineErr 'Please add at least one line item to the credit memo.'.
    """
    memo = sales_document(bc, "salesCreditMemos", "salesCreditMemoLines", count=0)
    assert error_of(act(bc, "salesCreditMemos", memo["id"], "post")) == (
        400,
        DIALOG,
        "Please add at least one line item to the credit memo.",
    )
    assert bc.get(bc.company_url(f"salesCreditMemos({memo['id']})")).json()["status"] == "Draft"


@pytest.mark.parametrize(
    ("entity_set", "message"),
    [
        ("salesInvoices", "Please add at least one line item to the invoice."),
        (
            "purchaseInvoices",
            "There is nothing to post because the document does not contain a quantity or amount.",
        ),
    ],
)
def test_posting_an_invoice_without_lines_is_refused(bc, entity_set, message):
    """An invoice without lines: the page's own check where it has one, else the posting codeunit's.

    Sources (StefanMaron/MSDyn365BC.Code.History): APIV2SalesInvoices.Page.al (newest stored
    version, search index id 1475919947) PostInvoice -> APIV2SendSalesDocument.
    CheckDocumentIfNoItemsExists (ThereIsNothingToSellInvoiceErr); APIV2PurchaseInvoices.Page.al
    @114421e2 PostInvoice has no check of its own, so Purch.-Post refuses with BaseApp codeunit
    9070 "Document Errors Mgt." NothingToPostErr (index id 1073916541), the label Microsoft's test
    codeunit 134386 "ERM Sales Documents II" (ErrorDialogOnSalesOrder) asserts for Sales-Post.
    """
    if entity_set == "salesInvoices":
        document = sales_document(bc, entity_set, "salesInvoiceLines", count=0)
    else:
        vendor = first(bc, "vendors")
        document = create(bc, entity_set, {"vendorNumber": vendor["number"]})
    assert error_of(act(bc, entity_set, document["id"], "post")) == (400, DIALOG, message)


def test_deleting_a_draft_invoice_deletes_its_lines(bc):
    """DELETE of a draft answers 204 and takes the document's lines with it.

    Sources: SALES-INVOICES OnDeleteRecord -> SalesInvoiceAggregator.PropagateOnDelete, which
    for a draft runs SalesHeader.Delete(true) (AGGREGATOR), whose table trigger deletes the
    Sales Lines; Microsoft Learn v2.0 api/dynamics_salesinvoice_delete ("If successful, this
    method returns 204 No Content").
    """
    invoice = sales_document(bc, "salesInvoices", "salesInvoiceLines", count=2)
    lines_url = bc.company_url("salesInvoiceLines")
    by_document = {"$filter": f"documentId eq {invoice['id']}"}
    assert len(bc.get(lines_url, params=by_document).json()["value"]) == 2
    url = bc.company_url(f"salesInvoices({invoice['id']})")
    response = bc.request("DELETE", url, headers={"If-Match": "*"})
    assert (response.status_code, response.content) == (204, b"")
    assert bc.get(url).status_code == 404
    assert bc.get(lines_url, params=by_document).json()["value"] == []


def quote_with_lines(bc) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    quotes = bc.get(
        bc.company_url("salesQuotes"), params={"$expand": "salesQuoteLines", "$top": 20}
    ).json()["value"]
    quote = next(q for q in quotes if q["salesQuoteLines"] and q["customerNumber"])
    return quote, quote.pop("salesQuoteLines")


@pytest.mark.parametrize(
    ("action", "to_set", "lines"),
    [
        ("makeInvoice", "salesInvoices", "salesInvoiceLines"),
        ("makeOrder", "salesOrders", "salesOrderLines"),
    ],
)
def test_a_quote_made_an_invoice_or_order_becomes_a_new_draft_and_is_gone(
    bc, action: str, to_set: str, lines: str
):
    """makeInvoice / makeOrder: 204; a new draft with the quote's customer and lines; no quote.

    Sources: APIV2/Source/_Exclude_APIV2_/src/pages/APIV2SalesQuotes.Page.al @05d57db6
    (MakeInvoice / MakeOrder run Sales-Quote to Invoice / Sales-Quote to Order; SetActionResponse
    result code Deleted with the new document's SystemId); BaseApp/Source/Base Application/Sales/
    Document/SalesQuotetoInvoice.Codeunit.al @1605efae and SalesQuotetoOrder.Codeunit.al
    @026bfbb5 (new header with "No." := '' from the series, Status Open = API Draft, lines copied
    one for one, then `Rec.Delete(); SalesQuoteLine.DeleteAll()`).
    """
    quote, quote_lines = quote_with_lines(bc)
    before = {row["id"] for row in bc.get_all(bc.company_url(to_set))}
    response = act(bc, "salesQuotes", quote["id"], action)
    assert (response.status_code, response.content) == (204, b"")
    assert bc.get(bc.company_url(f"salesQuotes({quote['id']})")).status_code == 404
    made = [row for row in bc.get_all(bc.company_url(to_set)) if row["id"] not in before]
    assert len(made) == 1
    document = made[0]
    assert document["id"] != quote["id"]
    assert document["number"] != quote["number"]
    assert (document["status"], document["customerNumber"]) == ("Draft", quote["customerNumber"])
    new_lines = bc.get(bc.company_url(f"{to_set}({document['id']})/{lines}")).json()["value"]
    assert [(x["lineObjectNumber"], x["quantity"]) for x in new_lines] == [
        (x["lineObjectNumber"], x["quantity"]) for x in quote_lines
    ]
    left = bc.get(
        bc.company_url("salesQuoteLines"), params={"$filter": f"documentId eq {quote['id']}"}
    ).json()["value"]
    assert left == []


@pytest.mark.parametrize(
    ("order_set", "order_lines", "action", "invoice_set", "invoice_lines"),
    [
        ("salesOrders", "salesOrderLines", "shipAndInvoice", "salesInvoices", "salesInvoiceLines"),
        (
            "purchaseOrders",
            "purchaseOrderLines",
            "receiveAndInvoice",
            "purchaseInvoices",
            "purchaseInvoiceLines",
        ),
    ],
)
def test_an_order_posted_in_full_becomes_a_posted_invoice_of_its_own(  # noqa: PLR0913, PLR0917
    bc, order_set: str, order_lines: str, action: str, invoice_set: str, invoice_lines: str
):
    """shipAndInvoice / receiveAndInvoice: 204; a posted invoice with its own id; no more order.

    Sources: APIV2/Source/_Exclude_APIV2_/src/pages/APIV2SalesOrders.Page.al @03c38418
    (ShipAndInvoice: Ship := true, Invoice := true, SendToPosting(Sales-Post); the answer is the
    key of the posted invoice on page APIV2 - Sales Invoices, result code Deleted);
    APIV2PurchaseOrders.Page.al @02326b00 (ReceiveAndInvoice); AGGREGATOR
    FixInvoicesCreatedFromOrders (an invoice posted from an order keeps its own SystemId); an
    order that is fully shipped and invoiced is deleted by the posting (Graph Mgt - Sales Order
    Buffer: the buffer row goes with the Sales Header).
    """
    orders = bc.get(bc.company_url(order_set), params={"$expand": order_lines, "$top": 20}).json()[
        "value"
    ]
    order = next(o for o in orders if o[order_lines] and o["status"] in {"Draft", "Open"})
    lines = order.pop(order_lines)
    before = {row["id"] for row in bc.get_all(bc.company_url(invoice_set))}
    response = act(bc, order_set, order["id"], action)
    assert (response.status_code, response.content) == (204, b"")
    assert bc.get(bc.company_url(f"{order_set}({order['id']})")).status_code == 404
    made = [row for row in bc.get_all(bc.company_url(invoice_set)) if row["id"] not in before]
    assert len(made) == 1
    invoice = made[0]
    assert invoice["id"] != order["id"]
    assert invoice["status"] == "Open"
    assert re.fullmatch(POSTED_NUMBER[invoice_set], invoice["number"]), invoice["number"]
    new_lines = bc.get(bc.company_url(f"{invoice_set}({invoice['id']})/{invoice_lines}")).json()
    assert [(x["lineObjectNumber"], x["quantity"]) for x in new_lines["value"]] == [
        (x["lineObjectNumber"], x["quantity"]) for x in lines
    ]


def test_an_item_on_an_outstanding_sales_quote_cannot_be_deleted(bc):
    """DELETE of an item that a sales quote line uses is refused; a free item is deleted (204).

    Sources: BaseApp/Source/Base Application/Sales/Document/CheckSalesDocumentLine.Codeunit.al
    @567b9e46 (CheckSalesLines: CannotDeleteItemIfSalesDocExistErr 'You cannot delete %1 %2
    because there is at least one outstanding Sales %3 that includes this item.');
    MicrosoftDocs/dynamics365smb-devitpro-pb dev-itpro/webservices/dynamics-error-codes.md
    @777335ab: `Application_DialogException` "You cannot delete Item 1000 because there is at
    least one outstanding Sales Quote that includes this item.".
    """
    item = create(bc, "items", {"displayName": "Quoted Item", "type": "Inventory"})
    quote = create(bc, "salesQuotes", {"customerNumber": first(bc, "customers")["number"]})
    line = bc.request(
        "POST",
        bc.company_url(f"salesQuotes({quote['id']})/salesQuoteLines"),
        json={"lineType": "Item", "lineObjectNumber": item["number"], "quantity": 1},
    )
    assert line.status_code == 201, line.text
    url = bc.company_url(f"items({item['id']})")
    message = (
        f"You cannot delete Item {item['number']} because there is at least one outstanding"
        " Sales Quote that includes this item."
    )
    assert error_of(bc.request("DELETE", url, headers={"If-Match": "*"})) == (400, DIALOG, message)
    free = create(bc, "items", {"displayName": "Free Item", "type": "Inventory"})
    deleted = bc.request(
        "DELETE", bc.company_url(f"items({free['id']})"), headers={"If-Match": "*"}
    )
    assert deleted.status_code == 204
