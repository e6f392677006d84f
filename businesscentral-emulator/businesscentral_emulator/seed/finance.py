"""Seed generators for finance: chart of accounts, the general ledger, journals, payments, setup.

The GL generator is the volume path (a million entries at scale 100), so it works in integer
cents, formats each transaction's shared texts once, and draws one GUID per entry. Entries come as
whole balanced transactions of 2-3 entries sharing document number and change time, in time
order, after a migrated opening batch whose change time is empty.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from businesscentral_emulator.odata.values import EMPTY_DATETIME, EMPTY_GUID, format_decimal
from businesscentral_emulator.seed import data
from businesscentral_emulator.seed.common import (
    DAY_MS,
    SPAN_MS,
    CompanyContext,
    Row,
    cents_text,
    chance,
    date_of_ms,
    format_ms,
    new_guid,
)
from businesscentral_emulator.seed.master import by_code

if TYPE_CHECKING:
    from collections.abc import Iterator

# GL transaction mix (cumulative shares of a uniform draw); the rest are general journal postings.
_GL_SALES, _GL_PURCHASES, _GL_RECEIPTS, _GL_DISBURSEMENTS, _GL_CREDIT_MEMOS = (
    0.35, 0.55, 0.75, 0.88, 0.92,
)  # fmt: skip
_GL_PRODUCT_SHARE = 0.8  # sales to product income (the rest: services)
_GL_STOCK_SHARE = 0.6  # purchases to inventory (the rest: expenses)
_ILE_SALE, _ILE_PURCHASE = 0.45, 0.9  # item ledger mix: sales, purchases, then adjustments
_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def prepare_accounts(ctx: CompanyContext) -> None:
    """Build the chart of accounts now (documents refer to it); it is stored after the ledger."""
    rng = ctx.rng("accounts")
    clock = ctx.clock("accounts")
    no_direct = {data.ACCOUNT_ROLES["receivables"], data.ACCOUNT_ROLES["payables"]}
    ctx.refs["accounts"] = [
        {
            "id": new_guid(rng),
            "number": number,
            "displayName": name,
            "category": category,
            "subCategory": sub,
            "blocked": 0,
            "accountType": kind,
            "directPosting": 1 if kind == "Posting" and number not in no_direct else 0,
            "consolidationTranslationMethod": "Average Rate (Manual)",
            "consolidationDebitAccount": number if kind == "Posting" else "",
            "consolidationCreditAccount": number if kind == "Posting" else "",
            "excludeFromConsolidation": 0,
            "lastModifiedDateTime": clock.next(),
        }
        for number, name, category, sub, kind in data.ACCOUNTS
    ]


def ledger(ctx: CompanyContext) -> None:
    """GL entries, then accounts with their net change (reports: built on read, rules.reports)."""
    accounts = by_code(ctx.ref("accounts"), "number")
    net: dict[str, int] = dict.fromkeys(accounts, 0)
    debit_total: dict[str, int] = dict.fromkeys(accounts, 0)
    credit_total: dict[str, int] = dict.fromkeys(accounts, 0)
    if ctx.has("generalLedgerEntries", "entryNumber"):
        ctx.insert("generalLedgerEntries", _gl_entries(ctx, accounts, debit_total, credit_total))
    for number in accounts:
        net[number] = debit_total[number] - credit_total[number]
    for number, row in accounts.items():
        row["netChange"] = cents_text(net[number])
    ctx.insert("accounts", ctx.ref("accounts"))


def _gl_entries(  # noqa: C901, PLR0915 - one lean loop on purpose: it runs a million times
    ctx: CompanyContext,
    accounts: dict[str, Row],
    debit_total: dict[str, int],
    credit_total: dict[str, int],
) -> Iterator[Row]:
    rng = ctx.rng("generalLedgerEntries")
    roles = {role: (str(accounts[n]["id"]), n) for role, n in data.ACCOUNT_ROLES.items()}
    expenses = [(str(accounts[n]["id"]), n) for n in data.EXPENSE_ACCOUNTS]
    names = {n: str(row["displayName"]) for n, row in accounts.items()}
    tax_rate = 800 if ctx.locale.sales_tax else 2000
    total = ctx.count(5000)
    opening = max(1, total // 100)
    start_ms = ctx.now_ms - SPAN_MS
    random_ = rng.random
    randrange = rng.randrange
    guid = new_guid
    entry = 0

    # Opening balances migrated from an older system: empty change time, one posting date.
    opening_date = date_of_ms(start_ms - DAY_MS)
    balancing = roles["savings"]
    for _ in range(opening):
        acc_id, acc_no = expenses[randrange(len(expenses))]
        amount = randrange(10000, 5_000_000)
        for acc, debit, credit in (((acc_id, acc_no), amount, 0), (balancing, 0, amount)):
            entry += 1
            debit_total[acc[1]] += debit
            credit_total[acc[1]] += credit
            yield {
                "id": guid(rng),
                "entryNumber": entry,
                "postingDate": opening_date,
                "documentNumber": "OPENING",
                "documentType": "_x0020_",
                "accountId": acc[0],
                "accountNumber": acc[1],
                "description": "Opening Entry",
                "debitAmount": cents_text(debit),
                "creditAmount": cents_text(credit),
                "lastModifiedDateTime": EMPTY_DATETIME,
            }

    transactions = max(1, (total - entry) * 2 // 5)
    step = max(2, SPAN_MS // transactions)
    ms = start_ms
    counters = {"S": 0, "P": 0, "C": 0, "V": 0, "R": 0, "G": 0}
    while entry < total:
        ms = min(ctx.now_ms - 1, ms + randrange(1, 2 * step))
        amount = randrange(1000, 2_000_000)
        roll = random_()
        if roll < _GL_SALES:
            counters["S"] += 1
            doc, dtype, text = f"S-INV{103000 + counters['S']}", "Invoice", "Invoice"
            tax = amount * tax_rate // 10000
            income = roles["sales"] if random_() < _GL_PRODUCT_SHARE else roles["services"]
            lines = [(roles["receivables"], amount + tax, 0), (income, 0, amount)]
            if tax:
                lines.append((roles["tax"], 0, tax))
        elif roll < _GL_PURCHASES:
            counters["P"] += 1
            doc, dtype, text = f"P-INV{108000 + counters['P']}", "Invoice", "Order"
            target = (
                roles["inventory"]
                if random_() < _GL_STOCK_SHARE
                else expenses[randrange(len(expenses))]
            )
            lines = [(target, amount, 0), (roles["payables"], 0, amount)]
        elif roll < _GL_RECEIPTS:
            counters["C"] += 1
            doc, dtype, text = f"PMT{100000 + counters['C']}", "Payment", "Payment received"
            lines = [(roles["bank"], amount, 0), (roles["receivables"], 0, amount)]
        elif roll < _GL_DISBURSEMENTS:
            counters["V"] += 1
            doc, dtype, text = f"VPMT{100000 + counters['V']}", "Payment", "Payment sent"
            lines = [(roles["payables"], amount, 0), (roles["bank"], 0, amount)]
        elif roll < _GL_CREDIT_MEMOS:
            counters["R"] += 1
            doc, dtype, text = f"S-CR{104000 + counters['R']}", "Credit_x0020_Memo", "Credit Memo"
            tax = amount * tax_rate // 10000
            lines = [(roles["returns"], amount, 0), (roles["receivables"], 0, amount + tax)]
            if tax:
                lines.append((roles["tax"], tax, 0))
        else:
            counters["G"] += 1
            target = expenses[randrange(len(expenses))]
            doc, dtype, text = f"G{10000 + counters['G']:05d}", "_x0020_", names[target[1]]
            lines = [(target, amount, 0), (roles["bank"], 0, amount)]
        stamp = format_ms(ms)
        posting = date_of_ms(ms - randrange(0, 3) * DAY_MS)
        description = f"{text} {doc}" if dtype != "_x0020_" else text
        for (acc_id, acc_no), debit, credit in lines:
            entry += 1
            debit_total[acc_no] += debit
            credit_total[acc_no] += credit
            yield {
                "id": guid(rng),
                "entryNumber": entry,
                "postingDate": posting,
                "documentNumber": doc,
                "documentType": dtype,
                "accountId": acc_id,
                "accountNumber": acc_no,
                "description": description,
                "debitAmount": cents_text(debit),
                "creditAmount": cents_text(credit),
                "lastModifiedDateTime": stamp,
            }


def journals(ctx: CompanyContext) -> None:
    """General journals and their lines (expense account against the bank), some dimensioned."""
    rng = ctx.rng("journals")
    clock = ctx.clock("journals")
    accounts = by_code(ctx.ref("accounts"), "number")
    bank = accounts.get(data.ACCOUNT_ROLES["bank"])
    ctx.insert(
        "journals",
        (
            {
                "id": new_guid(rng),
                "code": code,
                "displayName": name,
                "templateDisplayName": template[:10],
                "lastModifiedDateTime": clock.next(),
                "balancingAccountId": bank["id"] if bank and code == "CASH" else EMPTY_GUID,
                "balancingAccountNumber": bank["number"] if bank and code == "CASH" else "",
            }
            for code, name, template in data.JOURNALS
        ),
        remember=True,
    )
    books = ctx.ref("journals")
    expenses = [accounts[n] for n in data.EXPENSE_ACCOUNTS if n in accounts]
    if not books or not expenses:
        return
    line_rng = ctx.rng("journalLines")
    line_clock = ctx.clock("journalLines")
    links = ctx.refs.setdefault("_dimension_links", [])
    departments = [v for v in ctx.ref("dimensionValues") if v["_dimension"] == "DEPARTMENT"]

    def rows() -> Iterator[Row]:
        numbers: dict[str, int] = {}
        for index in range(ctx.count(100)):
            book = books[line_rng.randrange(len(books))]
            numbers[book["id"]] = numbers.get(book["id"], 0) + 10000
            account = line_rng.choice(expenses)
            amount = line_rng.randrange(1000, 500000)
            row = {
                "id": new_guid(line_rng),
                "journalId": book["id"],
                "journalDisplayName": book["code"],
                "lineNumber": numbers[book["id"]],
                "accountType": "G_x002F_L_x0020_Account",
                "accountId": account["id"],
                "accountNumber": account["number"],
                "postingDate": date_of_ms(ctx.now_ms - line_rng.randrange(0, 60) * DAY_MS),
                "documentNumber": f"G{20000 + index:05d}",
                "externalDocumentNumber": "",
                "amount": cents_text(amount if chance(line_rng, 0.9) else -amount),
                "description": account["displayName"],
                "comment": "",
                "balanceAccountType": "G_x002F_L_x0020_Account",
                "balancingAccountId": bank["id"] if bank else EMPTY_GUID,
                "balancingAccountNumber": bank["number"] if bank else "",
                "lastModifiedDateTime": line_clock.next(),
            }
            if departments and chance(line_rng, 0.2):
                links.append({"parentId": row["id"], "parentType": "Journal_x0020_Line",
                              "_value": line_rng.choice(departments)})  # fmt: skip
            yield row

    ctx.insert("journalLines", rows())


def payments(ctx: CompanyContext) -> None:
    """Customer and vendor payment journals with payments applied to real open invoices."""
    accounts = by_code(ctx.ref("accounts"), "number")
    bank = accounts.get(data.ACCOUNT_ROLES["bank"])
    for side, party_set, invoice_set, base in (
        ("customer", "customers", "salesInvoices", 50),
        ("vendor", "vendors", "purchaseInvoices", 30),
    ):
        journal_set, payment_set = f"{side}PaymentJournals", f"{side}Payments"
        rng = ctx.rng(journal_set)
        clock = ctx.clock(journal_set)
        ctx.insert(
            journal_set,
            (
                {
                    "id": new_guid(rng),
                    "code": code,
                    "displayName": name,
                    "balancingAccountId": bank["id"] if bank else EMPTY_GUID,
                    "balancingAccountNumber": bank["number"] if bank else "",
                    "lastModifiedDateTime": clock.next(),
                }
                for code, name in (("GENERAL", "General payments"), ("BANK", "Bank payments"))
            ),
            remember=True,
        )
        books = ctx.ref(journal_set)
        invoices = [i for i in ctx.ref(invoice_set) if i["status"] == "Open"]
        if not books or not ctx.ref(party_set):
            continue
        ctx.insert(payment_set, _payment_rows(ctx, side, books, invoices, base))


def _payment_rows(
    ctx: CompanyContext,
    side: str,
    books: list[Row],
    invoices: list[Row],
    base: int,
) -> Iterator[Row]:
    parties = ctx.ref(f"{side}s")
    names = {p["id"]: p["displayName"] for p in parties}
    rng = ctx.rng(f"{side}Payments")
    clock = ctx.clock(f"{side}Payments")
    sign = -1 if side == "customer" else 1
    line_numbers: dict[str, int] = {}
    for index in range(ctx.count(base)):
        book = books[index % len(books)]
        line_numbers[book["id"]] = line_numbers.get(book["id"], 0) + 10000
        invoice = invoices[index] if index < len(invoices) else None
        if invoice is not None:
            party_id, party_number = invoice["partyId"], invoice["partyNumber"]
            amount = int(invoice["_total"])
            party_name = names.get(party_id, "")
        else:
            party = rng.choice(parties)
            party_id, party_number = party["id"], party["number"]
            party_name, amount = party["displayName"], rng.randrange(1000, 1_000_000)
        yield {
            "id": new_guid(rng),
            "journalId": book["id"],
            "journalDisplayName": book["code"],
            "lineNumber": line_numbers[book["id"]],
            f"{side}Id": party_id,
            f"{side}Number": party_number,
            "postingDate": date_of_ms(ctx.now_ms - rng.randrange(0, 30) * DAY_MS),
            "documentNumber": f"{'C' if sign < 0 else 'V'}PMT{1000 + index}",
            "externalDocumentNumber": "",
            "amount": cents_text(sign * amount),
            "appliesToInvoiceId": invoice["id"] if invoice else EMPTY_GUID,
            "appliesToInvoiceNumber": invoice["number"] if invoice else "",
            "description": f"Payment {party_name}"[:100],
            "comment": "",
            "lastModifiedDateTime": clock.next(),
        }


def bank_accounts(ctx: CompanyContext) -> None:
    """The company's bank accounts."""
    rng = ctx.rng("bankAccounts")
    clock = ctx.clock("bankAccounts")
    ctx.insert(
        "bankAccounts",
        (
            {
                "id": new_guid(rng),
                "number": code,
                "displayName": name,
                "bankAccountNumber": f"{rng.randrange(10**9, 10**10)}",
                "blocked": 0,
                "currencyCode": "",
                "currencyId": EMPTY_GUID,
                "iban": f"{ctx.locale.country}{rng.randrange(10, 99)} WWBK "
                f"{rng.randrange(10**13, 10**14)}",
                "intercompanyEnabled": 0,
                "lastModifiedDateTime": clock.next(),
            }
            for code, name, _ in data.BANK_ACCOUNTS
        ),
        remember=True,
    )


def _month_starts(ctx: CompanyContext, months_back: int, months_ahead: int) -> list[dt.date]:
    today = dt.date.fromisoformat(date_of_ms(ctx.now_ms))
    base = today.year * 12 + today.month - 1
    return [
        dt.date(m // 12, m % 12 + 1, 1) for m in range(base - months_back, base + months_ahead + 1)
    ]


def periods_and_rates(ctx: CompanyContext) -> None:
    """Accounting periods (months, closed before this year) and monthly exchange rates."""
    rng = ctx.rng("accountingPeriods")
    clock = ctx.clock("accountingPeriods")
    this_year = dt.date.fromisoformat(date_of_ms(ctx.now_ms)).year
    starts = _month_starts(ctx, 24 + dt.date.fromisoformat(date_of_ms(ctx.now_ms)).month - 1, 12)
    ctx.insert(
        "accountingPeriods",
        (
            {
                "id": new_guid(rng),
                "startingDate": start.isoformat(),
                "name": _MONTHS[start.month - 1][:10],
                "newFiscalYear": 1 if start.month == 1 else 0,
                "closed": 1 if start.year < this_year else 0,
                "dateLocked": 1 if start.year < this_year else 0,
                "lastModifiedDateTime": clock.next(),
            }
            for start in starts
        ),
    )
    rate_rng = ctx.rng("currencyExchangeRates")
    rate_clock = ctx.clock("currencyExchangeRates")
    per_100 = {code: Decimal(rate) for code, *_, rate in data.CURRENCIES}
    local = per_100.get(ctx.locale.currency, Decimal(100))
    months = _month_starts(ctx, 23, 0)

    def rows() -> Iterator[Row]:
        for currency in ctx.ref("currencies"):
            code = str(currency["code"])
            for start in months:
                jitter = Decimal(rate_rng.randrange(9700, 10300)) / 10000
                relational = (Decimal(100) * local / per_100[code] * jitter).quantize(
                    Decimal("0.0001")
                )
                yield {
                    "id": new_guid(rate_rng),
                    "currencyCode": code,
                    "startingDate": start.isoformat(),
                    "exchangeRateAmount": "100",
                    "relationalCurrencyCode": "",
                    "relationalExchangeRateAmount": format_decimal(relational),
                    "lastModifiedDateTime": rate_clock.next(),
                }

    ctx.insert("currencyExchangeRates", rows())


def company_setup(ctx: CompanyContext) -> None:
    """General ledger setup and company information: one row each."""
    rng = ctx.rng("companySetup")
    clock = ctx.clock("companySetup")
    symbol = {"USD": "$", "GBP": "£"}.get(ctx.locale.currency, "")
    dims = [code for code, _, _ in data.DIMENSIONS] + ["", ""]
    this_year = dt.date.fromisoformat(date_of_ms(ctx.now_ms)).year
    ctx.insert(
        "generalLedgerSetup",
        [
            {
                "id": new_guid(rng),
                "allowPostingFrom": f"{this_year - 1}-01-01",
                "allowPostingTo": f"{this_year}-12-31",
                "additionalReportingCurrency": "EUR" if ctx.locale.sales_tax else "",
                "localCurrencyCode": ctx.locale.currency,
                "localCurrencySymbol": symbol,
                "lastModifiedDateTime": clock.next(),
                "allowQueryFromConsolidation": 0,
                **{f"shortcutDimension{i + 1}Code": dims[i] for i in range(8)},
            }
        ],
    )
    city, state, postal = ctx.locale.cities[0]
    ctx.insert(
        "companyInformation",
        [
            {
                "id": new_guid(rng),
                "displayName": ctx.company_name,
                "addressLine1": "7122 South Ashford Street",
                "addressLine2": "Westminster",
                "city": city,
                "state": state,
                "country": ctx.locale.country,
                "postalCode": postal,
                "phoneNumber": f"{ctx.locale.phone_prefix}555 0100",
                "faxNumber": f"{ctx.locale.phone_prefix}555 0101",
                "email": "info@cronus-company.com",
                "website": "www.cronus-company.com",
                "taxRegistrationNumber": str(rng.randrange(10**8, 10**9)),
                "currencyCode": ctx.locale.currency,
                # APIV2 - Company Information: the LAST accounting period with New Fiscal Year
                "currentFiscalYearStartDate": max(
                    s for s in _month_starts(ctx, 0, 12) if s.month == 1
                ).isoformat(),
                "industry": "Furniture",
                "experience": "Essential",
                "lastModifiedDateTime": clock.next(),
            }
        ],
    )


def item_ledger(ctx: CompanyContext) -> None:
    """Item ledger entries: purchases in, sales out, adjustments, in time order."""
    rng = ctx.rng("itemLedgerEntries")
    stock = [i for i in ctx.ref("items") if i["type"] == "Inventory"]
    customers, vendors = ctx.ref("customers"), ctx.ref("vendors")
    if not stock:
        return
    total = ctx.count(600)
    step = max(2, SPAN_MS // total)

    def rows() -> Iterator[Row]:
        ms = ctx.now_ms - SPAN_MS
        for entry in range(1, total + 1):
            if not chance(rng, 0.2):  # a fifth of entries share the previous batch time
                ms = min(ctx.now_ms - 1, ms + rng.randrange(1, 2 * step))
            item = stock[rng.randrange(len(stock))]
            qty = rng.randrange(1, 25)
            roll = rng.random()
            if roll < _ILE_SALE and customers:
                party = rng.choice(customers)
                kind, source, doc_type = "Sale", "Customer", "Sales_x0020_Shipment"
                doc, qty_signed = f"S-SHPT{102000 + entry}", -qty
                sales, cost = qty * int(item["_price"]), -qty * int(item["_cost"])
            elif roll < _ILE_PURCHASE and vendors:
                party = rng.choice(vendors)
                kind, source, doc_type = "Purchase", "Vendor", "Purchase_x0020_Receipt"
                doc, qty_signed = f"P-RCPT{107000 + entry}", qty
                sales, cost = 0, qty * int(item["_cost"])
            else:
                party = None
                positive = chance(rng, 0.5)
                kind = "Positive_x0020_Adjmt_x002E_" if positive else "Negative_x0020_Adjmt_x002E_"
                source, doc_type, doc = "_x0020_", "_x0020_", f"ADJ{1000 + entry}"
                qty_signed = qty if positive else -qty
                sales, cost = 0, qty_signed * int(item["_cost"])
            yield {
                "id": new_guid(rng),
                "entryNumber": entry,
                "itemNumber": item["number"],
                "postingDate": date_of_ms(ms),
                "entryType": kind,
                "sourceNumber": party["number"] if party else "",
                "sourceType": source,
                "documentNumber": doc,
                "documentType": doc_type,
                "description": item["displayName"],
                "quantity": str(qty_signed),
                "salesAmountActual": cents_text(sales),
                "costAmountActual": cents_text(cost),
                "lastModifiedDateTime": format_ms(ms),
            }

    ctx.insert("itemLedgerEntries", rows())
