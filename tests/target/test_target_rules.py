"""Nothing lost, nothing hidden: validation, unknown and read-only fields, dry runs, exit status,
STATE after writes, and settings errors as one clear line."""

from __future__ import annotations

from typing import TYPE_CHECKING

from target.conftest import rows_by
from target.target_runner import encode, messages_for, run_target, schema_message, target_config

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import RunningEmulator


def test_bad_values_are_rejected_by_field_and_the_rest_is_written(
    bc: RunningEmulator, tmp_path: Path
) -> None:
    company = bc.companies[0]["id"]
    records = [
        {"number": "V-1", "displayName": "Good", "companyId": company},
        {"number": "V-2", "displayName": "x" * 101, "companyId": company},
        {"number": "V-3", "displayName": "Bad enum", "blocked": "Sometimes", "companyId": company},
        {"number": "V-4", "displayName": "Bad number", "creditLimit": "lots", "companyId": company},
        {"number": "V-5", "displayName": "Good too", "companyId": company},
    ]
    config = target_config(bc.info, tmp_path)
    run = run_target(tmp_path, config, messages_for({"customers": records}))
    assert run.returncode == 1
    assert "3 records were rejected (max_rejections is 0)" in run.stderr
    assert "Traceback" not in run.stderr
    summary = run.summary("customers")
    assert (summary["created"], summary["rejected"]) == (2, 3)
    by_number = {r["record"]["number"]: r for r in run.rejected}
    assert "'displayName'" in by_number["V-2"]["message"]
    assert "at most 100" in by_number["V-2"]["message"]
    assert "'blocked'" in by_number["V-3"]["message"]
    assert "'creditLimit'" in by_number["V-4"]["message"]
    assert all(r["operation"] == "validate" for r in run.rejected)
    rows = rows_by(bc, "customers", "number")
    assert {"V-1", "V-5"} <= set(rows)
    assert not {"V-2", "V-3", "V-4"} & set(rows)
    config["max_rejections"] = 3
    assert run_target(tmp_path, config, messages_for({"customers": records})).returncode == 0


def test_bc_refusals_carry_bcs_code_message_and_correlation_id(
    bc: RunningEmulator, tmp_path: Path
) -> None:
    records = [
        {
            "number": "I-1",
            "displayName": "Item",
            "type": "Inventory",
            "itemCategoryCode": "NO-SUCH-CATEGORY",
        }
    ]
    invoices = [{"externalDocumentNumber": "NOCUST", "customerNumber": "NO-SUCH-CUSTOMER"}]
    config = target_config(
        bc.info, tmp_path, default_company=bc.companies[0]["name"], max_rejections=5
    )
    run = run_target(tmp_path, config, messages_for({"items": records, "salesInvoices": invoices}))
    assert run.returncode == 0, run.stderr[-3000:]
    by_stream = {r["stream"]: r for r in run.rejected}
    assert set(by_stream) == {"items", "salesInvoices"}
    # An unknown code of a field with a TableRelation: the platform's refusal (Item.Table.al
    # "Item Category Code"; Microsoft Learn dynamics-error-codes: Internal_InvalidTableRelation).
    item = by_stream["items"]
    assert (item["status"], item["code"]) == (400, "Internal_InvalidTableRelation")
    assert item["message"].startswith(
        "The field Item Category Code of table Item contains a value (NO-SUCH-CATEGORY)"
        " that cannot be found in the related table (Item Category)."
    )
    rejected = by_stream["salesInvoices"]
    assert rejected["operation"] == "create"
    # The invoice page's own label (APIV2SalesInvoices.Page.al, CouldNotFindSellToCustomerErr).
    assert rejected["status"] == 400
    assert rejected["code"] == "Application_DialogException"
    assert "The sell-to customer cannot be found." in rejected["message"]
    assert rejected["correlation_id"]


def test_unknown_fields_are_dropped_with_a_warning_or_rejected(
    bc: RunningEmulator, tmp_path: Path
) -> None:
    company = bc.companies[0]["id"]
    records = [
        {
            "number": "U-1",
            "displayName": "Unknown field",
            "favouriteColour": "teal",
            "companyId": company,
        }
    ]
    config = target_config(bc.info, tmp_path)
    run = run_target(tmp_path, config, messages_for({"customers": records}))
    assert run.returncode == 0, run.stderr[-3000:]
    assert "field 'favouriteColour' is not a field of customers" in run.stderr
    assert "U-1" in rows_by(bc, "customers", "number")
    config["unknown_fields"] = "reject"
    records[0]["number"] = "U-2"
    run = run_target(tmp_path, config, messages_for({"customers": records}))
    assert run.returncode == 1
    assert "favouriteColour" in run.rejected[0]["message"]
    assert "U-2" not in rows_by(bc, "customers", "number")


def test_read_only_fields_of_a_tap_record_are_not_sent(bc: RunningEmulator, tmp_path: Path) -> None:
    company = bc.companies[0]["id"]
    row = bc.get_all(bc.company_url("customers"))[0]
    record = {**row, "companyId": company, "balanceDue": 999999, "displayName": "Changed"}
    record.pop("@odata.etag")
    run = run_target(
        tmp_path, target_config(bc.info, tmp_path), messages_for({"customers": [record]})
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.summary("customers")["updated"] == 1
    now = bc.get(bc.company_url("customers") + f"({row['id']})").json()
    assert now["displayName"] == "Changed"
    assert now["balanceDue"] == row["balanceDue"]


def test_dry_run_plans_and_writes_nothing(bc: RunningEmulator, tmp_path: Path) -> None:
    company = bc.companies[0]["id"]
    existing = bc.get_all(bc.company_url("customers"))
    records = [
        {"number": "DRY-1", "displayName": "Would be created", "companyId": company},
        {"number": existing[0]["number"], "displayName": "Would change", "companyId": company},
        {
            "number": existing[1]["number"],
            "displayName": existing[1]["displayName"],
            "companyId": company,
        },
        {"number": "DRY-2", "displayName": "y" * 200, "companyId": company},
    ]
    bc.hook("DELETE", "counters")
    config = target_config(bc.info, tmp_path, dry_run=True, max_rejections=1)
    run = run_target(tmp_path, config, messages_for({"customers": records}))
    assert run.returncode == 0, run.stderr[-3000:]
    assert "would be created 1, would be updated 1, would be unchanged 1" in run.stderr
    summary = run.summary("customers")
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (1, 1, 1)
    assert summary["rejected"] == 1
    assert bc.counters()["writes"] == {}
    assert bc.get_all(bc.company_url("customers")) == existing


def test_state_is_emitted_after_the_records_before_it_are_handled(
    bc: RunningEmulator, tmp_path: Path
) -> None:
    company = bc.companies[0]["id"]
    messages = [
        schema_message("customers"),
        {
            "type": "RECORD",
            "stream": "customers",
            "record": {"number": "S-1", "displayName": "One", "companyId": company},
        },
        {"type": "STATE", "value": {"bookmarks": {"customers": {"at": 1}}}},
        {
            "type": "RECORD",
            "stream": "customers",
            "record": {"number": "S-2", "displayName": "x" * 300, "companyId": company},
        },
        {"type": "STATE", "value": {"bookmarks": {"customers": {"at": 2}}}},
    ]
    config = target_config(bc.info, tmp_path, max_rejections=1)
    run = run_target(tmp_path, config, encode(messages))
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.states == [{"bookmarks": {"customers": {"at": 2}}}]
    assert "S-1" in rows_by(bc, "customers", "number")
    assert [r["record"]["number"] for r in run.rejected] == ["S-2"]


def test_streams_that_name_no_writable_set_are_rejected_per_record(
    bc: RunningEmulator, tmp_path: Path
) -> None:
    company = bc.companies[0]["id"]
    config = target_config(bc.info, tmp_path, max_rejections=10)
    run = run_target(
        tmp_path,
        config,
        messages_for(
            {
                "noSuchThing": [{"a": 1}],
                "generalLedgerEntries": [{"entryNumber": 1, "companyId": company}],
            }
        ),
    )
    assert run.returncode == 0, run.stderr[-3000:]
    messages = {r["stream"]: r["message"] for r in run.rejected}
    assert "names no entity set" in messages["noSuchThing"]
    assert "read-only" in messages["generalLedgerEntries"]


def test_bad_settings_and_secrets_fail_with_one_clear_line(
    bc: RunningEmulator, tmp_path: Path
) -> None:
    company = bc.companies[0]["id"]
    records = messages_for({"customers": [{"number": "Z-1", "companyId": company}]})
    bad_action = target_config(
        bc.info, tmp_path, stream_settings={"customers": {"action": "merge"}}
    )
    run = run_target(tmp_path, bad_action, records)
    assert run.returncode == 1
    assert "action" in run.stderr
    assert "Traceback" not in run.stderr
    bad_key = target_config(
        bc.info, tmp_path, stream_settings={"customers": {"natural_key": ["shoeSize"]}}
    )
    run = run_target(tmp_path, bad_key, records)
    assert run.returncode == 1
    assert "stream_settings.customers.natural_key" in run.stderr
    assert "Traceback" not in run.stderr
    no_company = target_config(bc.info, tmp_path, default_company="Nonexistent Corp")
    run = run_target(tmp_path, no_company, messages_for({"customers": [{"number": "Z-2"}]}))
    assert run.returncode == 1
    assert "default_company" in run.stderr
    assert "Traceback" not in run.stderr
    wrong = "not-the-secret-123"
    wrong_secret = target_config(bc.info, tmp_path, client_secret=wrong)
    run = run_target(tmp_path, wrong_secret, records)
    assert run.returncode == 1
    assert "AADSTS" in run.stderr
    assert "Traceback" not in run.stderr
    assert wrong not in run.stderr + run.stdout
    good = target_config(bc.info, tmp_path)
    run = run_target(tmp_path, good, records)
    assert bc.info["client_secret"] not in run.stderr + run.stdout
    rejected_text = (tmp_path / "rejected.jsonl").read_text() if run.rejected else ""
    assert bc.info["client_secret"] not in rejected_text
