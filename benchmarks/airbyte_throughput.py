"""source-businesscentral (Airbyte) against tap-businesscentral (Singer) on the same rows.

Starts `bc-emulator serve` at BENCH_SCALE (default 20: about 200,000 general ledger entries
in a company), then reads one company's generalLedgerEntries with each, stdout to /dev/null, in
alternating rounds (BENCH_ROUNDS, default 3), and prints the medians: rows/s, CPU per row and peak
RSS of each, and the source's rate as a share of the tap's. The source runs the same tap
in-process; the difference is the translation to Airbyte messages.

    uv run python benchmarks/airbyte_throughput.py
    BENCH_SCALE=5 BENCH_ROUNDS=1 uv run python benchmarks/airbyte_throughput.py   # a quick run

Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import requests
from tap_throughput import (
    catalog,
    compile_bytecode,
    config_for,
    hook,
    measured_run,
    run_tap,
    start,
)

SOURCE = str(Path(sys.executable).parent / "source-businesscentral")
STREAM = "generalLedgerEntries"


def airbyte_config(config: dict[str, Any]) -> dict[str, Any]:
    """The tap's flat config in the source's shape: credentials in their form."""
    credentials = {"auth_type": "client_credentials"}
    credentials.update({k: config.pop(k) for k in ("tenant_id", "client_id", "client_secret")})
    return {"credentials": credentials, **config}


def configured_catalog(config_path: Path, workdir: Path) -> Path:
    out = subprocess.run(
        [SOURCE, "discover", "--config", str(config_path)], capture_output=True, check=True
    ).stdout
    [message] = [m for m in map(json.loads, out.splitlines()) if m["type"] == "CATALOG"]
    streams = [
        {"stream": s, "sync_mode": "incremental", "destination_sync_mode": "append"}
        for s in message["catalog"]["streams"]
        if s["name"] == STREAM
    ]
    path = workdir / "configured_catalog.json"
    path.write_text(json.dumps({"streams": streams}))
    return path


def run_source(config: dict[str, Any], workdir: Path) -> dict[str, float]:
    """Run the source's read once; wall time, CPU seconds and peak RSS (MB)."""
    config_path = workdir / "airbyte_config.json"
    config_path.write_text(json.dumps(airbyte_config(dict(config))))
    catalog_path = configured_catalog(config_path, workdir)
    return measured_run(
        [SOURCE, "read", "--config", str(config_path), "--catalog", str(catalog_path)]
    )


def main() -> None:
    compile_bytecode()
    scale = float(os.environ.get("BENCH_SCALE", "20"))
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    os.environ.pop("REQUESTS_CA_BUNDLE", None)
    os.environ.pop("CURL_CA_BUNDLE", None)
    with tempfile.TemporaryDirectory(prefix="airbyte-bench-") as tmp:
        workdir = Path(tmp)
        process, info = start(scale, workdir / "emulator")
        try:
            with requests.Session() as session:
                session.verify = info["ca_bundle"]
                company = info["companies"][0]
                config = config_for(info, company_ids=[company["id"]])
                catalog(config, workdir, [STREAM])  # warm-up: discovery once before timing
                runs: dict[str, list[tuple[dict[str, float], int]]] = {"tap": [], "source": []}
                for _ in range(rounds):
                    for name in ("tap", "source"):
                        hook(session, info, "DELETE", "counters")
                        if name == "tap":
                            result = run_tap(config, workdir, [STREAM])
                        else:
                            result = run_source(config, workdir)
                        served = hook(session, info, "GET", "counters")["rows_served"]
                        runs[name].append((result, served))
        finally:
            process.terminate()
            process.wait(timeout=30)
    rows = runs["tap"][0][1]
    print(f"-- emulator scale {scale}: {rows} {STREAM} of {company['name']!r}; medians of {rounds}")
    rates = {}
    for name, label in (
        ("tap", "tap-businesscentral (Singer)"),
        ("source", "source-businesscentral"),
    ):
        rate = statistics.median(served / r["wall"] for r, served in runs[name])
        cpu = statistics.median(r["cpu"] for r, _ in runs[name])
        rss = max(r["rss_mb"] for r, _ in runs[name])
        rates[name] = rate
        print(
            f"{label:30}: {rate:10,.0f} rows/s  ({rows / rate:.2f} s), CPU {1e6 * cpu / rows:.1f} "
            f"µs/row, peak RSS {rss:.0f} MB"
        )
    print(f"source / tap: {rates['source'] / rates['tap']:.0%}")


if __name__ == "__main__":
    main()
