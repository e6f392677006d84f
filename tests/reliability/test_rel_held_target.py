"""Reliability of the target (issue 13, the behaviours that held), each scenario bounded and seeded.

- under about 10% injected faults every record is written exactly once, with its final values;
- killed (-9) at a random point and run again on the same input, the same holds;
- natural keys full of quotes, escapes and OData syntax touch only their own rows.

The scenarios live in ``rel_target_scenarios`` so that ``benchmarks/soak.py`` runs them longer.
tests/target/test_target_reliability.py covers single injected faults (a lost batch answer,
throttling); tests/target/test_target_upsert.py covers O'Brien and one filter-widening key.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest
import rel_target_scenarios as scenarios
from rel_support import report

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import RunningEmulator

SEED = 17
SCALE = 0.1


@pytest.fixture(scope="module")
def writable(start_emulator: Any) -> RunningEmulator:
    """An emulator of this module's own: the scenarios write to it."""
    return start_emulator(seed=SEED, scale=SCALE)


@pytest.fixture
def bc(writable: RunningEmulator) -> RunningEmulator:
    """The module's emulator reseeded (rows, counters and faults) before each scenario."""
    writable.hook("POST", "reset", {"seed": SEED, "scale": SCALE})
    return writable


def test_every_record_written_exactly_once_under_ten_percent_faults(
    bc: RunningEmulator, tmp_path: Path
) -> None:
    # The target needs about one request per 100 records: several seeded rounds, so that the
    # faults fall on look-ups and on writes alike.
    fired: Counter[str] = Counter()
    for fault_seed in range(1, 5):
        outcome = report(scenarios.exactly_once_under_faults(bc, tmp_path, seed=fault_seed))
        assert outcome.mismatches == []
        fired += outcome.faults
    assert sum(fired.values()) >= 3, fired  # the runs did meet faults


@pytest.mark.parametrize("kill_seed", [1, 2, 3])
def test_killed_then_rerun_on_the_same_input_writes_each_record_once(
    bc: RunningEmulator, tmp_path: Path, kill_seed: int
) -> None:
    outcome = report(scenarios.killed_then_rerun(bc, tmp_path, seed=kill_seed))
    assert outcome.mismatches == []


def test_injection_in_natural_keys_touches_only_the_intended_rows(
    bc: RunningEmulator, tmp_path: Path
) -> None:
    outcome = report(scenarios.injection_in_natural_keys(bc, tmp_path, seed=1))
    assert outcome.mismatches == []
