"""End to end write-back: `meltano run tap-postgres target-businesscentral`.

Customers edited in PostgreSQL (as an analyst would after loading them) go back to BC through
MeltanoLabs tap-postgres and this repo's target. Three good rows change in BC; one row whose
name is longer than BC's $metadata allows (MaxLength 100) is refused before any request, written
to the rejected-records file with the reason, and left alone in BC; nothing else is lost. With
`max_rejections` 0 the same rejection fails the run.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from e2e_support import env_for, meltano, project

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from conftest import RunningEmulator

    from tests.e2e.conftest import Postgres

STREAM = "writeback-customers"  # tap-postgres names streams <schema>-<table>


@pytest.fixture(scope="module")
def bc(start_emulator: Callable[..., RunningEmulator]) -> RunningEmulator:
    return start_emulator(seed=17, scale=0.1)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, bc: RunningEmulator) -> Path:
    path = project(tmp_path_factory.mktemp("meltano-writeback"))
    meltano(path, env_for(bc.info), "install", "tap-postgres")
    return path


def quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def load_customers(postgres: Postgres, rows: list[dict[str, str]]) -> None:
    """The table an analyst edited: key, company and the two changed columns."""
    values = ", ".join(
        "("
        + ", ".join(quoted(row[c]) for c in ("id", "companyId", "displayName", "phoneNumber"))
        + ")"
        for row in rows
    )
    postgres.psql(
        "DROP SCHEMA IF EXISTS writeback CASCADE; CREATE SCHEMA writeback;"  # noqa: S608
        ' CREATE TABLE writeback.customers (id text PRIMARY KEY, "companyId" text NOT NULL,'
        ' "displayName" text, "phoneNumber" text);'
        f' INSERT INTO writeback.customers (id, "companyId", "displayName", "phoneNumber")'
        f" VALUES {values}"
    )


def writeback_env(
    bc: RunningEmulator, postgres: Postgres, rejected: Path, limit: int
) -> dict[str, str]:
    return env_for(
        bc.info,
        **postgres.settings("TAP_POSTGRES"),
        TAP_POSTGRES_FILTER_SCHEMAS='["writeback"]',
        TARGET_BUSINESSCENTRAL_STREAM_SETTINGS=json.dumps({STREAM: {"entity_set": "customers"}}),
        TARGET_BUSINESSCENTRAL_REJECTED_RECORDS_PATH=str(rejected),
        TARGET_BUSINESSCENTRAL_MAX_REJECTIONS=str(limit),
    )


def customer(bc: RunningEmulator, company_id: str, row_id: str) -> dict[str, Any]:
    response = bc.get(f"{bc.api_root()}/companies({company_id})/customers({row_id})")
    response.raise_for_status()
    found: dict[str, Any] = response.json()
    return found


@pytest.mark.slow
def test_tap_postgres_to_target_businesscentral_writes_back_and_files_the_rejection(
    bc: RunningEmulator, folder: Path, postgres: Postgres, tmp_path: Path
) -> None:
    company = bc.companies[0]["id"]
    originals = bc.get_all(bc.company_url("customers", 0))[:4]
    good = [
        {**row, "companyId": company, "displayName": f"Renamed {n}", "phoneNumber": f"+1 20{n}"}
        for n, row in enumerate(originals[:3])
    ]
    bad = {**originals[3], "companyId": company, "displayName": "x" * 101, "phoneNumber": "+1 9"}
    load_customers(postgres, [*good, bad])
    rejected = tmp_path / "rejected.jsonl"

    done = meltano(
        folder,
        writeback_env(bc, postgres, rejected, 1),
        "run",
        "tap-postgres",
        "target-businesscentral",
    )
    assert f"Summary {STREAM}: created 0, updated 3" in done.stderr
    for row in good:
        now = customer(bc, company, row["id"])
        assert (now["displayName"], now["phoneNumber"]) == (row["displayName"], row["phoneNumber"])
    untouched = customer(bc, company, bad["id"])
    assert (untouched["displayName"], untouched["phoneNumber"]) == (
        originals[3]["displayName"],
        originals[3]["phoneNumber"],
    )
    entries = [json.loads(line) for line in rejected.read_text().splitlines()]
    assert len(entries) == 1
    assert entries[0]["stream"] == STREAM
    assert entries[0]["record"]["id"] == bad["id"]
    assert entries[0]["record"]["displayName"] == bad["displayName"]
    assert "100" in entries[0]["message"], entries[0]
    assert "client_secret" not in rejected.read_text()

    # Over max_rejections the run fails (Meltano exits non-zero) after writing the good rows.
    env = writeback_env(bc, postgres, rejected, 0)
    failed = meltano(folder, env, "run", "tap-postgres", "target-businesscentral", must_pass=False)
    assert failed.returncode != 0
    assert len(rejected.read_text().splitlines()) == 2
