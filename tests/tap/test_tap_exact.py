"""Every row arrives as the emulator stores it: values, decimals to the last digit, dates."""

from __future__ import annotations

import decimal
from typing import Any

import pytest
from tap_runner import catalog_for, direct_rows, run_tap, tap_config

STREAMS = [
    "customers",
    "generalLedgerEntries",
    "items",
    "salesInvoices",
    "salesInvoiceLines",
    "purchaseInvoices",
    "purchaseInvoiceLines",
    "timeRegistrationEntries",
    "contoso_sales_v1_0__customers",
    "shipToAddresses",
    "agedAccountsReceivables",
]
SETS = {"contoso_sales_v1_0__customers": ("customers", "contoso/sales/v1.0")}
SETS["shipToAddresses"] = ("shipToAddresses", "contoso/sales/v1.0")


@pytest.fixture(scope="module")
def full_run(emulator, tmp_path_factory):
    config = tap_config(emulator.info)
    tmp = tmp_path_factory.mktemp("exact")
    run = run_tap(tmp, config, catalog=catalog_for(config, STREAMS))
    assert run.returncode == 0, run.stderr
    return run


def _id(row: dict[str, Any]) -> str:
    return row["id"] if "id" in row else row["customerId"]  # agedAccountsReceivables


def _by_key(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["companyId"], _id(r)): r for r in rows}


def _decimals(row: dict[str, Any]) -> list[str]:
    return [str(v) for v in row.values() if isinstance(v, decimal.Decimal)]


@pytest.mark.parametrize("stream", STREAMS)
def test_every_row_as_stored(emulator, full_run, stream):
    entity_set, api = SETS.get(stream, (stream, "v2.0"))
    expected: dict[tuple[str, str], dict[str, Any]] = {}
    for index, company in enumerate(emulator.companies):
        for row in direct_rows(emulator, entity_set, index, api=api):
            expected[(company["id"], _id(row))] = {**row, "companyId": company["id"]}
    got = _by_key(full_run.records(stream))
    assert expected, f"the emulator has no {stream} rows"
    assert got.keys() == expected.keys()
    for key, row in expected.items():
        assert got[key] == row, key
        # Same digits, not merely equal numbers: 1.10 must not arrive as 1.1 or 1.1000000001.
        assert _decimals(got[key]) == _decimals(row), key


def test_both_companies_present(emulator, full_run):
    companies = {c["id"] for c in emulator.companies}
    assert len(companies) == 2
    assert {r["companyId"] for r in full_run.records("generalLedgerEntries")} == companies


def test_decimal_text_is_exact_on_the_wire(full_run):
    """The writer prints each Decimal's digits as a JSON number, never through a float."""
    amounts = [
        r["unitPrice"]
        for r in full_run.records("salesInvoiceLines")
        if isinstance(r.get("unitPrice"), decimal.Decimal)
    ]
    assert amounts
    for amount in amounts:
        assert f'"unitPrice":{amount}' in full_run.stdout


def test_lines_travel_with_their_header(emulator, full_run):
    lines = full_run.records("salesInvoiceLines")
    headers = {(r["companyId"], r["id"]) for r in full_run.records("salesInvoices")}
    assert lines
    assert all((line["companyId"], line["documentId"]) in headers for line in lines)
    assert all("salesInvoiceLines" not in h for h in full_run.records("salesInvoices"))


def test_empty_datetime_rows_on_first_sync(full_run):
    opening = [
        r
        for r in full_run.records("generalLedgerEntries")
        if r["lastModifiedDateTime"] == "0001-01-01T00:00:00Z"
    ]
    assert opening


def test_custom_fields_appear(full_run):
    rows = full_run.records("contoso_sales_v1_0__customers")
    assert rows
    assert all("loyaltyTier" in r and "creditScore" in r for r in rows)


def test_full_table_streams_activate_version(full_run):
    kinds = full_run.types("agedAccountsReceivables")
    assert kinds[0] == "SCHEMA"
    assert "ACTIVATE_VERSION" in kinds
    assert "ACTIVATE_VERSION" not in full_run.types("salesInvoiceLines")
    assert "ACTIVATE_VERSION" not in full_run.types("customers")
