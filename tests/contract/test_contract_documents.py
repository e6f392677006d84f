"""Contract: draft sales and purchase documents derive discounts, totals and due dates as BC does.

Sources (StefanMaron/MSDyn365BC.Code.History): BaseApp codeunit 56 `Sales - Calc Discount By
Type` (BaseApp/Source/Base Application/Sales/Document/SalesCalcDiscountByType.Codeunit.al
@3af4baaef291447250293f18e89365ac047fa6d4: ApplyInvDiscBasedOnAmt, InvDiscBaseAmountIsZeroErr);
table VAT Amount Line SetInvoiceDiscountAmount and table Sales Line UpdateVATOnLines (the share of
each VAT amount line, then of each line, rounded with the remainder carried on);
Sales Line GetLineAmountExclVAT/GetLineAmountInclVAT; the aggregators' AssignTotalsFromSalesLine
(Graph Mgt - Sales Order Buffer, BaseApp/Source/Base Application/Integration/Graph/
GraphMgtSalesQuoteBuffer.Codeunit.al @0b1be9d5501f950379661f3fb2ea996a28d1b57d);
APIV2/Source/_Exclude_APIV2_/src/pages/APIV2SalesInvoices.Page.al
@02a8df419400b10bfc9cc4bc714de5cd2ddb9fad (discountAmount, UpdateDiscount, SetDates); table
Sales Header field "Payment Terms Code" OnValidate (due date from the terms' Due Date
Calculation; credit memos without "Calc. Pmt. Disc. on Cr. Memos" are due on their date).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from bc_answers import DIALOG, created, error_of, first


@pytest.fixture(scope="module")
def bc(start_emulator):
    """A small emulator of its own: these tests change rows."""
    return start_emulator(seed=11, scale=0.1)


def ok(response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()


def patch(bc, path: str, body: dict[str, Any]):
    return bc.request("PATCH", bc.company_url(path), json=body, headers={"If-Match": "*"})


def lines_of(bc, header_set: str, header_id: str) -> list[dict[str, Any]]:
    lines = header_set.removesuffix("s") + "Lines"
    url = bc.company_url(f"{header_set}({header_id})/{lines}")
    return sorted(bc.get(url).json()["value"], key=lambda line: line["sequence"])


def draft_with_lines(bc, header_set: str, party: dict[str, str], lines: list[dict[str, Any]]):
    header = created(bc.request("POST", bc.company_url(header_set), json=party))
    line_set = header_set.removesuffix("s") + "Lines"
    for body in lines:
        # The price is set on its own: on some line pages a quantity re-finds the item's price.
        price = {k: v for k, v in body.items() if k == "unitPrice"}
        url = bc.company_url(f"{header_set}({header['id']})/{line_set}")
        line = created(bc.request("POST", url, json={k: body[k] for k in body if k not in price}))
        if price:
            ok(patch(bc, f"{line_set}({line['id']})", price))
    return header


def _money(value: Any) -> Decimal:
    return Decimal(str(value))


def _taxless_customer(bc) -> dict[str, Any]:
    return first(bc, "customers", **{"$filter": "taxLiable eq false"})


def _item_line(item: dict[str, Any], quantity: int, price: float) -> dict[str, Any]:
    return {"lineType": "Item", "itemId": item["id"], "quantity": quantity, "unitPrice": price}


@pytest.mark.parametrize("header_set", ["salesInvoices", "salesOrders", "salesQuotes"])
def test_a_header_discount_is_shared_over_the_lines_to_the_cent(bc, header_set):
    """ApplyInvDiscBasedOnAmt: 10.00 over line amounts 10.00, 10.00, 10.00 is 3.33, 3.34, 3.33.

    Each share is rounded and its rounding remainder carried to the next line (UpdateVATOnLines:
    3.333 -> 3.33, 0.003 + 3.333 -> 3.34, -0.003 + 3.333 -> 3.33), so they add up to the
    discount; the header's discountAmount is their sum and its totals are the lines' amounts
    after the discount (AssignTotalsFromSalesLine).
    """
    customer = _taxless_customer(bc)
    item = first(bc, "items", **{"$filter": "blocked eq false"})
    header = draft_with_lines(
        bc,
        header_set,
        {"customerId": customer["id"]},
        [_item_line(item, 1, 10) for _ in range(3)],
    )
    answer = ok(patch(bc, f"{header_set}({header['id']})", {"discountAmount": 10}))
    lines = lines_of(bc, header_set, header["id"])
    shares = [_money(line.get("invoiceDiscountAllocation", 0)) for line in lines]
    nets = [_money(line["netAmount"]) for line in lines]
    if header_set != "salesQuotes":  # quote lines have no invoiceDiscountAllocation
        assert shares == [Decimal("3.33"), Decimal("3.34"), Decimal("3.33")]
    assert nets == [Decimal("6.67"), Decimal("6.66"), Decimal("6.67")]
    assert [_money(line["amountExcludingTax"]) for line in lines] == [Decimal(10)] * 3
    assert _money(answer["discountAmount"]) == Decimal(10)
    if header_set != "salesQuotes":  # AssignTotalsFromSalesLine: not "Prices Including VAT"
        assert answer["discountAppliedBeforeTax"] is True
    assert _money(answer["totalAmountExcludingTax"]) == Decimal(20)
    tax = sum((_money(line["netTaxAmount"]) for line in lines), Decimal(0))
    assert _money(answer["totalTaxAmount"]) == tax
    assert _money(answer["totalAmountIncludingTax"]) == Decimal(20) + tax


def test_the_discount_is_redistributed_when_a_line_is_added(bc):
    """RedistributeInvoiceDiscounts after PropagateInsertLine: the same amount over all lines."""
    customer = _taxless_customer(bc)
    item = first(bc, "items", **{"$filter": "blocked eq false"})
    header = draft_with_lines(
        bc, "salesInvoices", {"customerId": customer["id"]}, [_item_line(item, 1, 30)]
    )
    ok(patch(bc, f"salesInvoices({header['id']})", {"discountAmount": 6}))
    url = bc.company_url(f"salesInvoices({header['id']})/salesInvoiceLines")
    created(bc.request("POST", url, json=_item_line(item, 1, 10)))
    lines = lines_of(bc, "salesInvoices", header["id"])
    assert [_money(line["invoiceDiscountAllocation"]) for line in lines] == [
        Decimal("4.5"),
        Decimal("1.5"),
    ]
    again = bc.get(bc.company_url(f"salesInvoices({header['id']})")).json()
    assert _money(again["discountAmount"]) == Decimal(6)
    assert _money(again["totalAmountExcludingTax"]) == Decimal(34)


def test_account_lines_take_no_invoice_discount(bc):
    """Sales Line CopyFromGLAccount clears "Allow Invoice Disc.": the item line takes it all."""
    customer = _taxless_customer(bc)
    item = first(bc, "items", **{"$filter": "blocked eq false"})
    account = first(bc, "accounts", **{"$filter": "accountType eq 'Posting'"})
    header = draft_with_lines(
        bc,
        "salesInvoices",
        {"customerId": customer["id"]},
        [
            _item_line(item, 2, 25),
            {"lineType": "Account", "accountId": account["id"], "quantity": 1, "unitPrice": 50},
        ],
    )
    ok(patch(bc, f"salesInvoices({header['id']})", {"discountAmount": 7.5}))
    lines = lines_of(bc, "salesInvoices", header["id"])
    assert [_money(line["invoiceDiscountAllocation"]) for line in lines] == [
        Decimal("7.5"),
        Decimal(0),
    ]


@pytest.mark.parametrize("header_set", ["salesInvoices", "purchaseInvoices"])
def test_a_discount_without_a_discount_base_is_refused(bc, header_set):
    """InvDiscBaseAmountIsZeroErr: a positive discount on a document without discountable lines.

    A POST of a header with a discount fails too: the page applies it before any line exists.
    """
    purchase = header_set.startswith("purchase")
    party_set, field = ("vendors", "vendorId") if purchase else ("customers", "customerId")
    party = {field: first(bc, party_set)["id"]}
    header = created(bc.request("POST", bc.company_url(header_set), json=party))
    expected = (
        400,
        DIALOG,
        (
            "Cannot apply an invoice discount because the document does not include lines where"
            " the Allow Invoice Disc. field is selected. To add a discount, specify a line"
            " discount in the Line Discount % field for the relevant lines, or add a line of type"
            " Item where the Allow Invoice Disc. field is selected."
        ),
    )
    assert error_of(patch(bc, f"{header_set}({header['id']})", {"discountAmount": 5})) == expected
    refused = bc.request("POST", bc.company_url(header_set), json={**party, "discountAmount": 5})
    assert error_of(refused) == expected


def test_the_due_date_follows_the_payment_terms_unless_sent(bc):
    """Sales Header "Payment Terms Code" OnValidate: Due Date = CalcDate(Due Date Calculation).

    A sent dueDate wins (SetDates re-applies it after the insert); a new document date moves
    the due date; a credit memo whose terms do not calculate discounts on credit memos is due on
    its own date.
    """
    terms = bc.get(bc.company_url("paymentTerms")).json()["value"]
    net14 = next(t for t in terms if t["dueDateCalculation"] == "14D")
    month = next(t for t in terms if t["dueDateCalculation"] == "CM")
    customer = first(bc, "customers")
    body = {"customerId": customer["id"], "paymentTermsId": net14["id"]}
    url = bc.company_url("salesInvoices")
    invoice = created(bc.request("POST", url, json={**body, "invoiceDate": "2024-01-20"}))
    assert invoice["dueDate"] == "2024-02-03"
    moved = ok(patch(bc, f"salesInvoices({invoice['id']})", {"invoiceDate": "2024-02-20"}))
    assert moved["dueDate"] == "2024-03-05"
    monthly = ok(patch(bc, f"salesInvoices({invoice['id']})", {"paymentTermsId": month["id"]}))
    assert monthly["dueDate"] == "2024-02-29"
    sent = created(
        bc.request(
            "POST",
            bc.company_url("salesInvoices"),
            json={**body, "invoiceDate": "2024-01-20", "dueDate": "2024-01-25"},
        )
    )
    assert sent["dueDate"] == "2024-01-25"
    memo = created(
        bc.request(
            "POST",
            bc.company_url("salesCreditMemos"),
            json={**body, "creditMemoDate": "2024-01-20"},
        )
    )
    assert memo["dueDate"] == "2024-01-20"


def test_quote_lines_belong_to_their_quote(bc):
    """Graph Mgt - Sales Quote Buffer: quote lines are numbered, priced and totalled as lines.

    PropagateInsertLine numbers a line without a sequence 10000 past the last
    (LastUsedSalesLine."Line No." + 10000) and the quote's totals are its lines' sums
    (AssignTotalsFromSalesLine); a quote deleted takes its lines with it (SalesHeader.Delete).
    """
    customer = _taxless_customer(bc)
    item = first(bc, "items", **{"$filter": "blocked eq false"})
    quote = draft_with_lines(
        bc,
        "salesQuotes",
        {"customerId": customer["id"]},
        [_item_line(item, 2, 12.5), _item_line(item, 1, 5)],
    )
    lines = lines_of(bc, "salesQuotes", quote["id"])
    assert [line["sequence"] for line in lines] == [10000, 20000]
    again = bc.get(bc.company_url(f"salesQuotes({quote['id']})")).json()
    assert again["status"] == "Draft"
    assert _money(again["totalAmountExcludingTax"]) == Decimal(30)
    deleted = bc.request(
        "DELETE", bc.company_url(f"salesQuotes({quote['id']})"), headers={"If-Match": "*"}
    )
    assert deleted.status_code == 204
    url = bc.company_url("salesQuoteLines")
    left = bc.get(url, params={"$filter": f"documentId eq {quote['id']}"}).json()["value"]
    assert left == []


@pytest.mark.parametrize(
    ("header_set", "message"),
    [
        ("salesQuotes", "You cannot insert a line because a line already exists."),
        ("purchaseOrders", "You cannot insert a line because a line already exists."),
        ("purchaseCreditMemos", "You cannot insert the line because  line already exists."),
    ],
)
def test_a_duplicate_sequence_is_refused_in_each_buffers_words(bc, header_set, message):
    """CannotInsertALineThatAlreadyExistsErr of Graph Mgt - Sales Quote Buffer (@0b1be9d5),
    Graph Mgt - Purch Order Buffer (@257a4d34) and Graph Mgt - Purch. Cr. Memo
    (GraphMgtPurchCrMemo.Codeunit.al @37787026aff0a4e8423b677e9a9997d4abccccea, two spaces).
    """
    purchase = header_set.startswith("purchase")
    party = (
        {"vendorId": first(bc, "vendors")["id"]}
        if purchase
        else {"customerId": first(bc, "customers")["id"]}
    )
    header = created(bc.request("POST", bc.company_url(header_set), json=party))
    url = bc.company_url(f"{header_set}({header['id']})/{header_set.removesuffix('s')}Lines")
    body = {"sequence": 20000, "lineType": "Comment", "description": "one"}
    created(bc.request("POST", url, json=body))
    assert error_of(bc.request("POST", url, json=body)) == (400, DIALOG, message)


@pytest.mark.parametrize(
    ("header_set", "price", "kept"),
    [
        ("salesInvoices", "unitPrice", True),
        ("salesOrders", "unitPrice", True),
        ("salesQuotes", "unitPrice", False),
        ("salesCreditMemos", "unitPrice", False),
        ("purchaseInvoices", "unitCost", False),
        ("purchaseOrders", "directUnitCost", True),
        ("purchaseCreditMemos", "unitCost", False),
    ],
)
def test_a_price_sent_with_the_quantity_survives_only_after_it_in_page_order(
    bc, header_set, price, kept
):
    """Sales Line Quantity OnValidate: `if Type = Type::Item then UpdateUnitPrice(...)`.

    The pages validate the body in layout order (`$metadata` property order; the credit memo
    line page P/APIV2SalesCreditMemLines.Page.al @257a4d34 has unitPrice before quantity), so a
    price laid out before quantity is replaced by the item's when the quantity is validated.
    """
    purchase = header_set.startswith("purchase")
    item = first(
        bc, "items", **{"$filter": "blocked eq false and unitCost gt 0 and unitPrice gt 0"}
    )
    party = (
        {"vendorId": first(bc, "vendors")["id"]}
        if purchase
        else {"customerId": first(bc, "customers")["id"]}
    )
    header = created(bc.request("POST", bc.company_url(header_set), json=party))
    url = bc.company_url(f"{header_set}({header['id']})/{header_set.removesuffix('s')}Lines")
    body = {"lineType": "Item", "itemId": item["id"], "quantity": 3, price: 1.25}
    line = created(bc.request("POST", url, json=body))
    own = item["unitCost" if purchase else "unitPrice"]
    assert _money(line[price]) == (Decimal("1.25") if kept else _money(own))


def test_a_new_quantity_re_finds_the_price_and_a_discount_amount_sets_the_percent(bc):
    """UpdateUnitPrice on a quantity change; UpdateLineDiscPct; LineDiscountPctErr.

    A PATCH of quantity alone replaces a price set by hand with the item's; a discountAmount
    sets discountPercent := Round(amount / Round(quantity * price) * 100, 0.00001); an amount
    above the line's gross amount is refused.
    """
    item = first(bc, "items", **{"$filter": "blocked eq false and unitPrice gt 0"})
    header = created(
        bc.request(
            "POST",
            bc.company_url("salesInvoices"),
            json={"customerId": first(bc, "customers")["id"]},
        )
    )
    url = bc.company_url(f"salesInvoices({header['id']})/salesInvoiceLines")
    line = created(
        bc.request(
            "POST",
            url,
            json={"lineType": "Item", "itemId": item["id"], "quantity": 3, "unitPrice": 10},
        )
    )
    assert _money(line["unitPrice"]) == Decimal(10)
    discounted = ok(patch(bc, f"salesInvoiceLines({line['id']})", {"discountAmount": 10}))
    assert _money(discounted["discountPercent"]) == Decimal("33.33333")
    assert _money(discounted["amountExcludingTax"]) == Decimal(20)
    too_much = patch(bc, f"salesInvoiceLines({line['id']})", {"discountAmount": 31})
    assert error_of(too_much) == (
        400,
        DIALOG,
        "The value in the Line Discount % field must be between 0 and 100.",
    )
    repriced = ok(patch(bc, f"salesInvoiceLines({line['id']})", {"quantity": 4}))
    assert _money(repriced["unitPrice"]) == _money(item["unitPrice"])


def test_a_posted_purchase_credit_memo_and_its_lines_cannot_be_modified(bc):
    """CannotModifyPostedCrMemoErr of Graph Mgt - Purch. Cr. Memo.

    Source: StefanMaron/MSDyn365BC.Code.History BaseApp/Source/Base Application/Integration/
    Graph/GraphMgtPurchCrMemo.Codeunit.al @37787026aff0a4e8423b677e9a9997d4abccccea
    (PropagateOnModify, and VerifyCRUDIsPossibleForLine for line inserts, modifies and deletes).
    """
    label = (400, DIALOG, "The credit memo has been posted and can no longer be modified.")
    posted = first(bc, "purchaseCreditMemos", **{"$filter": "status ne 'Draft'"})
    assert (
        error_of(patch(bc, f"purchaseCreditMemos({posted['id']})", {"vendorCreditMemoNumber": "X"}))
        == label
    )
    url = bc.company_url(f"purchaseCreditMemos({posted['id']})/purchaseCreditMemoLines")
    line = {"lineType": "Item", "itemId": first(bc, "items")["id"], "quantity": 1}
    assert error_of(bc.request("POST", url, json=line)) == label
    vendor = {"vendorId": first(bc, "vendors")["id"]}
    draft = created(bc.request("POST", bc.company_url("purchaseCreditMemos"), json=vendor))
    ok(patch(bc, f"purchaseCreditMemos({draft['id']})", {"vendorCreditMemoNumber": "X"}))
    created(bc.request("POST", url.replace(posted["id"], draft["id"]), json=line))


def test_lines_of_one_item_on_one_document_take_one_tax_rate(bc):
    """A line's tax rate is derived, never sent, and equal for equal posting groups.

    BC: taxPercent is read-only on the line pages (P/APIV2SalesInvoiceLines.Page.al @1701efe5,
    Editable = false) and Sales Line's "VAT %" comes from the VAT Posting Setup of the header's
    business group and the item's product group (BaseApp Sales Line, VAT Prod. Posting Group
    OnValidate), so two lines of the same item on one document carry the same rate. The emulator
    (simplified) gives a new line the rate of the document's first line.
    """
    customer = first(bc, "customers", **{"$filter": "taxLiable eq true"})
    item = first(bc, "items")
    header = draft_with_lines(
        bc,
        "salesInvoices",
        {"customerId": customer["id"]},
        [_item_line(item, 1, 10), _item_line(item, 2, 10)],
    )
    rates = {line["taxPercent"] for line in lines_of(bc, "salesInvoices", header["id"])}
    assert len(rates) == 1, rates
