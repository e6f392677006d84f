"""PyAirbyte, a real Airbyte client, runs source-businesscentral from its local executable.

PyAirbyte (the ``airbyte`` package) pins its own world (sqlalchemy, duckdb, pydantic, the CDK),
so it lives in a venv of its own made here with uv, never in the workspace's lock; it runs
``pyairbyte_driver.py`` with the workspace's ``source-businesscentral`` as the connector, offline
(``AIRBYTE_OFFLINE_MODE``: no registry look-up, no telemetry) and with its default DuckDB cache
in a temporary folder.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from airbyte_runner import SOURCE, airbyte_config, source_env
from tap.tap_runner import direct_rows

pytestmark = pytest.mark.slow

PYAIRBYTE = "airbyte==0.71.3"
DRIVER = Path(__file__).with_name("pyairbyte_driver.py")
STREAMS = ["customers", "generalLedgerEntries", "salesInvoices", "salesInvoiceLines"]
SUMS = {
    "generalLedgerEntries": ["debitAmount", "creditAmount"],
    "salesInvoices": ["totalAmountIncludingTax"],
    "salesInvoiceLines": ["amountIncludingTax"],
}
KEY = "lastModifiedDateTime"


@pytest.fixture(scope="session")
def pyairbyte_python(tmp_path_factory) -> Path:
    """A venv with PyAirbyte, apart from the workspace's."""
    uv = shutil.which("uv")
    assert uv, "uv is needed to make PyAirbyte's venv"
    venv = tmp_path_factory.mktemp("pyairbyte") / "venv"
    subprocess.run([uv, "venv", "-q", "-p", sys.executable, str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run(
        [uv, "pip", "install", "-q", "-p", str(python), PYAIRBYTE], check=True, timeout=280
    )
    return python


@pytest.fixture(scope="module")
def bc(start_emulator):
    """An emulator of this module's own: the test edits its rows."""
    return start_emulator(seed=13, scale=0.05)


def rows(bc, entity_set: str) -> list[dict[str, Any]]:
    """Every row of the set in every company, decimals exact."""
    found: list[dict[str, Any]] = []
    for index, company in enumerate(bc.companies):
        # Lines through their headers: BC refuses a company-level read of them.
        rows = direct_rows(bc, entity_set, index)
        found += [{**row, "companyId": company["id"]} for row in rows]
    return found


def keys(records: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(r["companyId"], r["id"]) for r in records}


def boundary(records: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """Rows at their company's latest change date: the tap's bookmark, sent again next time."""
    latest: dict[str, dt.datetime] = {}
    for r in records:
        stamp = dt.datetime.fromisoformat(r[KEY])
        latest[r["companyId"]] = max(latest.get(r["companyId"], stamp), stamp)
    return {
        (r["companyId"], r["id"])
        for r in records
        if dt.datetime.fromisoformat(r[KEY]) == latest[r["companyId"]]
    }


def drive(python: Path, workdir: Path, phase: str, config: dict[str, Any]) -> dict[str, Any]:
    out = workdir / f"{phase}.json"
    job = {
        "phase": phase,
        "executable": SOURCE,
        "config": config,
        "streams": STREAMS,
        "sums": SUMS,
        "out": str(out),
    }
    (workdir / "job.json").write_text(json.dumps(job))
    env = {
        **source_env(),
        "AIRBYTE_OFFLINE_MODE": "1",  # no registry look-up and no telemetry
        "DO_NOT_TRACK": "1",
        "AIRBYTE_CACHE_ROOT": str(workdir / "cache"),  # the default DuckDB cache lives here
        "AIRBYTE_LOGGING_ROOT": str(workdir / "logs"),
        "AIRBYTE_TEMP_DIR": str(workdir),
    }
    done = subprocess.run(
        [str(python), str(DRIVER), str(workdir / "job.json")],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=200,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())


def test_pyairbyte_checks_discovers_and_reads_then_reads_only_the_edits(
    pyairbyte_python, bc, tmp_path
):
    config = airbyte_config(bc.info)
    before = {stream: rows(bc, stream) for stream in STREAMS}

    first = drive(pyairbyte_python, tmp_path, "first", config)
    assert first["check"] == "SUCCEEDED"
    assert set(STREAMS) <= set(first["available"])
    assert first["spec_required"] == ["credentials"]
    assert first["processed_records"] == sum(len(r) for r in before.values())
    for stream in STREAMS:
        figures = first["streams"][stream]
        assert figures["count"] == len(before[stream]), stream
        for column in SUMS.get(stream, []):
            expected = sum(r[column] for r in before[stream])
            assert decimal.Decimal(figures["sums"][column]) == expected, (stream, column)

    customers = sorted(before["customers"], key=lambda r: r[KEY])
    edited = [customers[0], customers[len(customers) // 2]]
    bc.hook(
        "POST",
        "edit",
        {
            "entity_set": "customers",
            "ids": [r["id"] for r in edited],
            "changes": {"displayName": "Edited"},
        },
    )
    invoice = before["salesInvoices"][0]
    bc.hook(
        "POST",
        "edit",
        {
            "entity_set": "salesInvoices",
            "ids": [invoice["id"]],
            "changes": {"externalDocumentNumber": "X-1"},
        },
    )

    second = drive(pyairbyte_python, tmp_path, "second", config)
    brought = {s: {tuple(k) for k in second["streams"][s]["brought"]} for s in STREAMS}
    # Exactly the edited rows, plus at most the rows at the bookmark's own timestamp (the tap
    # sends those again rather than risk losing one), and nothing older.
    assert keys(edited) <= brought["customers"]
    assert brought["customers"] - keys(edited) <= boundary(before["customers"])
    assert keys([invoice]) <= brought["salesInvoices"]
    assert brought["salesInvoices"] - keys([invoice]) <= boundary(before["salesInvoices"])
    assert brought["generalLedgerEntries"] <= boundary(before["generalLedgerEntries"])
    assert len(brought["customers"]) < len(before["customers"])
    # PyAirbyte merges by the source's primary key: no row twice, the totals unchanged.
    for stream in STREAMS:
        assert second["streams"][stream]["count"] == len(before[stream]), stream
    assert second["processed_records"] < first["processed_records"]
