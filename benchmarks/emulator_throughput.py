"""How fast the emulator serves rows, and how much memory it holds with a large data set.

Runs `bc-emulator serve` as its own process at the given scale (default 100: about a million
general ledger entries), then one client reads every customer at page size 20,000, several times,
and reports the median rows/s, with and without gzip; finally the server's peak RSS.

    uv run python benchmarks/emulator_throughput.py            # scale 100
    BENCH_SCALE=5 uv run python benchmarks/emulator_throughput.py   # a quick run
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import requests
from businesscentral_emulator.process import client_credentials_token, start_process

if TYPE_CHECKING:
    import subprocess

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))


def start(scale: float, workdir: Path) -> tuple[subprocess.Popen[bytes], dict[str, object], float]:
    started = time.perf_counter()
    process, info = start_process(workdir, "--scale", str(scale))
    return process, info, time.perf_counter() - started


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
                token = client_credentials_token(session, info)
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
