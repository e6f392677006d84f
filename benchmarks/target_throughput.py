"""target-businesscentral throughput: customer upserts through ``$batch`` vs one request a record.

Runs `bc-emulator serve` as its own process with 150 ms added to every request and BC online's
request limits off (``--no-limits``, as in tap_throughput: the emulator charges every ``$batch``
operation to BC's 6,000-per-5-minutes window, so 10,000 upserts never fit one window whoever
sends them; this measures round trips), then for each of BENCH_ROUNDS rounds:

1. set-up, not measured: latency switched off, the target itself creates the round's 5,000
   "existing" customers, latency back on;
2. target-businesscentral (the real CLI, records on stdin) upserts 10,000 customers without ids,
   half new and half changed existing ones (found by ``number``): wall time of the whole process
   (start-up, sign-in and ``$metadata`` included), HTTP requests from its summary line and from
   the emulator's counters, requests per 100 records;
3. a plain writer, a ``requests.Session`` loop that sends exactly one request per record (POST
   for a new customer, PATCH with ``If-Match`` for a changed one, ids and etags given up front),
   runs sequentially on a sample (default 200 records, half of each kind): its records/s, which
   is extrapolated to the 10,000 records.

Ratio of the rates (goal: at least 50x) and requests per 100 records (goal: at most 2) print PASS
or FAIL. Last, the cost of record validation in-process: the target's own check
(``RecordPreparer.prepare`` as the target builds it, and the bare per-field checks) against
singer-sdk's default ``JSONSchemaValidator`` on the tap's ``customers`` schema.

    uv run python benchmarks/target_throughput.py
    BENCH_ROUNDS=1 uv run python benchmarks/target_throughput.py   # a quick run
    BENCH_RECORDS=10000 BENCH_PLAIN_SAMPLE=200 BENCH_LATENCY_MS=150   # the defaults

Prints figures and ratios; asserts nothing about time.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from businesscentral_emulator.process import client_credentials_token, start_process

BIN = Path(sys.executable).parent
TARGET = str(BIN / "target-businesscentral")
TAP = str(BIN / "tap-businesscentral")
SUMMARY = re.compile(
    r"Summary customers: created (\d+), updated (\d+), unchanged (\d+), deleted (\d+),"
    r" posted (\d+), rejected (\d+); (\d+) requests"
)
CONNECTION = ("tenant_id", "client_id", "client_secret", "api_url", "authority_url", "ca_bundle")


# -- the emulator ---------------------------------------------------------------------------------
def hook(
    session: requests.Session, info: dict[str, Any], method: str, name: str, body: object = None
) -> Any:  # noqa: ANN401
    response = session.request(method, f"{info['api_url']}/_emulator/{name}", json=body, timeout=60)
    response.raise_for_status()
    return response.json() if response.content else None


def cpu_seconds(pid: int) -> float:
    """CPU seconds a process has used so far (Linux /proc; 0 elsewhere)."""
    stat = Path(f"/proc/{pid}/stat")
    if not stat.exists():
        return 0.0
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def api_requests(counters: dict[str, Any]) -> dict[str, int]:
    """Requests by kind, the test hooks left out."""
    return {k: n for k, n in counters["by_kind"].items() if k != "hook"}


# -- records --------------------------------------------------------------------------------------
def customer(number: str, name: str, company_id: str, index: int) -> dict[str, Any]:
    return {
        "number": number,
        "displayName": name,
        "type": "Company",
        "addressLine1": f"{index} Bench Street",
        "city": "Atlanta",
        "postalCode": "31772",
        "phoneNumber": f"+1 555 {index:07d}",
        "email": f"buyer{index}@bench.example.com",
        "website": "",
        "taxLiable": False,
        "companyId": company_id,
    }


def existing_records(round_no: int, half: int, company_id: str) -> list[dict[str, Any]]:
    return [
        customer(f"R{round_no}E{i:05d}", f"Existing customer {i}", company_id, i)
        for i in range(half)
    ]


def upsert_records(round_no: int, half: int, company_id: str) -> list[dict[str, Any]]:
    """Half new, half changed (a new name and address line), interleaved."""
    records = []
    for i in range(half):
        records.append(customer(f"R{round_no}N{i:05d}", f"New customer {i}", company_id, i))
        changed = customer(f"R{round_no}E{i:05d}", f"Renamed customer {i}", company_id, i)
        changed["addressLine1"] = f"{i} Changed Avenue"
        records.append(changed)
    return records


def singer_lines(records: list[dict[str, Any]]) -> str:
    schema = {"type": "object", "properties": {}}
    lines = [json.dumps({"type": "SCHEMA", "stream": "customers", "schema": schema,
                         "key_properties": []})]  # fmt: skip
    lines.extend(
        json.dumps({"type": "RECORD", "stream": "customers", "record": r}) for r in records
    )
    return "\n".join(lines) + "\n"


# -- the target -----------------------------------------------------------------------------------
def target_config(info: dict[str, Any], workdir: Path) -> dict[str, Any]:
    config: dict[str, Any] = {k: info[k] for k in CONNECTION}
    config["environment_name"] = info.get("environment_name", "production")
    config["rejected_records_path"] = str(workdir / "rejected.jsonl")
    return config


def run_target(
    config: dict[str, Any], workdir: Path, records: list[dict[str, Any]]
) -> dict[str, Any]:
    """Run the CLI once; wall and CPU seconds (of the target process) and the summary counts."""
    (workdir / "target.json").write_text(json.dumps(config))
    (workdir / "input.singer").write_text(singer_lines(records))
    env = {k: v for k, v in os.environ.items() if k not in {"REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"}}
    log = workdir / "target.log"
    with (workdir / "input.singer").open("rb") as stdin, log.open("wb") as stderr_file:
        started = time.perf_counter()
        process = subprocess.Popen(
            [TARGET, "--config", str(workdir / "target.json")],
            stdin=stdin,
            stdout=subprocess.DEVNULL,
            stderr=stderr_file,
            env=env,
        )
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
    stderr = log.read_text(errors="replace")
    found = SUMMARY.search(stderr)
    if process.returncode != 0 or found is None:
        message = f"the target failed (status {process.returncode}):\n{stderr[-3000:]}"
        raise RuntimeError(message)
    for line in [ln for ln in stderr.splitlines() if "WARNING" in ln][:3]:
        print(f"  target warning: {line.split('|')[-1].strip()[:160]}", flush=True)
    cpu = usage.ru_utime + usage.ru_stime
    names = ("created", "updated", "unchanged", "deleted", "posted", "rejected", "requests")
    counts = dict(zip(names, map(int, found.groups()), strict=True))
    return {"wall": wall, "cpu": cpu, **counts}


# -- the plain writer -----------------------------------------------------------------------------
def plain_writer(
    session: requests.Session,
    info: dict[str, Any],
    company_id: str,
    round_no: int,
    sample: int,
) -> tuple[float, int]:
    """One request per record, sequentially; seconds taken and requests the emulator counted."""
    token = client_credentials_token(session, info)
    headers = {"Authorization": f"Bearer {token}"}
    root = f"{info['api_url']}/v2.0/{info['tenant_id']}/production/api/v2.0"
    url = f"{root}/companies({company_id})/customers"
    half = sample // 2
    # Up front, not measured: ids and etags of the existing customers to change.
    wanted = {f"R{round_no}E{i:05d}": i for i in range(half)}
    current: dict[str, dict[str, Any]] = {}
    prefix = f"R{round_no}E"
    page: str | None = (
        f"{url}?$select=id,number&$filter=number ge '{prefix}' and number lt 'R{round_no}F'"
    )
    while page:
        body = session.get(page, headers=headers, timeout=120).json()
        current.update((r["number"], r) for r in body["value"] if r["number"] in wanted)
        page = body.get("@odata.nextLink")
    if len(current) != half:
        message = f"found {len(current)} of the {half} customers to change"
        raise RuntimeError(message)
    writes: list[tuple[str, str, dict[str, Any], dict[str, str]]] = []
    for i in range(half):
        new = customer(f"R{round_no}P{i:05d}", f"Plain new customer {i}", company_id, i)
        new.pop("companyId")
        writes.append(("POST", url, new, headers))
        row = current[f"R{round_no}E{i:05d}"]
        patch = {"displayName": f"Plain renamed customer {i}", "addressLine1": f"{i} Plain Road"}
        writes.append(
            ("PATCH", f"{url}({row['id']})", patch, {**headers, "If-Match": row["@odata.etag"]})
        )
    hook(session, info, "DELETE", "counters")
    started = time.perf_counter()
    for method, address, body, request_headers in writes:
        response = session.request(method, address, json=body, headers=request_headers, timeout=60)
        if response.status_code not in {200, 201}:
            message = f"plain writer: {method} answered {response.status_code}: {response.text}"
            raise RuntimeError(message)
    seconds = time.perf_counter() - started
    counted = sum(api_requests(hook(session, info, "GET", "counters")).values())
    return seconds, counted


# -- validation cost ------------------------------------------------------------------------------
def validation_cost(
    info: dict[str, Any], workdir: Path, company_id: str, records: list[dict[str, Any]]
) -> None:
    """µs per record: the target's own checks vs singer-sdk's default jsonschema validation."""
    from singer_sdk.sinks.core import JSONSchemaValidator  # noqa: PLC0415
    from target_businesscentral.ledger import Rejection  # noqa: PLC0415
    from target_businesscentral.prepare import RecordPreparer  # noqa: PLC0415
    from target_businesscentral.target import TargetBusinessCentral  # noqa: PLC0415

    config = target_config(info, workdir)
    target = TargetBusinessCentral(config=config, validate_config=True)
    preparer = target.preparer("customers")
    if not isinstance(preparer, RecordPreparer):
        message = f"no preparer for customers: {preparer}"
        raise TypeError(message)
    target.company_of(company_id)  # fetch the companies before timing
    checks = preparer.checks

    def bare_checks(record: dict[str, Any]) -> None:
        for name, value in record.items():
            check = checks.get(name)
            if check is not None and check(value) is not None:
                raise ValueError(name)

    (workdir / "tap.json").write_text(json.dumps(config))
    env = {k: v for k, v in os.environ.items() if k not in {"REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"}}
    discovered = subprocess.run(
        [TAP, "--config", str(workdir / "tap.json"), "--discover"],
        capture_output=True,
        check=True,
        env=env,
    ).stdout
    schema = next(
        s["schema"] for s in json.loads(discovered)["streams"] if s["tap_stream_id"] == "customers"
    )
    sdk_default = JSONSchemaValidator(schema)
    sdk_formats = JSONSchemaValidator(schema, validate_formats=True)

    def timed(function: Any) -> float:  # noqa: ANN401
        rounds = []
        for _ in range(5):
            started = time.perf_counter()
            for record in records:
                function(record)
            rounds.append((time.perf_counter() - started) / len(records) * 1e6)
        return statistics.median(rounds)

    rejected = [p for p in map(preparer.prepare, records) if isinstance(p, Rejection)]
    if rejected:
        message = f"the target rejected a benchmark record: {rejected[0]}"
        raise RuntimeError(message)
    target.client.session.close()  # no keep-alive connection holds the emulator at its exit
    ours = timed(preparer.prepare)
    bare = timed(bare_checks)
    sdk = timed(sdk_default.validate)
    sdk_fmt = timed(sdk_formats.validate)
    print(f"record validation, median of 5 passes over {len(records)} customers:")
    print(f"  target RecordPreparer.prepare (checks + plan item) : {ours:8.2f} µs/record")
    print(f"  target per-field checks alone (checker_for)        : {bare:8.2f} µs/record")
    print(f"  singer-sdk JSONSchemaValidator (SDK default)       : {sdk:8.2f} µs/record")
    print(f"  singer-sdk JSONSchemaValidator, formats checked    : {sdk_fmt:8.2f} µs/record")
    print(
        f"  jsonschema / prepare: {sdk / ours:.1f}x; jsonschema / checks: {sdk / bare:.1f}x"
        f" (formats checked: {sdk_fmt / ours:.1f}x / {sdk_fmt / bare:.1f}x)"
    )


# -- the benchmark --------------------------------------------------------------------------------
def measure_round(
    session: requests.Session, info: dict[str, Any], workdir: Path, round_no: int, settings: Bench
) -> tuple[dict[str, Any], float, int]:
    """Set-up, the target's run and the plain writer's; the target's figures and the plain rate."""
    company_id = info["companies"][0]["id"]
    half = settings.records // 2
    config = target_config(info, workdir)
    # Every round starts from the same seeded data (no round reads a company grown by the last).
    hook(session, info, "POST", "reset", {})
    hook(session, info, "POST", "config", {"latency_ms": 0})
    setup = run_target(config, workdir, existing_records(round_no, half, company_id))
    hook(session, info, "POST", "config", {"latency_ms": settings.latency})
    if setup["created"] != half:
        message = f"set-up created {setup['created']} of {half}"
        raise RuntimeError(message)
    hook(session, info, "DELETE", "counters")
    emulator_cpu = cpu_seconds(settings.emulator_pid)
    run = run_target(config, workdir, upsert_records(round_no, half, company_id))
    run["emulator_cpu"] = cpu_seconds(settings.emulator_pid) - emulator_cpu
    counters = hook(session, info, "GET", "counters")
    run["by_kind"] = api_requests(counters)
    run["batches"] = counters["batches"]
    run["operations"] = counters["batch_operations"]
    if (run["created"], run["updated"], run["rejected"]) != (half, half, 0):
        message = f"round {round_no}: unexpected outcome {run}"
        raise RuntimeError(message)
    seconds, plain_requests = plain_writer(session, info, company_id, round_no, settings.sample)
    print(
        f"round {round_no}: target {settings.records / run['wall']:8,.0f} records/s"
        f" ({run['wall']:.2f} s, {run['requests']} requests, CPU target {run['cpu']:.1f} s"
        f" emulator {run['emulator_cpu']:.1f} s);"
        f" plain writer {settings.sample / seconds:6.2f} records/s"
        f" ({settings.sample} records in {seconds:.1f} s)",
        flush=True,
    )
    return run, settings.sample / seconds, plain_requests


def report(
    info: dict[str, Any], settings: Bench, runs: list[dict[str, Any]], plain_rates: list[float]
) -> None:
    total, half = settings.records, settings.records // 2
    target_rate = statistics.median(total / r["wall"] for r in runs)
    plain_rate = statistics.median(plain_rates)
    first = runs[0]
    counted = sum(first["by_kind"].values())
    ratio = target_rate / plain_rate
    per_100 = 100 * counted / total
    kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(first["by_kind"].items()))
    print()
    print(
        f"{total:,} customer upserts ({half:,} new, {half:,} changed) into"
        f" {info['companies'][0]['name']!r}, {settings.latency:.0f} ms added per request,"
        f" limits off; medians of {len(runs)} rounds"
    )
    print(
        f"target-businesscentral : {target_rate:10,.1f} records/s"
        f" ({total / target_rate:.2f} s for the whole CLI run, start-up included;"
        f" CPU: target {statistics.median(r['cpu'] for r in runs):.2f} s,"
        f" emulator {statistics.median(r['emulator_cpu'] for r in runs):.2f} s)"
    )
    print(
        f"  HTTP requests        : {first['requests']} in its summary line (look-ups and writes);"
        f" {counted} counted by the emulator ({kinds});"
        f" {first['batches']} $batch requests carrying {first['operations']} operations"
    )
    print(
        f"plain writer           : {plain_rate:10,.2f} records/s (one request per record,"
        f" sequential; measured on {settings.sample} records, {settings.plain_requests} requests"
        f" counted; extrapolated to {total:,}: {total / plain_rate:,.0f} s)"
    )
    wall = statistics.median(r["wall"] for r in runs)
    emulator_cpu = statistics.median(r["emulator_cpu"] for r in runs)
    if emulator_cpu:
        print(
            f"  where the time goes  : the emulator used {emulator_cpu:.1f} s of CPU"
            f" ({1000 * emulator_cpu / first['operations']:.2f} ms per $batch operation) in a"
            f" {wall:.1f} s run; the round trips alone would take about"
            f" {first['requests'] / 5 * settings.latency / 1000:.1f} s at max_concurrency 5"
        )
    verdict = "PASS" if ratio >= 50 else "FAIL"
    print(f"ratio target / plain   : {ratio:10,.1f}x  (goal: at least 50x) {verdict}")
    verdict = "PASS" if per_100 <= 2 else "FAIL"
    print(
        f"requests / 100 records : {per_100:10.2f}   (goal: at most 2; every request the"
        f" emulator counted) {verdict}"
    )
    print()


@dataclass
class Bench:
    """The benchmark's knobs (environment variables)."""

    rounds: int = int(os.environ.get("BENCH_ROUNDS", "3"))
    records: int = int(os.environ.get("BENCH_RECORDS", "10000"))
    sample: int = int(os.environ.get("BENCH_PLAIN_SAMPLE", "200"))
    latency: float = float(os.environ.get("BENCH_LATENCY_MS", "150"))
    plain_requests: int = 0
    emulator_pid: int = 0


def main() -> None:
    settings = Bench()
    # These would override Session.verify (the emulator's own CA) for requests' Session.request.
    os.environ.pop("REQUESTS_CA_BUNDLE", None)
    os.environ.pop("CURL_CA_BUNDLE", None)
    with tempfile.TemporaryDirectory(prefix="target-bench-") as tmp:
        workdir = Path(tmp)
        process, info = start_process(
            workdir, "--scale", "0.2", "--no-limits", "--latency-ms", str(settings.latency)
        )
        settings.emulator_pid = process.pid
        try:
            with requests.Session() as session:
                session.trust_env = False
                session.verify = info["ca_bundle"]
                runs: list[dict[str, Any]] = []
                plain_rates: list[float] = []
                for round_no in range(1, settings.rounds + 1):
                    run, plain_rate, settings.plain_requests = measure_round(
                        session, info, workdir, round_no, settings
                    )
                    runs.append(run)
                    plain_rates.append(plain_rate)
                report(info, settings, runs, plain_rates)
                hook(session, info, "POST", "config", {"latency_ms": 0})
                company_id = info["companies"][0]["id"]
                records = upsert_records(0, settings.records // 2, company_id)
                validation_cost(info, workdir, company_id, records)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


if __name__ == "__main__":
    main()
