"""The tap's own RECORD path writes what the SDK's would, and every STATE covers what precedes it.

The tap writes records without the SDK's per-record machinery when no stream map or flattening
applies (see ``BusinessCentralStream._write_record_message``). A stream map that changes nothing
forces the SDK's path: both runs must print the same messages, but for ``time_extracted``.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from typing import Any

import pytest
from tap_runner import TapRun, catalog_for, run_tap, tap_config

STREAMS = [
    "customers",
    "generalLedgerEntries",
    "salesInvoices",
    "salesInvoiceLines",
    "agedAccountsReceivables",
]
DESELECTED = ("customers", "displayName")


def _catalog(config: dict[str, Any]) -> dict[str, Any]:
    catalog = catalog_for(config, STREAMS)
    stream, prop = DESELECTED
    for entry in catalog["streams"]:
        if entry["tap_stream_id"] != stream:
            continue
        for item in entry["metadata"]:
            if item["breadcrumb"] == ["properties", prop]:
                item["metadata"]["selected"] = False
    return catalog


@pytest.fixture(scope="module")
def runs(emulator, tmp_path_factory) -> dict[str, TapRun]:
    config = tap_config(emulator.info, page_size=500)
    catalog = _catalog(config)
    done = {}
    # An empty map per stream is a CustomStreamMap that keeps every property as it is.
    sdk_config = {**config, "stream_maps": {name: {} for name in STREAMS}}
    for label, run_config in (("fast", config), ("sdk", sdk_config)):
        run = run_tap(tmp_path_factory.mktemp(label), run_config, catalog=copy.deepcopy(catalog))
        assert run.returncode == 0, run.stderr
        done[label] = run
    return done


def _without_time(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages without ``time_extracted``, and table versions (run start times) numbered."""
    versions: dict[int, int] = {}
    plain = []
    for message in messages:
        copied = {k: v for k, v in message.items() if k != "time_extracted"}
        if copied.get("type") == "STATE":  # when keys were read for delete detection
            copied = json.loads(re.sub(r'"at": "[^"]*"', '"at": ""', json.dumps(copied)))
        if "version" in copied:
            copied["version"] = versions.setdefault(copied["version"], len(versions))
        plain.append(copied)
    return plain


def test_fast_path_prints_what_the_sdk_prints(runs):
    fast, sdk = runs["fast"], runs["sdk"]
    assert fast.records("generalLedgerEntries")  # the run moved rows at all
    assert _without_time(fast.messages) == _without_time(sdk.messages)
    # The runs did take different paths: the SDK stamps each record, the tap each page.
    stamps = {label: {m.get("time_extracted") for m in run.messages} for label, run in runs.items()}
    assert len(stamps["fast"]) < len(fast.messages) / 100 < len(stamps["sdk"])


def test_records_carry_an_aware_extraction_time(runs):
    started = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    for message in runs["fast"].messages:
        if message["type"] != "RECORD":
            continue
        assert message["time_extracted"].endswith("Z")
        extracted = dt.datetime.fromisoformat(message["time_extracted"].replace("Z", "+00:00"))
        assert extracted > started


def test_deselected_property_is_not_written(runs):
    stream, prop = DESELECTED
    for label in ("fast", "sdk"):
        rows = runs[label].records(stream)
        assert rows
        assert all(prop not in row for row in rows), label
        assert all("number" in row for row in rows), label


def test_every_state_bookmarks_the_last_row_written_before_it(runs):
    """Pages of 500 give several STATEs per partition; each names the last row before it."""
    last: dict[tuple[str, str], str] = {}
    keys = {"customers": "lastModifiedDateTime", "generalLedgerEntries": "lastModifiedDateTime"}
    checked = 0
    for message in runs["fast"].messages:
        if message["type"] == "RECORD" and message["stream"] in keys:
            record = message["record"]
            last[(message["stream"], record["companyId"])] = record[keys[message["stream"]]]
        elif message["type"] == "STATE":
            for stream, bookmarks in message["value"].get("bookmarks", {}).items():
                if stream not in keys:
                    continue
                for partition in bookmarks.get("partitions", []):
                    company = partition["context"]["companyId"]
                    value = partition.get("replication_key_value")
                    assert value == last.get((stream, company)), (stream, company)
                    checked += 1
    assert checked > 4 * len(keys)  # several pages per partition, both companies


def test_a_rerun_that_moves_no_bookmark_still_writes_its_rows(runs, emulator, tmp_path):
    """Rows equal to the bookmark come again; the last STATE equals the first and is skipped."""
    first = runs["fast"]
    state = first.states[-1]
    config = tap_config(emulator.info, page_size=500)
    again = run_tap(tmp_path, config, catalog=_catalog(config), state=state)
    assert again.returncode == 0, again.stderr
    incremental = ("customers", "generalLedgerEntries", "salesInvoices")
    for stream in incremental:
        marks = {
            p["context"]["companyId"]: p["replication_key_value"]
            for p in state["bookmarks"][stream]["partitions"]
        }
        boundary = [
            (r["companyId"], r["id"])
            for r in first.records(stream)
            if r["lastModifiedDateTime"] == marks[r["companyId"]]
        ]
        assert boundary, stream
        assert [(r["companyId"], r["id"]) for r in again.records(stream)] == boundary, stream
    invoices = {r["id"] for r in again.records("salesInvoices")}
    lines = again.records("salesInvoiceLines")
    assert lines
    assert {line["documentId"] for line in lines} <= invoices
