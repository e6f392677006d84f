"""A write whose answer is lost is looked up, never blindly repeated; throttling is waited out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from businesscentral_emulator.chaos.limits import LimitSettings
from target.conftest import rows_by
from target.target_runner import messages_for, run_target, target_config

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import RunningEmulator


def _lose_answer_of_batch(bc: RunningEmulator, skip: int) -> None:
    """The first ``skip`` $batch requests go through; the next one runs but its answer is cut."""
    bc.hook(
        "POST",
        "faults",
        {
            "faults": [
                {
                    "kind": "truncate",
                    "method": "POST",
                    "path_contains": "$batch",
                    "skip": skip,
                    "count": 1,
                }
            ]
        },
    )


def test_lost_answer_of_a_write_batch_creates_nothing_twice(
    bc: RunningEmulator, tmp_path: Path
) -> None:
    company = bc.companies[0]["id"]
    existing = bc.get_all(bc.company_url("customers"))
    records = [
        {"number": f"L-{i:03d}", "displayName": f"Lost {i}", "companyId": company}
        for i in range(30)
    ]
    records.append(
        {"number": existing[0]["number"], "displayName": "Changed while lost", "companyId": company}
    )
    _lose_answer_of_batch(bc, skip=1)  # the look-up passes, the writes lose their answer
    config = target_config(bc.info, tmp_path)
    run = run_target(tmp_path, config, messages_for({"customers": records}))
    assert run.returncode == 0, run.stderr[-3000:]
    assert bc.counters()["faults"] == {"truncate": 1}
    assert "got no trustworthy answer; looking them up again" in run.stderr
    summary = run.summary("customers")
    assert (summary["created"], summary["updated"], summary["rejected"]) == (30, 1, 0)
    rows = bc.get_all(bc.company_url("customers"))
    numbers = [row["number"] for row in rows]
    assert len(numbers) == len(set(numbers)) == len(existing) + 30
    assert rows_by(bc, "customers", "number")[existing[0]["number"]]["displayName"] == (
        "Changed while lost"
    )
    again = run_target(tmp_path, config, messages_for({"customers": records}))
    assert again.summary("customers")["unchanged"] == 31


def test_lost_answer_without_a_natural_key_is_rejected_not_resent(
    bc: RunningEmulator, tmp_path: Path
) -> None:
    company = bc.companies[0]["id"]
    records = [
        {"number": f"K-{i}", "displayName": f"Keyless {i}", "companyId": company} for i in range(3)
    ]
    _lose_answer_of_batch(bc, skip=0)  # no look-up without a key: the writes are first
    before = len(bc.get_all(bc.company_url("customers")))
    # Without a key an upsert refuses to create at all; action create accepts blind creates.
    config = target_config(
        bc.info,
        tmp_path,
        max_rejections=3,
        stream_settings={"customers": {"natural_key": [], "action": "create"}},
    )
    run = run_target(tmp_path, config, messages_for({"customers": records}))
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.summary("customers")["rejected"] == 3
    assert all("not sent again" in r["message"] for r in run.rejected)
    assert len(bc.get_all(bc.company_url("customers"))) == before + 3  # written once, not twice


def test_throttled_batches_are_retried_and_written_once(
    bc: RunningEmulator, tmp_path: Path
) -> None:
    company = bc.companies[0]["id"]
    bc.hook(
        "POST",
        "faults",
        {
            "faults": [
                {
                    "kind": "status",
                    "status": 429,
                    "retry_after": 0.2,
                    "method": "POST",
                    "path_contains": "$batch",
                    "count": 2,
                }
            ]
        },
    )
    records = [
        {"number": f"Q-{i}", "displayName": f"Throttled {i}", "companyId": company}
        for i in range(10)
    ]
    run = run_target(
        tmp_path, target_config(bc.info, tmp_path), messages_for({"customers": records})
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert bc.counters()["faults"] == {"status": 2}
    assert run.summary("customers")["created"] == 10
    numbers = [row["number"] for row in bc.get_all(bc.company_url("customers"))]
    assert sorted(n for n in numbers if n.startswith("Q-")) == [f"Q-{i}" for i in range(10)]


def test_operations_throttled_inside_a_batch_wait_and_are_written_once(
    start_emulator: Any, tmp_path: Path
) -> None:
    # BC's window shrunk to 60 operations in 2 s: most of a 100-operation batch is refused (429
    # with Retry-After inside the batch answer) and must wait, not be rejected.
    bc = start_emulator(
        seed=7,
        scale=0.1,
        limits=LimitSettings(enabled=True, requests_per_window=60, window_seconds=2.0),
    )
    company = bc.companies[0]["id"]
    records = [
        {"number": f"W-{i:03d}", "displayName": f"Waited {i}", "companyId": company}
        for i in range(150)
    ]
    run = run_target(
        tmp_path, target_config(bc.info, tmp_path), messages_for({"customers": records})
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert bc.counters()["throttled"] > 0
    assert "waiting" in run.stderr
    assert run.summary("customers")["created"] == 150
    numbers = [r["number"] for r in bc.get_all(bc.company_url("customers"))]
    assert sorted(n for n in numbers if n.startswith("W-")) == [f"W-{i:03d}" for i in range(150)]
