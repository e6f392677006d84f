"""The target's reliability scenarios, sized by arguments: the suite runs them small, the soak big.

Master data with a natural key (customers by ``number``) in both companies: new rows, changed
rows, and keys that come several times in one input (the last values win). Each scenario returns
an :class:`Outcome`; one that held has no mismatches. The caller gives an emulator already
reseeded; each scenario disarms the faults it armed.
"""

from __future__ import annotations

import json
import random
from typing import TYPE_CHECKING, Any

from rel_support import (
    Outcome,
    arm_faults,
    bc_requests,
    catalog_for,
    failed,
    kill_when,
    mixed_faults,
    start_target,
)
from tap.tap_runner import run_tap, tap_config
from target.target_runner import messages_for, run_target, target_config

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import RunningEmulator


def customers_by_company(bc: RunningEmulator) -> dict[str, list[dict[str, Any]]]:
    return {
        company["id"]: bc.get_all(bc.company_url("customers", index))
        for index, company in enumerate(bc.companies)
    }


def customer_input(
    bc: RunningEmulator, seed: int, new: int = 150
) -> tuple[list[dict[str, Any]], dict[tuple[str, str], str]]:
    """Seeded input over both companies: new customers, changes to existing ones, repeats.

    Returns:
        The records in input order, and the displayName each (company, number) must end with.
    """
    rng = random.Random(seed)  # noqa: S311 - reproducible input, not secret
    records: list[dict[str, Any]] = []
    for company, rows in customers_by_company(bc).items():
        records += [
            {"number": f"R{seed}-{i:04d}", "displayName": f"New {i}", "companyId": company}
            for i in range(new)
        ]
        records += [
            {
                "number": row["number"],
                "displayName": f"Changed {row['number']}",
                "companyId": company,
            }
            for row in rng.sample(rows, len(rows) // 2)
        ]
    # Some keys come again later in the input with other values: the last one must win.
    records += [
        {**record, "displayName": f"Again {n}"} for n, record in enumerate(rng.sample(records, 30))
    ]
    rng.shuffle(records)
    final = {(r["companyId"], r["number"]): r["displayName"] for r in records}
    return records, final


def exactly_once_problems(
    bc: RunningEmulator,
    before: dict[str, list[dict[str, Any]]],
    final: dict[tuple[str, str], str],
) -> list[str]:
    """Keys written twice or not at all, wrong values, and rows not in the input that changed."""
    problems: list[str] = []
    for company, rows in customers_by_company(bc).items():
        numbers = [row["number"] for row in rows]
        problems += [f"{company} {n} written {numbers.count(n)} times" for n in set(numbers)
                     if numbers.count(n) > 1]  # fmt: skip
        by_number = {row["number"]: row for row in rows}
        for (record_company, number), name in final.items():
            if record_company != company:
                continue
            row = by_number.get(number)
            if row is None:
                problems.append(f"{company} {number} missing")
            elif row["displayName"] != name:
                problems.append(f"{company} {number} is {row['displayName']!r}, not {name!r}")
        for row in before[company]:
            if (company, row["number"]) not in final and by_number.get(row["number"]) != row:
                problems.append(f"{company} {row['number']} changed but was not in the input")
    return problems


def _final_records(final: dict[tuple[str, str], str]) -> list[dict[str, Any]]:
    return [
        {"number": number, "displayName": name, "companyId": company}
        for (company, number), name in final.items()
    ]


def exactly_once_under_faults(  # noqa: PLR0913 - the sizes are what the soak turns up
    bc: RunningEmulator,
    tmp: Path,
    *,
    seed: int,
    rate: float = 0.10,
    new: int = 150,
    max_concurrency: int = 1,
) -> Outcome:
    """Under ``rate`` injected faults every record is written once, with its final values.

    One request in flight (the suite) meets the same faults for a seed; the soak sends several.
    """
    outcome = Outcome("target: exactly once under faults", seed)
    before = customers_by_company(bc)
    records, final = customer_input(bc, seed=seed, new=new)
    config = target_config(bc.info, tmp, max_concurrency=max_concurrency)
    arm_faults(bc, mixed_faults(rate), seed)
    try:
        run = run_target(tmp, config, messages_for({"customers": records}))
        counters = bc.counters()
    finally:
        bc.hook("DELETE", "faults")
    outcome.runs, outcome.rows = 1, len(records)
    outcome.add_faults(counters)
    outcome.numbers["bc_requests"] = bc_requests(counters)
    if run.returncode != 0:
        outcome.mismatches.append(failed("target run under faults", run.stderr))
    outcome.mismatches += [f"rejected: {r}" for r in run.rejected]
    outcome.mismatches += exactly_once_problems(bc, before, final)
    # The final values once more: BC already holds them all, nothing is written.
    again = run_target(tmp, config, messages_for({"customers": _final_records(final)}))
    outcome.runs += 1
    if again.returncode != 0 or again.summary("customers")["unchanged"] != len(final):
        outcome.mismatches.append(failed("rerun of the final values", again.stderr))
    return outcome


def killed_then_rerun(bc: RunningEmulator, tmp: Path, *, seed: int, new: int = 400) -> Outcome:
    """Killed (-9) at a seeded point and run again on the same input: each record once."""
    outcome = Outcome("target: kill and rerun", seed)
    before = customers_by_company(bc)
    records, final = customer_input(bc, seed=seed, new=new)
    config = target_config(bc.info, tmp)
    config_path = tmp / "target-config.json"
    config_path.write_text(json.dumps(config))
    bc.hook("DELETE", "counters")
    # Kill after a seeded number of operations reached BC, anywhere in the run's writes.
    kill_after = random.Random(seed).randrange(1, len(final) * 3 // 4)  # noqa: S311
    process = start_target(tmp, config_path, messages_for({"customers": records}))
    killed = kill_when(process, lambda: bc.counters()["batch_operations"] >= kill_after)
    written = sum(bc.counters()["writes"].values())
    if not killed or not 0 < written < len(final):
        outcome.mismatches.append(f"not killed midway: killed {killed}, {written} written")
    run = run_target(tmp, config, messages_for({"customers": records}))
    outcome.runs, outcome.rows = 2, len(records)
    if run.returncode != 0:
        outcome.mismatches.append(failed("rerun", run.stderr))
    outcome.mismatches += [f"rejected: {r}" for r in run.rejected]
    outcome.mismatches += exactly_once_problems(bc, before, final)
    outcome.numbers.update(killed_after_operations=kill_after, written_before_kill=written)
    return outcome


# Natural keys a caller might send (all fit BC's Code[20] number): quotes, OData and URL syntax,
# percent-escapes, unicode. Each must match only itself, in the look-up and in the write.
INJECTION = [
    "O'Brien",
    "X' or number ne '",
    "') or ('1' eq '1",
    "''",
    "'",
    "%27",
    "%27 or true",
    ")",
    "a) or (true",
    "&$filter=true",
    "#x?y=1/z\\",
    "+ %20 +",
    "Zoë 'Ünï' 東京",
    "10000' or '",
]


def injection_in_natural_keys(bc: RunningEmulator, tmp: Path, *, seed: int = 0) -> Outcome:
    """Keys full of quotes, escapes and OData syntax touch only their own rows, and read back."""
    outcome = Outcome("target: injection in natural keys", seed)
    before = customers_by_company(bc)
    records = [
        {"number": number, "displayName": f"Injected {i}", "companyId": company}
        for company in before
        for i, number in enumerate(INJECTION)
    ]
    config = target_config(bc.info, tmp)
    run = run_target(tmp, config, messages_for({"customers": records}))
    if run.returncode != 0 or run.summary("customers")["created"] != len(records):
        outcome.mismatches.append(failed("first write", run.stderr))
    final = {(r["companyId"], r["number"]): r["displayName"] for r in records}
    outcome.mismatches += exactly_once_problems(bc, before, final)

    middle = customers_by_company(bc)
    pick = random.Random(seed).randrange(len(records))  # noqa: S311
    changed = [{**records[pick], "displayName": "Only this one"}]
    again = run_target(tmp, config, messages_for({"customers": records + changed}))
    summary = again.summary("customers")
    if (summary["created"], summary["updated"]) != (0, 1):
        outcome.mismatches.append(f"second write: {summary}")
    final[(records[pick]["companyId"], records[pick]["number"])] = "Only this one"
    outcome.mismatches += exactly_once_problems(bc, middle, final)

    tap = tap_config(bc.info)
    read = run_tap(tmp, tap, catalog=catalog_for(tap, ["customers"]))
    numbers = sorted((r["companyId"], r["number"]) for r in read.records("customers"))
    if read.returncode != 0 or [n for n in numbers if n in final] != sorted(final):
        outcome.mismatches.append(failed("the tap's read back", read.stderr))
    outcome.runs, outcome.rows = 3, len(records)
    outcome.numbers["keys"] = len(INJECTION)
    return outcome
