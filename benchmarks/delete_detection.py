"""Delete detection's cost against re-reading a set whole, per 100,000 rows.

Runs `bc-emulator serve` (default scale 10: about 100,000 general ledger entries in the first
company) and reads that company's generalLedgerEntries, used here only as a large set of GUID
keys:

1. whole: every column, pages of 20,000 (what a full-table re-read, and ACTIVATE_VERSION, cost);
2. keys: ``$select=id``, pages of 20,000 (what a reconciliation reads), then the comparison with
   the last snapshot (a sketch sized for ``detect_deletes_capacity`` = 1,000 differences, 25
   rows gone) and the next snapshot;
3. state: bytes of the snapshot kept per (stream, company): the keys themselves (what storing
   the key list would cost) and the sketch, for 100,000 keys.

    uv run python benchmarks/delete_detection.py
    BENCH_SCALE=2 uv run python benchmarks/delete_detection.py   # a quick run

Prints figures normalised to 100,000 rows; asserts nothing about time.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
from businesscentral_emulator.process import client_credentials_token, start_process
from tap_businesscentral.deletes.reconcile import KeySet, compare, snapshot
from tap_businesscentral.deletes.sketch import keys_to_text

PER = 100_000


def read(
    session: requests.Session, url: str, token: str
) -> tuple[list[dict[str, Any]], int, float]:
    """Every row from ``url`` on: rows, requests, seconds."""
    headers = {
        "Authorization": f"Bearer {token}",
        "Prefer": "odata.maxpagesize=20000",
        "Accept-Encoding": "gzip",
    }
    rows: list[dict[str, Any]] = []
    requests_made = 0
    size = 0
    started = time.perf_counter()
    next_url: str | None = url
    while next_url:
        response = session.get(next_url, headers=headers, timeout=600)
        body = response.json()
        size += len(response.content)
        requests_made += 1
        rows.extend(body["value"])
        next_url = body.get("@odata.nextLink")
    return rows, requests_made, time.perf_counter() - started, size


def main() -> None:
    scale = os.environ.get("BENCH_SCALE", "10")
    with tempfile.TemporaryDirectory() as folder:
        process, info = start_process(Path(folder), "--scale", scale, "--no-limits")
        try:
            session = requests.Session()
            session.trust_env = False
            session.verify = info["ca_bundle"]
            token = client_credentials_token(session, info)
            root = f"{info['api_url']}/v2.0/{info['tenant_id']}/production/api/v2.0"
            company = info["companies"][0]["id"]
            url = f"{root}/companies({company})/generalLedgerEntries"
            rows, whole_requests, whole_seconds, whole_bytes = read(session, url, token)
            keys_rows, key_requests, key_seconds, key_bytes = read(
                session, f"{url}?$select=id", token
            )
        finally:
            process.terminate()
            process.wait(timeout=60)
    count = len(rows)
    factor = PER / count
    before = KeySet()
    for row in keys_rows:
        before.add((row["id"],))
    old = snapshot(before, 1000, None, compare(None, before))
    gone = set(random.Random(1).sample(sorted(before.guids), 25))  # noqa: S311 - test data
    now = KeySet()
    now.guids = before.guids - gone
    started = time.perf_counter()
    found = compare(old, now)
    snapshot(now, 1000, old, found)
    compare_seconds = time.perf_counter() - started
    if len(found.gone) != len(gone):
        message = "the sketch did not decode"
        raise SystemExit(message)
    state_sketch = len(json.dumps(old))
    state_keys = len(keys_to_text(before.guids)) * PER // count
    mb = 1_000_000
    print(f"rows read: {count} (figures per {PER:,} rows)")
    print("| read | requests | MB of JSON | seconds | state bytes per (stream, company) |")
    print("| --- | --- | --- | --- | --- |")
    print(f"| whole set, every column (full table) | {whole_requests * factor:.1f} | "
          f"{whole_bytes * factor / mb:.1f} | {whole_seconds * factor:.2f} | 0 |")  # fmt: skip
    print(f"| keys ($select=id), state = key list | {key_requests * factor:.1f} | "
          f"{key_bytes * factor / mb:.1f} | {key_seconds * factor:.2f} + "
          f"{compare_seconds * factor:.2f} compare | {state_keys:,} |")  # fmt: skip
    print(f"| keys ($select=id), state = sketch (1,000 differences) | "
          f"{key_requests * factor:.1f} | {key_bytes * factor / mb:.1f} | "
          f"{key_seconds * factor:.2f} + {compare_seconds * factor:.2f} compare | "
          f"{state_sketch:,} |")  # fmt: skip


if __name__ == "__main__":
    main()
