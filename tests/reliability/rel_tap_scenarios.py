"""The tap's reliability scenarios, sized by arguments: the suite runs them small, the soak big.

Each returns an :class:`Outcome`; a scenario that held has no mismatches. The caller gives an
emulator already reseeded; each scenario leaves the emulator's faults and settings as it found
them (no faults, no latency, the default token lifetime).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from rel_support import (
    EDITABLE,
    TAP_STREAMS,
    Editor,
    Outcome,
    arm_faults,
    bc_requests,
    catalog_for,
    editable_rows,
    failed,
    last_state,
    mixed_faults,
    record_differences,
    records_by_key,
    run_tap_killed,
    start_tap,
    stream_counts,
)
from tap.tap_runner import parse_messages, run_tap, tap_config

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import RunningEmulator


def tap_setup(
    bc: RunningEmulator, max_concurrency: int = 1
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Config and catalog: small pages; one request in flight meets the same faults for a seed."""
    config = tap_config(bc.info, page_size=100, max_concurrency=max_concurrency)
    return config, catalog_for(config, TAP_STREAMS)


def _restore(bc: RunningEmulator) -> None:
    bc.hook("DELETE", "faults")
    bc.hook("POST", "config", {"token_lifetime": 3599, "latency_ms": 0})


def clean_messages(
    tmp: Path, config: dict[str, Any], catalog: dict[str, Any], outcome: Outcome
) -> list[dict[str, Any]]:
    run = run_tap(tmp, config, catalog=catalog)
    outcome.runs += 1
    if run.returncode != 0:
        outcome.mismatches.append(failed("clean tap run", run.stderr))
    return run.messages


def faults_equal_clean(
    bc: RunningEmulator, tmp: Path, *, seed: int, rate: float = 0.10, max_concurrency: int = 1
) -> Outcome:
    """A run under ``rate`` injected faults writes the same records as a clean run.

    With more than one request in flight the order of requests, and so which meet a fault,
    varies from run to run: the soak does that, the suite stays deterministic.
    """
    outcome = Outcome("tap: faults equal clean", seed)
    config, catalog = tap_setup(bc, max_concurrency)
    try:
        clean = clean_messages(tmp, config, catalog, outcome)
        arm_faults(bc, mixed_faults(rate), seed)
        faulted = run_tap(tmp, config, catalog=catalog)
        outcome.runs += 1
        counters = bc.counters()
    finally:
        _restore(bc)
    outcome.add_faults(counters)
    if faulted.returncode != 0:
        outcome.mismatches.append(failed("tap run under faults", faulted.stderr))
    counts = stream_counts(clean)
    outcome.rows = sum(counts.values())
    outcome.numbers["streams"] = len(counts)
    outcome.numbers["companies"] = len(
        {m["record"]["companyId"] for m in clean if m["type"] == "RECORD"}
    )
    outcome.numbers["bc_requests"] = bc_requests(counters)
    outcome.mismatches += record_differences(
        records_by_key(clean), records_by_key(faulted.messages)
    )
    if stream_counts(faulted.messages) != counts:
        outcome.mismatches.append(f"counts {stream_counts(faulted.messages)} != {counts}")
    return outcome


def concurrent_edits(
    bc: RunningEmulator, tmp: Path, *, seed: int, latency_ms: float = 40, after: int = 20
) -> Outcome:
    """Rows edited while the tap reads are picked up by that run or the next incremental one."""
    outcome = Outcome("tap: concurrent edits", seed)
    config, catalog = tap_setup(bc)
    editor = Editor(bc, editable_rows(bc), seed=seed)
    bc.hook("POST", "config", {"latency_ms": latency_ms})  # a read long enough to edit during
    try:
        process = start_tap(tmp, config, catalog)
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            if not lines:
                editor.start()  # the first line is out: the tap is reading
            lines.append(line)
        returncode = process.wait()
        process.stdout.close()
        editor.stop()
        outcome.runs += 1
    finally:
        editor.stop()
        _restore(bc)
    during = editor.edits
    for _ in range(after):  # and a few after the run ended
        editor.edit_one()
    first = parse_messages("".join(lines))
    state = last_state(first)
    if returncode != 0 or state is None:
        outcome.mismatches.append(f"first run ended {returncode} with state {state}")
    second = run_tap(tmp, config, catalog=catalog, state=state)
    outcome.runs += 1
    if second.returncode != 0:
        outcome.mismatches.append(failed("incremental run", second.stderr))
    seen: dict[tuple, set[str]] = {}
    for messages in (first, second.messages):
        outcome.rows += sum(stream_counts(messages).values())
        for key, records in records_by_key(messages).items():
            if key[0] in EDITABLE:
                seen.setdefault(key, set()).update(r["displayName"] for r in records)
    outcome.mismatches += [
        f"edit of {key} to {value!r} not picked up"
        for key, value in sorted(editor.final.items())
        if value not in seen.get(key, ())
    ]
    outcome.numbers.update(
        edits_during_read=during, edits=editor.edits, rows_edited=len(editor.final)
    )
    return outcome


def kill_and_resume(bc: RunningEmulator, tmp: Path, *, seed: int) -> Outcome:
    """Killed (-9) at a seeded point and resumed from its last STATE: no row of a clean run lost."""
    outcome = Outcome("tap: kill and resume", seed)
    config, catalog = tap_setup(bc)
    clean = records_by_key(clean_messages(tmp, config, catalog, outcome))
    outcome.rows = total = sum(len(records) for records in clean.values())
    kill_after = random.Random(seed).randrange(total // 10, total * 9 // 10)  # noqa: S311
    before, killed = run_tap_killed(tmp, config, catalog, kill_after)
    state = last_state(before)
    if not killed or state is None:
        outcome.mismatches.append(f"killed {killed}, state before the kill {state}")
    resumed = run_tap(tmp, config, catalog=catalog, state=state)
    outcome.runs += 2
    if resumed.returncode != 0:
        outcome.mismatches.append(failed("resumed run", resumed.stderr))
    union = records_by_key(before).keys() | records_by_key(resumed.messages).keys()
    outcome.mismatches += [f"gap: {key}" for key in sorted(clean.keys() - union)]
    outcome.mismatches += [f"not in a clean run: {key}" for key in sorted(union - clean.keys())]
    resumed_rows = sum(stream_counts(resumed.messages).values())
    if resumed_rows >= total:
        outcome.mismatches.append("the resumed run started over")
    outcome.numbers.update(killed_after=kill_after, resumed_rows=resumed_rows)
    return outcome


def token_expiry(
    bc: RunningEmulator, tmp: Path, *, seed: int = 0, lifetime: int = 3, latency_ms: float = 100
) -> Outcome:
    """A run longer than the token's lifetime, and one token refused as expired, completes."""
    outcome = Outcome("tap: token expiry", seed)
    config, catalog = tap_setup(bc)
    clean = records_by_key(clean_messages(tmp, config, catalog, outcome))
    bc.hook("POST", "config", {"token_lifetime": lifetime, "latency_ms": latency_ms})
    bc.hook("DELETE", "counters")
    # And once, BC refuses a token as expired mid-run (a clock skew, a revoked token).
    expired = {"kind": "token_expired", "count": 1, "path_contains": "/api/", "skip": 5 + seed % 20}
    bc.hook("POST", "faults", {"faults": [expired]})
    try:
        run = run_tap(tmp, config, catalog=catalog)
        outcome.runs += 1
        counters = bc.counters()
    finally:
        _restore(bc)
    outcome.add_faults(counters)
    if run.returncode != 0:
        outcome.mismatches.append(failed("tap run", run.stderr))
    outcome.rows = sum(stream_counts(run.messages).values())
    outcome.mismatches += record_differences(clean, records_by_key(run.messages))
    outcome.numbers["token_requests"] = sum(
        r["count"]
        for r in counters["requests"]
        if r["kind"] == "auth" and r["method"] == "POST" and r["status"] == 200
    )
    outcome.numbers["bc_requests"] = bc_requests(counters)
    return outcome
