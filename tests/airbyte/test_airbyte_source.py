"""source-businesscentral end to end against the emulator: spec, check, discover, read, errors.

Every stdout line of every command must parse as the protocol's own ``AirbyteMessage``
(airbyte-protocol-models-pdv2, the models PyAirbyte validates with).
"""

from __future__ import annotations

import decimal
import subprocess
from typing import Any

import jsonschema
import pytest
from airbyte_runner import (
    SOURCE,
    airbyte_config,
    configured_catalog,
    run_source,
    source_env,
    state_input,
)
from tap.tap_runner import direct_rows


@pytest.fixture(scope="module")
def emulator(start_emulator):
    """A small emulator of this module's own: each command is a new process."""
    return start_emulator(seed=3, scale=0.05)


@pytest.fixture(scope="module")
def discovered(emulator, tmp_path_factory) -> dict[str, Any]:
    run = run_source(
        tmp_path_factory.mktemp("discover"), "discover", config=airbyte_config(emulator.info)
    )
    assert run.returncode == 0, run.stderr
    [catalog] = run.of_type("CATALOG")
    return catalog["catalog"]


def rows(emulator, entity_set: str) -> list[dict[str, Any]]:
    """Every row of the set in every company, decimals exact."""
    found: list[dict[str, Any]] = []
    for index in range(len(emulator.companies)):
        found += direct_rows(emulator, entity_set, index)  # lines through their headers
    return found


def test_spec_validates_the_config_the_tests_use(emulator, tmp_path):
    run = run_source(tmp_path, "spec")
    assert run.returncode == 0
    [spec] = run.of_type("SPEC")
    connection = spec["spec"]["connectionSpecification"]
    jsonschema.validate(airbyte_config(emulator.info), connection)
    assert spec["spec"]["supportsIncremental"] is True


def test_check_succeeds_and_fails_in_one_line_without_the_secret(emulator, tmp_path):
    good = run_source(tmp_path, "check", config=airbyte_config(emulator.info))
    assert good.returncode == 0, good.stderr
    [status] = good.of_type("CONNECTION_STATUS")
    assert status["connectionStatus"]["status"] == "SUCCEEDED"

    config = airbyte_config(emulator.info)
    config["credentials"]["client_secret"] = "wrong-secret-value-123"  # noqa: S105
    bad = run_source(tmp_path, "check", config=config)
    assert bad.returncode == 0
    [status] = bad.of_type("CONNECTION_STATUS")
    assert status["connectionStatus"]["status"] == "FAILED"
    message = status["connectionStatus"]["message"]
    assert "\n" not in message
    assert message
    assert "wrong-secret-value-123" not in bad.stdout + bad.stderr


def test_bad_config_is_one_trace_line_naming_the_setting(emulator, tmp_path):
    config = airbyte_config(emulator.info, page_size=0)
    config["credentials"]["client_secret"] = "another-secret-456"  # noqa: S105
    run = run_source(tmp_path, "discover", config=config)
    assert run.returncode == 1
    [trace] = run.of_type("TRACE")
    error = trace["trace"]["error"]
    assert error["failure_type"] == "config_error"
    assert error["message"].startswith("Setting page_size is 0")
    assert "stack_trace" not in error
    assert "another-secret-456" not in run.stdout + run.stderr
    missing = run_source(tmp_path, "read", config=airbyte_config(emulator.info), catalog="{}")
    assert missing.returncode == 1
    [trace] = missing.of_type("TRACE")
    assert trace["trace"]["error"]["message"].startswith("--catalog is not valid: streams")


def test_discover_declares_keys_cursors_and_sync_modes(discovered):
    streams = {s["name"]: s for s in discovered["streams"]}
    customers = streams["customers"]
    assert customers["supported_sync_modes"] == ["full_refresh", "incremental"]
    assert customers["source_defined_cursor"] is True
    assert customers["default_cursor_field"] == ["lastModifiedDateTime"]
    assert customers["source_defined_primary_key"] == [["companyId"], ["id"]]
    assert "companyId" in customers["json_schema"]["properties"]
    lines = streams["salesInvoiceLines"]
    assert "default_cursor_field" not in lines  # the header's cursor drives them
    full_only = [s for s in streams.values() if s["supported_sync_modes"] == ["full_refresh"]]
    assert full_only
    assert all("default_cursor_field" not in s for s in full_only)


def test_read_then_read_again_from_the_per_stream_state(emulator, discovered, tmp_path):
    full_table = next(
        s["name"]
        for s in discovered["streams"]
        if s["supported_sync_modes"] == ["full_refresh"] and rows(emulator, s["name"])
    )
    modes = {
        "customers": "incremental",
        "salesInvoices": "incremental",
        "salesInvoiceLines": "incremental",
        full_table: "full_refresh",
    }
    catalog = configured_catalog(discovered, modes)
    config = airbyte_config(emulator.info)
    first = run_source(tmp_path, "read", config=config, catalog=catalog)
    assert first.returncode == 0, first.stderr
    for stream in modes:
        assert len(first.records(stream)) == len(rows(emulator, stream)), stream
    amounts = [r["totalAmountIncludingTax"] for r in first.records("salesInvoices")]
    assert all(isinstance(a, decimal.Decimal) for a in amounts)  # exact JSON numbers
    assert sum(amounts) == sum(
        r["totalAmountIncludingTax"] for r in rows(emulator, "salesInvoices")
    )
    statuses = [m["trace"]["stream_status"] for m in first.of_type("TRACE")]
    complete = {s["stream_descriptor"]["name"] for s in statuses if s["status"] == "COMPLETE"}
    assert complete == set(modes)
    assert first.of_type("LOG")
    states = state_input(first.states())
    by_stream = {s["stream"]["stream_descriptor"]["name"]: s for s in states}
    customers = by_stream["customers"]["stream"]["stream_state"]["partitions"]
    assert {p["context"]["companyId"] for p in customers} == {c["id"] for c in emulator.companies}
    assert all(p["replication_key_value"] for p in customers)
    # No STATE comes before the records it covers: after the last customers STATE, none follow.
    kinds = [
        ("RECORD", m["record"]["stream"])
        if m["type"] == "RECORD"
        else ("STATE", m["state"]["stream"]["stream_descriptor"]["name"])
        for m in first.raw
        if m["type"] in {"RECORD", "STATE"}
    ]
    last_state = max(i for i, k in enumerate(kinds) if k == ("STATE", "customers"))
    assert ("RECORD", "customers") not in kinds[last_state:]

    second = run_source(tmp_path, "read", config=config, catalog=catalog, state=states)
    assert second.returncode == 0, second.stderr
    marks = {p["context"]["companyId"]: p["replication_key_value"] for p in customers}
    again = second.records("customers")
    assert len(again) < len(first.records("customers"))
    assert all(r["lastModifiedDateTime"] >= marks[r["companyId"]] for r in again)
    # full_refresh reads everything again.
    assert len(second.records(full_table)) == len(first.records(full_table))


def test_source_without_a_subcommand_says_how_to_use_it():
    done = subprocess.run([SOURCE], capture_output=True, text=True, check=False, env=source_env())
    assert done.returncode == 2
    assert "spec" in done.stderr


def test_full_refresh_lines_make_their_incremental_header_read_in_full(
    emulator, discovered, tmp_path
):
    config = airbyte_config(emulator.info)
    both = configured_catalog(
        discovered, {"salesInvoices": "incremental", "salesInvoiceLines": "incremental"}
    )
    first = run_source(tmp_path, "read", config=config, catalog=both)
    assert first.returncode == 0, first.stderr
    states = state_input(first.states())

    mixed = configured_catalog(
        discovered, {"salesInvoices": "incremental", "salesInvoiceLines": "full_refresh"}
    )
    second = run_source(tmp_path, "read", config=config, catalog=mixed, state=states)
    assert second.returncode == 0, second.stderr
    # Lines come inside their headers: a full set of lines needs every header read again.
    assert len(second.records("salesInvoiceLines")) == len(rows(emulator, "salesInvoiceLines"))
    assert len(second.records("salesInvoices")) == len(first.records("salesInvoices"))
    warnings = [m["log"]["message"] for m in second.of_type("LOG") if m["log"]["level"] == "WARN"]
    assert (
        "Stream salesInvoices is read in full: its lines stream salesInvoiceLines is full_refresh."
        in warnings
    )

    third = run_source(tmp_path, "read", config=config, catalog=both, state=states)
    assert len(third.records("salesInvoices")) < len(first.records("salesInvoices"))


def test_a_failure_mid_read_keeps_what_was_done_and_ends_in_one_trace_line(
    emulator, discovered, tmp_path
):
    emulator.hook("DELETE", "faults")
    emulator.hook(
        "POST",
        "faults",
        {
            "faults": [
                {"kind": "status", "status": 400, "count": 50, "path_contains": "/salesInvoices"}
            ]
        },
    )
    try:
        config = airbyte_config(emulator.info)
        catalog = configured_catalog(
            discovered, {"customers": "incremental", "salesInvoices": "incremental"}
        )
        run = run_source(tmp_path, "read", config=config, catalog=catalog)
    finally:
        emulator.hook("DELETE", "faults")
    assert run.returncode == 1
    assert len(run.records("customers")) == len(rows(emulator, "customers"))
    assert not run.records("salesInvoices")
    statuses = [
        (s["stream_descriptor"]["name"], s["status"])
        for s in (m["trace"].get("stream_status") for m in run.of_type("TRACE"))
        if s
    ]
    assert ("customers", "COMPLETE") in statuses
    assert ("salesInvoices", "INCOMPLETE") in statuses
    assert ("customers", "INCOMPLETE") not in statuses
    [error] = [m["trace"]["error"] for m in run.of_type("TRACE") if m["trace"]["type"] == "ERROR"]
    assert error["failure_type"] == "system_error"
    assert "\n" not in error["message"]
    assert "400" in error["message"] or "BadRequest" in error["message"]
    assert emulator.info["client_secret"] not in run.stdout + run.stderr
    # The customers' bookmark went out before the failure: the next read resumes from it.
    assert any(s["stream"]["stream_descriptor"]["name"] == "customers" for s in run.states())
    # The error is the last word.
    assert run.raw[-1]["type"] == "TRACE"
    assert run.raw[-1]["trace"]["type"] == "ERROR"
