"""Contract: the report and query sets are computed as BC computes them, from the ledger now.

Sources (StefanMaron/MSDyn365BC.Code.History): BaseApp codeunit 5488 "Graph Mgt - Reports"
(search index id 57854096: SetUpAgedReportAPIData, SetPeriodLengthAndStartDateOnAgedRep,
GetAgedAmounts, SetUpTrialBalanceAPIData, SetUpAccountScheduleBaseAPIData(Wrapper),
SetUpBalanceSheetAPIData, GetDateRangeMax, FormatAmount); APIV2 pages under
`APIV2/Source/_Exclude_APIV2_/src/pages/` (`P/`): APIV2AgedAR.Page.al @10383a2a,
APIV2AgedAP.Page.al @a1862ed0, APIV2TrialBalance (page 30034), APIV2BalanceSheet.Page.al
@02326b00, APIV2IncomeStatement.Page.al @10383a2a, APIV2 - Retained Earnings (page 30029),
APIV2CustFinancialDetails.Page.al @069a685c; queries APIV2CustomerSales.Query.al @4eb2c817 and
APIV2VendorPurchases.Query.al @53bb3e8b; tables Customer @01f4783e and G/L Account @02ab6ed7
(FlowFields). Microsoft Learn's trialBalance GET example shows the amount strings
(`"72,893.84"`, `"0.00"`) and `dateFilter` = the range's end.

The emulator keeps no customer or vendor ledger entries (API v2.0 has no such set): they are
derived from the posted documents, one entry each, their open amount standing for their detailed
entries. The expected figures below are computed from the documents read over HTTP, for parties
in the local currency (no exchange rate involved).
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from conftest import RunningEmulator

EMPTY_GUID = "00000000-0000-0000-0000-000000000000"
POSTED = {"Open", "Paid", "Canceled", "Corrective"}
ZERO = Decimal(0)


@pytest.fixture(scope="module")
def bc(start_emulator):
    """An emulator of its own: one test posts an invoice."""
    return start_emulator(seed=11, scale=0.1)


def read(bc: RunningEmulator, entity_set: str, **params: str) -> list[dict[str, Any]]:
    """Every row, decimals exact."""
    rows: list[dict[str, Any]] = []
    response = bc.get(bc.company_url(entity_set), params=params or None)
    while True:
        assert response.status_code == 200, response.text
        body = json.loads(response.text, parse_float=Decimal)
        rows.extend(body["value"])
        if "@odata.nextLink" not in body:
            return rows
        response = bc.get(body["@odata.nextLink"])


def today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def lcy(bc: RunningEmulator) -> str:
    return read(bc, "generalLedgerSetup")[0]["localCurrencyCode"]


def entries(bc: RunningEmulator, side: str) -> list[dict[str, Any]]:
    """One entry per posted document of a local-currency party: net, open amount, dates."""
    local = lcy(bc)
    documents = (
        (("salesInvoices", 1), ("salesCreditMemos", -1))
        if side == "customer"
        else (("purchaseInvoices", 1), ("purchaseCreditMemos", -1))
    )
    found = []
    for set_name, sign in documents:
        for doc in read(bc, set_name):
            if doc["status"] not in POSTED or doc["currencyCode"] not in {"", local}:
                continue
            if "remainingAmount" in doc:
                remaining = doc["remainingAmount"]
            else:
                remaining = doc["totalAmountIncludingTax"] if doc["status"] == "Open" else ZERO
            found.append(
                {
                    "party": doc[f"{side}Id"],
                    "posting": dt.date.fromisoformat(doc["postingDate"]),
                    "due": dt.date.fromisoformat(doc["dueDate"]),
                    "net": sign * Decimal(doc["totalAmountExcludingTax"]),
                    "remaining": sign * Decimal(remaining),
                }
            )
    return found


def local_parties(bc: RunningEmulator, side: str) -> dict[str, dict[str, Any]]:
    local = lcy(bc)
    return {p["id"]: p for p in read(bc, f"{side}s") if p["currencyCode"] in {"", local}}


def post_document(bc: RunningEmulator, set_name: str, party: str, due: dt.date) -> dict[str, Any]:
    """A new invoice for a local-currency party, one item line, posted; as read back."""
    side = "customer" if set_name.startswith("sales") else "vendor"
    party_id = next(iter(local_parties(bc, side)))
    item = read(bc, "items", **{"$filter": "type eq 'Inventory'", "$top": "1"})[0]
    body = {
        party: party_id,
        "dueDate": due.isoformat(),
        f"{set_name[:-1]}Lines": [{"lineObjectNumber": item["number"], "quantity": 3}],
    }
    response = bc.request("POST", bc.company_url(set_name), json=body)
    assert response.status_code == 201, response.text
    document_id = response.json()["id"]
    url = bc.company_url(f"{set_name}({document_id})/Microsoft.NAV.post")
    assert bc.request("POST", url).status_code == 204
    posted = bc.get(bc.company_url(f"{set_name}({document_id})"))
    return json.loads(posted.text, parse_float=Decimal)


def by_party(rows: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {row[key]: row for row in rows}


# -- aged accounts receivable / payable -------------------------------------------------------


def label(day: dt.date) -> str:
    return day.strftime("%m/%d/%y")


def test_aged_receivables_default_to_today_and_thirty_days(bc: RunningEmulator) -> None:
    """Without a filter the report is aged as of TODAY by periods of 30 days.

    Source: SetPeriodLengthAndStartDateOnAgedRep: `Period Start Date` := Today when the page has
    no filter on it, PeriodLengthFilter '<30D>' (shown as `30D`); Period 1 Label =
    Format([3]) + '-' + Format([2]), Period 2 Label = Format([4]) + '-' + Format([3]),
    Period 3 Label = '-' + Format([4]), [3] = CalcDate('<-30D>', [2]), [4] = CalcDate('<-30D>',
    [3]); dates in en-US `Format` (MM/DD/YY). The Total row keeps Init's blank labels.
    """
    rows = read(bc, "agedAccountsReceivables")
    *parties, total = rows
    day = today()
    third, fourth = day - dt.timedelta(days=30), day - dt.timedelta(days=60)
    for row in rows:
        assert row["agedAsOfDate"] == day.isoformat()
        assert row["periodLengthFilter"] == "30D"
    for row in parties:
        assert row["period1Label"] == f"{label(third)}-{label(day)}"
        assert row["period2Label"] == f"{label(fourth)}-{label(third)}"
        assert row["period3Label"] == f"-{label(fourth)}"
    assert (total["customerId"], total["name"], total["period1Label"]) == (EMPTY_GUID, "Total", "")


@pytest.mark.parametrize(("side", "report"), [("customer", "agedAccountsReceivables"),
                                              ("vendor", "agedAccountsPayables")])  # fmt: skip
def test_aged_reports_are_rebuilt_for_the_filtered_date_and_period(
    bc: RunningEmulator, side: str, report: str
) -> None:
    """`$filter=agedAsOfDate eq D and periodLengthFilter eq '1M'` rebuilds the report.

    Source: SetPeriodLengthAndStartDateOnAgedRep / GetAgedAmounts read the page's filters on
    `Period Start Date` and `Period Length`; dates [1] 31-12-9999, [2] the as-of date,
    [3] = CalcDate('<-1M>', [2]), [4] = CalcDate('<-1M>', [3]), [5] 1-1-1753; for I = 1..4 the
    Detailed Ledger Entries with `Initial Entry Due Date` in [I+1]..[I]-1 give Before
    (currentAmount), Period 1, 2, 3; Balance (balanceDue) is their sum; vendor amounts have
    their sign reversed (positive payables). The Total row sums every row.
    """
    as_of = dt.date(today().year, 3, 31)
    # CalcDate('<-1M>') keeps the day or ends the month: 31 Mar -> end of Feb -> same day of Jan.
    third = dt.date(as_of.year, 2, 29 if calendar.isleap(as_of.year) else 28)
    fourth = dt.date(as_of.year, 1, third.day)
    invoices = "salesInvoices" if side == "customer" else "purchaseInvoices"
    posted = post_document(bc, invoices, f"{side}Id", dt.date(as_of.year, 2, 15))  # period 2
    assert posted["status"] == "Open"
    starts = [dt.date.max, as_of, third, fourth, dt.date.min]
    expected: dict[str, list[Decimal]] = {}
    for entry in entries(bc, side):
        buckets = expected.setdefault(entry["party"], [ZERO] * 4)
        for index in range(4):
            if starts[index + 1] <= entry["due"] < starts[index]:
                buckets[index] += entry["remaining"]
                break
    params = {"$filter": f"agedAsOfDate eq {as_of.isoformat()} and periodLengthFilter eq '1M'"}
    rows = read(bc, report, **params)
    *parties, total = rows
    assert total["name"] == "Total"
    for row in rows:
        assert (row["agedAsOfDate"], row["periodLengthFilter"]) == (as_of.isoformat(), "1M")
    checked = 0
    for party_id in local_parties(bc, side):
        row = by_party(parties, f"{side}Id")[party_id]
        current, one, two, three = expected.get(party_id, [ZERO] * 4)
        assert row["currentAmount"] == current
        assert (row["period1Amount"], row["period2Amount"], row["period3Amount"]) == (
            one,
            two,
            three,
        )
        assert row["balanceDue"] == current + one + two + three
        checked += bool(two)
    assert checked
    for amount in ("balanceDue", "currentAmount", "period1Amount", "period3Amount"):
        assert total[amount] == sum(row[amount] for row in parties)
    if side == "customer":
        assert parties[0]["period1Label"] == f"{label(third)}-{label(as_of)}"


# -- customerSales / vendorPurchases ----------------------------------------------------------


@pytest.mark.parametrize(("side", "query", "amount"), [
    ("customer", "customerSales", "totalSalesAmount"),
    ("vendor", "vendorPurchases", "totalPurchaseAmount"),
])  # fmt: skip
def test_party_totals_sum_posted_documents_within_the_query_date_filter(
    bc: RunningEmulator, side: str, query: str, amount: str
) -> None:
    """One row per party; the sum of its entries' Sales (LCY) / Purchase (LCY, reversed sign);
    `dateFilter` is the query's filter on Posting Date, not a column that drops rows.

    Source: APIV2CustomerSales.Query.al @4eb2c817 (Customer LEFT OUTER JOIN Cust. Ledger Entry,
    Document Type Invoice|Credit Memo, SUM(Sales (LCY)), filter(dateFilter; "Posting Date")),
    APIV2VendorPurchases.Query.al @53bb3e8b (SUM(Purchase (LCY)), ReverseSign = true). The
    filter arrives as `$filter=dateFilter_FilterOnly ...` (BC 26 `$metadata`). Without it the
    field reads null (Microsoft Learn, v1.0 "Get vendorPurchases" example).
    """
    first, last = dt.date(today().year, 1, 1), today()
    whole = by_party(read(bc, query), f"{side}Id")
    window = f"dateFilter_FilterOnly ge {first.isoformat()} and dateFilter_FilterOnly le {last}"
    within = by_party(read(bc, query, **{"$filter": window}), f"{side}Id")
    everyone = read(bc, f"{side}s")
    assert set(whole) == set(within) == {p["id"] for p in everyone}
    assert all(row["dateFilter_FilterOnly"] is None for row in whole.values())
    sums_all: dict[str, Decimal] = {}
    sums_window: dict[str, Decimal] = {}
    for entry in entries(bc, side):
        sums_all[entry["party"]] = sums_all.get(entry["party"], ZERO) + entry["net"]
        if first <= entry["posting"] <= last:
            sums_window[entry["party"]] = sums_window.get(entry["party"], ZERO) + entry["net"]
    for party_id in local_parties(bc, side):
        assert whole[party_id][amount] == sums_all.get(party_id, ZERO)
        assert within[party_id][amount] == sums_window.get(party_id, ZERO)
    assert any(sums_all.values())
    assert sums_all != sums_window


# -- customerFinancialDetails -----------------------------------------------------------------


def test_customer_financial_details_are_customer_flowfields_up_to_yesterday(
    bc: RunningEmulator,
) -> None:
    """balance = Balance (LCY); totalSalesExcludingTax = Sales (LCY) and overdueAmount =
    Balance Due (LCY), both with Date Filter 0D..WorkDate()-1.

    Source: P/APIV2CustFinancialDetails.Page.al @069a685c (OnAfterGetRecord:
    `SetRange("Date Filter", 0D, WorkDate() - 1)`; CalcFields); table Customer @01f4783e:
    Balance (LCY) = Sum(Detailed Cust. Ledg. Entry."Amount (LCY)") with no date filter, Sales
    (LCY) = Sum(Cust. Ledger Entry."Sales (LCY)" where Posting Date = Date Filter), Balance Due
    (LCY) = Sum(Detailed Cust. Ledg. Entry."Amount (LCY)" where Initial Entry Due Date =
    UPPERLIMIT(Date Filter)). The API session's work date is today.
    """
    yesterday = today() - dt.timedelta(days=1)
    expected: dict[str, list[Decimal]] = {}
    for entry in entries(bc, "customer"):
        sums = expected.setdefault(entry["party"], [ZERO] * 3)
        sums[0] += entry["remaining"]
        sums[1] += entry["net"] if entry["posting"] <= yesterday else ZERO
        sums[2] += entry["remaining"] if entry["due"] <= yesterday else ZERO
    rows = by_party(read(bc, "customerFinancialDetails"), "id")
    customers = local_parties(bc, "customer")
    for customer_id, customer in customers.items():
        row = rows[customer_id]
        balance, sales, overdue = expected.get(customer_id, [ZERO] * 3)
        assert (row["balance"], row["totalSalesExcludingTax"], row["overdueAmount"]) == (
            balance,
            sales,
            overdue,
        )
        assert row["number"] == customer["number"]
        assert row["lastModifiedDateTime"] == customer["lastModifiedDateTime"]
    assert any(v[0] for v in expected.values())


def test_a_posted_invoice_changes_the_figures_on_the_next_read(bc: RunningEmulator) -> None:
    """The sets are built when read, so posting an invoice shows at once: the query's sales and
    the aged balance grow; customerFinancialDetails' sales (posted up to yesterday) do not.

    Source: as above (pages build their temporary tables in OnOpenPage; the query and the
    FlowFields read the ledger entries that posting writes).
    """
    customer = next(iter(local_parties(bc, "customer").values()))  # post_document's customer
    before_sales = by_party(read(bc, "customerSales"), "customerId")[customer["id"]]
    before_aged = by_party(read(bc, "agedAccountsReceivables"), "customerId")[customer["id"]]
    before_details = by_party(read(bc, "customerFinancialDetails"), "id")[customer["id"]]
    posted = post_document(bc, "salesInvoices", "customerId", today() + dt.timedelta(days=30))
    assert posted["totalAmountExcludingTax"] > 0
    after_sales = by_party(read(bc, "customerSales"), "customerId")[customer["id"]]
    after_aged = by_party(read(bc, "agedAccountsReceivables"), "customerId")[customer["id"]]
    after_details = by_party(read(bc, "customerFinancialDetails"), "id")[customer["id"]]
    assert (
        after_sales["totalSalesAmount"]
        == before_sales["totalSalesAmount"] + posted["totalAmountExcludingTax"]
    )
    assert (
        after_aged["currentAmount"]
        == before_aged["currentAmount"] + posted["totalAmountIncludingTax"]
    )
    assert after_aged["balanceDue"] == before_aged["balanceDue"] + posted["remainingAmount"]
    assert after_details["balance"] == before_details["balance"] + posted["remainingAmount"]
    assert after_details["totalSalesExcludingTax"] == before_details["totalSalesExcludingTax"]
    assert after_details["overdueAmount"] == before_details["overdueAmount"]


# -- trial balance and statements -------------------------------------------------------------


def money(text: str) -> Decimal:
    return Decimal(text.replace(",", ""))


def gl_sums(
    bc: RunningEmulator, first: dt.date, last: dt.date
) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
    """Per account number: debit, credit within [first, last], balance up to `last`."""
    sums: dict[str, tuple[Decimal, Decimal, Decimal]] = {}
    for entry in read(bc, "generalLedgerEntries"):
        day = dt.date.fromisoformat(entry["postingDate"])
        debit, credit, balance = sums.get(entry["accountNumber"], (ZERO, ZERO, ZERO))
        inside = first <= day <= last
        sums[entry["accountNumber"]] = (
            debit + (entry["debitAmount"] if inside else ZERO),
            credit + (entry["creditAmount"] if inside else ZERO),
            balance + (entry["debitAmount"] - entry["creditAmount"] if day <= last else ZERO),
        )
    return sums


@pytest.mark.parametrize("filtered", [False, True])
def test_trial_balance_is_computed_for_its_date_filter(bc: RunningEmulator, filtered: bool) -> None:
    """Every G/L account; Posting accounts get debit/credit within the Date Filter and the
    balance at its end, as formatted strings; other types leave them blank.

    Source: SetUpTrialBalanceAPIData (Date Filter from the page filter, else `Format(Today)`,
    i.e. today alone; TransformAmount = FormatAmount of the absolute value; Balance at Date < 0
    -> balanceAtDateCredit, else balanceAtDateDebit, the other FormatAmount(0.0); dateFilter =
    GetDateRangeMax); G/L Account @02ab6ed7 FlowFields Debit/Credit Amount (Posting Date =
    Date Filter) and Balance at Date (UPPERLIMIT); MS Learn example `"72,893.84"`, `"0.00"`.
    """
    first = last = today()
    params = {}
    if filtered:
        first, last = dt.date(today().year - 1, 7, 1), dt.date(today().year, 2, 28)
        params["$filter"] = f"dateFilter ge {first.isoformat()} and dateFilter le {last}"
    sums = gl_sums(bc, first, last)
    rows = read(bc, "trialBalances", **params)
    accounts = sorted(read(bc, "accounts"), key=lambda a: a["number"])
    assert [r["accountId"] for r in rows] == [a["id"] for a in accounts]
    busy = 0
    for row in rows:
        assert row["dateFilter"] == last.isoformat()
        if row["accountType"] != "Posting":
            amounts = (row["totalDebit"], row["totalCredit"], row["balanceAtDateDebit"])
            assert (*amounts, row["balanceAtDateCredit"]) == ("", "", "", "")
            continue
        debit, credit, balance = sums.get(row["number"], (ZERO, ZERO, ZERO))
        assert money(row["totalDebit"]) == debit
        assert money(row["totalCredit"]) == credit
        assert money(row["balanceAtDateDebit"]) == max(balance, ZERO)
        assert money(row["balanceAtDateCredit"]) == max(-balance, ZERO)
        assert row["totalDebit"] == f"{debit:,.2f}"
        busy += debit > 1000  # a thousands separator is shown
    if filtered:
        assert busy
        assert any("," in r["totalDebit"] for r in rows)


def test_statements_use_their_builders_default_date_filters(bc: RunningEmulator) -> None:
    """incomeStatements (and cash flow, retained earnings) default to 1 January..TODAY; the
    balance sheet to TODAY; dateFilter shows TODAY; `dateFilter eq D` moves a balance sheet.

    Source: SetUpAccountScheduleBaseAPIDataWrapper (`DMY2Date(1, 1, year) .. Today` when the
    page has no Date Filter), SetUpBalanceSheetAPIData (`Format(Today)`), column layouts
    M-NETCHANG / M-BALANCE, GetDateRangeMax; pages P/APIV2IncomeStatement.Page.al @10383a2a,
    P/APIV2BalanceSheet.Page.al @02326b00, APIV2 - Retained Earnings (page 30029, the Wrapper
    with "Retained Earnings"). The financial report row definitions are not in the seed: the
    emulator's lines sum G/L account categories (simplified; FIDELITY.md says how).
    """
    day = today()
    accounts = read(bc, "accounts")
    year = gl_sums(bc, dt.date(day.year, 1, 1), day)

    def category_sum(category: str, sums: dict[str, tuple[Decimal, ...]], index: int) -> Decimal:
        total = ZERO
        for account in accounts:
            if account["category"] == category and account["accountType"] == "Posting":
                values = sums.get(account["number"], (ZERO, ZERO, ZERO))
                total += values[0] - values[1] if index == 0 else values[2]
        return total

    income = by_party(read(bc, "incomeStatements"), "display")
    assert income["Income"]["netChange"] == category_sum("Income", year, 0)
    assert income["Income"]["dateFilter"] == day.isoformat()
    retained = by_party(read(bc, "retainedEarningsStatements"), "display")
    assert retained["Net Income"]["netChange"] == income["Income"]["netChange"]
    sheet = by_party(read(bc, "balanceSheets"), "display")
    assert sheet["Assets"]["balance"] == category_sum("Assets", year, 2)
    assert sheet["Assets"]["dateFilter"] == day.isoformat()
    earlier = dt.date(day.year - 1, 12, 31)
    past = by_party(read(bc, "balanceSheets", **{"$filter": f"dateFilter eq {earlier}"}), "display")
    assert past["Assets"]["dateFilter"] == earlier.isoformat()
    assert past["Assets"]["balance"] == category_sum("Assets", gl_sums(bc, earlier, earlier), 2)
    assert past["Assets"]["balance"] != sheet["Assets"]["balance"]
