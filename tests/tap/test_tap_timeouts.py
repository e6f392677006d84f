"""A page that keeps timing out is asked for again at half the size; no row is lost or doubled.

The emulator answers the first requests for one company's general ledger entries with BC's
408 ``Request_Timeout`` (``Retry-After: 0``, so the client's retries run at once) until the
client gives up; the tap then halves ``Prefer: odata.maxpagesize``. The tap writes a STATE after
every page of an incremental stream (unless it equals the one before), so the records between
two STATEs are whole pages: their count shows the page size the tap asked for. (The SDK adds a
STATE every 10,000 records too, so the run reads one company, fewer rows than that.)
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from businesscentral_api.http import RetryPolicy
from tap_runner import catalog_for, direct_rows, run_tap, tap_config

STREAM = "generalLedgerEntries"
PAGE_SIZE = 1000


def _pages(messages: list[dict[str, Any]], company_id: str) -> list[int]:
    """Sizes of the runs of this company's records between STATE messages."""
    sizes = [0]
    for message in messages:
        if message["type"] == "STATE" and sizes[-1]:
            sizes.append(0)
        elif message["type"] == "RECORD" and message["record"]["companyId"] == company_id:
            sizes[-1] += 1
    return [size for size in sizes if size]


@pytest.fixture
def faults(emulator):
    emulator.hook("DELETE", "faults")
    emulator.hook("DELETE", "counters")
    yield emulator
    emulator.hook("DELETE", "faults")


@pytest.mark.parametrize(("timeouts", "halved"), [(1, 500), (2, 250)])
def test_pages_are_halved_after_a_timeout(faults, tmp_path, timeouts, halved):
    emulator = faults
    first = emulator.companies[0]["id"]
    attempts = RetryPolicy().max_attempts  # every attempt of a request times out, `timeouts` times
    emulator.hook(
        "POST",
        "faults",
        {
            "faults": [
                {
                    "kind": "status",
                    "status": 408,
                    "retry_after": 0,
                    "count": attempts * timeouts,
                    "method": "GET",
                    "path_contains": f"companies({first})/{STREAM}",
                }
            ]
        },
    )
    config = tap_config(emulator.info, page_size=PAGE_SIZE, company_ids=[first])
    run = run_tap(tmp_path, config, catalog=catalog_for(config, [STREAM]))
    assert run.returncode == 0, run.stderr
    assert emulator.counters()["faults"] == {"status": attempts * timeouts}
    for size in (PAGE_SIZE // 2**n for n in range(1, timeouts + 1)):
        assert f"{STREAM} timed out; asking for pages of {size} rows" in run.stderr

    # Every row arrives exactly once, as stored.
    records = run.records(STREAM)
    stored = direct_rows(emulator, STREAM, 0)
    assert len(stored) < 10_000
    assert len(records) == len(stored) == len(Counter(r["id"] for r in records))
    by_id = {r["id"]: r for r in records}
    assert all(by_id[row["id"]] == {**row, "companyId": first} for row in stored)

    # After the timeouts, pages are of the halved size. (A STATE equal to the one before it is
    # not written again, so a page whose rows all share the previous bookmark joins the next.)
    pages = _pages(run.messages, first)
    assert len(pages) > 1
    assert pages[0] == halved
    assert all(size % halved == 0 for size in pages[:-1]), pages
