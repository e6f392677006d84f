"""Reliability soak: the suite's "behaviours that held" scenarios, longer, bigger, more seeds.

Runs the scenarios of tests/reliability (the same functions the suite runs small) round after
round, each round with new seeds, until BENCH_SOAK_SECONDS have passed (default 300; a round is
never cut short, so the soak may run over by one round):

- tap: output under ~10% injected faults equals a clean run's (nine streams, two companies),
  with five requests in flight (the suite sends one, so that a seed meets the same faults);
- tap: rows edited while it reads are all picked up by that run or the next incremental one;
- tap: killed (-9) at a seeded point and resumed from its last STATE, no gap;
- tap: a run longer than the token lifetime, one token refused as expired, completes;
- target: every record written exactly once under ~10% faults (five requests in flight), and
  after a kill -9 and a rerun;
- target: injection in natural keys touches only the intended rows;
- no secret or token in any file the tap or the target wrote.

    uv run python benchmarks/soak.py                       # 300 s
    BENCH_SOAK_SECONDS=60 uv run python benchmarks/soak.py # a quick run
    BENCH_SOAK_SCALE=1    # the tap's emulator scale (the target's is half of it); default 1

Prints, per scenario: runs, rows, faults injected and mismatches (which should all be 0), and
the first mismatches of any scenario that had some. Exits 1 if any scenario had a mismatch.
The emulators run in this process (the secrets scan reads the tokens they issue).
"""

from __future__ import annotations

import itertools
import os
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "tests" / "reliability")]

import rel_tap_scenarios as tap  # noqa: E402
import rel_target_scenarios as target  # noqa: E402
from businesscentral_emulator.server import Emulator, EmulatorConfig  # noqa: E402
from conftest import RunningEmulator  # noqa: E402
from rel_secrets_scenario import secrets_scan  # noqa: E402
from rel_support import Outcome  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Callable

SECONDS = float(os.environ.get("BENCH_SOAK_SECONDS", "300"))
SCALE = float(os.environ.get("BENCH_SOAK_SCALE", "1"))
SEED = 23


@dataclass
class Totals:
    """One scenario's sums over the soak."""

    runs: int = 0
    rows: int = 0
    rounds: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    mismatches: list[str] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        self.rounds += 1
        self.runs += outcome.runs
        self.rows += outcome.rows
        self.faults += outcome.faults
        self.mismatches += [f"seed {outcome.seed}: {m}" for m in outcome.mismatches]


def start(seed: int, scale: float) -> RunningEmulator:
    return RunningEmulator(Emulator(EmulatorConfig(seed=seed, scale=scale)).start())


def scenarios(
    tap_bc: RunningEmulator, target_bc: RunningEmulator, small_bc: RunningEmulator
) -> list[tuple[str, RunningEmulator, float, Callable[..., Outcome]]]:
    """(name, emulator, its scale, scenario(bc, tmp, seed=...)) in the order each round runs."""
    target_scale = SCALE / 2
    return [
        ("tap: faults equal clean", tap_bc, SCALE,
         lambda bc, tmp, seed: tap.faults_equal_clean(bc, tmp, seed=seed, max_concurrency=5)),
        ("target: exactly once under faults", target_bc, target_scale,
         lambda bc, tmp, seed: target.exactly_once_under_faults(
             bc, tmp, seed=seed, new=1000, max_concurrency=5)),
        ("tap: concurrent edits", tap_bc, SCALE, tap.concurrent_edits),
        ("tap: kill and resume", tap_bc, SCALE, tap.kill_and_resume),
        ("target: kill and rerun", target_bc, target_scale,
         lambda bc, tmp, seed: target.killed_then_rerun(bc, tmp, seed=seed, new=1000)),
        ("tap: token expiry", tap_bc, SCALE, tap.token_expiry),
        ("target: injection in natural keys", target_bc, target_scale,
         target.injection_in_natural_keys),
        ("secrets in output files", small_bc, 0.05, secrets_scan),
    ]  # fmt: skip


def run_one(
    scenario: Callable[..., Outcome], bc: RunningEmulator, scale: float, seed: int, name: str
) -> Outcome:
    bc.hook("POST", "reset", {"seed": SEED, "scale": scale})
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        try:
            return scenario(bc, Path(tmp), seed=seed)
        except Exception as error:  # noqa: BLE001 - a crash is a mismatch, and the soak goes on
            outcome = Outcome(name, seed)
            last = traceback.format_exception_only(type(error), error)[-1].strip()
            frame = traceback.extract_tb(error.__traceback__)[-1]
            where = f"{Path(frame.filename).name}:{frame.lineno}"
            outcome.mismatches.append(f"crashed at {where}: {last[:500]}")
            return outcome


def main() -> int:
    tap_bc, target_bc, small_bc = start(SEED, SCALE), start(SEED, SCALE / 2), start(SEED, 0.05)
    totals: dict[str, Totals] = {}
    started = time.monotonic()
    print(f"soak: {SECONDS:.0f} s, tap scale {SCALE}, target scale {SCALE / 2}", flush=True)
    try:
        for round_number in itertools.count(1):
            seed = SEED * 100 + round_number  # new faults, edits, kill points, inputs
            for name, bc, scale, scenario in scenarios(tap_bc, target_bc, small_bc):
                began = time.monotonic()
                outcome = run_one(scenario, bc, scale, seed, name)
                totals.setdefault(name, Totals()).add(outcome)
                print(
                    f"  round {round_number} {name}: seed {seed}, {outcome.runs} runs, "
                    f"{outcome.rows} rows, {outcome.faults_fired} faults, "
                    f"{len(outcome.mismatches)} mismatches, {time.monotonic() - began:.0f} s "
                    f"{outcome.numbers}",
                    flush=True,
                )
            if time.monotonic() - started >= SECONDS:
                break
    finally:
        for bc in (tap_bc, target_bc, small_bc):
            bc.close()
            bc.emulator.stop()
    print_table(totals, time.monotonic() - started)
    return 1 if any(t.mismatches for t in totals.values()) else 0


def print_table(totals: dict[str, Totals], seconds: float) -> None:
    print(f"\nsoak finished after {seconds:.0f} s")
    header = (
        f"{'scenario':36} {'rounds':>6} {'runs':>5} {'rows':>8} {'faults':>7} {'mismatches':>10}"
    )
    print(header)
    print("-" * len(header))
    for name, total in totals.items():
        print(
            f"{name:36} {total.rounds:>6} {total.runs:>5} {total.rows:>8} "
            f"{sum(total.faults.values()):>7} {len(total.mismatches):>10}"
        )
    for name, total in totals.items():
        if total.faults:
            kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(total.faults.items()))
            print(f"faults of {name}: {kinds}")
    for name, total in totals.items():
        for mismatch in total.mismatches[:5]:
            print(f"MISMATCH {name}: {mismatch}")


if __name__ == "__main__":
    sys.exit(main())
