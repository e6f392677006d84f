"""Drive PyAirbyte against source-businesscentral; run by the PyAirbyte venv's python, not pytest.

    python pyairbyte_driver.py job.json

job.json: {"phase": "first" | "second", "executable", "config", "streams",
"sums": {stream: [column, ...]}, "out": path}. Writes to ``out`` one JSON object: what check,
discover and the read gave, and per stream the row count and the sums of the given columns in
PyAirbyte's default DuckDB cache (kept across phases in AIRBYTE_CACHE_ROOT); the second phase
also lists the rows the read brought.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import airbyte as ab
from airbyte.caches.util import get_default_cache
from sqlalchemy import text


def table_figures(cache, stream: str, columns: list[str], since: float | None) -> dict:
    """Row count and sums of ``columns`` in the cache; with ``since``, the rows read after it."""
    table = cache.streams[stream].to_sql_table().name  # names are ours, not user input
    sums = ", ".join(f"CAST(SUM({c.lower()}) AS VARCHAR)" for c in columns) or "0"
    totals_sql = f"SELECT COUNT(*), {sums} FROM {table}"  # noqa: S608
    brought_sql = (
        f"SELECT companyid, id FROM {table} "  # noqa: S608
        "WHERE _airbyte_extracted_at >= to_timestamp(:since)"
    )
    with cache.get_sql_engine().connect() as connection:
        count, *totals = connection.execute(text(totals_sql)).one()
        figures = {"count": count, "sums": dict(zip(columns, totals, strict=False))}
        if since is not None:
            rows = connection.execute(text(brought_sql), {"since": since})
            figures["brought"] = sorted([list(r) for r in rows])
    return figures


def main() -> None:
    job = json.loads(Path(sys.argv[1]).read_text())
    source = ab.get_source(
        "source-businesscentral",
        config=job["config"],
        local_executable=job["executable"],
        install_if_missing=False,
    )
    out: dict = {}
    source.check()  # raises when the connection status is FAILED
    out["check"] = "SUCCEEDED"
    out["available"] = source.get_available_streams()
    out["spec_required"] = source.config_spec.get("required")
    source.select_streams(job["streams"])
    cache = get_default_cache()
    since = None
    if job["phase"] == "second":
        since = time.time() - 0.001
    result = source.read(cache=cache)
    out["processed_records"] = result.processed_records
    out["streams"] = {
        stream: table_figures(cache, stream, job["sums"].get(stream, []), since)
        for stream in job["streams"]
    }
    # PyAirbyte prints its progress on stdout: the answer goes to a file of its own.
    Path(job["out"]).write_text(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
