"""The emulator's JSON `$batch`: BC's response shape, atomicity, continue-on-error, the 100 cap."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests_support import REAL_RESPONSES


@pytest.fixture(scope="module")
def bc(start_emulator):
    """A fresh, small emulator of its own: these tests change rows."""
    return start_emulator(seed=11, scale=0.1)


def batch(bc, requests: list[dict[str, Any]], **headers: str):
    return bc.request(
        "POST", f"{bc.api_root()}/$batch", json={"requests": requests}, headers=headers
    )


def company_path(bc, rest: str) -> str:
    return f"companies({bc.companies[0]['id']})/{rest}"


def first(bc, entity_set: str) -> dict[str, Any]:
    return bc.get(bc.company_url(entity_set), params={"$top": 1}).json()["value"][0]


def count(bc, entity_set: str) -> int:
    return len(bc.get_all(bc.company_url(entity_set)))


def test_real_batch_exchange_is_answered_with_the_same_statuses_and_shapes(bc):
    real = json.loads((REAL_RESPONSES / "batch.json").read_text())
    order = bc.request(
        "POST",
        bc.company_url("salesOrders"),
        json={"customerNumber": first(bc, "customers")["number"]},
    ).json()
    item = first(bc, "items")
    lines = company_path(bc, f"salesOrders({order['id']})/salesOrderLines")
    requests = [
        {
            "id": f"r{i}",
            "method": "POST",
            "url": lines,
            "headers": {"Content-Type": "application/json"},
            "body": {"itemId": item["id"], "quantity": quantity},
        }
        for i, quantity in ((1, 2), (2, 5))
    ]
    response = batch(bc, requests)
    assert response.status_code == 200
    ours = response.json()
    assert list(ours) == list(real)
    assert [r["status"] for r in ours["responses"]] == [r["status"] for r in real["responses"]]
    for mine, theirs in zip(ours["responses"], real["responses"], strict=True):
        assert list(mine) == list(theirs)
        assert mine["id"] == theirs["id"]
        assert set(mine["headers"]) == set(theirs["headers"])
        assert mine["headers"]["content-type"] == theirs["headers"]["content-type"]
        assert mine["headers"]["location"] == f"{bc.api_root()}/{lines}({mine['body']['id']})"
        assert set(theirs["body"]) <= set(mine["body"])
        assert mine["body"]["@odata.context"].endswith("/salesOrderLines/$entity")
        assert mine["body"]["documentId"] == order["id"]
    assert [r["body"]["sequence"] for r in ours["responses"]] == [10000, 20000]


def test_per_operation_if_match_is_honoured(bc):
    customer = first(bc, "customers")
    url = company_path(bc, f"customers({customer['id']})")
    ops = [
        {
            "id": "1",
            "method": "PATCH",
            "url": url,
            "headers": {"If-Match": customer["@odata.etag"]},
            "body": {"city": "Rome"},
        },
        {
            "id": "2",
            "method": "PATCH",
            "url": url,
            "headers": {"If-Match": customer["@odata.etag"]},
            "body": {"city": "Milan"},
        },
        {"id": "3", "method": "GET", "url": url},
    ]
    answers = batch(bc, ops, Prefer="odata.continue-on-error").json()["responses"]
    assert [a["status"] for a in answers] == [200, 409, 200]
    assert answers[1]["body"]["error"]["code"] == "Request_EntityChanged"
    assert answers[1]["headers"]["odata-version"] == "4.0"
    assert answers[2]["body"]["city"] == "Rome"


def test_without_continue_on_error_later_operations_do_not_run(bc):
    before = count(bc, "customers")
    ops = [
        {
            "id": "a",
            "method": "POST",
            "url": company_path(bc, "customers"),
            "body": {"displayName": "A"},
        },
        {"id": "b", "method": "POST", "url": company_path(bc, "customers"), "body": {"bogus": 1}},
        {
            "id": "c",
            "method": "POST",
            "url": company_path(bc, "customers"),
            "body": {"displayName": "C"},
        },
    ]
    answers = batch(bc, ops).json()["responses"]
    assert [a["status"] for a in answers] == [201, 400]
    assert count(bc, "customers") == before + 1
    answers = batch(bc, ops, Prefer="odata.continue-on-error").json()["responses"]
    assert [a["status"] for a in answers] == [201, 400, 201]
    assert count(bc, "customers") == before + 3


def test_isolation_snapshot_is_all_or_nothing(bc):
    before = count(bc, "customers")
    ops = [
        {
            "id": "a",
            "method": "POST",
            "url": company_path(bc, "customers"),
            "body": {"displayName": "A"},
        },
        {"id": "b", "method": "POST", "url": company_path(bc, "customers"), "body": {"bogus": 1}},
    ]
    answers = batch(bc, ops, Isolation="snapshot").json()["responses"]
    # Every operation that ran is answered, successes too, although all were rolled back.
    assert [(a["id"], a["status"]) for a in answers] == [("a", 201), ("b", 400)]
    assert count(bc, "customers") == before
    ok = batch(bc, ops[:1], Isolation="snapshot").json()["responses"]
    assert [a["status"] for a in ok] == [201]
    assert count(bc, "customers") == before + 1


def test_more_than_100_operations_is_refused(bc):
    ops = [{"id": str(i), "method": "GET", "url": "companies"} for i in range(101)]
    response = batch(bc, ops)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "Unknown"
    assert batch(bc, ops[:100]).status_code == 200


def test_counters_count_batches_and_their_operations(bc):
    bc.hook("DELETE", "counters")
    batch(bc, [{"id": str(i), "method": "GET", "url": "companies"} for i in range(3)])
    counters = bc.counters()
    assert (counters["batches"], counters["batch_operations"]) == (1, 3)
    assert counters["by_kind"]["batch"] == 1


def test_a_company_header_naming_no_company_is_answered_per_operation(bc):
    """The wording is the emulator's (BC's answer to an unknown company name is unconfirmed)."""
    ops = [
        {"id": "x", "method": "GET", "url": "items", "headers": {"Company": "No Such Company"}},
        {"id": "y", "method": "GET", "url": "companies"},
    ]
    answers = batch(bc, ops, Prefer="odata.continue-on-error").json()["responses"]
    assert [(a["id"], a["status"]) for a in answers] == [("x", 404), ("y", 200)]
    assert answers[0]["body"]["error"]["code"] == "Internal_CompanyNotFound"
