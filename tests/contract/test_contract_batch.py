"""Contract: the emulator's JSON `$batch` answers as Business Central does, rule by rule.

Each test names its source. Abbreviations:
- USE-ODATA-BATCH: MicrosoftDocs/dynamics365smb-devitpro-pb dev-itpro/webservices/use-odata-batch.md
  @136c4ff11bed87a032bd3eb6d63414a06eceeb4f (Microsoft Learn "Using OData transactional $batch
  requests").
- BATCH-HANDLER: OData/WebApi src/Microsoft.AspNet.OData/Batch/DefaultODataBatchHandler.cs
  @010f3107979d79957d6f32cbd0ed670e05c7d1f2, ExecuteRequestMessagesAsync (the same loop in
  OData/AspNetCoreOData src/Microsoft.AspNetCore.OData/Batch/DefaultODataBatchHandler.cs
  @0c149bed1fc57dad9b2af8ac373844d3656f3a2c): stop after the first unsuccessful answer unless
  `odata.continue-on-error` is preferred.
"""

from __future__ import annotations

from typing import Any

import pytest
from bc_answers import first


@pytest.fixture(scope="module")
def bc(start_emulator):
    """A small emulator of its own: these tests change rows."""
    return start_emulator(seed=23, scale=0.1)


def batch(bc, requests: list[dict[str, Any]], **headers: str):
    return bc.request(
        "POST", f"{bc.api_root()}/$batch", json={"requests": requests}, headers=headers
    )


def count(bc, entity_set: str) -> int:
    return len(bc.get_all(bc.company_url(entity_set)))


def in_company(bc, rest: str) -> str:
    return f"companies({bc.companies[0]['id']})/{rest}"


def new_customer(bc, op_id: str, body: dict[str, Any]) -> dict[str, Any]:
    return {"id": op_id, "method": "POST", "url": in_company(bc, "customers"), "body": body}


def message_of(answer: dict[str, Any]) -> str:
    return str(answer["body"]["error"]["message"]).split("  CorrelationId:  ")[0]


def test_atomic_batch_answers_every_operation_yet_keeps_none_of_them(bc):
    """Isolation: snapshot: all changes are rolled back, but each operation is still answered.

    Source: USE-ODATA-BATCH, Example: two PATCHes answered 200 and 204 and an invalid option
    answered 400 `Unknown` "'Invalid Type' is not an option. The existing options are:
    Inventory,Service,Non-Inventory"; "none of the changes made by either of the successful
    inner requests are applied". Requests without `id` are answered `"id": null`.
    """
    item = first(bc, "items")
    url = in_company(bc, f"items({item['id']})")
    headers = {"Content-Type": "application/json", "If-Match": "*"}
    ops = [
        {"method": "PATCH", "url": url, "headers": headers, "body": {"displayName": "Bicycle v2"}},
        {"method": "PATCH", "url": url, "headers": headers, "body": {"type": "Invalid Type"}},
    ]
    response = batch(bc, ops, Isolation="snapshot")
    assert response.status_code == 200
    answers = response.json()["responses"]
    assert [(a["id"], a["status"]) for a in answers] == [(None, 200), (None, 400)]
    assert answers[0]["body"]["displayName"] == "Bicycle v2"
    assert answers[1]["body"]["error"]["code"] == "Unknown"
    assert message_of(answers[1]) == (
        "'Invalid Type' is not an option. The existing options are: Inventory,Service,Non-Inventory"
    )
    assert (
        bc.get(bc.company_url(f"items({item['id']})")).json()["displayName"]
        == (item["displayName"])
    )


def test_atomic_batch_stops_at_the_failed_operation(bc):
    """The operations after the failed one are neither run nor answered.

    Sources: BATCH-HANDLER (break after the first failed answer, no continue-on-error);
    https://daniels-notes.de/posts/2024/bc-odata-transactional-batch-requests-limitations
    (BC 25, Isolation: snapshot: "Processing is aborted, with the faulty request");
    https://community.dynamics.com/forums/thread/details/?tabName=tabPublished&threadid=7cd30c9e-7e58-f011-877a-7c1e521722dc
    (request 3 fails: requests 4 and 5 are dropped).
    """
    before = count(bc, "customers")
    ops = [
        new_customer(bc, "1", {"displayName": "Kept Only If Atomic Fails"}),
        new_customer(bc, "2", {"bogus": 1}),
        new_customer(bc, "3", {"displayName": "Never Run"}),
    ]
    answers = batch(bc, ops, Isolation="snapshot").json()["responses"]
    assert [(a["id"], a["status"]) for a in answers] == [("1", 201), ("2", 400)]
    assert count(bc, "customers") == before


def test_atomic_batch_with_continue_on_error_answers_all_and_keeps_none(bc):
    """With `Prefer: odata.continue-on-error` every operation runs and is answered.

    Sources: BATCH-HANDLER (ContinueOnError: no break); USE-ODATA-BATCH (a failure reverts all
    changes within the batch). That the two combine so in BC is an inference from them.
    """
    before = count(bc, "customers")
    ops = [
        new_customer(bc, "1", {"displayName": "A"}),
        new_customer(bc, "2", {"bogus": 1}),
        new_customer(bc, "3", {"displayName": "C"}),
    ]
    answers = batch(bc, ops, Isolation="snapshot", Prefer="odata.continue-on-error").json()
    assert [a["status"] for a in answers["responses"]] == [201, 400, 201]
    assert count(bc, "customers") == before


def test_plain_batch_keeps_what_ran_before_the_failure_and_stops(bc):
    """Without Isolation: snapshot each operation commits; the batch stops after a failure.

    Sources: BATCH-HANDLER; A. J. Kauffmann, "Batch calls with Business Central (2) - Error
    handling", https://dynamicsuser.net/nav/b/kauffmann/posts/batch-calls-with-business-central-2-error-handling
    ("further execution will be stopped and the returned response contains the results up to
    the operation that failed").
    """
    before = count(bc, "customers")
    ops = [
        new_customer(bc, "1", {"displayName": "Committed"}),
        new_customer(bc, "2", {"bogus": 1}),
        new_customer(bc, "3", {"displayName": "Never Run"}),
    ]
    answers = batch(bc, ops).json()["responses"]
    assert [(a["id"], a["status"]) for a in answers] == [("1", 201), ("2", 400)]
    assert count(bc, "customers") == before + 1


def test_more_than_100_operations_is_refused_with_odatas_words(bc):
    """A batch of 101 operations is refused as a whole; 100 are served.

    Sources: Microsoft Learn training work-with-api/4-limits ("A $batch request can contain a
    maximum of 100 operations"); the error BC answered, code `Unknown` and message
    "The current batch message contains too many parts. A maximum number of '100' query
    operations and change sets are allowed in a batch message.":
    https://demiliani.com/2021/01/12/dynamics-365-business-central-batch-api-calls-and-max-number-of-operations/
    The HTTP status is not shown there: 400 is the emulator's choice (unconfirmed).
    """
    ops = [{"id": str(i), "method": "GET", "url": "companies"} for i in range(101)]
    response = batch(bc, ops)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "Unknown"
    assert error["message"].split("  CorrelationId:  ")[0] == (
        "The current batch message contains too many parts. A maximum number of '100' query"
        " operations and change sets are allowed in a batch message."
    )
    assert batch(bc, ops[:100]).status_code == 200


def test_company_header_names_the_company_of_a_relative_url(bc):
    """An inner request may give its company by name in a `Company` header, without companies().

    Source: USE-ODATA-BATCH, Request body: `"url": "items(7ce0af2e-...)"` with
    `"Company": "CRONUS International Ltd."`.
    """
    company = bc.companies[0]
    item = first(bc, "items")
    ops = [
        {
            "id": "patch",
            "method": "PATCH",
            "url": f"items({item['id']})",
            "headers": {"Company": company["name"], "If-Match": "*"},
            "body": {"displayName": "Named By Company Header"},
        },
        {
            "id": "read",
            "method": "GET",
            "url": f"items({item['id']})",
            "headers": {"Company": company["name"]},
        },
    ]
    answers = batch(bc, ops).json()["responses"]
    assert [(a["id"], a["status"]) for a in answers] == [("patch", 200), ("read", 200)]
    assert answers[1]["body"]["displayName"] == "Named By Company Header"
    stored = bc.get(bc.company_url(f"items({item['id']})")).json()
    assert stored["displayName"] == "Named By Company Header"


def test_a_post_inside_an_atomic_batch_commits_what_ran_before_it(bc):
    """A document's post action commits, so a later failure cannot undo it or what came before.

    Sources: USE-ODATA-BATCH ("If the AL code doesn't invoke COMMIT, then the entire batch runs
    in the same transaction. Otherwise, for each commit, the transaction is committed, and a new
    one is started."); StefanMaron/MSDyn365BC.Code.History
    BaseApp/Source/Base Application/Sales/Posting/SalesPost.Codeunit.al: after FinalizePosting,
    `if not (InvtPickPutaway or SuppressCommit or PreviewMode) then Commit()`, reached through
    APIV2SalesInvoices.Page.al @02a8df41 Post -> SalesHeader.SendToPosting(Codeunit::"Sales-Post").
    """
    customer = first(bc, "customers")
    item = first(bc, "items")["number"]
    invoice = bc.request(
        "POST",
        bc.company_url("salesInvoices"),
        json={
            "customerNumber": customer["number"],
            "salesInvoiceLines": [{"lineObjectNumber": item, "quantity": 1, "unitPrice": 5}],
        },
    ).json()
    before = count(bc, "customers")
    ops = [
        {
            "id": "patch",
            "method": "PATCH",
            "url": in_company(bc, f"customers({customer['id']})"),
            "headers": {"If-Match": "*"},
            "body": {"city": "Committed By Post"},
        },
        {
            "id": "post",
            "method": "POST",
            "url": in_company(bc, f"salesInvoices({invoice['id']})/Microsoft.NAV.post"),
        },
        new_customer(bc, "new", {"displayName": "Rolled Back"}),
        new_customer(bc, "bad", {"bogus": 1}),
    ]
    answers = batch(bc, ops, Isolation="snapshot").json()["responses"]
    assert [(a["id"], a["status"]) for a in answers] == [
        ("patch", 200),
        ("post", 204),
        ("new", 201),
        ("bad", 400),
    ]
    assert bc.get(bc.company_url(f"customers({customer['id']})")).json()["city"] == (
        "Committed By Post"
    )
    assert bc.get(bc.company_url(f"salesInvoices({invoice['id']})")).json()["status"] == "Open"
    assert count(bc, "customers") == before


def test_a_cancel_inside_an_atomic_batch_commits_as_a_post_does(bc):
    """Cancelling a posted invoice posts its corrective credit memo, and posting commits.

    Sources: StefanMaron/MSDyn365BC.Code.History BaseApp codeunit 1303 "Correct Posted Sales
    Invoice" (CancelPostedInvoice -> CreateCreditMemo -> the credit memo is posted with
    Sales-Post, whose `Commit()` the test above cites); APIV2SalesInvoices.Page.al @02a8df41
    (cancel -> CancelPostedInvoice); USE-ODATA-BATCH (each commit ends the batch's transaction).
    """
    customer = first(bc, "customers")
    item = first(bc, "items")["number"]
    invoice = bc.request(
        "POST",
        bc.company_url("salesInvoices"),
        json={
            "customerNumber": customer["number"],
            "salesInvoiceLines": [{"lineObjectNumber": item, "quantity": 1, "unitPrice": 7}],
        },
    ).json()
    posted = bc.request(
        "POST", bc.company_url(f"salesInvoices({invoice['id']})/Microsoft.NAV.post")
    )
    assert posted.status_code == 204, posted.text
    ops = [
        {
            "id": "cancel",
            "method": "POST",
            "url": in_company(bc, f"salesInvoices({invoice['id']})/Microsoft.NAV.cancel"),
        },
        new_customer(bc, "bad", {"bogus": 1}),
    ]
    answers = batch(bc, ops, Isolation="snapshot").json()["responses"]
    assert [(a["id"], a["status"]) for a in answers] == [("cancel", 204), ("bad", 400)]
    read = bc.get(bc.company_url(f"salesInvoices({invoice['id']})")).json()
    assert read["status"] == "Canceled"
