"""The emulator's writes over HTTPS: ETags, validation in BC's words, documents and posting."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import pytest

MISSING_TOKEN = (
    "Could not validate the client concurrency token required by the service. Please provide a"  # noqa: S105
    " valid token in the client request."
)


@pytest.fixture(scope="module")
def bc(start_emulator):
    """A fresh, small emulator of its own: these tests change rows."""
    return start_emulator(seed=7, scale=0.1)


def error_of(response) -> tuple[int, str, str]:
    error = response.json()["error"]
    message = error["message"].split("  CorrelationId:  ")[0]
    return response.status_code, error["code"], message


def post(bc, entity_set: str, body: dict[str, Any], **kwargs: Any):
    return bc.request("POST", bc.company_url(entity_set), json=body, **kwargs)


def new_customer(bc, **fields: Any) -> dict[str, Any]:
    response = post(bc, "customers", {"displayName": "Write Test", **fields})
    assert response.status_code == 201, response.text
    return response.json()


def customer_number(bc) -> str:
    return bc.get(bc.company_url("customers"), params={"$top": 1}).json()["value"][0]["number"]


def item_number(bc) -> str:
    return bc.get(bc.company_url("items"), params={"$top": 1}).json()["value"][0]["number"]


# -- POST, PATCH, DELETE and ETags ---------------------------------------------------------------


def test_post_answers_201_with_full_entity_and_location(bc):
    response = post(bc, "customers", {"displayName": "Adatum Ltd", "city": "Oslo"})
    assert response.status_code == 201
    body = response.json()
    assert body["@odata.context"].endswith("/customers/$entity")
    assert body["@odata.etag"].startswith('W/"')
    assert response.headers["Location"] == bc.company_url(f"customers({body['id']})")
    assert body["displayName"] == "Adatum Ltd"
    assert body["number"], "a POST without number gets the next number of the series"
    fetched = bc.get(response.headers["Location"]).json()
    assert fetched["@odata.etag"] == body["@odata.etag"]
    assert set(fetched) == set(body)


def test_patch_without_if_match_is_refused(bc):
    customer = new_customer(bc)
    response = bc.request("PATCH", bc.company_url(f"customers({customer['id']})"), json={})
    assert error_of(response) == (400, "BadRequest_InvalidToken", MISSING_TOKEN)


def test_patch_with_etag_gives_new_etag_and_change_time(bc):
    customer = new_customer(bc)
    time.sleep(0.01)
    url = bc.company_url(f"customers({customer['id']})")
    response = bc.request(
        "PATCH", url, json={"city": "Bergen"}, headers={"If-Match": customer["@odata.etag"]}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["city"] == "Bergen"
    assert body["@odata.etag"] != customer["@odata.etag"]
    assert body["lastModifiedDateTime"] > customer["lastModifiedDateTime"]
    assert body["@odata.context"].endswith(f"/customers({customer['id']})/$entity")


def test_stale_etag_is_a_conflict_409_or_412_by_switch(bc):
    customer = new_customer(bc)
    url = bc.company_url(f"customers({customer['id']})")
    stale = customer["@odata.etag"]
    assert bc.request("PATCH", url, json={"city": "A"}, headers={"If-Match": stale}).ok
    before = bc.counters()["conflicts"]
    response = bc.request("PATCH", url, json={"city": "B"}, headers={"If-Match": stale})
    assert error_of(response) == (
        409,
        "Request_EntityChanged",
        "Another user has already changed the record.",
    )
    bc.hook("POST", "config", {"conflict_status": 412})
    try:
        response = bc.request("PATCH", url, json={"city": "B"}, headers={"If-Match": stale})
        assert response.status_code == 412
    finally:
        bc.hook("POST", "config", {"conflict_status": 409})
    assert bc.counters()["conflicts"] == before + 2


def test_if_match_star_is_accepted(bc):
    customer = new_customer(bc)
    url = bc.company_url(f"customers({customer['id']})")
    response = bc.request("PATCH", url, json={"city": "C"}, headers={"If-Match": "*"})
    assert response.status_code == 200


def test_delete_checks_the_etag_when_given(bc):
    customer = new_customer(bc)
    url = bc.company_url(f"customers({customer['id']})")
    assert bc.request("PATCH", url, json={"city": "D"}, headers={"If-Match": "*"}).ok
    stale = bc.request("DELETE", url, headers={"If-Match": customer["@odata.etag"]})
    assert stale.status_code == 409
    assert bc.request("DELETE", url).status_code == 204
    assert error_of(bc.get(url))[:2] == (404, "Internal_RecordNotFound")


# -- validation ---------------------------------------------------------------------------------


def test_unknown_property_is_refused_in_bc_words(bc):
    response = post(bc, "customers", {"displayName": "X", "nickname": "x"})
    assert error_of(response) == (
        400,
        "BadRequest",
        (
            "The property 'nickname' does not exist on type 'Microsoft.NAV.customer'. Make sure"
            " to only use property names that are defined by the type."
        ),
    )


def test_too_long_string_is_refused(bc):
    response = post(bc, "customers", {"displayName": "x" * 101})
    status, code, message = error_of(response)
    assert (status, code) == (400, "Application_StringExceededLength")
    assert message.startswith("The length of the string is 101, but it must be less than or equal")


def test_bad_enum_value_is_refused(bc):
    response = post(bc, "items", {"displayName": "Thing", "type": "Gadget"})
    status, _, message = error_of(response)
    assert status == 400
    assert (
        message
        == "'Gadget' is not an option. The existing options are: Inventory,Service,Non-Inventory"
    )


def test_bad_guid_is_refused(bc):
    response = post(bc, "customers", {"displayName": "X", "currencyId": "not-a-guid"})
    assert error_of(response) == (
        400,
        "BadRequest",
        "Cannot convert the literal 'not-a-guid' to the expected type 'Edm.Guid'.",
    )


@pytest.mark.parametrize("field", ["lastModifiedDateTime", "balanceDue"])
def test_read_only_fields_are_refused(bc, field):
    value = 12.5 if field == "balanceDue" else "2024-01-01T00:00:00Z"
    response = post(bc, "customers", {"displayName": "X", field: value})
    assert error_of(response) == (400, "BadRequest", f"Control '{field}' is read-only.")
    invoice_total = post(
        bc, "salesInvoices", {"customerNumber": customer_number(bc), "totalAmountIncludingTax": 5}
    )
    assert error_of(invoice_total) == (
        400,
        "BadRequest",
        "Control 'totalAmountIncludingTax' is read-only.",
    )


def test_duplicate_number_is_refused(bc):
    number = customer_number(bc)
    response = post(bc, "customers", {"displayName": "Twin", "number": number})
    assert error_of(response) == (
        400,
        "Internal_EntityWithSameKeyExists",
        (
            "The record in table Customer already exists. Identification fields and values:"
            f" No.='{number}'"
        ),
    )


def test_unknown_reference_is_refused(bc):
    response = post(bc, "salesInvoices", {"customerNumber": "NOSUCH"})
    assert error_of(response) == (
        400,
        "Application_DialogException",
        "The sell-to customer cannot be found.",
    )


def test_required_customer_on_invoice(bc):
    response = post(bc, "salesInvoices", {"externalDocumentNumber": "X"})
    assert error_of(response) == (
        400,
        "Application_DialogException",
        'A "customerNumber" or a "customerId" must be provided.',
    )


def test_read_only_sets_refuse_writes(bc):
    response = post(bc, "generalLedgerEntries", {"description": "x"})
    assert error_of(response)[:2] == (405, "BadRequest_MethodNotAllowed")
    account = bc.get(bc.company_url("accounts"), params={"$top": 1}).json()["value"][0]
    url = bc.company_url(f"accounts({account['id']})")
    response = bc.request("PATCH", url, json={"displayName": "y"}, headers={"If-Match": "*"})
    assert error_of(response)[:2] == (405, "BadRequest_MethodNotAllowed")


def test_read_only_intent_on_a_write_is_an_error(bc):
    response = post(
        bc, "customers", {"displayName": "X"}, headers={"Data-Access-Intent": "ReadOnly"}
    )
    assert error_of(response)[:2] == (400, "BadRequest_InvalidOperation")


# -- documents ----------------------------------------------------------------------------------


def new_invoice(bc, lines: int = 2) -> dict[str, Any]:
    item = item_number(bc)
    body = {
        "customerNumber": customer_number(bc),
        "salesInvoiceLines": [
            {"lineObjectNumber": item, "quantity": 2 + i, "unitPrice": 10.5} for i in range(lines)
        ],
    }
    response = post(bc, "salesInvoices", body)
    assert response.status_code == 201, response.text
    return response.json()


def test_deep_insert_creates_draft_with_lines_totals_and_series_number(bc):
    first = new_invoice(bc)
    second = new_invoice(bc)
    assert first["status"] == "Draft"
    assert Decimal(str(first["totalAmountExcludingTax"])) == Decimal("52.5")  # 2*10.5 + 3*10.5
    assert first["customerName"]
    assert int(second["number"][-6:]) == int(first["number"][-6:]) + 1
    nested = bc.get(bc.company_url(f"salesInvoices({first['id']})/salesInvoiceLines")).json()
    assert [line["sequence"] for line in nested["value"]] == [10000, 20000]
    flat = bc.get(
        bc.company_url("salesInvoiceLines"), params={"$filter": f"documentId eq {first['id']}"}
    ).json()
    assert [line["id"] for line in flat["value"]] == [line["id"] for line in nested["value"]]


def test_lines_at_both_paths_recompute_header_totals(bc):
    invoice = new_invoice(bc, lines=1)
    header_url = bc.company_url(f"salesInvoices({invoice['id']})")
    nested = bc.request(
        "POST",
        f"{header_url}/salesInvoiceLines",
        json={"lineObjectNumber": item_number(bc), "quantity": 1, "unitPrice": 100},
    )
    assert nested.status_code == 201
    assert nested.headers["Location"].startswith(f"{header_url}/salesInvoiceLines(")
    flat = post(
        bc,
        "salesInvoiceLines",
        {"documentId": invoice["id"], "lineType": "Comment", "description": "note"},
    )
    assert flat.status_code == 201
    assert Decimal(str(bc.get(header_url).json()["totalAmountExcludingTax"])) == Decimal(121)
    line_url = bc.company_url(f"salesInvoiceLines({nested.json()['id']})")
    # A new quantity alone would re-find the item's price (Sales Line Quantity OnValidate).
    body = {"quantity": 2, "unitPrice": 100}
    patched = bc.request("PATCH", line_url, json=body, headers={"If-Match": "*"})
    assert patched.status_code == 200
    assert Decimal(str(patched.json()["amountExcludingTax"])) == Decimal(200)
    assert Decimal(str(bc.get(header_url).json()["totalAmountExcludingTax"])) == Decimal(221)
    assert bc.request("DELETE", line_url).status_code == 204
    assert Decimal(str(bc.get(header_url).json()["totalAmountExcludingTax"])) == Decimal(21)


def last_entry_number(bc) -> int:
    url = bc.company_url("generalLedgerEntries")
    rows = bc.get(url, params={"$orderby": "entryNumber desc", "$top": 1}).json()["value"]
    return rows[0]["entryNumber"] if rows else 0


def new_gl_entries(bc, after: int) -> list[dict[str, Any]]:
    url = bc.company_url("generalLedgerEntries")
    return bc.get(url, params={"$filter": f"entryNumber gt {after}"}).json()["value"]


def test_post_action_makes_invoice_open_read_only_and_writes_gl_entries(bc):
    invoice = new_invoice(bc)
    last = last_entry_number(bc)
    url = bc.company_url(f"salesInvoices({invoice['id']})")
    response = bc.request("POST", f"{url}/Microsoft.NAV.post")
    assert response.status_code == 204
    posted = bc.get(url).json()
    assert posted["status"] == "Open"
    refused = bc.request(
        "PATCH", url, json={"externalDocumentNumber": "x"}, headers={"If-Match": "*"}
    )
    assert error_of(refused)[:2] == (400, "Application_DialogException")
    line = bc.request("POST", f"{url}/salesInvoiceLines", json={"lineType": "Comment"})
    assert line.status_code == 400
    assert bc.request("DELETE", url).status_code == 400
    entries = new_gl_entries(bc, last)
    # The posted invoice keeps the draft's id but takes the posted series' number.
    assert posted["number"] != invoice["number"]
    assert {e["documentNumber"] for e in entries} == {posted["number"]}
    debit = sum(Decimal(str(e["debitAmount"])) for e in entries)
    credit = sum(Decimal(str(e["creditAmount"])) for e in entries)
    assert debit == credit == Decimal(str(posted["totalAmountIncludingTax"]))
    again = bc.request("POST", f"{url}/Microsoft.NAV.post")
    assert again.status_code == 400


def test_posting_an_empty_invoice_is_refused(bc):
    invoice = new_invoice(bc, lines=0)
    url = bc.company_url(f"salesInvoices({invoice['id']})/Microsoft.NAV.post")
    assert error_of(bc.request("POST", url)) == (
        400,
        "Application_DialogException",
        "Please add at least one line item to the invoice.",
    )


def test_posted_journal_lines_become_gl_entries_and_leave_the_journal(bc):
    journal = post(bc, "journals", {"code": "WTEST", "displayName": "Write test"}).json()
    accounts = bc.get(
        bc.company_url("accounts"), params={"$filter": "accountType eq 'Posting'", "$top": 2}
    ).json()["value"]
    journal_url = bc.company_url(f"journals({journal['id']})")
    last = last_entry_number(bc)
    for amount in (100, -40):
        line = bc.request(
            "POST",
            f"{journal_url}/journalLines",
            json={
                "accountNumber": accounts[0]["number"],
                "amount": amount,
                "documentNumber": "WJ-1",
            },
        )
        assert line.status_code == 201, line.text
    assert bc.request("POST", f"{journal_url}/Microsoft.NAV.post").status_code == 204
    assert bc.get(f"{journal_url}/journalLines").json()["value"] == []
    entries = new_gl_entries(bc, last)
    assert len(entries) == 4
    assert (
        sum(Decimal(str(e["debitAmount"])) - Decimal(str(e["creditAmount"])) for e in entries) == 0
    )


def test_counters_count_writes_by_method(bc):
    bc.hook("DELETE", "counters")
    customer = new_customer(bc)
    url = bc.company_url(f"customers({customer['id']})")
    bc.request("PATCH", url, json={"city": "E"}, headers={"If-Match": "*"})
    bc.request("DELETE", url)
    counters = bc.counters()
    assert counters["writes"] == {"POST": 1, "PATCH": 1, "DELETE": 1}
