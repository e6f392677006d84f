"""How fast the emulator serves rows, and how much memory it holds with a large data set.

Runs `bc-emulator serve` as its own process at the given scale (default 100: about a million
general ledger entries), then one client reads every customer at page size 20,000, several times,
and reports the median rows/s, with and without gzip; finally the server's peak RSS.

    uv run python benchmarks/emulator_throughput.py            # scale 100
    BENCH_SCALE=5 uv run python benchmarks/emulator_throughput.py   # a quick run
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

SCOPE = "https://api.businesscentral.dynamics.com/.default"
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))


def start(scale: float, workdir: Path) -> tuple[subprocess.Popen[bytes], dict[str, object], float]:
    ready = workdir / "ready.json"
    started = time.perf_counter()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "businesscentral_emulator.cli",
            "serve",
            "--port",
            "0",
            "--scale",
            str(scale),
            "--ready-file",
            str(ready),
            "--data-dir",
            str(workdir / "data"),
        ]
    )
    while not ready.exists():
        if process.poll() is not None:
            message = "the emulator exited before it was ready"
            raise SystemExit(message)
        time.sleep(0.05)
    return process, json.loads(ready.read_text()), time.perf_counter() - started


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def read_all(session: requests.Session, url: str, headers: dict[str, str]) -> tuple[int, float]:
    rows = 0
    started = time.perf_counter()
    next_url: str | None = url
    while next_url:
        response = session.get(next_url, headers=headers, timeout=300)
        response.raise_for_status()
        body = response.json()
        rows += len(body["value"])
        next_url = body.get("@odata.nextLink")
    return rows, time.perf_counter() - started


def main() -> None:
    scale = float(os.environ.get("BENCH_SCALE", "100"))
    with tempfile.TemporaryDirectory() as tmp:
        process, info, startup = start(scale, Path(tmp))
        try:
            with requests.Session() as session:
                session.trust_env = False
                session.verify = str(info["ca_bundle"])
                token = session.post(
                    f"{info['authority_url']}/{info['tenant_id']}/oauth2/v2.0/token",
                    data={
                        "grant_type": "client_credentials",
                        "client_id": info["client_id"],
                        "client_secret": info["client_secret"],
                        "scope": SCOPE,
                    },
                    timeout=30,
                ).json()["access_token"]
                company = info["companies"][0]["id"]  # type: ignore[index]
                root = f"{info['api_url']}/v2.0/{info['tenant_id']}/production/api/v2.0"
                url = f"{root}/companies({company})/customers"
                base = {"Authorization": f"Bearer {token}", "Prefer": "odata.maxpagesize=20000"}
                print(f"emulator scale {scale:g}: started and seeded in {startup:.1f} s")
                for label, encoding in (("identity", "identity"), ("gzip", "gzip")):
                    rates = []
                    rows = 0
                    for _ in range(ROUNDS):
                        rows, seconds = read_all(
                            session, url, {**base, "Accept-Encoding": encoding}
                        )
                        rates.append(rows / seconds)
                    print(
                        f"customers, one client, page 20000, {label:8}: {rows} rows a round,"
                        f" median {statistics.median(rates):,.0f} rows/s over {ROUNDS} rounds"
                        f" (goal >= 20,000: ratio {statistics.median(rates) / 20000:.2f})"
                    )
            print(
                f"emulator peak RSS with scale {scale:g} loaded: {peak_rss_mb(process.pid):.0f} MB"
            )
        finally:
            process.terminate()
            process.wait(timeout=60)


if __name__ == "__main__":
    main()
