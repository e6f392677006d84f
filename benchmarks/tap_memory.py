"""tap-businesscentral peak memory on a whole tenant: every stream, two companies.

Runs `bc-emulator serve` as its own process at BENCH_SCALE (default 100) with its two companies,
then runs the tap over every stream of both (stdout to /dev/null) at the default settings and at
`max_concurrency: 1`, and prints for each: peak RSS of the tap process (wait4), rows served (the
emulator's counters), wall time and rows/s. The goal is a peak under 250 MB at the defaults: the
read-ahead is bounded by `read_ahead_rows`, so memory follows the settings, not the data.

    uv run python benchmarks/tap_memory.py                  # scale 100
    BENCH_SCALE=5 uv run python benchmarks/tap_memory.py    # a quick run
    BENCH_ROUNDS=3   # rounds of each run; medians are printed (default 1)
    BENCH_EXTRA='{"read_ahead_rows": 100000}'  # settings added to both runs (JSON)

Prints figures; asserts nothing.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from businesscentral_emulator.process import start_process

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tap_throughput import compile_bytecode, config_for, discover, hook, measured_run

TAP = str(Path(sys.executable).parent / "tap-businesscentral")


def every_stream_catalog(config: dict[str, Any], workdir: Path) -> Path:
    """Discover once and select every stream with every property."""
    document = discover(config, workdir)
    for entry in document["streams"]:
        for item in entry["metadata"]:
            item["metadata"]["selected"] = True
    path = workdir / "catalog.json"
    path.write_text(json.dumps(document))
    return path


def run_once(config: dict[str, Any], catalog: Path, workdir: Path) -> dict[str, float]:
    """One tap run: wall seconds and peak RSS (MB) of the tap process."""
    (workdir / "config.json").write_text(json.dumps(config))
    return measured_run([TAP, "--config", str(workdir / "config.json"), "--catalog", str(catalog)])


def measure(session: requests.Session, info: dict[str, Any], workdir: Path, rounds: int) -> None:
    extra = json.loads(os.environ.get("BENCH_EXTRA", "{}"))
    catalog = every_stream_catalog(config_for(info), workdir)
    for label, settings in (("defaults", {}), ("max_concurrency 1", {"max_concurrency": 1})):
        runs = []
        for _ in range(rounds):
            hook(session, info, "DELETE", "counters")
            result = run_once(config_for(info, **extra, **settings), catalog, workdir)
            served = hook(session, info, "GET", "counters")["rows_served"]
            runs.append((result, served))
        rss = statistics.median(result["rss_mb"] for result, _ in runs)
        wall = statistics.median(result["wall"] for result, _ in runs)
        rows = runs[0][1]
        print(
            f"{label:18}: peak RSS {rss:6.0f} MB, {rows:,} rows in {wall:.1f} s, "
            f"{rows / wall:,.0f} rows/s (median of {rounds})"
        )


def main() -> None:
    compile_bytecode()
    scale = float(os.environ.get("BENCH_SCALE", "100"))
    rounds = int(os.environ.get("BENCH_ROUNDS", "1"))
    os.environ.pop("REQUESTS_CA_BUNDLE", None)
    os.environ.pop("CURL_CA_BUNDLE", None)
    with tempfile.TemporaryDirectory(prefix="tap-memory-") as tmp:
        workdir = Path(tmp)
        started = time.perf_counter()
        process, info = start_process(workdir, "--scale", str(scale), "--no-limits")
        try:
            print(
                f"-- emulator scale {scale:g}, {len(info['companies'])} companies, every stream "
                f"(ready in {time.perf_counter() - started:.0f} s)"
            )
            with requests.Session() as session:
                session.verify = info["ca_bundle"]
                measure(session, info, workdir, rounds)
        finally:
            process.terminate()
            process.wait(timeout=30)


if __name__ == "__main__":
    main()
