"""Customer and vendor payments: what their pages check and derive, and what posting them does.

Sources (StefanMaron/MSDyn365BC.Code.History, APIV2/Source/_Exclude_APIV2_/src/pages/):
- CUST-PAYMENTS: APIV2CustomerPayments.Page.al @6098c9c06c18a3edf801d76b1d2247c6502dfdd4;
- VEND-PAYMENTS: APIV2VendorPayments.Page.al @05d57db6d43e38869cac1b56c2346aba8a889eec;
- JOURNALS: APIV2Journals.Page.al @06a21a8cf7913c4dbe7ee72ea383ad4f26c84c29 (OnFindRecord: an
  id filter finds ANY Gen. Journal Batch by SystemId, so `journals(<payment journal id>)` names a
  customer or vendor payment journal too; post: `There is nothing to post.` without lines, then
  Gen. Jnl.-Post of all the batch's lines);
- Graph Mgt - Journal Lines.SetPaymentsValues (index id 136665932): on insert the Account No. is
  validated (Gen. Journal Line GetCustomerAccount: `Description := Cust.Name`, index id
  1110497152), then a sent non-blank description wins; Line No. from InitializeLine.

The page rules, in page order: customerId must name a customer (`The "customerId" does not
match to a Customer.`), customerNumber too (`The "customerNumber" ...`), both disagreeing → `The
customer values do not match to a specific Customer.`; appliesToInvoiceId must name a POSTED
invoice (Sales Invoice Aggregator GetSalesInvoiceHeaderFromId: the draft's id kept by the posted
invoice) → its number; with no customer yet, the invoice's bill-to (else sell-to) customer;
appliesToInvoiceNumber after an id must be that invoice's number (`The Applies To Invoice values
do not match to the same Invoice.`); a number alone is looked up among posted invoices, a number
that matches none leaves the id blank (no error). Vendors alike (pay-to, else buy-from vendor).

Posting, simplified: each line writes two GL entries (the balancing account of the line's
journal, else the bank, against receivables or payables) and, when it applies to an invoice,
lowers that invoice's remaining amount by the payment (sign ignored, capped at what remains);
a sales invoice whose remaining amount reaches 0 is `Paid` (its customer ledger entry closed).
Purchase invoices show no remaining amount in v2.0, so a vendor payment of at least the invoice
total makes it `Paid` and a smaller one changes nothing visible. No application entries, no
detailed ledger entries, no payment tolerance or discounts; the lines leave the journal.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from businesscentral_emulator.odata.values import format_decimal
from businesscentral_emulator.rules import documents as docs
from businesscentral_emulator.rules.references import find_row
from businesscentral_emulator.rules.validation import EMPTY_GUID, dialog
from businesscentral_emulator.store.sqlite import quote, table_name

if TYPE_CHECKING:
    from businesscentral_emulator.odata.edmx import ApiModel
    from businesscentral_emulator.odata.paths import Target
    from businesscentral_emulator.store.sqlite import Store

NO_JOURNAL = "You must specify a journal batch ID or a journal ID to get a journal line."
JOURNAL_MISMATCH = "The Journal Id and Journal Display Name do not match."
APPLIES_TO_MISMATCH = "The Applies To Invoice values do not match to the same Invoice."
NOT_AN_INVOICE = (
    'The "appliesToInvoiceId" should be the ID of an Open, Paid, Corrective, or Canceled Invoice.'
)


@dataclass(frozen=True)
class PaymentKind:
    """One payment set: its party, the invoices it pays, and its journal set."""

    party: str  # "customer" or "vendor"
    invoices: str
    journals: str
    bill_to: str  # the invoice field naming the party that pays or is paid
    ledger_account: str  # the GL account the payment clears

    @property
    def parties(self) -> str:
        """The party's entity set."""
        return f"{self.party}s"


PAYMENTS = {
    "customerPayments": PaymentKind(
        "customer",
        "salesInvoices",
        "customerPaymentJournals",
        "billToCustomerNumber",
        "Accounts Receivable",
    ),
    "vendorPayments": PaymentKind(
        "vendor",
        "purchaseInvoices",
        "vendorPaymentJournals",
        "payToVendorNumber",
        "Accounts Payable",
    ),
}


def check_journal_link(target: Target, values: dict[str, Any]) -> None:
    """A payment POSTed under its journal may not name another journal in its body.

    CUST-PAYMENTS / VEND-PAYMENTS OnInsertRecord: a body "Journal Batch Id" that differs from
    the journal filter of the URL → JournalBatchIdNameNotMatchErr.

    Raises:
        BusinessCentralError: `The Journal Id and Journal Display Name do not match.`
    """
    sent = values.get("journalId")
    parent = target.parent
    if target.entity_set.name not in PAYMENTS or parent is None or not parent.key:
        return
    if sent in (None, "", EMPTY_GUID) or str(sent).lower() == parent.key.lower():
        return
    raise dialog(JOURNAL_MISMATCH)


def _given(row: dict[str, Any], name: str, changed: set[str]) -> bool:
    return name in changed and row.get(name) not in (None, "", EMPTY_GUID)


def _posted_invoice(
    store: Store, api: ApiModel, kind: PaymentKind, company: str | None, by: tuple[str, Any]
) -> dict[str, Any] | None:
    invoice = find_row(store, api, kind.invoices, company, by)
    if invoice is None or not docs.is_posted(kind.invoices, invoice):
        return None  # drafts are not in Sales Invoice Header / Purch. Inv. Header
    return invoice


def derive_payment(  # noqa: PLR0913, PLR0917
    store: Store,
    api: ApiModel,
    set_name: str,
    company: str | None,
    row: dict[str, Any],
    changed: set[str],
    *,
    insert: bool,
) -> None:
    """Check a payment's party and invoice and fill what the page derives into `row`.

    Raises:
        BusinessCentralError: No journal, an unknown party or invoice, or values that disagree.
    """
    kind = PAYMENTS.get(set_name)
    if kind is None:
        return
    if insert and row.get("journalId") in (None, "", EMPTY_GUID):
        raise dialog(NO_JOURNAL)
    party = _party(store, api, kind, company, row, changed)
    _applies_to(store, api, kind, company, row, changed)
    if insert:
        _fill_journal_fields(store, api, set_name, kind, row)
        if not row.get("description"):
            party = party or _party_by_number(store, api, kind, company, row)
            if party is not None:
                row["description"] = party.get("displayName") or ""


def _party(  # noqa: PLR0913, PLR0917
    store: Store,
    api: ApiModel,
    kind: PaymentKind,
    company: str | None,
    row: dict[str, Any],
    changed: set[str],
) -> dict[str, Any] | None:
    """The customerId / customerNumber checks (vendor alike), in page order."""
    id_field, number_field = f"{kind.party}Id", f"{kind.party}Number"
    found: dict[str, Any] | None = None
    sent_number = row.get(number_field)
    if id_field in changed:
        if row.get(id_field) in (None, "", EMPTY_GUID):
            row[number_field] = ""
        else:
            found = find_row(store, api, kind.parties, company, ("id", row[id_field]))
            if found is None:
                message = f'The "{id_field}" does not match to a {kind.party.capitalize()}.'
                raise dialog(message)
            row[number_field] = found["number"]
    if number_field in changed and row.get(number_field) not in (None, ""):
        if found is not None:
            if found["number"] != sent_number:
                message = (
                    f"The {kind.party} values do not match to a specific {kind.party.capitalize()}."
                )
                raise dialog(message)
            return found
        found = find_row(store, api, kind.parties, company, ("number", row[number_field]))
        if found is None:
            message = f'The "{number_field}" does not match to a {kind.party.capitalize()}.'
            raise dialog(message)
        row[id_field] = found["id"]
    elif number_field in changed and found is None:
        row[id_field] = EMPTY_GUID
    return found


def _party_by_number(
    store: Store, api: ApiModel, kind: PaymentKind, company: str | None, row: dict[str, Any]
) -> dict[str, Any] | None:
    number = row.get(f"{kind.party}Number")
    if not number:
        return None
    return find_row(store, api, kind.parties, company, ("number", number))


def _take_party_from(
    store: Store, api: ApiModel, kind: PaymentKind, row: dict[str, Any], invoice: dict[str, Any]
) -> None:
    """With no party yet, the invoice's bill-to (pay-to) party, else its sell-to (buy-from)."""
    number_field = f"{kind.party}Number"
    if row.get(number_field):
        return
    number = invoice.get(kind.bill_to) or invoice.get(f"{kind.party}Number") or ""
    row[number_field] = number
    party = find_row(store, api, kind.parties, invoice.get("_company"), ("number", number))
    row[f"{kind.party}Id"] = party["id"] if party else EMPTY_GUID


def _applies_to(  # noqa: PLR0913, PLR0917
    store: Store,
    api: ApiModel,
    kind: PaymentKind,
    company: str | None,
    row: dict[str, Any],
    changed: set[str],
) -> None:
    """The page's appliesToInvoiceId, then appliesToInvoiceNumber OnValidate triggers."""
    invoice: dict[str, Any] | None = None
    if "appliesToInvoiceId" in changed:
        if row.get("appliesToInvoiceId") in (None, "", EMPTY_GUID):
            row["appliesToInvoiceId"] = EMPTY_GUID
            if "appliesToInvoiceNumber" not in changed:
                row["appliesToInvoiceNumber"] = ""
        else:
            invoice = _posted_invoice(store, api, kind, company, ("id", row["appliesToInvoiceId"]))
            if invoice is None:
                raise dialog(NOT_AN_INVOICE)
            row["appliesToInvoiceId"] = invoice["id"]
            if "appliesToInvoiceNumber" not in changed:
                row["appliesToInvoiceNumber"] = invoice["number"]
            _take_party_from(store, api, kind, row, {**invoice, "_company": company})
    if "appliesToInvoiceNumber" not in changed:
        return
    number = str(row.get("appliesToInvoiceNumber") or "")
    if invoice is not None:
        if invoice["number"] != number:
            raise dialog(APPLIES_TO_MISMATCH)
        return
    found = _posted_invoice(store, api, kind, company, ("number", number)) if number else None
    if found is None:
        row["appliesToInvoiceId"] = EMPTY_GUID
        return
    row["appliesToInvoiceId"] = found["id"]
    _take_party_from(store, api, kind, row, {**found, "_company": company})


def _fill_journal_fields(
    store: Store, api: ApiModel, set_name: str, kind: PaymentKind, row: dict[str, Any]
) -> None:
    """The batch's name and the next line number (InitializeLine), when not sent."""
    journal = find_row(store, api, kind.journals, row.get("_company"), ("id", row["journalId"]))
    if journal is not None:
        row["journalDisplayName"] = journal.get("code") or ""
    if row.get("lineNumber") in (None, 0):
        row["lineNumber"] = docs.next_sequence(
            store, api, set_name, "journalId", str(row["journalId"]), "lineNumber"
        )


# -- posting -----------------------------------------------------------------------------------


def payment_batch(store: Store, target: Target) -> tuple[str, dict[str, Any]] | None:
    """The customer or vendor payment journal `journals(<id>)` names, if it is one."""
    api = target.api
    for set_name, kind in PAYMENTS.items():
        if kind.journals not in api.entity_sets or set_name not in api.entity_sets:
            continue
        journal = find_row(store, api, kind.journals, target.company, ("id", target.key or ""))
        if journal is not None:
            return set_name, {**journal, "_company": target.company}
    return None


def post_payments(store: Store, api: ApiModel, set_name: str, journal: dict[str, Any]) -> None:
    """Gen. Jnl.-Post of a payment journal's lines (simplified, see the module docstring).

    Raises:
        BusinessCentralError: The journal has no lines (`There is nothing to post.`).
    """
    kind = PAYMENTS[set_name]
    company = journal["_company"]
    names = list(api.entity_sets[set_name].entity_type.properties)
    table = table_name(api.route, set_name)
    where, params = '_company IS ? AND "journalId" = ?', [company, journal["id"]]
    raw = store.fetch(
        f"SELECT {', '.join(quote(n) for n in names)} FROM {table} WHERE {where}"
        ' ORDER BY "lineNumber"',
        params,
    )
    if not raw:
        raise docs.nothing_to_post()
    bank = docs.account(store, api, company, ("Checking account", "Assets"))
    ledger = docs.account(store, api, company, (kind.ledger_account,))
    balancing = journal.get("balancingAccountId")
    if balancing and balancing != EMPTY_GUID:
        bank = (str(balancing), str(journal.get("balancingAccountNumber") or ""))
    for line in (dict(zip(names, r, strict=True)) for r in raw):
        amount = docs.money(line.get("amount"))
        posting_date = str(line.get("postingDate") or "")
        if posting_date in {"", "0001-01-01"}:
            posting_date = docs.now_stored()[:10]
        text = str(line.get("description") or "")
        # A customer payment credits receivables (its amount is negative in BC); a vendor
        # payment debits payables. The balancing account takes the other side.
        docs.write_gl_entries(
            store,
            api,
            company,
            [docs.GlEntry(ledger, amount, text), docs.GlEntry(bank, -amount, text)],
            document_number=str(line.get("documentNumber") or ""),
            document_type="Payment",
            posting_date=posting_date,
        )
        _apply(store, api, kind, company, line, abs(amount))
    store.connection().execute(f"DELETE FROM {table} WHERE {where}", params)


def _apply(  # noqa: PLR0913, PLR0917
    store: Store,
    api: ApiModel,
    kind: PaymentKind,
    company: str | None,
    line: dict[str, Any],
    paid: Decimal,
) -> None:
    """Close (part of) the invoice the payment applies to."""
    invoice = None
    if line.get("appliesToInvoiceId") not in (None, "", EMPTY_GUID):
        invoice = _posted_invoice(store, api, kind, company, ("id", line["appliesToInvoiceId"]))
    if invoice is None and line.get("appliesToInvoiceNumber"):
        invoice = _posted_invoice(
            store, api, kind, company, ("number", line["appliesToInvoiceNumber"])
        )
    if invoice is None or invoice.get("status") != "Open":
        return
    total = docs.money(invoice.get("totalAmountIncludingTax"))
    changes: dict[str, Any] = {}
    if "remainingAmount" in invoice:
        remaining = max(docs.money(invoice.get("remainingAmount")) - paid, Decimal(0))
        changes["remainingAmount"] = format_decimal(remaining)
        if remaining == 0:
            changes["status"] = "Paid"
    elif paid >= total:
        changes["status"] = "Paid"
    if not changes:
        return
    changes["lastModifiedDateTime"] = docs.now_stored()
    assignments = ", ".join(f"{quote(name)} = ?" for name in changes)
    store.connection().execute(
        f"UPDATE {table_name(api.route, kind.invoices)} SET _etag = ?, {assignments}"
        ' WHERE _company IS ? AND "id" = ?',
        [store.new_etag(), *changes.values(), company, invoice["id"]],
    )
