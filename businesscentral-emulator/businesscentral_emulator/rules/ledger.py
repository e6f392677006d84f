"""Customer and vendor ledger entries, derived from the posted documents the emulator keeps.

BC's reports read `Cust. Ledger Entry` / `Vendor Ledger Entry` and their detailed entries; API
v2.0 has no set for either, and the emulator stores none. Posting a document is what writes them
in BC (one entry per posted invoice or credit memo), so the emulator derives one entry per posted
document, on every read, and a newly posted invoice changes every report built from them.

Simplified, and said so in FIDELITY.md: no payment entries (payment journals are not posted
here), so a document's remaining amount stands for the sum of its detailed entries; a document
counts as posted when its status is one a posted document has (`Open`, `Paid`, `Canceled`,
`Corrective`); the remaining amount is `remainingAmount` where the set has it (salesInvoices),
else the amount including tax while the document is `Open`; the LCY amount uses the currency's
exchange rate at the posting date (the currencyExchangeRates row with the latest starting date on
or before it; without one, the amount as it is).
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from businesscentral_emulator.rules.currency import local_currency
from businesscentral_emulator.store.sqlite import quote, table_name

if TYPE_CHECKING:
    from businesscentral_emulator.odata.edmx import ApiModel
    from businesscentral_emulator.store.sqlite import Store

CENT = Decimal("0.01")
POSTED_STATUSES = ("Open", "Paid", "Canceled", "Corrective")
# Document set -> sign of its entry for the party (+1: the party owes more / bought more).
CUSTOMER_DOCUMENTS = {"salesInvoices": 1, "salesCreditMemos": -1}
VENDOR_DOCUMENTS = {"purchaseInvoices": 1, "purchaseCreditMemos": -1}


@dataclass(frozen=True)
class Entry:
    """One ledger entry, signed from the party's side: an invoice is positive.

    `net` is the amount excluding tax (a customer entry's `Sales (LCY)`, a vendor entry's
    `Purchase (LCY)` with its sign reversed); `remaining` is the open amount including tax
    (a customer's detailed `Amount (LCY)`, a vendor's with its sign reversed); both in LCY.
    """

    party_id: str
    posting_date: dt.date
    due_date: dt.date
    net: Decimal
    remaining: Decimal


def rows(store: Store, api: ApiModel, set_name: str, company: str, columns: list[str]) -> list[Any]:
    """The named columns of a company's rows of a set, as dicts, in insertion order."""
    props = api.entity_sets[set_name].entity_type.properties
    present = [c for c in columns if c in props]
    raw = store.fetch(
        f"SELECT {', '.join(quote(c) for c in present)} FROM {table_name(api.route, set_name)}"
        " WHERE _company IS ? ORDER BY _rowid",
        (company,),
    )
    return [dict(zip(present, r, strict=True)) for r in raw]


class _Rates:
    """Exchange rates per currency, by starting date: `LCY = amount * relational / amount`."""

    def __init__(self, store: Store, api: ApiModel, company: str) -> None:
        self.by_code: dict[str, tuple[list[str], list[Decimal]]] = {}
        columns = ["currencyCode", "startingDate", "exchangeRateAmount"]
        columns.append("relationalExchangeRateAmount")
        found = rows(store, api, "currencyExchangeRates", company, columns)
        for row in sorted(found, key=lambda r: (r["currencyCode"], r["startingDate"])):
            amount = Decimal(str(row["exchangeRateAmount"] or "0"))
            if not amount:
                continue
            dates, factors = self.by_code.setdefault(str(row["currencyCode"]), ([], []))
            dates.append(str(row["startingDate"]))
            factors.append(Decimal(str(row["relationalExchangeRateAmount"] or "0")) / amount)

    def to_lcy(self, amount: Decimal, currency: str, posting_date: str) -> Decimal:
        known = self.by_code.get(currency)
        if not known:
            return amount
        dates, factors = known
        index = bisect.bisect_right(dates, posting_date) - 1
        if index < 0:
            return amount
        return (amount * factors[index]).quantize(CENT, rounding=ROUND_HALF_UP)


def _day(text: Any) -> dt.date:  # noqa: ANN401 - a stored date
    try:
        return dt.date.fromisoformat(str(text))
    except ValueError:
        return dt.date.min


def entries(store: Store, api: ApiModel, company: str, side: str) -> list[Entry]:
    """The ledger entries of every customer (`side` "customer") or vendor ("vendor")."""
    documents = CUSTOMER_DOCUMENTS if side == "customer" else VENDOR_DOCUMENTS
    lcy = local_currency(store, api, company)
    rates = _Rates(store, api, company)
    party = f"{side}Id"
    found: list[Entry] = []
    for set_name, sign in documents.items():
        if set_name not in api.entity_sets:
            continue
        has_remaining = "remainingAmount" in api.entity_sets[set_name].entity_type.properties
        columns = [party, "status", "postingDate", "dueDate", "currencyCode"]
        columns += ["totalAmountExcludingTax", "totalAmountIncludingTax", "remainingAmount"]
        for row in rows(store, api, set_name, company, columns):
            if row["status"] not in POSTED_STATUSES:
                continue
            if has_remaining:
                remaining = Decimal(str(row["remainingAmount"] or "0"))
            elif row["status"] == "Open":
                remaining = Decimal(str(row["totalAmountIncludingTax"] or "0"))
            else:
                remaining = Decimal(0)
            currency = str(row["currencyCode"] or "")
            posting = str(row["postingDate"] or "")

            net = Decimal(str(row["totalAmountExcludingTax"] or "0"))
            if currency not in {"", lcy}:
                net = rates.to_lcy(net, currency, posting)
                remaining = rates.to_lcy(remaining, currency, posting)
            found.append(
                Entry(
                    party_id=str(row[party]),
                    posting_date=_day(posting),
                    due_date=_day(row["dueDate"]),
                    net=sign * net,
                    remaining=sign * remaining,
                )
            )
    return found
