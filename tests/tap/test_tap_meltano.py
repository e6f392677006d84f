"""End to end: `meltano run tap-businesscentral target-jsonl` with the repo's meltano.yml.

The project is the repo's meltano.yml copied into a temporary folder, with one change: the tap's
`pip_url` is dropped, so Meltano runs the `tap-businesscentral` on PATH (this environment's, the
code under test) instead of installing it into a virtualenv of its own. target-jsonl is installed
by `meltano install` as any user would get it (from PyPI, with uv; its pinned jsonschema 2.6
cannot share an environment with singer-sdk). Settings come from environment variables, state
from Meltano's system database: the second run starts from the first run's bookmarks.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tap_runner import direct_rows
from tests_support import CONNECTION_SETTINGS, meltano_env, meltano_project

BIN = Path(sys.executable).parent
STREAMS = ("customers", "salesInvoices", "salesInvoiceLines", "generalLedgerEntries")


@pytest.fixture(scope="module")
def bc(start_emulator):
    """An emulator of this module's own: the test edits its rows."""
    return start_emulator(seed=5, scale=0.1)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return meltano_project(tmp_path_factory.mktemp("meltano"), ("tap-businesscentral",))


def meltano_env_for(info: dict[str, Any], output: Path) -> dict[str, str]:
    env = meltano_env(MELTANO_VENV_BACKEND="uv", TARGET_JSONL_DESTINATION_PATH=str(output))
    for name in CONNECTION_SETTINGS:
        env[f"TAP_BUSINESSCENTRAL_{name.upper()}"] = str(info[name])
    return env


def meltano(project: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(BIN / "meltano"), *args],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def landed(output: Path, stream: str) -> list[dict[str, Any]]:
    path = output / f"{stream}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line]


@pytest.mark.slow
def test_meltano_run_lands_every_row_then_only_the_changes(bc, project, tmp_path):
    output = tmp_path / "output"
    env = meltano_env_for(bc.info, output)
    meltano(project, env, "install", "loader", "target-jsonl")

    meltano(project, env, "run", "tap-businesscentral", "target-jsonl")
    for stream in STREAMS:
        rows = landed(output, stream)
        expected = {
            (company["id"], row["id"])
            for index, company in enumerate(bc.companies)
            for row in direct_rows(bc, stream, index)
        }
        got = [(row["companyId"], row["id"]) for row in rows]
        assert len(got) == len(set(got)) == len(expected), stream
        assert set(got) == expected, stream
    invoices = {row["id"]: row for row in landed(output, "salesInvoices")}
    assert all(line["documentId"] in invoices for line in landed(output, "salesInvoiceLines"))
    first_counts = {stream: len(landed(output, stream)) for stream in STREAMS}

    # Meltano kept the state: the next run brings an edited customer and the boundary rows.
    customer = landed(output, "customers")[0]
    bc.hook(
        "POST",
        "edit",
        {"entity_set": "customers", "ids": [customer["id"]], "changes": {"displayName": "Edited"}},
    )
    meltano(project, env, "run", "tap-businesscentral", "target-jsonl")
    customers = landed(output, "customers")
    new = customers[first_counts["customers"] :]
    assert any(row["id"] == customer["id"] and row["displayName"] == "Edited" for row in new)
    assert len(new) < first_counts["customers"] // 2  # changes and boundary, not everything
    ledger = landed(output, "generalLedgerEntries")
    assert len(ledger) - first_counts["generalLedgerEntries"] < first_counts["generalLedgerEntries"]
