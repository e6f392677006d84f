"""Reliability of the tap (issue 13, the behaviours that held), each scenario bounded and seeded.

- under about 10% injected faults the tap writes the same records as a clean run;
- rows edited while it reads are all picked up by that run or the next incremental one;
- killed (-9) at a random point and resumed from its last STATE, it leaves no gap;
- a run longer than the token's lifetime completes, renewing the token.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

import pytest
from rel_support import (
    EDITABLE,
    TAP_STREAMS,
    Editor,
    arm_faults,
    bc_requests,
    editable_rows,
    last_state,
    mixed_faults,
    record_differences,
    records_by_key,
    report,
    run_tap_killed,
    start_tap,
    stream_counts,
)
from tap.tap_runner import catalog_for, parse_messages, run_tap, tap_config

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import RunningEmulator

SEED = 13
SCALE = 0.2
FAULT_RATE = 0.10


@pytest.fixture(scope="module")
def bc(start_emulator: Any) -> RunningEmulator:
    """An emulator of this module's own: the scenarios arm faults and edit rows."""
    return start_emulator(seed=SEED, scale=SCALE)


@pytest.fixture
def fresh(bc: RunningEmulator) -> RunningEmulator:
    """The module's emulator reseeded, with no faults, latency or short token lifetime."""
    bc.hook("POST", "reset", {"seed": SEED, "scale": SCALE})
    bc.hook("POST", "config", {"token_lifetime": 3599, "latency_ms": 0})
    return bc


@pytest.fixture
def setup(fresh: RunningEmulator) -> tuple[dict[str, Any], dict[str, Any]]:
    """Config and catalog: small pages, one request in flight (the same faults for a seed)."""
    config = tap_config(fresh.info, page_size=100, max_concurrency=1)
    return config, catalog_for(config, TAP_STREAMS)


def clean_run(tmp: Path, config: dict[str, Any], catalog: dict[str, Any]) -> list[dict]:
    run = run_tap(tmp, config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    return run.messages


@pytest.mark.parametrize("fault_seed", [1, 2])
def test_output_under_ten_percent_faults_equals_a_clean_run(
    fresh: RunningEmulator, setup: tuple[dict, dict], tmp_path: Path, fault_seed: int
) -> None:
    config, catalog = setup
    clean = clean_run(tmp_path, config, catalog)
    counts = stream_counts(clean)
    assert set(counts) == set(TAP_STREAMS)
    companies = {m["record"]["companyId"] for m in clean if m["type"] == "RECORD"}
    assert len(companies) == 2

    arm_faults(fresh, mixed_faults(FAULT_RATE), fault_seed)
    faulted = run_tap(tmp_path, config, catalog=catalog)
    counters = fresh.counters()
    fresh.hook("DELETE", "faults")
    assert faulted.returncode == 0, faulted.stderr[-3000:]
    fired = sum(counters["faults"].values())
    requests = bc_requests(counters)
    assert fired >= 3, counters["faults"]  # the run did meet faults
    assert fired <= requests * 0.3
    assert record_differences(records_by_key(clean), records_by_key(faulted.messages)) == []
    assert stream_counts(faulted.messages) == counts
    report(
        "tap faults",
        seed=fault_seed,
        records=sum(counts.values()),
        streams=len(counts),
        bc_requests=requests,
        faults=counters["faults"],
    )


def test_rows_edited_while_the_tap_reads_are_all_picked_up(
    fresh: RunningEmulator, setup: tuple[dict, dict], tmp_path: Path
) -> None:
    config, catalog = setup
    fresh.hook("POST", "config", {"latency_ms": 40})  # a read long enough to edit during
    editor = Editor(fresh, editable_rows(fresh), seed=5)
    process = start_tap(tmp_path, config, catalog)
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        if not lines:
            editor.start()  # the first line is out: the tap is reading
        lines.append(line)
    assert process.wait() == 0
    process.stdout.close()
    editor.stop()
    during = editor.edits
    for _ in range(20):  # and a few after the run ended
        editor.edit_one()
    fresh.hook("POST", "config", {"latency_ms": 0})
    first = parse_messages("".join(lines))
    state = last_state(first)
    assert state is not None

    second = run_tap(tmp_path, config, catalog=catalog, state=state)
    assert second.returncode == 0, second.stderr[-3000:]
    seen: dict[tuple, set[str]] = {}
    for messages in (first, second.messages):
        for key, records in records_by_key(messages).items():
            if key[0] in EDITABLE:
                seen.setdefault(key, set()).update(r["displayName"] for r in records)
    assert during >= 50, during  # edits really overlapped the read
    missed = {key: value for key, value in editor.final.items() if value not in seen.get(key, ())}
    assert missed == {}, f"{len(missed)} of {len(editor.final)} edited rows not picked up"
    report("tap concurrent edits", edits_during=during, edits=editor.edits, rows=len(editor.final))


@pytest.mark.parametrize("kill_seed", [1, 2, 3])
def test_killed_and_resumed_from_the_last_state_leaves_no_gap(
    fresh: RunningEmulator, setup: tuple[dict, dict], tmp_path: Path, kill_seed: int
) -> None:
    config, catalog = setup
    clean = records_by_key(clean_run(tmp_path, config, catalog))
    total = sum(len(records) for records in clean.values())
    kill_after = random.Random(kill_seed).randrange(total // 10, total * 9 // 10)  # noqa: S311
    before, killed = run_tap_killed(tmp_path, config, catalog, kill_after)
    assert killed
    state = last_state(before)
    assert state is not None, "no STATE before the kill"
    resumed = run_tap(tmp_path, config, catalog=catalog, state=state)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    union = records_by_key(before).keys() | records_by_key(resumed.messages).keys()
    assert sorted(clean.keys() - union) == []  # no gap
    assert union == clean.keys()
    assert len(records_by_key(resumed.messages)) < len(clean)  # resumed, not restarted
    report(
        "tap kill and resume",
        seed=kill_seed,
        records=total,
        killed_after=kill_after,
        resumed_records=sum(stream_counts(resumed.messages).values()),
    )


def test_a_run_longer_than_the_token_lifetime_renews_and_completes(
    fresh: RunningEmulator, setup: tuple[dict, dict], tmp_path: Path
) -> None:
    config, catalog = setup
    clean = records_by_key(clean_run(tmp_path, config, catalog))
    fresh.hook("POST", "config", {"token_lifetime": 2, "latency_ms": 100})
    fresh.hook("DELETE", "counters")
    # And once, BC refuses a token as expired mid-run (a clock skew, a revoked token).
    fresh.hook(
        "POST",
        "faults",
        {"faults": [{"kind": "token_expired", "count": 1, "skip": 10, "path_contains": "/api/"}]},
    )
    run = run_tap(tmp_path, config, catalog=catalog)
    counters = fresh.counters()
    fresh.hook("POST", "config", {"token_lifetime": 3599, "latency_ms": 0})
    assert run.returncode == 0, run.stderr[-3000:]
    assert counters["faults"] == {"token_expired": 1}
    token_requests = sum(
        r["count"]
        for r in counters["requests"]
        if r["kind"] == "auth" and r["method"] == "POST" and r["status"] == 200
    )
    assert token_requests >= 4, counters["requests"]  # renewed, not signed in once
    assert record_differences(clean, records_by_key(run.messages)) == []
    report("tap token expiry", token_requests=token_requests, bc_requests=bc_requests(counters))
