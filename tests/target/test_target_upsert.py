"""Upserts over HTTP: POST and PATCH by natural key and id, ETags, conflicts, actions, deletes."""

from __future__ import annotations

import decimal
import json
from typing import TYPE_CHECKING, Any

from target.conftest import rows_by
from target.target_runner import messages_for, run_target, target_config

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import RunningEmulator


def test_new_changed_and_unchanged_customers(bc: RunningEmulator, tmp_path: Path) -> None:
    company = bc.companies[0]["id"]
    existing = bc.get_all(bc.company_url("customers"))
    records = [
        {"number": "T-0001", "displayName": "Tailspin Toys", "companyId": company},
        {"number": existing[0]["number"], "displayName": "Renamed Ltd", "companyId": company},
        {
            "number": existing[1]["number"],
            "displayName": existing[1]["displayName"],
            "companyId": company,
        },
    ]
    config = target_config(bc.info, tmp_path)
    run = run_target(tmp_path, config, messages_for({"customers": records}))
    assert run.returncode == 0, run.stderr[-3000:]
    summary = run.summary("customers")
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (1, 1, 1)
    assert summary["rejected"] == 0
    rows = rows_by(bc, "customers", "number")
    assert rows["T-0001"]["displayName"] == "Tailspin Toys"
    assert rows[existing[0]["number"]]["displayName"] == "Renamed Ltd"
    assert (
        rows[existing[1]["number"]]["lastModifiedDateTime"] == existing[1]["lastModifiedDateTime"]
    )
    assert len(rows) == len(existing) + 1


def test_second_run_of_the_same_input_writes_nothing(bc: RunningEmulator, tmp_path: Path) -> None:
    company = bc.companies[0]["id"]
    records = [
        {
            "number": f"R-{i:04d}",
            "displayName": f"Repeat {i}",
            "creditLimit": 1234.5,
            "companyId": company,
        }
        for i in range(120)
    ]
    config = target_config(bc.info, tmp_path)
    first = run_target(tmp_path, config, messages_for({"customers": records}))
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.summary("customers")["created"] == 120
    before = bc.get_all(bc.company_url("customers"))
    bc.hook("DELETE", "counters")
    second = run_target(tmp_path, config, messages_for({"customers": records}))
    assert second.returncode == 0, second.stderr[-3000:]
    summary = second.summary("customers")
    assert summary["unchanged"] == 120
    assert summary["created"] == summary["updated"] == 0
    counters = bc.counters()
    assert counters["writes"] == {}, counters
    assert bc.get_all(bc.company_url("customers")) == before


def test_quotes_in_natural_keys_match_exactly_and_cannot_widen_a_filter(
    bc: RunningEmulator, tmp_path: Path
) -> None:
    company = bc.companies[0]["id"]
    before = rows_by(bc, "customers", "number")
    sneaky = "X' or number ne '"
    records = [
        {"number": "O'Brien", "displayName": "O'Brien & Sons", "companyId": company},
        {"number": sneaky, "displayName": "Sneaky", "companyId": company},
    ]
    config = target_config(bc.info, tmp_path)
    run = run_target(tmp_path, config, messages_for({"customers": records}))
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.summary("customers")["created"] == 2
    after = rows_by(bc, "customers", "number")
    assert after["O'Brien"]["displayName"] == "O'Brien & Sons"
    assert after[sneaky]["displayName"] == "Sneaky"
    for number, row in before.items():  # nobody else was touched
        assert after[number] == row
    records[0]["displayName"] = "O'Brien and Daughters"
    again = run_target(tmp_path, config, messages_for({"customers": records}))
    assert again.summary("customers")["updated"] == 1
    assert again.summary("customers")["unchanged"] == 1
    assert rows_by(bc, "customers", "number")["O'Brien"]["displayName"] == "O'Brien and Daughters"


def test_record_with_id_is_patched_with_bcs_etag(bc: RunningEmulator, tmp_path: Path) -> None:
    company = bc.companies[0]["id"]
    row = bc.get_all(bc.company_url("customers"))[2]
    record = {
        "id": row["id"],
        "displayName": "By Id",
        "phoneNumber": "555-0100",
        "companyId": company,
    }
    run = run_target(
        tmp_path, target_config(bc.info, tmp_path), messages_for({"customers": [record]})
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.summary("customers")["updated"] == 1
    now = bc.get(bc.company_url("customers") + f"({row['id']})").json()
    assert (now["displayName"], now["phoneNumber"]) == ("By Id", "555-0100")
    assert now["number"] == row["number"]
    assert now["@odata.etag"] != row["@odata.etag"]


def _concurrent_edit(bc: RunningEmulator, row: dict[str, Any], name: str) -> dict[str, Any]:
    bc.hook(
        "POST",
        "edit",
        {"entity_set": "customers", "ids": [row["id"]], "changes": {"displayName": name}},
    )
    return bc.get(bc.company_url("customers") + f"({row['id']})").json()


def test_edit_in_bc_between_read_and_write_is_a_conflict(
    bc: RunningEmulator, tmp_path: Path
) -> None:
    company = bc.companies[0]["id"]
    read = bc.get_all(bc.company_url("customers"))[3]  # what a tap read
    current = _concurrent_edit(bc, read, "Edited in BC")
    record = {**read, "companyId": company, "displayName": "From the warehouse"}
    record.pop("@odata.etag")
    run = run_target(
        tmp_path, target_config(bc.info, tmp_path), messages_for({"customers": [record]})
    )
    assert run.returncode == 1  # one rejection, max_rejections 0
    assert "1 records were rejected" in run.stderr
    assert run.summary("customers")["rejected"] == 1
    (rejected,) = run.rejected
    assert rejected["stream"] == "customers"
    assert rejected["code"] == "Request_EntityChanged"
    assert rejected["status"] == 409
    assert rejected["current_etag"] == current["@odata.etag"]
    assert rejected["record"]["displayName"] == "From the warehouse"
    assert rejected["operation"] == "update"
    assert rejected["time"]
    now = bc.get(bc.company_url("customers") + f"({read['id']})").json()
    assert now["displayName"] == "Edited in BC"


def test_stale_etag_in_the_record_is_a_conflict(bc: RunningEmulator, tmp_path: Path) -> None:
    company = bc.companies[0]["id"]
    read = bc.get_all(bc.company_url("customers"))[4]
    current = _concurrent_edit(bc, read, "Edited in BC")
    record = {
        "id": read["id"],
        "@odata.etag": read["@odata.etag"],
        "displayName": "Mine",
        "companyId": company,
    }
    run = run_target(
        tmp_path,
        target_config(bc.info, tmp_path, max_rejections=5),
        messages_for({"customers": [record]}),
    )
    assert run.returncode == 0, run.stderr[-3000:]
    (rejected,) = run.rejected
    assert rejected["code"] == "Request_EntityChanged"
    assert rejected["current_etag"] == current["@odata.etag"]
    assert bc.get(bc.company_url("customers") + f"({read['id']})").json()["displayName"] == (
        "Edited in BC"
    )


def test_conflicts_overwrite_rereads_and_applies(bc: RunningEmulator, tmp_path: Path) -> None:
    company = bc.companies[0]["id"]
    read = bc.get_all(bc.company_url("customers"))[5]
    _concurrent_edit(bc, read, "Edited in BC")
    record = {
        "id": read["id"],
        "@odata.etag": read["@odata.etag"],
        "displayName": "Mine wins",
        "companyId": company,
    }
    config = target_config(bc.info, tmp_path, conflicts="overwrite")
    run = run_target(tmp_path, config, messages_for({"customers": [record]}))
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.summary("customers")["updated"] == 1
    assert run.rejected == []
    assert bc.get(bc.company_url("customers") + f"({read['id']})").json()["displayName"] == (
        "Mine wins"
    )


def test_actions_create_only_update_only_and_delete(bc: RunningEmulator, tmp_path: Path) -> None:
    company = bc.companies[0]["id"]
    existing = bc.get_all(bc.company_url("customers"))
    config = target_config(
        bc.info,
        tmp_path,
        max_rejections=10,
        stream_settings={"customers": {"action": "create"}},
    )
    records = [
        {"number": existing[0]["number"], "displayName": "Not overwritten", "companyId": company},
        {"number": "NEW-1", "displayName": "Created", "companyId": company},
    ]
    run = run_target(tmp_path, config, messages_for({"customers": records}))
    summary = run.summary("customers")
    assert (summary["created"], summary["unchanged"]) == (1, 1)
    rows = rows_by(bc, "customers", "number")
    assert rows[existing[0]["number"]]["displayName"] == existing[0]["displayName"]

    config["stream_settings"] = {"customers": {"action": "update"}}
    records = [
        {"number": existing[0]["number"], "displayName": "Updated", "companyId": company},
        {"number": "NEW-2", "displayName": "Never created", "companyId": company},
    ]
    run = run_target(tmp_path, config, messages_for({"customers": records}))
    summary = run.summary("customers")
    assert (summary["updated"], summary["rejected"], summary["created"]) == (1, 1, 0)
    assert run.rejected[0]["record"]["number"] == "NEW-2"
    assert "NEW-2" not in rows_by(bc, "customers", "number")

    config["stream_settings"] = {"customers": {"action": "delete"}}
    records = [{"number": "NEW-1", "companyId": company}]
    run = run_target(tmp_path, config, messages_for({"customers": records}))
    assert run.summary("customers")["deleted"] == 1
    assert "NEW-1" not in rows_by(bc, "customers", "number")


def test_sdc_deleted_at_deletes_only_when_hard_delete_is_on(
    bc: RunningEmulator, tmp_path: Path
) -> None:
    company = bc.companies[0]["id"]
    # A customer with no ledger entries or documents: BC refuses to delete the others
    # (Customer.OnDelete / MoveEntries; tests/contract/test_contract_master_data.py).
    answer = bc.request(
        "POST", bc.company_url("customers"), json={"number": "SDC-1", "displayName": "Gone"}
    )
    assert answer.status_code == 201, answer.text
    victim = answer.json()
    record = {
        "number": victim["number"],
        "displayName": victim["displayName"],
        "companyId": company,
        "_sdc_deleted_at": "2026-11-20T10:00:00Z",
    }
    config = target_config(bc.info, tmp_path)
    run = run_target(tmp_path, config, messages_for({"customers": [record]}))
    assert run.summary("customers")["unchanged"] == 1
    assert victim["number"] in rows_by(bc, "customers", "number")
    config["hard_delete"] = True
    run = run_target(tmp_path, config, messages_for({"customers": [record]}))
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.summary("customers")["deleted"] == 1
    assert victim["number"] not in rows_by(bc, "customers", "number")
    again = run_target(tmp_path, config, messages_for({"customers": [record]}))
    assert again.summary("customers")["unchanged"] == 1


def test_default_company_by_name_and_record_company(bc: RunningEmulator, tmp_path: Path) -> None:
    second = bc.companies[1]
    config = target_config(bc.info, tmp_path, default_company=second["name"])
    records = [
        {"number": "DC-1", "displayName": "To the default company"},
        {"number": "DC-2", "displayName": "To its own company", "companyId": bc.companies[0]["id"]},
    ]
    run = run_target(tmp_path, config, messages_for({"customers": records}))
    assert run.returncode == 0, run.stderr[-3000:]
    assert "DC-1" in rows_by(bc, "customers", "number", company=1)
    assert "DC-1" not in rows_by(bc, "customers", "number", company=0)
    assert "DC-2" in rows_by(bc, "customers", "number", company=0)


def test_batches_keep_requests_under_two_per_hundred_records(
    bc: RunningEmulator, tmp_path: Path
) -> None:
    company = bc.companies[0]["id"]
    existing = bc.get_all(bc.company_url("customers"))
    records = [
        {"number": f"B-{i:05d}", "displayName": f"Batch {i}", "companyId": company}
        for i in range(500 - len(existing))
    ]
    records += [
        {
            "number": r["number"],
            "displayName": r["displayName"] + " (changed)",
            "companyId": company,
        }
        for r in existing
    ]
    bc.hook("DELETE", "counters")
    run = run_target(
        tmp_path, target_config(bc.info, tmp_path), messages_for({"customers": records})
    )
    assert run.returncode == 0, run.stderr[-3000:]
    summary = run.summary("customers")
    assert summary["created"] + summary["updated"] == 500
    assert summary["requests"] <= 10, summary
    counters = bc.counters()
    assert counters["batches"] <= 10, counters
    assert counters["batch_operations"] >= 500


def test_custom_api_set_with_custom_fields(bc: RunningEmulator, tmp_path: Path) -> None:
    company = bc.companies[0]["id"]
    stream = "contoso_sales_v1_0__customers"  # the tap's name: v2.0 has customers too
    records = [
        {
            "no": "CX-1",
            "name": "Custom One",
            "loyaltyTier": "Gold",
            "creditScore": decimal.Decimal("712.125"),
            "companyId": company,
        },
    ]
    config = target_config(bc.info, tmp_path)
    run = run_target(tmp_path, config, messages_for({stream: records}))
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.summary(stream)["created"] == 1
    url = bc.company_url("customers", api="contoso/sales/v1.0")
    response = bc.get(url, params={"$filter": "no eq 'CX-1'"})
    (row,) = json.loads(response.text, parse_float=decimal.Decimal)["value"]
    assert (row["name"], row["loyaltyTier"], row["creditScore"]) == (
        "Custom One",
        "Gold",
        decimal.Decimal("712.125"),
    )
    records[0]["loyaltyTier"] = "Silver"
    again = run_target(tmp_path, config, messages_for({stream: records}))
    assert again.summary(stream)["updated"] == 1
    assert bc.get(url, params={"$filter": "no eq 'CX-1'"}).json()["value"][0]["loyaltyTier"] == (
        "Silver"
    )


def test_records_of_one_key_are_applied_in_order(bc: RunningEmulator, tmp_path: Path) -> None:
    company = bc.companies[0]["id"]
    records = [
        {"number": "ORD-1", "displayName": "first", "companyId": company},
        {"number": "ORD-2", "displayName": "other", "companyId": company},
        {"number": "ORD-1", "displayName": "second", "companyId": company},
        {"number": "ORD-1", "displayName": "third", "companyId": company},
    ]
    run = run_target(
        tmp_path, target_config(bc.info, tmp_path), messages_for({"customers": records})
    )
    assert run.returncode == 0, run.stderr[-3000:]
    summary = run.summary("customers")
    assert (summary["created"], summary["updated"]) == (2, 2)
    assert rows_by(bc, "customers", "number")["ORD-1"]["displayName"] == "third"
