"""End to end write-back from files: `meltano run tap-jsonl target-businesscentral`.

Customers changed in a JSON Lines file (an export edited by hand or by a script) go back to BC
through tap-jsonl (`tap-jsonl==0.3.1` from PyPI, installed by Meltano) and this repo's target:
the changed rows change in BC, a row with an `id` that is not a GUID is refused into the
rejected-records file with its reason, and a second run of the same file writes nothing.
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


@pytest.fixture(scope="module")
def bc(start_emulator: Callable[..., RunningEmulator]) -> RunningEmulator:
    return start_emulator(seed=23, scale=0.1)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, bc: RunningEmulator) -> Path:
    path = project(tmp_path_factory.mktemp("meltano-writeback-jsonl"))
    meltano(path, env_for(bc.info), "install", "tap-jsonl")
    return path


def customer(bc: RunningEmulator, company_id: str, row_id: str) -> dict[str, Any]:
    response = bc.get(f"{bc.api_root()}/companies({company_id})/customers({row_id})")
    response.raise_for_status()
    found: dict[str, Any] = response.json()
    return found


@pytest.mark.slow
def test_tap_jsonl_to_target_businesscentral_writes_back_then_writes_nothing(
    bc: RunningEmulator, folder: Path, tmp_path: Path
) -> None:
    company = bc.companies[0]["id"]
    originals = bc.get_all(bc.company_url("customers", 0))[:3]
    good = [
        {"id": row["id"], "companyId": company, "displayName": f"From a file {n}"}
        for n, row in enumerate(originals[:2])
    ]
    bad = {"id": "not-a-guid", "companyId": company, "displayName": "Nobody"}
    (tmp_path / "customers.jsonl").write_text(
        "".join(json.dumps(row) + "\n" for row in [*good, bad])
    )
    rejected = tmp_path / "rejected.jsonl"
    env = env_for(
        bc.info,
        TAP_JSONL_PATH=str(tmp_path / "customers.jsonl"),
        TAP_JSONL_STREAM_NAME="customers",
        TAP_JSONL_PRIMARY_KEYS='["id"]',
        TARGET_BUSINESSCENTRAL_REJECTED_RECORDS_PATH=str(rejected),
        TARGET_BUSINESSCENTRAL_MAX_REJECTIONS="1",
    )

    done = meltano(folder, env, "run", "tap-jsonl", "target-businesscentral")
    assert "Summary customers: created 0, updated 2" in done.stderr, done.stderr[-2000:]
    for row in good:
        assert customer(bc, company, row["id"])["displayName"] == row["displayName"]
    entries = [json.loads(line) for line in rejected.read_text().splitlines()]
    assert [entry["record"]["id"] for entry in entries] == ["not-a-guid"]
    assert "GUID" in entries[0]["message"], entries[0]

    # The same file again, from a fresh state: every row is unchanged in BC, nothing written.
    again = meltano(folder, env, "run", "--full-refresh", "tap-jsonl", "target-businesscentral")
    assert "Summary customers: created 0, updated 0, unchanged 2" in again.stderr, again.stderr[
        -2000:
    ]
