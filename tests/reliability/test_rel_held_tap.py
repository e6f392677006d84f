"""Reliability of the tap (issue 13, the behaviours that held), each scenario bounded and seeded.

- under about 10% injected faults the tap writes the same records as a clean run;
- rows edited while it reads are all picked up by that run or the next incremental one;
- killed (-9) at a random point and resumed from its last STATE, it leaves no gap;
- a run longer than the token's lifetime completes, renewing the token.

The scenarios live in ``rel_tap_scenarios`` so that ``benchmarks/soak.py`` runs them longer.
Nine streams (master data, documents and their lines, two ledgers) of two companies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import rel_tap_scenarios as scenarios
from rel_support import TAP_STREAMS, report

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import RunningEmulator

SEED = 13
SCALE = 0.2


@pytest.fixture(scope="module")
def bc(start_emulator: Any) -> RunningEmulator:
    """An emulator of this module's own: the scenarios arm faults and edit rows."""
    return start_emulator(seed=SEED, scale=SCALE)


@pytest.fixture
def fresh(bc: RunningEmulator) -> RunningEmulator:
    """The module's emulator reseeded (rows, counters, faults) before each scenario."""
    bc.hook("POST", "reset", {"seed": SEED, "scale": SCALE})
    return bc


@pytest.mark.parametrize("fault_seed", [1, 2])
def test_output_under_ten_percent_faults_equals_a_clean_run(
    fresh: RunningEmulator, tmp_path: Path, fault_seed: int
) -> None:
    outcome = report(scenarios.faults_equal_clean(fresh, tmp_path, seed=fault_seed, rate=0.10))
    assert outcome.mismatches == []
    assert outcome.numbers["streams"] == len(TAP_STREAMS)
    assert outcome.numbers["companies"] == 2
    assert outcome.faults_fired >= 3, outcome.faults  # the run did meet faults
    assert outcome.faults_fired <= outcome.numbers["bc_requests"] * 0.3


def test_rows_edited_while_the_tap_reads_are_all_picked_up(
    fresh: RunningEmulator, tmp_path: Path
) -> None:
    outcome = report(scenarios.concurrent_edits(fresh, tmp_path, seed=5))
    assert outcome.mismatches == []
    assert outcome.numbers["edits_during_read"] >= 50  # edits really overlapped the read


@pytest.mark.parametrize("kill_seed", [1, 2, 3])
def test_killed_and_resumed_from_the_last_state_leaves_no_gap(
    fresh: RunningEmulator, tmp_path: Path, kill_seed: int
) -> None:
    outcome = report(scenarios.kill_and_resume(fresh, tmp_path, seed=kill_seed))
    assert outcome.mismatches == []


def test_a_run_longer_than_the_token_lifetime_renews_and_completes(
    fresh: RunningEmulator, tmp_path: Path
) -> None:
    outcome = report(scenarios.token_expiry(fresh, tmp_path))
    assert outcome.mismatches == []
    assert outcome.faults == {"token_expired": 1}
    assert outcome.numbers["token_requests"] >= 3  # renewed on time and after the 401
