"""tap-businesscentral throughput against the emulator: rows/s, requests, CPU per row, memory.

Runs `bc-emulator serve` as its own process at the given scale (default 100: about a million
general ledger entries), then:

1. a bare HTTP client reads one company's generalLedgerEntries (page size 20,000, gzip) and
   parses each page: the rate the emulator can serve those rows at;
2. the tap reads the same rows (stdout to /dev/null): rows/s and its ratio to (1), HTTP requests
   per 1,000 rows (emulator counters), tap CPU microseconds per row and peak RSS (wait4);
3. on a second emulator with four companies (`--companies 4`) and 150 ms added to every
   request, the tap reads every stream but the two ledgers of every company at max_concurrency=1
   and at the default 5: rows/s of each and the ratio (goal: at least 3x). That emulator runs at
   BENCH_LATENCY_SCALE (default 1), where round trips, not CPU, are the cost: at scale 100 the
   same read moves ~100x the rows and is bound by the machine's cores instead.

    uv run python benchmarks/tap_throughput.py              # scale 100
    BENCH_SCALE=2 uv run python benchmarks/tap_throughput.py  # a quick run
    BENCH_ROUNDS=3   # rounds of each tap run; medians are printed (default 3)

Prints figures and ratios; asserts nothing about time.
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from businesscentral_emulator.process import client_credentials_token, start_process

TAP = str(Path(sys.executable).parent / "tap-businesscentral")
# Every stream but the two ledgers, whose cost is CPU (measured above), not round trips.
CPU_BOUND = {"generalLedgerEntries", "itemLedgerEntries"}


def start(
    scale: float, workdir: Path, *args: str
) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    workdir.mkdir(parents=True, exist_ok=True)
    return start_process(workdir, "--scale", str(scale), "--no-limits", *args)


def config_for(info: dict[str, Any], **extra: object) -> dict[str, Any]:
    keys = ("tenant_id", "client_id", "client_secret", "api_url", "authority_url", "ca_bundle")
    config: dict[str, Any] = {k: info[k] for k in keys}
    config["environment_name"] = info.get("environment_name", "production")
    config.update(extra)
    return config


def hook(
    session: requests.Session, info: dict[str, Any], method: str, name: str, body: object = None
) -> Any:  # noqa: ANN401
    response = session.request(method, f"{info['api_url']}/_emulator/{name}", json=body, timeout=60)
    response.raise_for_status()
    return response.json() if response.content else None


def bare_read(
    session: requests.Session, info: dict[str, Any], company_id: str
) -> tuple[int, float]:
    token = client_credentials_token(session, info)
    root = f"{info['api_url']}/v2.0/{info['tenant_id']}/production/api/v2.0"
    url: str | None = f"{root}/companies({company_id})/generalLedgerEntries"
    headers = {
        "Authorization": f"Bearer {token}",
        "Prefer": "odata.maxpagesize=20000",
        "Accept-Encoding": "gzip",
    }
    rows = 0
    started = time.perf_counter()
    while url:
        body = session.get(url, headers=headers, timeout=600).json()
        rows += len(body["value"])
        url = body.get("@odata.nextLink")
    return rows, time.perf_counter() - started


def discover(config: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """The tap's catalog for ``config`` (``--discover``)."""
    (workdir / "discover.json").write_text(json.dumps(config))
    out = subprocess.run(
        [TAP, "--config", str(workdir / "discover.json"), "--discover"],
        capture_output=True,
        check=True,
    ).stdout
    document: dict[str, Any] = json.loads(out)
    return document


def catalog(config: dict[str, Any], workdir: Path, streams: list[str]) -> Path:
    document = discover(config, workdir)
    for entry in document["streams"]:
        chosen = (
            entry["tap_stream_id"] in streams
            if streams
            else entry["tap_stream_id"] not in CPU_BOUND
        )
        for item in entry["metadata"]:
            item["metadata"]["selected"] = chosen
    path = workdir / "catalog.json"
    path.write_text(json.dumps(document))
    return path


def measured_run(command: list[str]) -> dict[str, float]:
    """Run ``command`` with stdout to /dev/null; wall time, CPU seconds and peak RSS (MB) of it."""
    with Path(os.devnull).open("wb") as sink:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    if status != 0:
        message = f"{Path(command[0]).name} failed with status {status}"
        raise RuntimeError(message)
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024,
    }


def run_tap(config: dict[str, Any], workdir: Path, streams: list[str]) -> dict[str, float]:
    """Run the tap once; wall time, CPU seconds and peak RSS (MB) of the tap process."""
    catalog_path = catalog(config, workdir, streams)
    (workdir / "config.json").write_text(json.dumps(config))
    return measured_run(
        [TAP, "--config", str(workdir / "config.json"), "--catalog", str(catalog_path)]
    )


def throughput(session: requests.Session, info: dict[str, Any], workdir: Path, rounds: int) -> None:
    """Bare client vs tap on one company's generalLedgerEntries, no added latency."""
    company = info["companies"][0]
    bare_rates, tap_runs = [], []
    rows = 0
    for _ in range(rounds):
        rows, seconds = bare_read(session, info, company["id"])
        bare_rates.append(rows / seconds)
        hook(session, info, "DELETE", "counters")
        config = config_for(info, company_ids=[company["id"]])
        tap = run_tap(config, workdir, ["generalLedgerEntries"])
        counters = hook(session, info, "GET", "counters")
        tap_runs.append((tap, counters["rows_served"], counters["requests_total"]))
    bare_rate = statistics.median(bare_rates)
    tap_rows = tap_runs[0][1]
    tap_rate = statistics.median(served / tap["wall"] for tap, served, _ in tap_runs)
    cpu = statistics.median(tap["cpu"] for tap, _, _ in tap_runs)
    rss = max(tap["rss_mb"] for tap, _, _ in tap_runs)
    requests_total = tap_runs[0][2]
    print(f"{rows} generalLedgerEntries in company {company['name']!r}; medians of {rounds}")
    print(f"bare HTTP client : {bare_rate:12,.0f} rows/s  ({rows / bare_rate:.2f} s)")
    print(
        f"tap              : {tap_rate:12,.0f} rows/s  ({tap_rows / tap_rate:.2f} s, "
        f"{tap_rate / bare_rate:.0%} of the bare client)"
    )
    print(f"requests / 1,000 rows : {1000 * requests_total / tap_rows:.3f}")
    print(f"tap CPU per row       : {1e6 * cpu / tap_rows:.1f} µs (whole process, start-up too)")
    print(f"tap peak RSS          : {rss:.0f} MB")


def concurrency(
    session: requests.Session, info: dict[str, Any], workdir: Path, rounds: int
) -> None:
    """Every stream but the ledgers, every company, 150 ms a request: max_concurrency 1 vs 5."""
    latency = float(os.environ.get("BENCH_LATENCY_MS", "150"))
    hook(session, info, "POST", "config", {"latency_ms": latency})
    rates: dict[int, float] = {}
    for level in (1, 5):
        runs = []
        for _ in range(rounds):
            hook(session, info, "DELETE", "counters")
            result = run_tap(config_for(info, max_concurrency=level), workdir, [])
            counters = hook(session, info, "GET", "counters")
            runs.append((result, counters["rows_served"], counters["requests_total"]))
        rates[level] = statistics.median(served / result["wall"] for result, served, _ in runs)
        result, served, requests_total = runs[0]
        print(
            f"{latency:.0f} ms latency, {len(info['companies'])} companies, all streams but the "
            f"ledgers, max_concurrency={level}: {rates[level]:10,.0f} rows/s "
            f"({served / rates[level]:.2f} s, {served} rows, {requests_total} requests, "
            f"RSS {result['rss_mb']:.0f} MB)"
        )
    print(f"concurrency ratio (5 vs 1): {rates[5] / rates[1]:.2f}x (goal: at least 3x)")


def compile_bytecode() -> None:
    """Compile the tap's imports once, as pip and Meltano installs do.

    With PYTHONDONTWRITEBYTECODE set (as on these machines) and a uv environment (uv does not
    compile by default), every tap start would compile about half a second of imports again.
    """
    folders = [sysconfig.get_paths()["purelib"]]
    for package in ("tap_businesscentral", "businesscentral_api"):
        spec = importlib.util.find_spec(package)
        folders += list(spec.submodule_search_locations or []) if spec else []
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "-j", "0", *folders],
        check=False,
        stdout=subprocess.DEVNULL,
    )


def main() -> None:
    compile_bytecode()
    scale = float(os.environ.get("BENCH_SCALE", "100"))
    latency_scale = float(os.environ.get("BENCH_LATENCY_SCALE", "1"))
    rounds = int(os.environ.get("BENCH_ROUNDS", "3"))
    # These would override Session.verify (the emulator's own CA) for requests' Session.request.
    os.environ.pop("REQUESTS_CA_BUNDLE", None)
    os.environ.pop("CURL_CA_BUNDLE", None)
    with tempfile.TemporaryDirectory(prefix="tap-bench-") as tmp:
        workdir = Path(tmp)
        for label, emulator_scale, args, measure in (
            ("throughput", scale, (), throughput),
            ("latency", latency_scale, ("--companies", "4"), concurrency),
        ):
            process, info = start(emulator_scale, workdir / label, *args)
            try:
                with requests.Session() as session:
                    session.verify = info["ca_bundle"]
                    print(f"-- emulator scale {emulator_scale}, {len(info['companies'])} companies")
                    measure(session, info, workdir / label, rounds)
            finally:
                process.terminate()
                process.wait(timeout=30)


if __name__ == "__main__":
    main()
