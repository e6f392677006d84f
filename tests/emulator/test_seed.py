"""Seed data: deterministic, well-formed (MaxLength, enums, keys, stored forms), consistent."""

from __future__ import annotations

import datetime as dt
import random
import re
import uuid
from collections import Counter
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest
from businesscentral_emulator.odata.edmx import ApiModel, parse_edmx, standard_api
from businesscentral_emulator.odata.values import EMPTY_DATETIME, EMPTY_GUID, format_decimal
from businesscentral_emulator.seed.common import cents_text, new_guid, text_cents
from businesscentral_emulator.seed.populate import CompanySpec, default_companies, populate
from businesscentral_emulator.store.sqlite import Store, table_name

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from businesscentral_emulator.odata.edmx import Property

NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.timezone.utc)
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")

CUSTOM_EDMX = b"""<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
 <edmx:DataServices>
  <Schema Namespace="Microsoft.NAV" xmlns="http://docs.oasis-open.org/odata/ns/edm">
   <EnumType Name="tier">
    <Member Name="_x0020_" Value="0"/><Member Name="Gold" Value="1"/>
   </EnumType>
   <EntityType Name="company">
    <Key><PropertyRef Name="id"/></Key>
    <Property Name="id" Type="Edm.Guid" Nullable="false"/>
    <Property Name="name" Type="Edm.String" MaxLength="30"/>
    <Property Name="displayName" Type="Edm.String" MaxLength="250"/>
    <Property Name="systemModifiedAt" Type="Edm.DateTimeOffset"/>
    <NavigationProperty Name="customers" Type="Collection(Microsoft.NAV.customer)"/>
    <NavigationProperty Name="shipToAddresses" Type="Collection(Microsoft.NAV.shipToAddress)"/>
   </EntityType>
   <EntityType Name="customer">
    <Key><PropertyRef Name="id"/></Key>
    <Property Name="no" Type="Edm.String" MaxLength="20"/>
    <Property Name="id" Type="Edm.Guid" Nullable="false"/>
    <Property Name="name" Type="Edm.String" MaxLength="12"/>
    <Property Name="city" Type="Edm.String" MaxLength="30"/>
    <Property Name="postCode" Type="Edm.String" MaxLength="20"/>
    <Property Name="tier" Type="Microsoft.NAV.tier"/>
    <Property Name="creditScore" Type="Edm.Decimal"/>
    <Property Name="lastModifiedDateTime" Type="Edm.DateTimeOffset"/>
    <NavigationProperty Name="shipToAddresses" Type="Collection(Microsoft.NAV.shipToAddress)">
     <ReferentialConstraint Property="no" ReferencedProperty="customerNo"/>
    </NavigationProperty>
   </EntityType>
   <EntityType Name="shipToAddress">
    <Key><PropertyRef Name="id"/></Key>
    <Property Name="id" Type="Edm.Guid" Nullable="false"/>
    <Property Name="customerNo" Type="Edm.String" MaxLength="20"/>
    <Property Name="code" Type="Edm.String" MaxLength="10"/>
    <Property Name="address" Type="Edm.String" MaxLength="100"/>
   </EntityType>
   <EntityContainer Name="NAV">
    <EntitySet Name="companies" EntityType="Microsoft.NAV.company"/>
    <EntitySet Name="customers" EntityType="Microsoft.NAV.customer"/>
    <EntitySet Name="shipToAddresses" EntityType="Microsoft.NAV.shipToAddress"/>
   </EntityContainer>
  </Schema>
 </edmx:DataServices>
</edmx:Edmx>
"""


def rows(store: Store, api: ApiModel, set_name: str) -> list[dict[str, Any]]:
    table = table_name(api.route, set_name)  # quoted identifier
    cursor = store.connection().execute(f"SELECT * FROM {table} ORDER BY _rowid")  # noqa: S608
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def seeded(
    path: Path, api: ApiModel, *, seed: int = 7, scale: float = 1.0, now: dt.datetime = NOW
) -> tuple[Store, dict[str, int]]:
    store = Store(path)
    store.create_tables(api)
    counts = populate(
        store, api, seed=seed, scale=scale, companies=default_companies(seed), now=now
    )
    return store, counts


@pytest.fixture(scope="module")
def api() -> ApiModel:
    return standard_api()


@pytest.fixture(scope="module")
def seeded_store(
    api: ApiModel, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Store, dict[str, int]]]:
    store, counts = seeded(tmp_path_factory.mktemp("seed") / "db.sqlite", api)
    yield store, counts
    store.close()


@pytest.fixture(scope="module")
def store(seeded_store: tuple[Store, dict[str, int]]) -> Store:
    return seeded_store[0]


def test_new_guid_and_cents_match_the_reference_forms() -> None:
    rng = random.Random(1)  # noqa: S311
    twin = random.Random(1)  # noqa: S311
    for _ in range(200):
        assert new_guid(rng) == str(uuid.UUID(int=twin.getrandbits(128), version=4))
    for cents in (*range(-1005, 1005), 123456789, -100, 10**12 + 7):
        text = cents_text(cents)
        assert text == format_decimal(Decimal(cents) / 100)
        assert text_cents(text) == cents


def test_default_companies_are_deterministic_cronus_companies() -> None:
    first, again, other = default_companies(1), default_companies(1), default_companies(2)
    assert first == again
    assert [c.id for c in first] != [c.id for c in other]
    assert len(first) == 2
    assert {c.name for c in first} == {"CRONUS USA, Inc.", "CRONUS International Ltd."}
    assert all(GUID.match(c.id) for c in first)


def test_companies_rows_look_like_bc(store: Store, api: ApiModel) -> None:
    companies = rows(store, api, "companies")
    assert [c["id"] for c in companies] == [c.id for c in default_companies(7)]
    for company in companies:
        assert company["systemVersion"].startswith("26.")
        assert DATETIME.match(company["systemCreatedAt"])
        assert company["systemModifiedAt"] >= company["systemCreatedAt"]
        assert GUID.match(company["systemCreatedBy"])
        assert company["_company"] is None


def test_every_company_scoped_set_is_filled_for_every_company(
    seeded_store: tuple[Store, dict[str, int]], api: ApiModel
) -> None:
    store, counts = seeded_store
    companies = {c.id for c in default_companies(7)}
    must_have = (
        "items",
        "customers",
        "vendors",
        "salesInvoices",
        "salesInvoiceLines",
        "purchaseInvoices",
        "purchaseInvoiceLines",
        "journals",
        "journalLines",
        "employees",
        "accounts",
        "generalLedgerEntries",
        "paymentMethods",
        "paymentTerms",
        "currencies",
        "dimensions",
        "dimensionValues",
        "unitsOfMeasure",
        "itemCategories",
        "countriesRegions",
        "shipmentMethods",
        "locations",
        "taxGroups",
        "dimensionSetLines",
        "defaultDimensions",
        "contacts",
        "bankAccounts",
        "customerPaymentJournals",
        "customerPayments",
        "vendorPaymentJournals",
        "vendorPayments",
        "itemLedgerEntries",
        "fixedAssets",
        "projects",
        "salespeoplePurchasers",
        "generalLedgerSetup",
        "companyInformation",
        "currencyExchangeRates",
        "accountingPeriods",
        "timeRegistrationEntries",
        "salesOrders",
        "salesOrderLines",
        "salesQuotes",
        "salesQuoteLines",
        "salesCreditMemos",
        "salesCreditMemoLines",
        "purchaseOrders",
        "purchaseOrderLines",
    )
    for set_name in must_have:
        owners = {row["_company"] for row in rows(store, api, set_name)}
        assert owners == companies, set_name
    for entity_set in api.entity_sets.values():
        if entity_set.company_scoped:
            assert entity_set.name in counts
    assert counts["generalLedgerSetup"] == counts["companyInformation"] == 2
    assert 150 <= counts["customers"] <= 250
    assert 8000 <= counts["generalLedgerEntries"] <= 12000


def check_stored_form(prop: Property, value: Any, where: str) -> None:
    if prop.kind == "string" and prop.max_length is not None:
        assert len(value) <= prop.max_length, where
    elif prop.kind == "enum":
        assert prop.enum is not None
        assert value in prop.enum.members, where
    elif prop.kind == "guid":
        assert GUID.match(value), where
    elif prop.kind == "decimal":
        assert format_decimal(value) == value, where
    elif prop.kind == "date":
        assert DATE.match(value), where
    elif prop.kind == "datetime":
        assert DATETIME.match(value), where
    elif prop.kind == "bool":
        assert value in {0, 1}, where
    elif prop.kind == "stream":
        assert value is None, where


def test_max_length_enums_keys_and_stored_forms_on_every_set(store: Store, api: ApiModel) -> None:
    for entity_set in api.entity_sets.values():
        etype = entity_set.entity_type
        keys: Counter[tuple[Any, ...]] = Counter()
        for row in rows(store, api, entity_set.name):
            keys[(row["_company"], *(row[k] for k in etype.key))] += 1
            for name, prop in etype.properties.items():
                check_stored_form(prop, row[name], f"{entity_set.name}.{name}={row[name]!r}")
        duplicates = [k for k, n in keys.items() if n > 1]
        assert not duplicates, f"{entity_set.name}: {duplicates[:3]}"


def test_same_seed_same_rows_other_seed_other_ids(tmp_path: Path, api: ApiModel) -> None:
    first, _ = seeded(tmp_path / "a.sqlite", api, scale=0.3)
    second, _ = seeded(tmp_path / "b.sqlite", api, scale=0.3)
    other, _ = seeded(tmp_path / "c.sqlite", api, scale=0.3, seed=8)
    later, _ = seeded(tmp_path / "d.sqlite", api, scale=0.3, now=NOW + dt.timedelta(days=40))
    same_day, _ = seeded(tmp_path / "e.sqlite", api, scale=0.3, now=NOW + dt.timedelta(hours=5))
    try:
        for set_name in api.entity_sets:
            assert rows(first, api, set_name) == rows(second, api, set_name), set_name
            assert rows(first, api, set_name) == rows(same_day, api, set_name), set_name
        for set_name in ("customers", "items", "generalLedgerEntries", "salesInvoiceLines"):
            ids = [r["id"] for r in rows(first, api, set_name)]
            assert ids == [r["id"] for r in rows(later, api, set_name)], set_name
            assert not set(ids) & {r["id"] for r in rows(other, api, set_name)}, set_name
    finally:
        for store in (first, second, other, later, same_day):
            store.close()


def test_scale_multiplies_volume(tmp_path: Path, api: ApiModel) -> None:
    small, small_counts = seeded(tmp_path / "s.sqlite", api, scale=0.2)
    small.close()
    big, big_counts = seeded(tmp_path / "b.sqlite", api, scale=0.6)
    big.close()
    for set_name in ("generalLedgerEntries", "customers", "items", "salesInvoices"):
        ratio = big_counts[set_name] / small_counts[set_name]
        assert 2.5 <= ratio <= 3.5, (set_name, ratio)
    assert big_counts["currencies"] == small_counts["currencies"]


def test_document_lines_point_at_real_items_and_headers(store: Store, api: ApiModel) -> None:
    items = {r["id"]: r for r in rows(store, api, "items")}
    accounts = {r["id"]: r for r in rows(store, api, "accounts")}
    customers = {r["id"]: r for r in rows(store, api, "customers")}
    vendors = {r["id"]: r for r in rows(store, api, "vendors")}
    pairs = (
        ("salesInvoices", "salesInvoiceLines", "unitPrice"),
        ("salesOrders", "salesOrderLines", "unitPrice"),
        ("salesQuotes", "salesQuoteLines", "unitPrice"),
        ("salesCreditMemos", "salesCreditMemoLines", "unitPrice"),
        ("purchaseInvoices", "purchaseInvoiceLines", "unitCost"),
        ("purchaseOrders", "purchaseOrderLines", "directUnitCost"),
        ("purchaseCreditMemos", "purchaseCreditMemoLines", "unitCost"),
    )
    for header_set, line_set, price in pairs:
        headers = {r["id"]: r for r in rows(store, api, header_set)}
        lines_by_doc: dict[str, list[dict[str, Any]]] = {}
        for line in rows(store, api, line_set):
            header = headers[line["documentId"]]
            assert header["_company"] == line["_company"]
            lines_by_doc.setdefault(line["documentId"], []).append(line)
            if line["lineType"] == "Item":
                item = items[line["itemId"]]
                assert item["_company"] == line["_company"]
                assert line["lineObjectNumber"] == item["number"]
                assert line["description"] == item["displayName"]
                expected = item["unitPrice"] if price == "unitPrice" else item["unitCost"]
                assert line[price] == expected
            elif line["lineType"] == "Account":
                assert accounts[line["accountId"]]["number"] == line["lineObjectNumber"]
            else:
                assert line["itemId"] == EMPTY_GUID
        for doc_id, header in headers.items():
            lines = lines_by_doc[doc_id]
            assert [ln["sequence"] for ln in lines] == [10000 * (i + 1) for i in range(len(lines))]
            for field, line_field in (
                ("totalAmountExcludingTax", "amountExcludingTax"),
                ("totalTaxAmount", "totalTaxAmount"),
                ("totalAmountIncludingTax", "amountIncludingTax"),
            ):
                total = sum((Decimal(ln[line_field]) for ln in lines), Decimal(0))
                assert Decimal(header[field]) == total, (header_set, doc_id, field)
            if "customerId" in header:
                customer = customers[header["customerId"]]
                assert header["customerNumber"] == customer["number"]
                assert header["customerName"] == customer["displayName"]
            else:
                assert vendors[header["vendorId"]]["number"] == header["vendorNumber"]
    statuses = Counter(r["status"] for r in rows(store, api, "salesInvoices"))
    assert {"Draft", "Open", "Paid"} <= set(statuses)


def test_line_amounts_are_exact(store: Store, api: ApiModel) -> None:
    for line in rows(store, api, "salesInvoiceLines"):
        if line["lineType"] == "Comment":
            continue
        gross = Decimal(line["quantity"]) * Decimal(line["unitPrice"])
        excl = Decimal(line["amountExcludingTax"])
        assert excl == gross - Decimal(line["discountAmount"])
        assert Decimal(line["amountIncludingTax"]) == excl + Decimal(line["totalTaxAmount"])
        assert Decimal(line["unitPrice"]).as_tuple().exponent >= -2  # type: ignore[operator]


def test_ledger_points_at_accounts_and_balances(store: Store, api: ApiModel) -> None:
    accounts = {r["id"]: r for r in rows(store, api, "accounts")}
    categories = {r["category"] for r in accounts.values()}
    assert {"Assets", "Liabilities", "Equity", "Income", "Expense"} <= categories
    entries = rows(store, api, "generalLedgerEntries")
    debit: Counter[str] = Counter()
    credit: Counter[str] = Counter()
    for company in {e["_company"] for e in entries}:
        numbers = [e["entryNumber"] for e in entries if e["_company"] == company]
        assert numbers == list(range(1, len(numbers) + 1))
    for entry in entries:
        account = accounts[entry["accountId"]]
        assert account["number"] == entry["accountNumber"]
        assert account["accountType"] == "Posting"
        assert account["_company"] == entry["_company"]
        debit[entry["_company"]] += text_cents(entry["debitAmount"])
        credit[entry["_company"]] += text_cents(entry["creditAmount"])
        assert (Decimal(entry["debitAmount"]) == 0) != (Decimal(entry["creditAmount"]) == 0)
    assert len(debit) == 2
    assert debit == credit  # every transaction balances


def test_dimension_values_and_set_lines_resolve(store: Store, api: ApiModel) -> None:
    dimensions = {r["id"]: r for r in rows(store, api, "dimensions")}
    values = {r["id"]: r for r in rows(store, api, "dimensionValues")}
    assert {"DEPARTMENT", "PROJECT", "AREA"} <= {d["code"] for d in dimensions.values()}
    for value in values.values():
        assert dimensions[value["dimensionId"]]["_company"] == value["_company"]
    parent_sets = ("salesInvoices", "salesInvoiceLines", "journalLines", "purchaseInvoices")
    parents = {r["id"] for s in parent_sets for r in rows(store, api, s)}
    set_lines = rows(store, api, "dimensionSetLines")
    assert set_lines
    for line in set_lines:
        assert values[line["valueId"]]["code"] == line["valueCode"]
        assert dimensions[values[line["valueId"]]["dimensionId"]]["code"] == line["code"]
    assert {ln["parentId"] for ln in set_lines} & parents
    for default in rows(store, api, "defaultDimensions"):
        assert values[default["dimensionValueId"]]["dimensionId"] == default["dimensionId"]


def test_journal_lines_and_payments_resolve(store: Store, api: ApiModel) -> None:
    journals = {r["id"]: r for r in rows(store, api, "journals")}
    for line in rows(store, api, "journalLines"):
        assert journals[line["journalId"]]["code"] == line["journalDisplayName"]
    invoices = {r["id"]: r for r in rows(store, api, "salesInvoices")}
    applied = [
        p for p in rows(store, api, "customerPayments") if p["appliesToInvoiceId"] != EMPTY_GUID
    ]
    assert applied
    for payment in applied:
        invoice = invoices[payment["appliesToInvoiceId"]]
        assert invoice["customerId"] == payment["customerId"]
        assert invoice["number"] == payment["appliesToInvoiceNumber"]


def test_realistic_values(store: Store, api: ApiModel) -> None:
    items = rows(store, api, "items")
    assert items[0]["number"] == "1896-S"
    assert items[0]["displayName"] == "ATHENS Desk"
    assert {i["baseUnitOfMeasureCode"] for i in items} >= {"PCS", "BOX"}
    customers = rows(store, api, "customers")
    assert customers[0]["number"] == "10000"
    assert customers[0]["displayName"] == "Adatum Corporation"
    assert any("'" in c["displayName"] for c in customers)
    blocked = Counter(c["blocked"] for c in customers)
    assert blocked.most_common(1)[0][0] == "_x0020_"
    assert {"USD", "EUR"} <= {c["code"] for c in rows(store, api, "currencies")}
    times = rows(store, api, "timeRegistrationEntries")
    assert all(DATETIME.match(t["lastModfiedDateTime"]) for t in times)


@pytest.mark.parametrize("set_name", ["items", "customers", "vendors", "generalLedgerEntries"])
def test_some_rows_have_the_empty_datetime(store: Store, api: ApiModel, set_name: str) -> None:
    stamps = [r["lastModifiedDateTime"] for r in rows(store, api, set_name)]
    empty = stamps.count(EMPTY_DATETIME)
    assert 0 < empty < len(stamps) * 0.05


@pytest.mark.parametrize(
    "set_name", ["customers", "items", "salesInvoices", "generalLedgerEntries"]
)
def test_bursts_share_one_millisecond(store: Store, api: ApiModel, set_name: str) -> None:
    stamps = Counter(
        r["lastModifiedDateTime"]
        for r in rows(store, api, set_name)
        if r["lastModifiedDateTime"] != EMPTY_DATETIME
    )
    bursts = [n for n in stamps.values() if n >= 2]
    assert bursts
    assert max(bursts) <= 5 or set_name == "generalLedgerEntries"
    newest = max(stamps)
    assert newest <= NOW.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert min(stamps) >= "2023-05-01"


def test_custom_api_gets_generic_rows_with_resolved_references(
    tmp_path: Path, api: ApiModel
) -> None:
    custom = parse_edmx(CUSTOM_EDMX, "contoso/sales/v1.0")
    store = Store(tmp_path / "custom.sqlite")
    store.create_tables(api)
    store.create_tables(custom)
    companies = [CompanySpec("6f1a1c2e-0000-4000-8000-000000000001", "CRONUS, Inc.", "CRONUS")]
    try:
        counts = populate(store, custom, seed=3, scale=1, companies=companies, now=NOW)
        assert counts["companies"] == 1
        assert rows(store, custom, "companies")[0]["id"] == companies[0].id
        customers = rows(store, custom, "customers")
        assert customers
        assert all(c["no"] and c["name"] and len(c["name"]) <= 12 for c in customers)
        assert all(c["tier"] in {"_x0020_", "Gold"} for c in customers)
        assert len({c["no"] for c in customers}) == len(customers)
        numbers = {c["no"] for c in customers}
        addresses = rows(store, custom, "shipToAddresses")
        assert addresses
        assert all(a["customerNo"] in numbers for a in addresses)
        again = Store(tmp_path / "again.sqlite")
        again.create_tables(custom)
        populate(again, custom, seed=3, scale=1, companies=companies, now=NOW)
        assert rows(again, custom, "customers") == customers
        again.close()
    finally:
        store.close()


def test_bundled_custom_api_is_filled(tmp_path: Path) -> None:
    from businesscentral_emulator.odata.edmx import bundled_edmx  # noqa: PLC0415

    try:
        custom = parse_edmx(bundled_edmx("custom-contoso-sales-v1.0.xml"), "contoso/sales/v1.0")
    except FileNotFoundError:
        pytest.skip("custom API page not bundled")
    store = Store(tmp_path / "bundled.sqlite")
    store.create_tables(custom)
    try:
        counts = populate(store, custom, seed=1, scale=0.5, companies=default_companies(1), now=NOW)
        assert counts["companies"] == 2
        assert all(n > 0 for n in counts.values())
    finally:
        store.close()
