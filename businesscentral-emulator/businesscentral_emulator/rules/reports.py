"""BC's report and query sets, built on every read from the company's ledger, as BC builds them.

The pages fill a temporary table in `OnOpenPage` (aged reports, trial balance, statements) or
calculate FlowFields per row (customerFinancialDetails); customerSales and vendorPurchases are API
queries. Each builder here follows its source; the request's `$filter` gives the parameters BC
reads with `GetFilter` (an aged report's as-of date and period length, a statement's date
filter, a query's filter-only date), and the rows are then filtered by the `$filter` as usual.

Sources (StefanMaron/MSDyn365BC.Code.History): BaseApp codeunit 5488 "Graph Mgt - Reports"
(SetUpAgedReportAPIData, SetPeriodLengthAndStartDateOnAgedRep, GetAgedAmounts,
SetUpTrialBalanceAPIData, SetUpAccountScheduleBaseAPIData(Wrapper), SetUpBalanceSheetAPIData,
GetDateRangeMax, FormatAmount); APIV2 pages APIV2AgedAR/AgedAP, APIV2CustFinancialDetails
@069a685c; queries APIV2CustomerSales.Query.al @4eb2c817, APIV2VendorPurchases.Query.al @53bb3e8b;
BaseApp table Customer @01f4783e (FlowFields Balance (LCY), Sales (LCY), Balance Due (LCY)).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

from businesscentral_emulator.odata.filter_parser import Compare, Ident, Logical, Value
from businesscentral_emulator.odata.values import EMPTY_DATE, EMPTY_GUID, format_decimal
from businesscentral_emulator.rules import ledger
from businesscentral_emulator.rules.currency import local_currency
from businesscentral_emulator.store.sqlite import table_name

if TYPE_CHECKING:
    from collections.abc import Callable

    from businesscentral_emulator.odata.edmx import ApiModel
    from businesscentral_emulator.odata.filter_parser import Node
    from businesscentral_emulator.store.sqlite import Store

Row = dict[str, Any]
_FIRST_DAY, _LAST_DAY = dt.date(1753, 1, 1), dt.date(9999, 12, 31)  # AL's 0D+1 and 31-12-9999
_FORMULA = re.compile(r"^(\d+)(D|W|M|Q|Y)$")  # CalcDate units modelled: WD and C... are not
_MONTHS_PER = {"M": 1, "Q": 3, "Y": 12}
_STATEMENT_IDS = uuid.UUID("6f1c2a4e-3b7d-4c5e-9a8f-0d1e2f3a4b5c")


@dataclass(frozen=True)
class Request:
    """One read of a report set: the company, BC's TODAY, and the parsed `$filter` (if any)."""

    company: str
    today: dt.date
    filter: Node | None


# -- the parameters a page reads with GetFilter -----------------------------------------------


def _conditions(tree: Node | None, name: str) -> list[tuple[str, Any]]:
    """`(op, value)` of each `name op literal` in the filter's top-level `and` chain.

    Only such chains are read as the report's parameters; `or`, `not` and functions are not.
    """
    if tree is None:
        return []
    nodes = tree.operands if isinstance(tree, Logical) and tree.op == "and" else (tree,)
    return [
        (node.op, node.right.value)
        for node in nodes
        if isinstance(node, Compare)
        and isinstance(node.left, Ident)
        and node.left.name == name
        and isinstance(node.right, Value)
    ]


def _equal(tree: Node | None, name: str) -> Any:  # noqa: ANN401 - a literal's value
    return next((value for op, value in _conditions(tree, name) if op == "eq"), None)


def _days(tree: Node | None, name: str) -> list[tuple[str, dt.date]]:
    days = []
    for op, value in _conditions(tree, name):
        if isinstance(value, dt.datetime):
            days.append((op, value.date()))
        elif isinstance(value, dt.date):
            days.append((op, value))
    return days


def date_range(tree: Node | None, name: str) -> tuple[dt.date, dt.date] | None:
    """The `Date Filter` range a `$filter` on `name` sets (AL `x..y`), None without one."""
    days = _days(tree, name)
    if not days:
        return None
    first, last = _FIRST_DAY, _LAST_DAY
    one = dt.timedelta(days=1)
    for op, day in days:
        if op in {"eq", "ge"}:
            first = max(first, day)
        if op in {"eq", "le"}:
            last = min(last, day)
        if op == "gt":
            first = max(first, day + one)
        if op == "lt":
            last = min(last, day - one)
    return first, last


def range_max(tree: Node | None, name: str, today: dt.date) -> dt.date:
    """GetDateRangeMax: the latest date written in the filter, else TODAY."""
    days = [day for _, day in _days(tree, name)]
    return max(days) if days else today


# -- amounts as BC writes them ----------------------------------------------------------------


def _money(value: Decimal | int) -> str:
    return format_decimal(Decimal(value))


def _cents(value: int) -> str:
    return format_decimal(Decimal(value) / 100)


def formatted(cents: int) -> str:
    """FormatAmount: `Format(Amount, 0, '<Precision,2:2><Standard Format,0>')` in en-US.

    MS Learn's trialBalance example shows `"72,893.84"` and `"0.00"`; 2:2 is CRONUS's G/L Setup
    "Amount Decimal Places".
    """
    return f"{Decimal(cents) / 100:,.2f}"


# -- aged accounts receivable and payable -----------------------------------------------------


def calc_back(day: dt.date, count: int, unit: str) -> dt.date:
    """CalcDate('<-{count}{unit}>', day) for D, W, M, Q and Y.

    A month back keeps the day of the month, or takes the month's last day, as CalcDate does.
    """
    if unit == "D":
        return day - dt.timedelta(days=count)
    if unit == "W":
        return day - dt.timedelta(weeks=count)
    months = day.year * 12 + day.month - 1 - count * _MONTHS_PER[unit]
    year, month = divmod(months, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def _label(day: dt.date) -> str:
    """Format(Date) in en-US: `MM/DD/YY` (the form GetDateRangeMax's pattern reads back)."""
    return day.strftime("%m/%d/%y")


def aged_report(store: Store, api: ApiModel, request: Request, side: str) -> list[Row]:
    """SetUpAgedReportAPIData: one row per customer (vendor) in `No.` order, then `Total`.

    As-of date: `$filter=agedAsOfDate eq <date>` else TODAY; period length:
    `$filter=periodLengthFilter eq '<formula>'` else `30D`. Dates: [1] = 31-12-9999,
    [2] = as-of, [3] = CalcDate(-length, [2]), [4] = CalcDate(-length, [3]), [5] = 1-1-1753.
    Open amounts by the entry's due date: currentAmount ("Before") from [2] on, period 1 from
    [3] to [2]-1, period 2 from [4] to [3]-1, period 3 before [4]; balanceDue is their sum.
    Payables keep the vendor's sign reversed (positive), and a blank vendor currency.
    """
    as_of = _equal(request.filter, "agedAsOfDate")
    as_of = as_of.date() if isinstance(as_of, dt.datetime) else as_of
    as_of = as_of if isinstance(as_of, dt.date) else request.today
    length = _equal(request.filter, "periodLengthFilter")
    length = str(length).strip("<>") if isinstance(length, str) and length else "30D"
    formula = _FORMULA.match(length.upper())
    count, unit = (int(formula.group(1)), formula.group(2)) if formula else (30, "D")
    starts = [_LAST_DAY, as_of]
    for _ in range(2):
        starts.append(calc_back(starts[-1], count, unit))
    starts.append(_FIRST_DAY)
    open_by_party: dict[str, list[int]] = {}
    for entry in ledger.entries(store, api, request.company, side):
        buckets = open_by_party.setdefault(entry.party_id, [0, 0, 0, 0])
        cents = int(entry.remaining * 100)
        due = max(entry.due_date, _FIRST_DAY)  # a blank due date (0D): 1-1-1753 in SQL (assumed)
        for index in range(4):
            if starts[index + 1] <= due < starts[index]:
                buckets[index] += cents
                break
    lcy = local_currency(store, api, request.company)
    party_set = f"{side}s"
    parties = ledger.rows(
        store, api, party_set, request.company, ["id", "number", "displayName", "currencyCode"]
    )
    labels = {
        "period1Label": f"{_label(starts[2])}-{_label(starts[1])}",
        "period2Label": f"{_label(starts[3])}-{_label(starts[2])}",
        "period3Label": f"-{_label(starts[3])}",
    }
    report: list[Row] = []
    totals = [0, 0, 0, 0]
    for party in sorted(parties, key=lambda p: str(p["number"])):
        buckets = open_by_party.get(str(party["id"]), [0, 0, 0, 0])
        totals = [a + b for a, b in zip(totals, buckets, strict=True)]
        currency = str(party["currencyCode"] or "")
        if side == "customer":
            currency = currency or lcy
        elif currency == lcy:
            currency = ""
        report.append(
            {
                f"{side}Id": party["id"],
                f"{side}Number": party["number"],
                "name": party["displayName"],
                "currencyCode": currency,
                **_aged_amounts(buckets),
                **labels,
                "agedAsOfDate": as_of.isoformat(),
                "periodLengthFilter": length,
            }
        )
    report.append(
        {
            f"{side}Id": EMPTY_GUID,
            f"{side}Number": "",
            "name": "Total",
            "currencyCode": "",
            **_aged_amounts(totals),
            # With no customer the Total row keeps Init's blank date and length.
            "agedAsOfDate": as_of.isoformat() if report else EMPTY_DATE,
            "periodLengthFilter": length if report else "",
        }
    )
    return report


def _aged_amounts(buckets: list[int]) -> Row:
    current, period1, period2, period3 = buckets
    return {
        "balanceDue": _cents(sum(buckets)),
        "currentAmount": _cents(current),
        "period1Amount": _cents(period1),
        "period2Amount": _cents(period2),
        "period3Amount": _cents(period3),
    }


# -- customer financial details and the two queries -------------------------------------------


def customer_financial_details(store: Store, api: ApiModel, request: Request) -> list[Row]:
    """Customer FlowFields with `Date Filter` 0D..WorkDate()-1 (OnAfterGetRecord).

    balance = Balance (LCY) (every open amount; the FlowField ignores the date filter),
    totalSalesExcludingTax = Sales (LCY) of entries posted up to yesterday, overdueAmount =
    Balance Due (LCY): open amounts of entries due up to yesterday. WorkDate() is TODAY here.
    """
    yesterday = request.today - dt.timedelta(days=1)
    sums: dict[str, list[Decimal]] = {}
    for entry in ledger.entries(store, api, request.company, "customer"):
        balance, sales, overdue = sums.setdefault(entry.party_id, [Decimal(0)] * 3)
        sums[entry.party_id] = [
            balance + entry.remaining,
            sales + (entry.net if entry.posting_date <= yesterday else 0),
            overdue + (entry.remaining if entry.due_date <= yesterday else 0),
        ]
    customers = ledger.rows(
        store, api, "customers", request.company, ["id", "number", "lastModifiedDateTime"]
    )
    return [
        {
            "id": customer["id"],
            "number": customer["number"],
            "balance": _money(sums.get(str(customer["id"]), [0, 0, 0])[0]),
            "totalSalesExcludingTax": _money(sums.get(str(customer["id"]), [0, 0, 0])[1]),
            "overdueAmount": _money(sums.get(str(customer["id"]), [0, 0, 0])[2]),
            "lastModifiedDateTime": customer["lastModifiedDateTime"],
        }
        for customer in sorted(customers, key=lambda c: str(c["number"]))
    ]


def party_totals(store: Store, api: ApiModel, request: Request, side: str) -> list[Row]:
    """CustomerSales / vendorPurchases: each party LEFT OUTER JOIN its ledger entries.

    totalSalesAmount = SUM(Sales (LCY)) of Invoice and Credit Memo entries; totalPurchaseAmount
    = SUM(Purchase (LCY)) with ReverseSign; `dateFilter` is the query's filter on Posting Date,
    sent as `$filter=dateFilter_FilterOnly ...`. Every party has a row (0 without entries).
    """
    window = date_range(request.filter, "dateFilter_FilterOnly")
    totals: dict[str, Decimal] = {}
    for entry in ledger.entries(store, api, request.company, side):
        if window is None or window[0] <= entry.posting_date <= window[1]:
            totals[entry.party_id] = totals.get(entry.party_id, Decimal(0)) + entry.net
    # The column is not a column of the query: a row shows the filter's date (the upper bound,
    # else the lower) so that the client's $filter keeps every row; null without a filter.
    shown = None
    if window is not None:
        shown = (window[1] if window[1] != _LAST_DAY else window[0]).isoformat()
    amount = "totalSalesAmount" if side == "customer" else "totalPurchaseAmount"
    parties = ledger.rows(store, api, f"{side}s", request.company, ["id", "number", "displayName"])
    return [
        {
            f"{side}Id": party["id"],
            f"{side}Number": party["number"],
            "name": party["displayName"],
            amount: _money(totals.get(str(party["id"]), Decimal(0))),
            "dateFilter_FilterOnly": shown,
        }
        for party in sorted(parties, key=lambda p: str(p["number"]))
    ]


# -- trial balance and the financial statements -----------------------------------------------


def _account_sums(
    store: Store, api: ApiModel, company: str, window: tuple[dt.date, dt.date]
) -> dict[str, tuple[int, int, int]]:
    """Per G/L account number, in cents: debit, credit within the window, balance at its end.

    The G/L Account FlowFields Debit Amount / Credit Amount (Posting Date = Date Filter) and
    Balance at Date (Posting Date = UPPERLIMIT(Date Filter)).
    """
    cents = "CAST(ROUND(CAST({} AS REAL) * 100) AS INTEGER)"
    debit, credit = cents.format('"debitAmount"'), cents.format('"creditAmount"')
    within = '"postingDate" BETWEEN ? AND ?'
    first, last = window[0].isoformat(), window[1].isoformat()
    found = store.fetch(
        f'SELECT "accountNumber", SUM(CASE WHEN {within} THEN {debit} ELSE 0 END),'
        f" SUM(CASE WHEN {within} THEN {credit} ELSE 0 END),"
        f' SUM(CASE WHEN "postingDate" <= ? THEN {debit} - {credit} ELSE 0 END)'
        f" FROM {table_name(api.route, 'generalLedgerEntries')} WHERE _company IS ?"
        ' GROUP BY "accountNumber"',
        (first, last, first, last, last, company),
    )
    return {str(number): (d or 0, c or 0, b or 0) for number, d, c, b in found}


def _accounts(store: Store, api: ApiModel, company: str) -> list[Row]:
    columns = ["id", "number", "displayName", "accountType", "category"]
    return sorted(ledger.rows(store, api, "accounts", company, columns), key=lambda a: a["number"])


def trial_balance(store: Store, api: ApiModel, request: Request) -> list[Row]:
    """SetUpTrialBalanceAPIData: every G/L account in `No.` order; amounts for Posting accounts.

    Date Filter: the `$filter` on dateFilter, else TODAY alone (`Format(Today)`), so by default
    totalDebit/totalCredit are today's postings and the balance is the balance at today.
    Amounts are formatted strings (TransformAmount: the absolute value); the balance goes to
    balanceAtDateDebit when >= 0, else to balanceAtDateCredit, the other side `0.00`; other
    account types leave the four blank. dateFilter = GetDateRangeMax of the filter.
    """
    window = date_range(request.filter, "dateFilter") or (request.today, request.today)
    sums = _account_sums(store, api, request.company, window)
    shown = range_max(request.filter, "dateFilter", request.today).isoformat()
    report = []
    for account in _accounts(store, api, request.company):
        row: Row = {
            "accountId": account["id"],
            "number": account["number"],
            "accountType": account["accountType"],
            "display": account["displayName"],
            "totalDebit": "",
            "totalCredit": "",
            "balanceAtDateDebit": "",
            "balanceAtDateCredit": "",
            "dateFilter": shown,
        }
        if account["accountType"] == "Posting":
            debit, credit, balance = sums.get(str(account["number"]), (0, 0, 0))
            row.update(
                totalDebit=formatted(debit),
                totalCredit=formatted(credit),
                balanceAtDateDebit=formatted(max(balance, 0)),
                balanceAtDateCredit=formatted(-balance if balance < 0 else 0),
            )
        report.append(row)
    return report


# The financial reports' row definitions (Acc. Schedule Lines) are not in the seed: each
# statement is a few detail lines, one per G/L account category, summed over its Posting
# accounts (debit minus credit). Simplified, and said so in FIDELITY.md.
_COGS = "Cost_x0020_of_x0020_Goods_x0020_Sold"
STATEMENT_LINES: dict[str, tuple[tuple[str, str], ...]] = {
    "balanceSheets": (("Assets", "Assets"), ("Liabilities", "Liabilities"), ("Equity", "Equity")),
    "incomeStatements": (("Income", "Income"), ("Cost of Goods Sold", _COGS),
                         ("Expense", "Expense")),
    "cashFlowStatements": (("Net Income", "Income"), ("Operating Activities", "Expense"),
                           ("Investing Activities", "Assets"), ("Financing Activities", "Equity")),
    "retainedEarningsStatements": (("Net Income", "Income"),
                                   ("Distributions to Shareholders", "Equity")),
}  # fmt: skip


def statement(store: Store, api: ApiModel, request: Request, set_name: str) -> list[Row]:
    """SetUpAccountScheduleBaseAPIData over the simplified lines above.

    balanceSheets (SetUpBalanceSheetAPIData, column M-BALANCE): Date Filter from `$filter`
    else TODAY; balance at the filter's end. The others (the Wrapper, column M-NETCHANG):
    Date Filter from `$filter` else 1 January of this year..TODAY; net change within it.
    dateFilter on each row: the filter's date for a balance sheet, GetDateRangeMax otherwise
    (both TODAY without a filter).
    """
    default_start = request.today.replace(month=1, day=1)
    if set_name == "balanceSheets":
        default_start = request.today
    window = date_range(request.filter, "dateFilter") or (default_start, request.today)
    sums = _account_sums(store, api, request.company, window)
    by_category: dict[str, int] = {}
    for account in _accounts(store, api, request.company):
        if account["accountType"] == "Posting":
            debit, credit, balance = sums.get(str(account["number"]), (0, 0, 0))
            amount = balance if set_name == "balanceSheets" else debit - credit
            key = str(account["category"])
            by_category[key] = by_category.get(key, 0) + amount
    shown = range_max(request.filter, "dateFilter", request.today).isoformat()
    amount_field = "balance" if set_name == "balanceSheets" else "netChange"
    return [
        {
            "id": str(uuid.uuid5(_STATEMENT_IDS, f"{request.company}/{set_name}/{index}")),
            "lineNumber": (index + 1) * 10000,
            "display": label,
            amount_field: _cents(by_category.get(category, 0)),
            "lineType": "detail",
            "indentation": 1,
            "dateFilter": shown,
        }
        for index, (label, category) in enumerate(STATEMENT_LINES[set_name])
    ]


BUILDERS: dict[str, Callable[[Store, ApiModel, Request], list[Row]]] = {
    "agedAccountsReceivables": partial(aged_report, side="customer"),
    "agedAccountsPayables": partial(aged_report, side="vendor"),
    "customerFinancialDetails": customer_financial_details,
    "customerSales": partial(party_totals, side="customer"),
    "vendorPurchases": partial(party_totals, side="vendor"),
    "trialBalances": trial_balance,
    **{name: partial(statement, set_name=name) for name in STATEMENT_LINES},
}
