"""Sets real BC refuses at company level are read through their parent collection.

BC answers `GET companies(C)/salesInvoiceLines` (and the other document lines, payments, journal
lines, time registration entries, contacts information) with 400 `Application_DialogException`;
the emulator refuses them the same way (tests/contract/test_contract_reads.py). The tap reads
them as `<parent>?$select=id&$expand=<set>`, one request per page of parents.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import pytest
from tap_businesscentral.catalog import PER_PARENT_ONLY
from tap_businesscentral.tap import TapBusinessCentral
from tap_runner import PARENTS, catalog_for, direct_rows, run_tap, tap_config

if TYPE_CHECKING:
    from conftest import RunningEmulator


@pytest.fixture(scope="module")
def small(start_emulator: Any) -> RunningEmulator:
    """An emulator of its own (nothing else writes to it), small enough to read every set."""
    return start_emulator(seed=3, scale=0.1)


@pytest.fixture(scope="module")
def default_run(small: RunningEmulator, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The tap CLI with no catalog: every stream it selects by default, in pages of 100 rows."""
    config = tap_config(small.info, page_size=100)
    run = run_tap(tmp_path_factory.mktemp("defaults"), config)
    assert run.returncode == 0, run.stderr[-3000:]
    return run


def _default_streams(small: RunningEmulator) -> dict[str, tuple[str, str]]:
    """Stream name → (entity set, API route) of every stream selected by default."""
    tap = TapBusinessCentral(config=tap_config(small.info), validate_config=True)
    return {
        name: (stream.spec.entity_set.name, str(stream.spec.api))  # type: ignore[attr-defined]
        for name, stream in tap.streams.items()
        if stream.selected
    }


def test_every_default_stream_read_in_full(small: RunningEmulator, default_run: Any) -> None:
    """Row counts per stream and company equal the emulator's, read the way BC allows."""
    streams = _default_streams(small)
    assert set(PARENTS) <= set(streams)
    assert not set(PER_PARENT_ONLY) & set(streams)
    companies = [c["id"] for c in small.companies]
    for name, (entity_set, api) in sorted(streams.items()):
        got = Counter(r.get("companyId") for r in default_run.records(name))
        if entity_set == "companies":
            assert sum(got.values()) == len(companies), name
            continue
        expected = {
            company: len(direct_rows(small, entity_set, index, api=api))
            for index, company in enumerate(companies)
        }
        assert {c: got.get(c, 0) for c in companies} == expected, name


def test_children_carry_their_parent(small: RunningEmulator, default_run: Any) -> None:
    """Every line keeps its documentId (every payment its journalId, ...), equal to BC's rows."""
    for name, parents in PARENTS.items():
        records = default_run.records(name)
        assert records, f"the emulator has no {name}"
        field_name = parents[0][1]
        assert all(record[field_name] for record in records), name
        expected = {
            (company["id"], row[field_name], row.get("id") or row.get("contactId"))
            for index, company in enumerate(small.companies)
            for row in direct_rows(small, name, index)
        }
        got = {(r["companyId"], r[field_name], r.get("id") or r.get("contactId")) for r in records}
        assert got == expected, name


def test_children_read_through_parents_are_full_table(default_run: Any) -> None:
    """Read in full every run: ACTIVATE_VERSION, no bookmark (the parent's date does not move)."""
    for name in ("customerPayments", "journalLines", "timeRegistrationEntries"):
        assert "ACTIVATE_VERSION" in default_run.types(name), name
    bookmarks = default_run.states[-1].get("bookmarks", {})
    for name in ("customerPayments", "vendorPayments", "journalLines"):
        assert "replication_key_value" not in str(bookmarks.get(name, {})), name


def test_per_parent_sets_not_selected_by_default(small: RunningEmulator, tmp_path: Any) -> None:
    """pdfDocument, pictures, dimensionSetLines, applyVendorEntries: off, and say why."""
    config = tap_config(small.info)
    run = run_tap(tmp_path, config, args=["--discover"])
    assert run.returncode == 0, run.stderr
    catalog = TapBusinessCentral(config=config, validate_config=True).catalog_dict
    entries = {e["tap_stream_id"]: e for e in catalog["streams"]}
    for name in PER_PARENT_ONLY:
        root = next(m["metadata"] for m in entries[name]["metadata"] if m["breadcrumb"] == [])
        assert root["selected-by-default"] is False, name
        assert not root.get("selected"), name
    # Selected anyway, such a set is skipped with one warning line, and nothing else is lost.
    chosen = catalog_for(config, ["pdfDocument", "customers"])
    run = run_tap(tmp_path, config, catalog=chosen)
    assert run.returncode == 0, run.stderr
    assert not run.records("pdfDocument")
    assert run.records("customers")
    assert "Stream pdfDocument is not read: BC generates a PDF document" in run.stderr


def test_one_request_per_page_of_headers(small: RunningEmulator, tmp_path: Any) -> None:
    """Lines of an unselected header: one request per page of headers, never one per header."""
    config = tap_config(small.info, page_size=100)
    catalog = catalog_for(config, ["salesInvoiceLines"])
    invoices = [
        len(direct_rows(small, "salesInvoices", index)) for index in range(len(small.companies))
    ]
    small.hook("DELETE", "counters")
    run = run_tap(tmp_path, config, catalog=catalog)
    assert run.returncode == 0, run.stderr[-3000:]
    counters = small.counters()
    api_reads = sum(
        r["count"] for r in counters["requests"] if r["kind"] == "api" and r["method"] == "GET"
    )
    pages = sum(-(-count // 100) for count in invoices)
    # The header pages, plus the companies list and the probe of each company: far fewer than
    # one request per invoice.
    overhead = 1 + len(small.companies)
    assert pages <= api_reads <= pages + overhead, counters["requests"]
    assert sum(invoices) > 2 * (pages + overhead)
    assert run.records("salesInvoiceLines")
    assert not run.records("salesInvoices")
