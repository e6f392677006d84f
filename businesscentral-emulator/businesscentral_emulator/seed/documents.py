"""Seed generators for sales and purchase documents with their lines.

Lines are stored before headers so that header totals can be the exact sums of the lines (in
integer cents) without holding any document in memory: a document is planned as a small tuple,
its lines are streamed, and only three running totals per document are kept.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from businesscentral_emulator.odata.values import EMPTY_DATE, EMPTY_GUID
from businesscentral_emulator.rules.due_dates import calc_date
from businesscentral_emulator.seed import data
from businesscentral_emulator.seed.common import (
    DAY_MS,
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
    import random
    from collections.abc import Iterator, Sequence


_COMMENT_SHARE = 0.04  # lines that are comments only
_ACCOUNT_SHARE = 0.05  # lines posting to a G/L account instead of an item


@dataclass(frozen=True)
class DocKind:
    """What differs between document sets: names, number series, dates, statuses, price field."""

    header: str
    lines: str
    base_count: float
    prefix: str
    first_number: int
    date_fields: tuple[str, ...]
    statuses: tuple[tuple[str, int], ...]
    price_field: str
    line_date_field: str
    parent_type: str

    @property
    def sales(self) -> bool:
        """Sales documents face customers; purchase documents face vendors."""
        return self.header.startswith("sales")


DOC_KINDS = (
    DocKind("salesInvoices", "salesInvoiceLines", 200, "S-INV", 103001,
            ("invoiceDate", "postingDate"), (("Draft", 15), ("Open", 35), ("Paid", 50)),
            "unitPrice", "shipmentDate", "Sales_x0020_Invoice"),
    DocKind("salesOrders", "salesOrderLines", 60, "S-ORD", 101001,
            ("orderDate", "postingDate"), (("Draft", 30), ("Open", 65), ("In_x0020_Review", 5)),
            "unitPrice", "shipmentDate", "Sales_x0020_Order"),
    DocKind("salesQuotes", "salesQuoteLines", 30, "S-QUO", 1001,
            ("documentDate", "postingDate"),
            (("Draft", 40), ("Sent", 35), ("Accepted", 20), ("Expired_x0020_", 5)),
            "unitPrice", "", "Sales_x0020_Quote"),
    DocKind("salesCreditMemos", "salesCreditMemoLines", 20, "S-CR", 104001,
            ("creditMemoDate", "postingDate"), (("Draft", 20), ("Open", 40), ("Paid", 40)),
            "unitPrice", "shipmentDate", "Sales_x0020_Credit_x0020_Memo"),
    DocKind("purchaseInvoices", "purchaseInvoiceLines", 100, "P-INV", 108001,
            ("invoiceDate", "postingDate"), (("Draft", 15), ("Open", 35), ("Paid", 50)),
            "unitCost", "expectedReceiptDate", "Purchase_x0020_Invoice"),
    DocKind("purchaseOrders", "purchaseOrderLines", 40, "P-ORD", 106001,
            ("orderDate", "postingDate"), (("Draft", 30), ("Open", 70)),
            "directUnitCost", "expectedReceiptDate", "Purchase_x0020_Order"),
    DocKind("purchaseCreditMemos", "purchaseCreditMemoLines", 10, "P-CR", 109001,
            ("creditMemoDate", "postingDate"), (("Draft", 20), ("Open", 40), ("Paid", 40)),
            "unitCost", "", "Purchase_x0020_Credit_x0020_Memo"),
)  # fmt: skip


@dataclass(frozen=True)
class _Item:
    id: str
    number: str
    name: str
    unit_id: str
    unit_code: str
    price: int
    cost: int
    tax_group: str


def _weighted(rng: random.Random, choices: Sequence[tuple[str, int]]) -> str:
    total = sum(w for _, w in choices)
    point = rng.randrange(total)
    for value, weight in choices:
        point -= weight
        if point < 0:
            return value
    return choices[-1][0]


def documents(ctx: CompanyContext, kind: DocKind) -> None:
    """Headers and lines of one document set; lines point at real items, totals sum exactly."""
    parties = ctx.ref("customers" if kind.sales else "vendors")
    catalogue = [
        _Item(
            str(i["id"]),
            str(i["number"]),
            str(i["displayName"]),
            str(i["baseUnitOfMeasureId"]),
            str(i["baseUnitOfMeasureCode"]),
            int(i["_price"]),
            int(i["_cost"]),
            str(i["taxGroupCode"]),
        )
        for i in ctx.ref("items")
        if not i["blocked"]
    ]
    if not parties or not catalogue:
        return
    rng = ctx.rng(kind.header, "plan")
    clock = ctx.clock(kind.header)
    plans: list[tuple[str, str, int, int, str, int]] = []
    for index in range(ctx.count(kind.base_count)):
        ms = clock.next_ms() or ctx.now_ms
        plans.append(
            (
                new_guid(rng),
                f"{kind.prefix}{kind.first_number + index}",
                rng.randrange(len(parties)),
                ms,
                _weighted(rng, kind.statuses),
                rng.choice((1, 1, 2, 2, 3, 3, 3, 4, 5, 6)),
            )
        )
    totals: list[tuple[int, int, int]] = []
    ctx.insert(kind.lines, _lines(ctx, kind, plans, catalogue, totals))
    ctx.insert(kind.header, _headers(ctx, kind, plans, parties, totals))


def _tax(ctx: CompanyContext, kind: DocKind, party: Row) -> tuple[int, str]:
    """Tax rate in basis points and the code lines carry, for a party."""
    if kind.sales:
        rate = int(party.get("_rate_bp", 0))
    else:
        rate = 2000 if not ctx.locale.sales_tax and party["country"] == ctx.locale.country else 0
    if ctx.locale.sales_tax:
        return rate, "" if rate else "NONTAXABLE"
    return rate, f"VAT{rate // 100}"


def _lines(
    ctx: CompanyContext,
    kind: DocKind,
    plans: Sequence[tuple[str, str, int, int, str, int]],
    catalogue: Sequence[_Item],
    totals: list[tuple[int, int, int]],
) -> Iterator[Row]:
    parties = ctx.ref("customers" if kind.sales else "vendors")
    rng = ctx.rng(kind.lines)
    accounts = by_code(ctx.ref("accounts"), "number")
    account = accounts.get("40100" if kind.sales else "61400")
    places = ctx.ref("locations")
    main_location = str(places[0]["id"]) if places else EMPTY_GUID
    links = ctx.refs.setdefault("_dimension_links", [])
    values = [v for v in ctx.ref("dimensionValues") if v["_dimension"] == "DEPARTMENT"]
    line_type = f"{kind.parent_type}_x0020_Line"
    for doc_id, _number, party_index, ms, _status, count in plans:
        party = parties[party_index]
        rate, tax_code = _tax(ctx, kind, party)
        excl_sum = tax_sum = 0
        line_date = date_of_ms(ms + rng.randrange(0, 10) * DAY_MS)
        for position in range(count):
            roll = rng.random()
            row: Row = {
                "id": new_guid(rng),
                "documentId": doc_id,
                "sequence": (position + 1) * 10000,
            }
            if roll < _COMMENT_SHARE:  # a comment line: text only, no amounts
                row.update(lineType="Comment", description="Thank you for your business!")
                yield row
                continue
            qty = rng.randrange(1, 21)
            discount_pct = rng.choice((0, 0, 0, 0, 0, 0, 5, 10))
            if roll < _COMMENT_SHARE + _ACCOUNT_SHARE and account is not None:
                price = rng.randrange(5000, 50000, 100)
                row.update(
                    lineType="Account",
                    accountId=account["id"],
                    lineObjectNumber=account["number"],
                    description=account["displayName"],
                )
                line_tax_code = tax_code
            else:
                item = catalogue[rng.randrange(len(catalogue))]
                price = item.price if kind.sales else item.cost
                row.update(
                    lineType="Item",
                    itemId=item.id,
                    lineObjectNumber=item.number,
                    description=item.name,
                    unitOfMeasureId=item.unit_id,
                    unitOfMeasureCode=item.unit_code,
                    locationId=main_location,
                )
                line_tax_code = item.tax_group if ctx.locale.sales_tax and rate else tax_code
            gross = qty * price
            discount = (gross * discount_pct + 50) // 100
            excl = gross - discount
            tax = (excl * rate + 5000) // 10000
            excl_sum += excl
            tax_sum += tax
            row.update(
                {
                    "quantity": str(qty),
                    kind.price_field: cents_text(price),
                    "discountAmount": cents_text(discount),
                    "discountPercent": str(discount_pct),
                    "discountAppliedBeforeTax": 0,
                    "amountExcludingTax": cents_text(excl),
                    "taxCode": line_tax_code,
                    "taxPercent": cents_text(rate),
                    "totalTaxAmount": cents_text(tax),
                    "amountIncludingTax": cents_text(excl + tax),
                    "netAmount": cents_text(excl),
                    "netTaxAmount": cents_text(tax),
                    "netAmountIncludingTax": cents_text(excl + tax),
                    "invoiceQuantity": str(qty),
                    "shipQuantity": str(qty),
                    "receiveQuantity": str(qty),
                }
            )
            if kind.line_date_field:
                row[kind.line_date_field] = line_date
            if values and chance(rng, 0.1):
                links.append({"parentId": row["id"], "parentType": line_type,
                              "_value": rng.choice(values)})  # fmt: skip
            yield row
        totals.append((excl_sum, tax_sum, excl_sum + tax_sum))


def _party_fields(ctx: CompanyContext, kind: DocKind, party: Row, contact: str) -> Row:
    """The party's number, name and addresses in the header's field names."""
    addr = {
        "AddressLine1": party["addressLine1"],
        "AddressLine2": party["addressLine2"],
        "City": party["city"],
        "Country": party["country"],
        "State": party["state"],
        "PostCode": party["postalCode"],
    }
    name = party["displayName"]
    if kind.sales:
        fields: Row = {
            "customerId": party["id"],
            "customerNumber": party["number"],
            "customerName": name,
            "billToName": name,
            "billToCustomerId": party["id"],
            "billToCustomerNumber": party["number"],
            "shipToName": name,
            "shipToContact": contact,
            "salesperson": party["salespersonCode"],
            "phoneNumber": party["phoneNumber"],
            "email": party["email"],
            "shipmentMethodId": party["shipmentMethodId"],
        }
        for prefix in ("sellTo", "billTo", "shipTo"):
            fields.update({prefix + k: v for k, v in addr.items()})
        return fields
    fields = {
        "vendorId": party["id"],
        "vendorNumber": party["number"],
        "vendorName": name,
        "payToName": name,
        "payToContact": contact,
        "payToVendorId": party["id"],
        "payToVendorNumber": party["number"],
        "shipToName": ctx.company_name,
        "shipToContact": "",
        "purchaser": "JR",
    }
    for prefix in ("buyFrom", "payTo"):
        fields.update({prefix + k: v for k, v in addr.items()})
    own = ctx.ref("locations")
    if own:
        home = own[0]
        fields.update(
            shipToAddressLine1=home["addressLine1"],
            shipToCity=home["city"],
            shipToCountry=home["country"],
            shipToState=home["state"],
            shipToPostCode=home["postalCode"],
        )
    return fields


def _headers(
    ctx: CompanyContext,
    kind: DocKind,
    plans: Sequence[tuple[str, str, int, int, str, int]],
    parties: Sequence[Row],
    totals: Sequence[tuple[int, int, int]],
) -> Iterator[Row]:
    rng = ctx.rng(kind.header)
    terms = {str(t["id"]): str(t["dueDateCalculation"]) for t in ctx.ref("paymentTerms")}
    departments = [v for v in ctx.ref("dimensionValues") if v["_dimension"] == "DEPARTMENT"]
    projects = [v for v in ctx.ref("dimensionValues") if v["_dimension"] == "PROJECT"]
    reasons = ctx.ref("customerReturnReasons")
    links = ctx.refs.setdefault("_dimension_links", [])
    kept = ctx.refs.setdefault(kind.header, [])
    for (doc_id, number, party_index, ms, status, _count), (excl, tax, incl) in zip(
        plans, totals, strict=True
    ):
        party = parties[party_index]
        first, last = rng.choice(data.FIRST_NAMES), rng.choice(data.LAST_NAMES)
        doc_ms = ms - rng.randrange(0, 5) * DAY_MS
        doc_date = date_of_ms(doc_ms)
        # As the header validates its payment terms (rules/due_dates.py): credit memos are due
        # on their date, since no seeded terms calculate payment discounts on credit memos.
        formula = "" if "CreditMemo" in kind.header else terms.get(str(party["paymentTermsId"]))
        due = calc_date(formula or "", dt.date.fromisoformat(doc_date[:10]))
        row: Row = {
            "id": doc_id,
            "number": number,
            **_party_fields(ctx, kind, party, f"{first} {last}"),
            "externalDocumentNumber": f"PO-{rng.randrange(10000, 99999)}"
            if chance(rng, 0.3)
            else "",
            "currencyId": party["currencyId"],
            "currencyCode": party["currencyCode"],
            "paymentTermsId": party["paymentTermsId"],
            "pricesIncludeTax": 0,
            "discountAmount": "0",
            "discountAppliedBeforeTax": 1,
            "totalAmountExcludingTax": cents_text(excl),
            "totalTaxAmount": cents_text(tax),
            "totalAmountIncludingTax": cents_text(incl),
            "status": status,
            "lastModifiedDateTime": format_ms(ms),
            "dueDate": (due or dt.date.fromisoformat(doc_date[:10])).isoformat(),
            # A draft owes its Amount Including VAT (APIV2SalesInvoices.Page.al
            # GetRemainingAmount); a posted invoice what its ledger entry still has open.
            "remainingAmount": cents_text(incl if status in {"Open", "Draft"} else 0),
            "partialShipping": 1,
            "requestedDeliveryDate": EMPTY_DATE,
            "fullyShipped": 1 if status == "Open" and chance(rng, 0.3) else 0,
            "fullyReceived": 0,
            "validUntilDate": date_of_ms(doc_ms + 30 * DAY_MS),
            "sentDate": format_ms(doc_ms + DAY_MS) if status in {"Sent", "Accepted"} else None,
            "acceptedDate": date_of_ms(doc_ms + 3 * DAY_MS) if status == "Accepted" else EMPTY_DATE,
            "vendorInvoiceNumber": f"VI-{rng.randrange(10000, 99999)}" if not kind.sales else "",
            "vendorCreditMemoNumber": f"VC-{rng.randrange(1000, 9999)}" if not kind.sales else "",
        }
        if row["sentDate"] is None:
            del row["sentDate"]
        if reasons and "CreditMemo" in kind.header:
            reason = str(rng.choice(reasons)["id"])
            row["customerReturnReasonId" if kind.sales else "vendorReturnReasonId"] = reason
        for field in kind.date_fields:
            row[field] = doc_date
        if departments and chance(rng, 0.5):
            value = rng.choice(departments)
            row["shortcutDimension1Code"] = value["code"]
            links.append({"parentId": doc_id, "parentType": kind.parent_type, "_value": value})
        if projects and chance(rng, 0.2):
            value = rng.choice(projects)
            row["shortcutDimension2Code"] = value["code"]
            links.append({"parentId": doc_id, "parentType": kind.parent_type, "_value": value})
        kept.append({"id": doc_id, "number": number, "partyId": party["id"],
                     "partyNumber": party["number"], "status": status, "_total": incl})  # fmt: skip
        yield row


def all_documents(ctx: CompanyContext) -> None:
    """Every document kind whose sets the model has."""
    for kind in DOC_KINDS:
        if ctx.has(kind.header, "number") and ctx.has(kind.lines, "documentId"):
            documents(ctx, kind)


def dimension_set_lines(ctx: CompanyContext) -> None:
    """Dimension set lines collected while documents and journal lines were made."""
    rng = ctx.rng("dimensionSetLines")
    links = ctx.refs.pop("_dimension_links", [])
    ctx.insert(
        "dimensionSetLines",
        (
            {
                "id": new_guid(rng),
                "code": link["_value"]["_dimension"],
                "consolidationCode": "",
                "parentId": link["parentId"],
                "parentType": link["parentType"],
                "displayName": link["_value"]["_dimension_name"],
                "valueId": link["_value"]["id"],
                "valueCode": link["_value"]["code"],
                "valueConsolidationCode": "",
                "valueDisplayName": link["_value"]["displayName"],
            }
            for link in links
        ),
    )


def document_files(ctx: CompanyContext) -> None:
    """A few PDF and attachment records on invoices (their content streams stay empty)."""
    files = (
        ("salesInvoices", "Sales_x0020_Invoice"),
        ("salesQuotes", "Sales_x0020_Quote"),
        ("salesCreditMemos", "Sales_x0020_Credit_x0020_Memo"),
        ("purchaseInvoices", "Purchase_x0020_Invoice"),
    )
    ctx.insert(
        "pdfDocument",
        (
            {"id": doc["id"], "parentId": doc["id"], "parentType": parent_type}
            for set_name, parent_type in files
            for doc in ctx.ref(set_name)[:3]
        ),
    )
    rng = ctx.rng("attachments")
    clock = ctx.clock("attachments")
    for set_name in ("attachments", "documentAttachments"):
        ctx.insert(
            set_name,
            (
                {
                    "id": new_guid(rng),
                    "parentId": doc["id"],
                    "parentType": parent_type,
                    "fileName": f"{doc['number']}-{kind}.pdf",
                    "byteSize": rng.randrange(20_000, 400_000),
                    "lineNumber": 10000,
                    "documentFlowSales": 1 if parent_type.startswith("Sales") else 0,
                    "documentFlowPurchase": 0 if parent_type.startswith("Sales") else 1,
                    "lastModifiedDateTime": clock.next(),
                }
                for set_name_, parent_type in files
                for doc in ctx.ref(set_name_)[:2]
                for kind in ("scan",)
            ),
        )
