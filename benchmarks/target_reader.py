"""How fast the target reads Singer lines: the SDK's msgspec reader against the target's own.

The target reads its input as bytes, one line at a time, so that one broken line is rejected
instead of ending the run (issue 13). This checks that the safety costs no speed: both readers
parse the same RECORD lines into dicts and hand them to callbacks that do nothing; best CPU time
of five alternating rounds.

    uv run python benchmarks/target_reader.py
"""

from __future__ import annotations

import io
import json
import os
import time
from typing import Any

from singer_sdk.contrib.msgspec import MsgSpecReader
from target_businesscentral.reader import InputReader

LINES = int(os.environ.get("BENCH_LINES", "200000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
RECORD = {
    "number": "C-00001",
    "displayName": "Adatum Corporation",
    "creditLimit": 1234.56,
    "companyId": "a1b2c3d4-0000-0000-0000-000000000001",
    "email": "someone@example.com",
    "lastModifiedDateTime": "2024-01-02T03:04:05.123Z",
}


def _ignore(_message: dict[str, Any]) -> None:
    return None


def main() -> None:
    data = "".join(
        json.dumps({"type": "RECORD", "stream": "customers", "record": {**RECORD, "n": n}}) + "\n"
        for n in range(LINES)
    ).encode()
    callbacks = {"RECORD": _ignore, "SCHEMA": _ignore, "STATE": _ignore}
    readers = {
        "SDK MsgSpecReader (text)": (MsgSpecReader, lambda: io.TextIOWrapper(io.BytesIO(data))),
        "target InputReader (bytes)": (InputReader, lambda: io.BufferedReader(io.BytesIO(data))),
    }
    best = dict.fromkeys(readers, float("inf"))
    for _ in range(ROUNDS):  # alternate, so both meet the same load on a shared machine
        for name, (reader, wrap) in readers.items():
            source = wrap()
            started = time.process_time()  # CPU time of this process: other load barely counts
            reader().process_lines(source, callbacks)
            best[name] = min(best[name], time.process_time() - started)
    rates = {name: LINES / seconds for name, seconds in best.items()}
    for name, rate in rates.items():
        print(f"{name}: {rate:,.0f} lines/s (best of {ROUNDS}, CPU time)")
    first, second = rates.values()
    print(f"target reader / SDK reader: {second / first:.2f}x")


if __name__ == "__main__":
    main()
