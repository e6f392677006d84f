"""What the reliability scenarios share: mixed faults, interrupted runs, and record comparisons.

The scenarios prove the behaviours issue 13 found to hold under adversarial runs. Each is bounded
(rows, seeds, seconds) so the suite runs in CI; ``benchmarks/soak.py`` runs the same functions
longer and with more seeds. The suite is deterministic by seed: the emulator draws its rate
faults from a generator seeded per rule, and the clients send one request at a time, so the same
requests meet the same faults; edits, kill points and inputs come from seeded generators too.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tap.tap_runner import TAP, parse_messages, write_json
from tap.tap_runner import _env as tap_env
from tap_businesscentral.tap import TapBusinessCentral
from target.target_runner import TARGET, encode

if TYPE_CHECKING:
    from collections.abc import Callable

    from conftest import RunningEmulator

# Streams of several shapes: master data, documents with their lines, ledger entries (paged).
TAP_STREAMS = [
    "customers",
    "vendors",
    "items",
    "contacts",
    "salesInvoices",
    "salesInvoiceLines",
    "purchaseInvoices",
    "generalLedgerEntries",
    "itemLedgerEntries",
]
# Master data a BC user edits; `displayName` is writable on each.
EDITABLE = ("customers", "vendors", "items", "contacts")

RecordKey = tuple[str, str, str]  # stream, company id, row id


def mixed_faults(rate: float, path_contains: str = "/api/") -> list[dict[str, Any]]:
    """Rules that fail about ``rate`` of matching requests, spread over the five kinds of failure.

    BC's transient failures as a client meets them: 503 without Retry-After (backoff), 429 with
    Retry-After, the 409 deadlock, a connection reset before any byte, and a body cut halfway.
    ``path_contains`` "/api/" matches every API and ``$metadata`` request and no sign-in.
    """
    share = 1 - (1 - rate) ** (1 / 5)  # five independent draws: about `rate` fail in all
    common = {"rate": share, "path_contains": path_contains}
    return [
        {"kind": "status", "status": 503, **common},
        {"kind": "status", "status": 429, "retry_after": 0.2, **common},
        {"kind": "deadlock", **common},
        {"kind": "reset", **common},
        {"kind": "truncate", **common},
    ]


@dataclass
class Outcome:
    """What one run of a scenario did: a scenario that held has no mismatches."""

    scenario: str
    seed: int
    runs: int = 0
    rows: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    mismatches: list[str] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)

    def add_faults(self, counters: dict[str, Any]) -> None:
        """Count the faults the emulator says fired."""
        self.faults.update(counters["faults"])

    @property
    def faults_fired(self) -> int:
        return sum(self.faults.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "seed": self.seed,
            "runs": self.runs,
            "rows": self.rows,
            "faults": dict(self.faults),
            "mismatches": len(self.mismatches),
            **self.numbers,
        }


def failed(what: str, stderr: str) -> str:
    """A failed run as a mismatch: what ran and the last lines it printed."""
    return f"{what} failed: {' | '.join(stderr.strip().splitlines()[-3:])}"


def arm_faults(bc: RunningEmulator, rules: list[dict[str, Any]], seed: int) -> None:
    """Replace the armed faults with ``rules``, drawn from ``seed``; zero the counters."""
    bc.hook("DELETE", "faults")
    bc.hook("POST", "config", {"fault_seed": seed})
    bc.hook("POST", "faults", {"faults": rules})
    bc.hook("DELETE", "counters")


def bc_requests(counters: dict[str, Any]) -> int:
    """Requests to BC itself (API, ``$metadata``, ``$batch``): those the faults may hit."""
    by_kind = counters["by_kind"]
    return sum(n for kind, n in by_kind.items() if kind not in {"hook", "auth"})


# -- tap output --------------------------------------------------------------------------------


def record_key(message: dict[str, Any]) -> RecordKey:
    record = message["record"]
    return (message["stream"], record.get("companyId", ""), record["id"])


def records_by_key(messages: list[dict[str, Any]]) -> dict[RecordKey, list[dict[str, Any]]]:
    """Every RECORD of a run, by stream, company and id (a key written twice has two entries)."""
    found: dict[RecordKey, list[dict[str, Any]]] = {}
    for message in messages:
        if message["type"] == "RECORD":
            found.setdefault(record_key(message), []).append(message["record"])
    return found


def record_differences(
    expected: dict[RecordKey, list[dict[str, Any]]], got: dict[RecordKey, list[dict[str, Any]]]
) -> list[str]:
    """What differs between two runs' records: keys missing or extra, contents or counts apart."""
    problems = [f"missing {key}" for key in sorted(expected.keys() - got.keys())]
    problems += [f"extra {key}" for key in sorted(got.keys() - expected.keys())]
    problems += [
        f"different {key}: {got[key]} != {expected[key]}"
        for key in sorted(expected.keys() & got.keys())
        if got[key] != expected[key]
    ]
    return problems


def stream_counts(messages: list[dict[str, Any]]) -> Counter[str]:
    return Counter(m["stream"] for m in messages if m["type"] == "RECORD")


def catalog_for(config: dict[str, Any], streams: list[str]) -> dict[str, Any]:
    """Discover in-process and select only ``streams``; then close the tap's connections.

    Unlike ``tap_runner.catalog_for`` this closes the client: an idle keep-alive connection
    left open holds the in-process emulator's shutdown for its full 10 s at the session's end.
    """
    tap = TapBusinessCentral(config=config, validate_config=True)
    try:
        catalog = tap.catalog_dict
    finally:
        tap.client.close()
    for entry in catalog["streams"]:
        chosen = entry["tap_stream_id"] in streams
        for item in entry["metadata"]:
            item["metadata"]["selected"] = chosen
    return catalog


def start_tap(
    tmp: Path,
    config: dict[str, Any],
    catalog: dict[str, Any],
    state: dict[str, Any] | None = None,
) -> subprocess.Popen[str]:
    """Start the tap with its output read as it comes (to edit, or kill, while it reads)."""
    command = [
        *TAP,
        "--config",
        str(write_json(tmp, "config.json", config)),
        "--catalog",
        str(write_json(tmp, "catalog.json", catalog)),
    ]
    if state is not None:
        command += ["--state", str(write_json(tmp, "state.json", state))]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=tap_env()
    )


def run_tap_killed(
    tmp: Path,
    config: dict[str, Any],
    catalog: dict[str, Any],
    kill_after_records: int,
    state: dict[str, Any] | None = None,
) -> tuple[list[dict[str, Any]], bool]:
    """Run the tap and kill -9 it once ``kill_after_records`` RECORD lines have arrived.

    Returns:
        The messages read before the kill, and whether the kill came before the tap finished.
    """
    process = start_tap(tmp, config, catalog, state)
    assert process.stdout is not None
    lines: list[str] = []
    records = 0
    killed = False
    for line in process.stdout:
        lines.append(line)
        records += line.startswith('{"type":"RECORD"')
        if records >= kill_after_records:
            process.kill()
            killed = True
            break
    process.wait()
    process.stdout.close()
    complete = [line for line in lines if line.endswith("\n")]
    return parse_messages("".join(complete)), killed


def last_state(messages: list[dict[str, Any]]) -> dict[str, Any] | None:
    states = [m["value"] for m in messages if m["type"] == "STATE"]
    return states[-1] if states else None


# -- concurrent edits --------------------------------------------------------------------------


class Editor:
    """Edits rows as a BC user would, on a thread, while a run reads; remembers the last value.

    Each edit sets ``displayName`` of one row (drawn from ``seed``) to a new, unique value, so the
    value a row ends with says which edit was last.
    """

    def __init__(
        self, bc: RunningEmulator, rows: dict[str, list[tuple[str, str]]], seed: int
    ) -> None:
        self.bc = bc
        self.rows = rows  # entity set -> [(company id, row id)]
        self.rng = random.Random(seed)  # noqa: S311 - reproducible choice of rows, not secret
        self.final: dict[RecordKey, str] = {}
        self.edits = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def edit_one(self) -> None:
        entity_set = self.rng.choice(sorted(self.rows))
        company, row_id = self.rng.choice(self.rows[entity_set])
        value = f"edit {self.edits:05d}"
        self.bc.hook(
            "POST",
            "edit",
            {"entity_set": entity_set, "ids": [row_id], "changes": {"displayName": value}},
        )
        self.final[(entity_set, company, row_id)] = value
        self.edits += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            self.edit_one()
            time.sleep(0.005)


def editable_rows(
    bc: RunningEmulator, entity_sets: tuple[str, ...] = EDITABLE
) -> dict[str, list[tuple[str, str]]]:
    """(company id, row id) of every row of ``entity_sets`` in every company."""
    rows: dict[str, list[tuple[str, str]]] = {}
    for entity_set in entity_sets:
        for index, company in enumerate(bc.companies):
            rows.setdefault(entity_set, []).extend(
                (company["id"], row["id"]) for row in bc.get_all(bc.company_url(entity_set, index))
            )
    return rows


# -- target ------------------------------------------------------------------------------------


def start_target(tmp: Path, config_path: Path, messages: list[dict[str, Any]]) -> subprocess.Popen:
    """Start the target with ``messages`` on stdin, its output into files under ``tmp``."""
    stdin = tmp / "target-input.jsonl"
    stdin.write_text(encode(messages))
    with (
        stdin.open("rb") as given,
        (tmp / "target-stdout.txt").open("ab") as out,
        (tmp / "target-stderr.txt").open("ab") as err,
    ):
        return subprocess.Popen(
            [*TARGET, "--config", str(config_path)],
            stdin=given,
            stdout=out,
            stderr=err,
            env=tap_env(),
        )


def kill_when(process: subprocess.Popen, ready: Callable[[], bool], timeout: float = 120) -> bool:
    """Kill -9 ``process`` as soon as ``ready()`` holds; False when it ended first."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        if ready():
            process.kill()
            process.wait()
            return True
        time.sleep(0.01)
    process.wait(timeout=30)
    return False


# -- what was measured -------------------------------------------------------------------------


def report(outcome: Outcome) -> Outcome:
    """Append an outcome to ``$REL_MEASURE_FILE`` when set (for the README's table).

    Pytest hides what tests print; the file lets a run of the suite say what it measured.
    """
    path = os.environ.get("REL_MEASURE_FILE")
    if path:
        with Path(path).open("a", encoding="utf-8") as out:
            out.write(json.dumps(outcome.as_dict(), sort_keys=True) + "\n")
    return outcome
