"""The tap's delete detection, run as the CLI: delete records, state, and what it says of itself."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from tap_runner import catalog_for, run_tap, tap_config

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from conftest import RunningEmulator

STREAMS = ["customers", "salesInvoices", "salesInvoiceLines", "agedAccountsReceivables"]


@pytest.fixture(scope="module")
def bc(start_emulator: Callable[..., RunningEmulator]) -> RunningEmulator:
    return start_emulator(seed=5, scale=0.05)


def _metrics(stderr: str) -> list[dict[str, Any]]:
    return [
        json.loads(line.split("METRIC: ", 1)[1])
        for line in stderr.splitlines()
        if "METRIC: " in line
    ]


def _deletes(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r.get("_sdc_deleted_at")]


def test_catalog_says_what_the_tap_does(bc: RunningEmulator) -> None:
    config = tap_config(bc.info)
    catalog = catalog_for(config, STREAMS)
    entries = {entry["tap_stream_id"]: entry for entry in catalog["streams"]}
    lines = entries["salesInvoiceLines"]
    assert lines["replication_method"] == "INCREMENTAL"  # with its incremental header
    inclusion = {
        tuple(item["breadcrumb"]): item["metadata"].get("inclusion") for item in lines["metadata"]
    }
    assert inclusion["properties", "documentId"] == "automatic"
    assert inclusion["properties", "_sdc_deleted_at"] == "automatic"
    assert "_sdc_deleted_at" in entries["customers"]["schema"]["properties"]
    assert "_sdc_deleted_at" not in entries["generalLedgerEntries"]["schema"]["properties"]


def test_deletes_arrive_company_by_company_with_line_counts(
    bc: RunningEmulator, tmp_path: Path
) -> None:
    # A customer BC lets go: no ledger entries or documents (Customer.OnDelete refuses the others).
    made = bc.request("POST", bc.company_url("customers", 1), json={"displayName": "Short-lived"})
    assert made.status_code == 201, made.text
    config = tap_config(bc.info)
    catalog = catalog_for(config, STREAMS)
    first = run_tap(tmp_path, config, catalog=catalog)
    assert first.returncode == 0, first.stderr[-2000:]
    assert not any(_deletes(first.records(s)) for s in STREAMS)
    # Lines are counted, per company, in record_count.
    counted: dict[str, int] = {}
    for metric in _metrics(first.stderr):
        tags = metric["tags"]
        if metric["metric"] == "record_count" and tags.get("stream") == "salesInvoiceLines":
            company = (tags.get("context") or {}).get("companyId")
            counted[company] = counted.get(company, 0) + metric["value"]
    written: dict[str, int] = {}
    for line in first.records("salesInvoiceLines"):
        written[line["companyId"]] = written.get(line["companyId"], 0) + 1
    assert {c: n for c, n in counted.items() if n} == written
    assert all(line["documentId"] for line in first.records("salesInvoiceLines"))

    company = bc.companies[1]["id"]
    invoice = next(
        row
        for row in bc.get_all(
            bc.company_url("salesInvoices?$filter=status eq 'Draft'&$expand=salesInvoiceLines", 1)
        )
        if row["salesInvoiceLines"]
    )
    line = invoice["salesInvoiceLines"][0]
    url = bc.company_url(f"salesInvoices({invoice['id']})/salesInvoiceLines({line['id']})", 1)
    assert bc.request("DELETE", url).status_code == 204
    customer = made.json()
    deleted = bc.request("DELETE", bc.company_url(f"customers({customer['id']})", 1))
    assert deleted.status_code == 204, deleted.text

    second = run_tap(tmp_path, config, catalog=catalog, state=first.states[-1])
    assert second.returncode == 0, second.stderr[-2000:]
    line_deletes = _deletes(second.records("salesInvoiceLines"))
    assert [(r["companyId"], r["id"]) for r in line_deletes] == [(company, line["id"])]
    assert set(line_deletes[0]) == {"companyId", "id", "_sdc_deleted_at"}
    customer_deletes = _deletes(second.records("customers"))
    assert [(r["companyId"], r["id"]) for r in customer_deletes] == [(company, customer["id"])]
    # The header was read again (its total changed), with its remaining lines.
    assert invoice["id"] in {r["id"] for r in second.records("salesInvoices")}

    third = run_tap(tmp_path, config, catalog=catalog, state=second.states[-1])
    assert not any(_deletes(third.records(s)) for s in STREAMS)  # said once


def test_no_activate_version_from_a_job_of_some_companies(
    bc: RunningEmulator, tmp_path: Path
) -> None:
    some = tap_config(bc.info, company_ids=[bc.companies[0]["id"]])
    every = tap_config(bc.info)
    for config, expected in ((some, False), (every, True)):
        run = run_tap(tmp_path, config, catalog=catalog_for(config, ["agedAccountsReceivables"]))
        assert run.returncode == 0, run.stderr[-2000:]
        sent = "ACTIVATE_VERSION" in run.types("agedAccountsReceivables")
        assert sent is expected


def test_key_reads_every_n_hours_keep_what_was_written_between(
    bc: RunningEmulator, tmp_path: Path
) -> None:
    config = tap_config(bc.info, detect_deletes_every_hours=24)
    catalog = catalog_for(config, ["customers"])
    first = run_tap(tmp_path, config, catalog=catalog)
    created = bc.request(
        "POST", bc.company_url("customers", 0), json={"displayName": "Made by mistake"}
    )
    assert created.status_code == 201, created.text
    new_id = created.json()["id"]
    second = run_tap(tmp_path, config, catalog=catalog, state=first.states[-1])
    assert new_id in {r["id"] for r in second.records("customers")}
    assert not _deletes(second.records("customers"))  # no key read: not due
    assert bc.request("DELETE", bc.company_url(f"customers({new_id})", 0)).status_code == 204
    state = json.loads(json.dumps(second.states[-1]))
    for partition in state["bookmarks"]["customers"]["partitions"]:
        partition["deletes"]["at"] = "2000-01-01T00:00:00+00:00"  # a day has passed
    third = run_tap(tmp_path, config, catalog=catalog, state=state)
    assert [r["id"] for r in _deletes(third.records("customers"))] == [new_id]


def test_a_sketch_too_small_warns_finds_what_it_can_and_grows(
    bc: RunningEmulator, tmp_path: Path
) -> None:
    # Capacity 1: above 57 keys a company's customers are remembered by a sketch of 33 cells.
    config = tap_config(bc.info, detect_deletes_capacity=1, company_ids=[bc.companies[0]["id"]])
    catalog = catalog_for(config, ["customers"])
    made = []
    for number in range(80):
        response = bc.request(
            "POST", bc.company_url("customers", 0), json={"displayName": f"Bulk {number}"}
        )
        assert response.status_code == 201, response.text
        made.append(response.json()["id"])
    first = run_tap(tmp_path, config, catalog=catalog)
    snapshot = first.states[-1]["bookmarks"]["customers"]["partitions"][0]["deletes"]
    assert "sketch" in snapshot

    for row_id in made[:60]:
        assert bc.request("DELETE", bc.company_url(f"customers({row_id})", 0)).status_code == 204
    second = run_tap(tmp_path, config, catalog=catalog, state=first.states[-1])
    assert second.returncode == 0, second.stderr[-2000:]
    assert "more rows changed since the last reconciliation than its sketch holds" in second.stderr
    found = {r["id"] for r in _deletes(second.records("customers"))}
    assert found <= set(made[:60])  # whatever it sends is a real delete
    grown = second.states[-1]["bookmarks"]["customers"]["partitions"][0]["deletes"]
    # Next time: the keys themselves (when smaller) or a sketch four times larger.
    assert "keys" in grown or len(grown["sketch"]) >= 4 * len(snapshot["sketch"]) - 8

    for row_id in made[60:65]:
        assert bc.request("DELETE", bc.company_url(f"customers({row_id})", 0)).status_code == 204
    third = run_tap(tmp_path, config, catalog=catalog, state=second.states[-1])
    assert "than its sketch holds" not in third.stderr
    assert {r["id"] for r in _deletes(third.records("customers"))} == set(made[60:65])


def test_a_first_run_takes_its_keys_from_the_rows_it_read(
    bc: RunningEmulator, tmp_path: Path
) -> None:
    """From no bookmark the read writes every row: no key read is needed, and deletes still work."""
    catalog = catalog_for(tap_config(bc.info), ["customers", "salesInvoices", "salesInvoiceLines"])
    requests: dict[bool, int] = {}
    for detect in (False, True):
        before = bc.counters()["requests_total"]
        folder = tmp_path / str(detect)
        folder.mkdir()
        run = run_tap(folder, tap_config(bc.info, detect_deletes=detect), catalog=catalog)
        assert run.returncode == 0, run.stderr[-2000:]
        requests[detect] = bc.counters()["requests_total"] - before
    assert requests[True] == requests[False]
    # The keys remembered are complete: a second run from that state reads keys and finds none gone.
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    first = run_tap(tmp_path / "first", tap_config(bc.info), catalog=catalog)
    second = run_tap(
        tmp_path / "second", tap_config(bc.info), catalog=catalog, state=first.states[-1]
    )
    assert second.returncode == 0, second.stderr[-2000:]
    assert not any(_deletes(second.records(s)) for s in ("customers", "salesInvoiceLines"))
