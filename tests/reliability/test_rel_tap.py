"""The tap's defences against what a server, a proxy or a state file may hand it (issue 13).

Every case runs the real tap CLI over HTTPS against the emulator; the emulator's ``rewrite``
fault (a test hook, not BC behaviour) alters a page the way a broken server or proxy might.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from businesscentral_api.client import BusinessCentralClient
from businesscentral_api.odata import NextLinks, PagingError
from tap_businesscentral.fetch import Prefetcher, ReadRequest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tap"))

from tap_runner import (
    catalog_for,
    direct_rows,
    parse_messages,
    run_tap,
    start_tap,
    tap_config,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

GL = "generalLedgerEntries"
KEY = "lastModifiedDateTime"
EMPTY = "0001-01-01T00:00:00Z"


@pytest.fixture(scope="module")
def bc(start_emulator):
    """An emulator of this module's own: the tests arm faults on it."""
    return start_emulator(seed=13, scale=0.05)


@pytest.fixture(scope="module")
def wide(start_emulator):
    """About 200 never-stamped general ledger entries a company: two pages of 100."""
    return start_emulator(seed=13, scale=2.0)


@pytest.fixture(autouse=True)
def no_faults(request) -> Iterator[None]:
    yield
    for name in ("bc", "wide"):
        if name in request.fixturenames:
            request.getfixturevalue(name).hook("DELETE", "faults")


def arm(bc, **rule: Any) -> None:
    bc.hook("POST", "faults", {"faults": [{"kind": "rewrite", "path_contains": GL, **rule}]})


def one_company(info: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """One company, pages of 100 rows, one read at a time: the test knows which page is which."""
    company = info["companies"][0]["id"]
    return tap_config(info, company_ids=[company], page_size=100, max_concurrency=1, **extra)


def keys(records: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(r["companyId"], r["id"]) for r in records}


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("Error:")]


def bookmark_values(states: list[dict[str, Any]], stream: str) -> list[str]:
    return [
        p["replication_key_value"]
        for state in states
        for p in state.get("bookmarks", {}).get(stream, {}).get("partitions", [])
        if "replication_key_value" in p
    ]


# -- finding 2: the bookmark rule with start_date and never-stamped rows ---------------------
def test_resume_among_never_stamped_rows_loses_nothing(wide, tmp_path):
    """Stopped after the first STATE (bookmark still the empty datetime), resumed: every row."""
    config = one_company(wide.info, start_date="2000-01-01T00:00:00Z")
    company = wide.companies[0]["id"]
    expected = {(company, r["id"]) for r in direct_rows(wide, GL, 0)}
    never = [r for r in direct_rows(wide, GL, 0) if r[KEY] == EMPTY]
    assert len(never) > 100, "needs more than one page of never-stamped rows"
    catalog = catalog_for(config, [GL])

    process = start_tap(tmp_path, config, catalog)
    assert process.stdout is not None
    lines: list[str] = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith('{"type":"STATE"'):
            break
    process.kill()
    process.wait()
    process.stdout.close()
    before = parse_messages("".join(lines))
    state = before[-1]["value"]
    assert bookmark_values([state], GL) == [EMPTY]  # stopped among the never-stamped rows
    first = keys([m["record"] for m in before if m["type"] == "RECORD"])
    assert first < expected

    resumed = run_tap(tmp_path, config, catalog=catalog, state=state)
    assert resumed.returncode == 0, resumed.stderr
    second = keys(resumed.records(GL))
    assert first | second == expected  # no gap
    assert {(company, r["id"]) for r in never} <= second  # the never-stamped, all read again

    # Once the bookmark has passed them, the never-stamped rows are not asked for again.
    again = run_tap(tmp_path, config, catalog=catalog, state=resumed.states[-1])
    assert again.returncode == 0, again.stderr
    assert all(r[KEY] != EMPTY for r in again.records(GL))


# -- finding 6: @odata.nextLink -------------------------------------------------------------
class _Listener(http.server.BaseHTTPRequestHandler):
    seen: list[tuple[str, str | None]]

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Authorization")))
        body = b'{"value": []}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        return


@pytest.fixture
def listener() -> Iterator[tuple[str, list[tuple[str, str | None]]]]:
    """A second loopback server (plain HTTP) that records what reaches it."""
    seen: list[tuple[str, str | None]] = []
    handler = type("Recording", (_Listener,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def test_next_link_to_another_server_is_refused_without_sending_the_token(bc, tmp_path, listener):
    origin, seen = listener
    arm(bc, next_link=origin, count=1)
    config = one_company(bc.info)
    run = run_tap(tmp_path, config, catalog=catalog_for(config, [GL]))
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    [line] = error_lines(run.stderr)
    assert f"stream {GL}" in line
    assert "another server" in line
    assert origin.removeprefix("http://") in line
    assert seen == []  # no request, so no bearer token, ever reached it


def test_next_link_back_to_the_same_page_stops_without_duplicates(bc, tmp_path):
    arm(bc, next_link="self", count=1)
    config = one_company(bc.info)
    run = run_tap(tmp_path, config, catalog=catalog_for(config, [GL]), args=[])
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    [line] = error_lines(run.stderr)
    assert "a page already read" in line
    out = parse_messages(run.stdout)
    records = [m["record"]["id"] for m in out if m["type"] == "RECORD"]
    assert len(records) == len(set(records))  # no row twice (unvouched rows may be dropped)


def test_endless_empty_pages_end_the_read(wide, tmp_path):
    bc = wide
    assert len(direct_rows(bc, GL, 0)) > 100 * (NextLinks.MAX_EMPTY_PAGES + 1)
    arm(bc, empty=True, rate=1.0)
    config = one_company(bc.info)
    run = run_tap(tmp_path, config, catalog=catalog_for(config, [GL]))
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    [line] = error_lines(run.stderr)
    assert "empty pages in a row" in line
    assert bc.counters()["faults"]["rewrite"] == NextLinks.MAX_EMPTY_PAGES + 1


ROOT = "https://bc.example/v2.0/t/production"
FIRST = f"{ROOT}/api/v2.0/companies(1)/customers"


@pytest.mark.parametrize(
    ("link", "reason"),
    [
        ("https://elsewhere.example/v2.0/t/production/api/v2.0/x", "another server"),
        ("http://bc.example/v2.0/t/production/api/v2.0/x", "another server"),
        ("https://bc.example:8443/v2.0/t/production/api/v2.0/x", "another server"),
        ("https://bc.example/v2.0/other/production/api/v2.0/x", "outside the service root"),
        (FIRST, "a page already read"),
    ],
)
def test_next_link_rule(link: str, reason: str):
    with pytest.raises(PagingError, match=reason):
        NextLinks(FIRST, ROOT).follow({"value": [{}], "@odata.nextLink": link})


def test_next_link_rule_follows_the_same_service():
    links = NextLinks(FIRST, ROOT)
    second = f"{FIRST}?$skiptoken=a"
    assert links.follow({"value": [{}], "@odata.nextLink": second}) == second
    relative = links.follow({"value": [{}], "@odata.nextLink": "?$skiptoken=b"})
    assert relative == f"{FIRST}?$skiptoken=b"
    assert links.follow({"value": [{}]}) is None
    with pytest.raises(PagingError, match="already read"):
        links.follow({"value": [{}], "@odata.nextLink": second})


# -- finding 8: a garbage change date, a corrupt state file ---------------------------------
def test_garbage_change_date_never_becomes_the_bookmark(bc, tmp_path):
    arm(bc, set_fields={KEY: "garbage"}, skip=1, count=1)  # the second page
    config = one_company(bc.info)
    catalog = catalog_for(config, [GL])
    run = run_tap(tmp_path, config, catalog=catalog)
    assert run.returncode == 0, run.stderr
    rows = run.records(GL)
    assert sum(r[KEY] == "garbage" for r in rows) == 100  # written as sent
    warnings = [line for line in run.stderr.splitlines() if "'garbage'" in line]
    assert len(warnings) == 1
    assert f"Stream {GL}" in warnings[0]
    marks = bookmark_values(run.states, GL)
    assert marks
    for mark in marks:
        dt.datetime.fromisoformat(mark)  # every bookmark a date and time
    # The STATE that covers the garbage page resumes cleanly.
    resumed = run_tap(tmp_path, config, catalog=catalog, state=run.states[-1])
    assert resumed.returncode == 0, resumed.stderr


def test_corrupt_state_file_is_one_line(bc, tmp_path):
    config = one_company(bc.info)
    catalog = catalog_for(config, [GL])
    path = tmp_path / "broken-state.json"
    path.write_text('{"bookmarks": {')
    run = run_tap(tmp_path, config, catalog=catalog, args=["--state", str(path)])
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    [line] = error_lines(run.stderr)
    assert str(path) in line
    assert "not valid JSON" in line


def test_state_with_a_garbage_bookmark_is_one_line(bc, tmp_path):
    config = one_company(bc.info)
    catalog = catalog_for(config, [GL])
    company = bc.companies[0]["id"]
    partition = {"context": {"companyId": company}, "replication_key": KEY}
    state = {"bookmarks": {GL: {"partitions": [{**partition, "replication_key_value": "x1"}]}}}
    path = tmp_path / "state-with-garbage.json"
    path.write_text(json.dumps(state))
    run = run_tap(tmp_path, config, catalog=catalog, args=["--state", str(path)])
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    [line] = error_lines(run.stderr)
    assert str(path) in line
    assert f"stream {GL}" in line
    assert "'x1'" in line


# -- finding 8: memory bounded by the settings, not the data --------------------------------
LEDGERS_AND_MORE = [GL, "customers", "items", "vendors", "itemLedgerEntries"]


def test_read_ahead_is_bounded_in_rows(bc):
    """A slow writer and four readers: the rows held ahead never pass the setting's bound."""
    limit, page_size = 500, 1000
    config = tap_config(bc.info, max_concurrency=4)
    with BusinessCentralClient(config) as client:
        prefetcher = Prefetcher(client, workers=4, read_ahead_rows=limit)
        reads = [
            ReadRequest(
                key=(name, company["id"]),
                url=client.urls.entity_set_url(name, company["id"]),
                page_size=page_size,
            )
            for name in LEDGERS_AND_MORE
            for company in bc.companies
        ]
        prefetcher.schedule(reads)
        got: dict[tuple[str, str | None], int] = {}
        for read in reads:
            for page in prefetcher.pages(read):
                time.sleep(0.02)  # the writer is the slow part: the readers get ahead
                got[read.key] = got.get(read.key, 0) + len(page)
        prefetcher.close()
    # At most the bound, plus one page of the read being written (it never waits for others).
    # Pages were of 100 rows, not page_size: a slice of the bound for each reader and the writer.
    budget = prefetcher.budget
    assert budget.page_rows == limit // 5  # four readers and the writer
    assert limit <= budget.peak <= limit + budget.page_rows  # got ahead, as far as allowed
    assert budget.held == 0
    for index, company in enumerate(bc.companies):
        for name in LEDGERS_AND_MORE:
            assert got[name, company["id"]] == len(direct_rows(bc, name, index))


def test_a_read_alone_asks_for_pages_of_half_the_read_ahead(bc):
    """Pages are sized by the reads in flight, not by max_concurrency: fewer requests."""
    limit = 300
    company = bc.companies[0]["id"]
    config = tap_config(bc.info, max_concurrency=4)
    with BusinessCentralClient(config) as client:
        prefetcher = Prefetcher(client, workers=4, read_ahead_rows=limit)
        read = ReadRequest(
            key=(GL, company), url=client.urls.entity_set_url(GL, company), page_size=1000
        )
        prefetcher.schedule([read])
        sizes = [len(page) for page in prefetcher.pages(read)]
        prefetcher.close()
    assert sum(sizes) == len(direct_rows(bc, GL, 0)) > limit // 2
    # Half the bound (one page written, one on its way), not a fifth (100 rows at least) as
    # four readers and the writer would each have.
    assert sizes[0] == limit // 2
    assert max(sizes) == limit // 2
    assert prefetcher.budget.peak <= limit
    assert prefetcher.budget.held == 0


@pytest.mark.parametrize("read_ahead_rows", [0, 150])
def test_tap_output_is_the_same_whatever_the_read_ahead(bc, tmp_path, read_ahead_rows):
    config = tap_config(bc.info, page_size=100)
    catalog = catalog_for(config, LEDGERS_AND_MORE)
    reference = run_tap(tmp_path, config, catalog=catalog)
    assert reference.returncode == 0, reference.stderr
    bounded_config = {**config, "read_ahead_rows": read_ahead_rows, "max_concurrency": 5}
    bounded = run_tap(tmp_path, bounded_config, catalog=catalog)
    assert bounded.returncode == 0, bounded.stderr
    for name in LEDGERS_AND_MORE:
        assert bounded.records(name) == reference.records(name)


def test_read_ahead_rows_must_not_be_negative(bc, tmp_path):
    config = tap_config(bc.info, read_ahead_rows=-1)
    run = run_tap(tmp_path, config, catalog=catalog_for(tap_config(bc.info), [GL]))
    assert run.returncode == 1
    [line] = error_lines(run.stderr)
    assert "read_ahead_rows" in line


def test_expanded_lines_count_against_the_read_ahead(wide):
    """Invoices with their lines: pages shrink to what fits once lines per document are known."""
    bc, limit = wide, 1000
    config = tap_config(bc.info, max_concurrency=2)
    with BusinessCentralClient(config) as client:
        prefetcher = Prefetcher(client, workers=2, read_ahead_rows=limit)
        reads = [
            ReadRequest(
                key=(name, company["id"]),
                url=client.urls.entity_set_url(name, company["id"]) + f"?$expand={lines}",
                nested=True,
            )
            for name, lines in (
                ("salesInvoices", "salesInvoiceLines"),
                ("salesOrders", "salesOrderLines"),
            )
            for company in bc.companies
        ]
        prefetcher.schedule(reads)
        first_pages: list[int] = []
        later_pages: list[int] = []
        lines_got = 0
        for read in reads:
            for index, page in enumerate(prefetcher.pages(read)):
                time.sleep(0.02)
                weight = sum(
                    1 + len(next(v for v in r.values() if isinstance(v, list))) for r in page
                )
                (later_pages if index else first_pages).append(weight)
                lines_got += weight - len(page)
        prefetcher.close()
    budget = prefetcher.budget
    # A first page is of 100 documents (lines per document unknown); later pages hold about a
    # page's share of rows, lines included: not page_rows documents and their lines.
    assert later_pages
    assert max(later_pages) <= 2 * budget.page_rows < max(first_pages) * budget.page_rows / 100
    # Only a first page may go past its reservation.
    assert limit <= budget.peak <= limit + budget.page_rows + max(first_pages)
    assert budget.held == 0
    stored = sum(
        len(direct_rows(bc, lines, index))
        for lines in ("salesInvoiceLines", "salesOrderLines")
        for index in range(len(bc.companies))
    )
    assert lines_got == stored


def test_client_paging_follows_the_same_rule(bc, listener):
    """The shared client's iter_pages refuses the same link the tap does, before any request."""
    origin, seen = listener
    arm(bc, next_link=origin, count=1)
    with BusinessCentralClient(tap_config(bc.info)) as client:
        url = client.urls.entity_set_url(GL, bc.companies[0]["id"])
        pages = client.iter_pages(url, page_size=100)
        assert len(next(pages)) == 100
        with pytest.raises(PagingError, match="another server"):
            next(pages)
    assert seen == []
