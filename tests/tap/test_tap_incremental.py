"""Incremental replication: the bookmark rule, edits between runs, and an interrupted run.

The rule: ``$filter=<key> ge <bookmark>`` with ``$orderby=<key>``, bookmark = the key of the last
row written. A second run emits every row changed since, plus the rows whose change date equals
the bookmark exactly (the boundary), and nothing else.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from tap_runner import catalog_for, direct_rows, parse_messages, run_tap, start_tap, tap_config


def ts(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


@pytest.fixture(scope="module")
def bc(start_emulator):
    """An emulator of this module's own: the tests edit its rows."""
    return start_emulator(seed=7, scale=0.05)


def bookmarks(state: dict[str, Any], stream: str) -> dict[str, str]:
    partitions = state["bookmarks"][stream]["partitions"]
    return {p["context"]["companyId"]: p["replication_key_value"] for p in partitions}


def boundary(records: list[dict[str, Any]], marks: dict[str, str], key: str) -> set[tuple]:
    """Rows of a run whose change date equals their company's bookmark: sent again next run."""
    return {(r["companyId"], r["id"]) for r in records if ts(r[key]) == ts(marks[r["companyId"]])}


def keys(records: list[dict[str, Any]]) -> set[tuple]:
    return {(r["companyId"], r["id"]) for r in records}


def test_second_run_emits_edited_rows_and_only_the_boundary(bc, tmp_path):
    config = tap_config(bc.info)
    streams = ["customers", "salesInvoices", "salesInvoiceLines"]
    catalog = catalog_for(config, streams)
    first = run_tap(tmp_path, config, catalog=catalog)
    assert first.returncode == 0, first.stderr
    state = first.states[-1]
    customers = first.records("customers")
    assert len(customers) > 4

    edited = [customers[0], customers[-1]]
    for row in edited:
        bc.hook(
            "POST",
            "edit",
            {"entity_set": "customers", "ids": [row["id"]], "changes": {"displayName": "Edited"}},
        )
    invoice = first.records("salesInvoices")[0]
    bc.hook(
        "POST",
        "edit",
        {
            "entity_set": "salesInvoices",
            "ids": [invoice["id"]],
            "changes": {"externalDocumentNumber": "X-1"},
        },
    )

    second = run_tap(tmp_path, config, catalog=catalog, state=state)
    assert second.returncode == 0, second.stderr
    marks = bookmarks(state, "customers")
    expected = keys(edited) | boundary(customers, marks, "lastModifiedDateTime")
    assert keys(second.records("customers")) == expected
    assert len(expected) < len(customers)
    assert all(
        r["displayName"] == "Edited"
        for r in second.records("customers")
        if keys([r]) <= keys(edited)
    )

    invoices = second.records("salesInvoices")
    invoice_marks = bookmarks(state, "salesInvoices")
    assert keys(invoices) == {(invoice["companyId"], invoice["id"])} | boundary(
        first.records("salesInvoices"), invoice_marks, "lastModifiedDateTime"
    )
    # The edited header brings its current lines along, in the same request.
    lines = second.records("salesInvoiceLines")
    assert {(r["companyId"], r["documentId"]) for r in lines} <= keys(invoices)
    assert any(r["documentId"] == invoice["id"] for r in lines)

    # A third run with nothing changed sends only the boundary rows again.
    third = run_tap(tmp_path, config, catalog=catalog, state=second.states[-1])
    marks = bookmarks(second.states[-1], "customers")
    assert keys(third.records("customers")) == boundary(
        second.records("customers"), marks, "lastModifiedDateTime"
    )


def test_interrupted_run_resumes_without_gaps(bc, tmp_path):
    config = tap_config(bc.info, page_size=100, max_concurrency=1)
    catalog = catalog_for(config, ["generalLedgerEntries"])
    expected: set[tuple] = set()
    for index, company in enumerate(bc.companies):
        expected |= {
            (company["id"], r["id"]) for r in direct_rows(bc, "generalLedgerEntries", index)
        }

    process = start_tap(tmp_path, config, catalog)
    assert process.stdout is not None
    lines: list[str] = []
    records = 0
    for line in process.stdout:
        lines.append(line)
        records += line.startswith('{"type":"RECORD"')
        if records >= 250:
            break
    process.kill()
    process.wait()
    process.stdout.close()
    before = parse_messages("".join(lines))
    states = [m["value"] for m in before if m["type"] == "STATE"]
    assert states, "the tap wrote no STATE before it was stopped"
    first_keys = keys([m["record"] for m in before if m["type"] == "RECORD"])
    assert first_keys < expected

    resumed = run_tap(tmp_path, config, catalog=catalog, state=states[-1])
    assert resumed.returncode == 0, resumed.stderr
    second_keys = keys(resumed.records("generalLedgerEntries"))
    assert first_keys | second_keys == expected  # no gap
    assert len(second_keys) < len(expected)  # resumed, not restarted


def test_start_date_keeps_never_stamped_rows(bc, tmp_path):
    config = tap_config(bc.info, start_date="2100-01-01T00:00:00Z")
    run = run_tap(tmp_path, config, catalog=catalog_for(config, ["generalLedgerEntries"]))
    assert run.returncode == 0, run.stderr
    rows = run.records("generalLedgerEntries")
    assert rows
    assert all(r["lastModifiedDateTime"] == "0001-01-01T00:00:00Z" for r in rows)
