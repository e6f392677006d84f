"""BC's truth for the delete and per-company tests, BC-user deletes, and PostgreSQL's live rows.

BC is read as real BC allows: lines through their document (``$expand`` of the header
collection), journal lines through their journal. A loaded table is compared on its live rows
(``_sdc_deleted_at`` empty): keys per company and stream, sums of money to the cent, and every
header's total against the sum of its live lines.
"""

from __future__ import annotations

import decimal
import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conftest import RunningEmulator

    from tests.e2e.conftest import Postgres

CENT = Decimal("0.01")
# Stream -> (key, money columns). Headers first, their lines after.
STREAMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "customers": ("id", ("balanceDue",)),
    "salesInvoices": ("id", ("totalAmountExcludingTax", "totalAmountIncludingTax")),
    "salesInvoiceLines": ("id", ("amountExcludingTax", "amountIncludingTax")),
    "salesOrders": ("id", ("totalAmountExcludingTax", "totalAmountIncludingTax")),
    "salesOrderLines": ("id", ("amountExcludingTax", "amountIncludingTax")),
    "salesQuotes": ("id", ("totalAmountExcludingTax", "totalAmountIncludingTax")),
    "salesQuoteLines": ("id", ("amountExcludingTax", "amountIncludingTax")),
    "journals": ("id", ()),
    "journalLines": ("id", ("amount",)),
    "generalLedgerEntries": ("id", ("debitAmount", "creditAmount")),
    "agedAccountsReceivables": ("customerId", ("balanceDue",)),
}
# Lines set -> its header set (read through it, as BC requires).
THROUGH = {
    "salesInvoiceLines": "salesInvoices",
    "salesOrderLines": "salesOrders",
    "salesQuoteLines": "salesQuotes",
    "journalLines": "journals",
}
HEADERS = {"salesInvoices": "salesInvoiceLines", "salesOrders": "salesOrderLines"}
HEADERS["salesQuotes"] = "salesQuoteLines"
Table = dict[tuple[str, str], dict[str, Any]]


def _read(bc: RunningEmulator, url: str | None) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    while url:
        response = bc.get(url)
        response.raise_for_status()
        body = json.loads(response.text, parse_float=decimal.Decimal)
        rows.extend(body["value"])
        url = body.get("@odata.nextLink")
    return rows


def bc_table(bc: RunningEmulator, stream: str) -> Table:
    """Every row of a set in every company, by (companyId, key), numbers exact."""
    key = STREAMS[stream][0]
    rows: Table = {}
    for index, company in enumerate(bc.companies):
        header = THROUGH.get(stream)
        if header is None:
            found = _read(bc, bc.company_url(stream, index))
        else:
            parents = _read(bc, bc.company_url(f"{header}?$select=id&$expand={stream}", index))
            found = [line for parent in parents for line in parent[stream]]
        for row in found:
            rows[company["id"], str(row[key])] = row
    return rows


def columns(stream: str) -> str:
    """The columns compared: company, key, the document of lines, money."""
    key, money = STREAMS[stream]
    extra = "".join(f', "{column}"' for column in money)
    document = ', "documentId"' if stream in HEADERS.values() else ""
    return f'"companyId", "{key}"{document}{extra}'


def pg_table(postgres: Postgres, schema: str, stream: str) -> Table:
    """The live rows of a loaded table, by (companyId, key), numbers exact."""
    sql = f'SELECT {columns(stream)} FROM {schema}."{stream}" WHERE _sdc_deleted_at IS NULL'  # noqa: S608
    return to_table(stream, postgres.psql(sql))


def to_table(stream: str, rows: list[list[str]]) -> Table:
    """Rows of :func:`columns` (as text) by (companyId, key), numbers exact."""
    money = STREAMS[stream][1]
    document = stream in HEADERS.values()
    table: Table = {}
    for row in rows:
        values = iter(row[2:])
        record: dict[str, Any] = {}
        if document:
            record["documentId"] = next(values)
        for column in money:
            record[column] = Decimal(next(values) or "0")
        assert (row[0], row[1]) not in table, f"{stream}: duplicate live key {row[:2]}"
        table[row[0], row[1]] = record
    return table


def sums(table: Table, stream: str) -> dict[str, Decimal]:
    """Each money column's total, to the cent."""
    return {
        column: sum(
            (Decimal(str(r.get(column) or 0)) for r in table.values()), Decimal(0)
        ).quantize(CENT)
        for column in STREAMS[stream][1]
    }


def per_company(table: Table) -> dict[str, int]:
    """Rows per company."""
    counts: dict[str, int] = {}
    for company, _ in table:
        counts[company] = counts.get(company, 0) + 1
    return counts


def header_gaps(headers: Table, lines: Table) -> dict[tuple[str, str], Decimal]:
    """Per header: its total excluding tax minus the sum of its lines (0 when they agree)."""
    totals: dict[tuple[str, str], Decimal] = {}
    for (company, _), line in lines.items():
        key = (company, str(line["documentId"]))
        totals[key] = totals.get(key, Decimal(0)) + Decimal(str(line["amountExcludingTax"] or 0))
    return {
        key: (Decimal(str(row["totalAmountExcludingTax"] or 0)) - totals.get(key, Decimal(0)))
        for key, row in headers.items()
    }


def assert_equal_to_bc(bc: RunningEmulator, postgres: Postgres, schema: str) -> None:
    """Rows per company and stream, sums to the cent, and headers equal to their lines."""
    loaded = {stream: pg_table(postgres, schema, stream) for stream in STREAMS}
    assert_loaded_equal_to_bc(bc, loaded, schema)


def assert_loaded_equal_to_bc(bc: RunningEmulator, loaded: dict[str, Table], schema: str) -> None:
    """Loaded live rows equal BC's: per company and stream, to the cent, headers and lines."""
    truth = {stream: bc_table(bc, stream) for stream in STREAMS}
    for stream in STREAMS:
        assert per_company(loaded[stream]) == per_company(truth[stream]), (schema, stream)
        assert set(loaded[stream]) == set(truth[stream]), (schema, stream)
        assert sums(loaded[stream], stream) == sums(truth[stream], stream), (schema, stream)
    for header, lines in HEADERS.items():
        gaps = header_gaps(loaded[header], loaded[lines])
        bc_gaps = header_gaps(truth[header], truth[lines])
        assert gaps == bc_gaps, (schema, header)


def live_rows(postgres: Postgres, schema: str) -> dict[str, Table]:
    """Every stream's live rows, to compare two destinations."""
    return {stream: pg_table(postgres, schema, stream) for stream in STREAMS}


# -- deletes as a BC user does them, through the API -------------------------------------------
def _delete(bc: RunningEmulator, url: str) -> None:
    response = bc.request("DELETE", url)
    assert response.status_code == 204, response.text


def delete_like_a_user(bc: RunningEmulator, company: int = 0) -> dict[str, int]:
    """Delete a line of a draft invoice, a quote, an order and a customer; post a journal."""
    done: dict[str, int] = {}
    invoices = _read(
        bc,
        bc.company_url(
            "salesInvoices?$filter=status eq 'Draft'&$expand=salesInvoiceLines", company
        ),
    )
    invoice = next((i for i in invoices if i["salesInvoiceLines"]), None)
    if invoice is not None:
        line = invoice["salesInvoiceLines"][0]
        _delete(
            bc,
            bc.company_url(
                f"salesInvoices({invoice['id']})/salesInvoiceLines({line['id']})", company
            ),
        )
        done["salesInvoiceLines"] = 1
    for documents in ("salesQuotes", "salesOrders"):
        found = _read(bc, bc.company_url(f"{documents}?$select=id", company))
        if found:
            _delete(bc, bc.company_url(f"{documents}({found[0]['id']})", company))
            done[documents] = 1
    journals = _read(bc, bc.company_url("journals?$expand=journalLines", company))
    journal = next((j for j in journals if j["journalLines"]), None)
    if journal is not None:
        response = bc.request(
            "POST", bc.company_url(f"journals({journal['id']})/Microsoft.NAV.post", company)
        )
        assert response.status_code == 204, response.text
        done["journalLines"] = len(journal["journalLines"])
    customers = _read(bc, bc.company_url("customers?$select=id", company))
    for customer in reversed(customers):
        response = bc.request("DELETE", bc.company_url(f"customers({customer['id']})", company))
        if response.status_code == 204:
            done["customers"] = 1
            break
    return done
