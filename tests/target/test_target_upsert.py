"""Upserts over HTTP: POST and PATCH, natural keys, etags; a second run writes nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from target.target_runner import messages_for, run_target, target_config

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import RunningEmulator


@pytest.fixture
def fresh(start_emulator: Any) -> RunningEmulator:
    return start_emulator(seed=7, scale=0.2)


def test_new_and_changed_customers_are_created_and_updated(
    fresh: RunningEmulator, tmp_path: Path
) -> None:
    company = fresh.companies[0]
    existing = fresh.get_all(fresh.company_url("customers"))[:3]
    records = [
        {"number": "T-0001", "displayName": "O'Brien & Sons", "companyId": company["id"]},
        {"number": existing[0]["number"], "displayName": "Renamed Ltd", "companyId": company["id"]},
        {
            "number": existing[1]["number"],
            "displayName": existing[1]["displayName"],
            "companyId": company["id"],
        },
    ]
    config = target_config(fresh.info, tmp_path)
    run = run_target(tmp_path, config, messages_for({"customers": records}))
    assert run.returncode == 0, run.stderr[-3000:]
    summary = run.summary("customers")
    assert summary["created"] == 1, run.stderr[-3000:]
    assert summary["updated"] == 1
    assert summary["unchanged"] == 1
    rows = {r["number"]: r for r in fresh.get_all(fresh.company_url("customers"))}
    assert rows["T-0001"]["displayName"] == "O'Brien & Sons"
    assert rows[existing[0]["number"]]["displayName"] == "Renamed Ltd"
    again = run_target(tmp_path, config, messages_for({"customers": records}))
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.summary("customers")["unchanged"] == 3
