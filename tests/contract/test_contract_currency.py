"""Contract: currency codes as Business Central's API pages show and take them.

BC stores the local currency (LCY) as a blank Currency Code. Source: BaseApp codeunit 5465
"Graph Mgt - General Tools" (`BaseApp/Source/Base Application/Integration/Graph/
GraphMgtGeneralTools.Codeunit.al` @1566664dad5c30347333ef4fb6bf6b9414d8c8f0):
TranslateNAVCurrencyCodeToCurrencyCode shows a blank code as General Ledger Setup's LCY Code,
TranslateCurrencyCodeToNAVCurrencyCode stores the LCY code as blank. The pages (StefanMaron/
MSDyn365BC.Code.History `APIV2/Source/_Exclude_APIV2_/src/pages/`, `P/`) call them in
SetCalculatedFields and in currencyCode's OnValidate, look currencyId and currencyCode up in the
Currency table with their own labels, and derive each from the other: P/APIV2Customers.Page.al
@069a685c, P/APIV2Vendors.Page.al @220c9d4e, P/APIV2SalesInvoices.Page.al @02a8df41,
P/APIV2SalesOrders.Page.al @03c38418, P/APIV2SalesQuotes.Page.al @05d57db6,
P/APIV2SalesCreditMemos.Page.al @406aa00d, P/APIV2PurchaseInvoices.Page.al @114421e2,
P/APIV2PurchaseOrders.Page.al @02326b00, P/APIV2PurchaseCreditMemos.Page.al @3da3569a,
P/APIV2BankAccounts.Page.al @25fa5c1f, P/APIV2SalesShipments.Page.al @08171a2b,
P/APIV2PurchaseReceipts.Page.al @0b1be9d5. An AL Error reaches the client as 400
`Application_DialogException` with the label word for word.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from bc_answers import DIALOG, created, error_of, rows

EMPTY_GUID = "00000000-0000-0000-0000-000000000000"
ID_NOT_FOUND = 'The "currencyId" does not match to a Currency.'
CODE_NOT_FOUND = 'The "currencyCode" does not match to a Currency.'
MISMATCH = "The currency values do not match to a specific Currency."

# Sets whose page validates currencyId, then currencyCode (layout order).
ID_FIRST = [
    "customers",
    "vendors",
    "salesInvoices",
    "salesOrders",
    "salesQuotes",
    "salesCreditMemos",
    "purchaseInvoices",
    "purchaseOrders",
    "purchaseCreditMemos",
]


@pytest.fixture(scope="module")
def bc(start_emulator):
    """A small emulator of its own: these tests add rows."""
    return start_emulator(seed=11, scale=0.1)


def local_code(bc) -> str:
    return rows(bc, "generalLedgerSetup")[0]["localCurrencyCode"]


def foreign_currencies(bc) -> list[dict[str, Any]]:
    found = rows(bc, "currencies")
    assert len(found) >= 2
    assert local_code(bc) not in {c["code"] for c in found}  # the LCY is not a Currency row
    return found


def minimal_body(bc, entity_set: str) -> dict[str, Any]:
    if entity_set in {"customers", "vendors", "bankAccounts"}:
        return {"displayName": f"Currency test {uuid.uuid4().hex[:8]}"}
    if entity_set.startswith("purchase"):
        return {"vendorNumber": rows(bc, "vendors", **{"$top": "1"})[0]["number"]}
    return {"customerNumber": rows(bc, "customers", **{"$top": "1"})[0]["number"]}


def post(bc, entity_set: str, **fields: Any):
    body = {**minimal_body(bc, entity_set), **fields}
    return bc.request("POST", bc.company_url(entity_set), json=body)


def patch(bc, entity_set: str, row_id: str, **fields: Any) -> dict[str, Any]:
    url = bc.company_url(f"{entity_set}({row_id})")
    response = bc.request("PATCH", url, json=fields, headers={"If-Match": "*"})
    assert response.status_code == 200, response.text
    return response.json()


def read(bc, entity_set: str, row_id: str) -> dict[str, Any]:
    response = bc.get(bc.company_url(f"{entity_set}({row_id})"))
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize("entity_set", [*ID_FIRST, "bankAccounts"])
def test_the_local_currency_is_a_blank_code_shown_as_the_lcy_code(bc, entity_set):
    """A blank code and the LCY code are both taken, stored blank and read as the LCY code.

    Source: TranslateCurrencyCodeToNAVCurrencyCode / TranslateNAVCurrencyCodeToCurrencyCode
    (Graph Mgt - General Tools @1566664d), called by each page; the LCY has no Currency row, so
    a code that were stored as sent would fail `Currency.Get` with `The "currencyCode" does not
    match to a Currency.` A blank code goes with the empty GUID.
    """
    lcy = local_code(bc)
    foreign_currencies(bc)
    for sent in ("", lcy, lcy.lower()):
        row = created(post(bc, entity_set, currencyCode=sent))
        assert (row["currencyCode"], row["currencyId"]) == (lcy, EMPTY_GUID), sent
        again = read(bc, entity_set, row["id"])
        assert (again["currencyCode"], again["currencyId"]) == (lcy, EMPTY_GUID), sent


@pytest.mark.parametrize("entity_set", ID_FIRST)
def test_currency_code_and_id_derive_each_other(bc, entity_set):
    """currencyCode sets currencyId to the currency's SystemId; currencyId sets the code.

    Source: the pages' currencyId OnValidate (`Currency.GetBySystemId`, `"Currency Code" :=
    Currency.Code`; a blank GUID clears the code) and currencyCode OnValidate (`Currency.Get`,
    `"Currency Id" := Currency.SystemId`; blank -> BlankGUID).
    """
    first, second = foreign_currencies(bc)[:2]
    row = created(post(bc, entity_set, currencyCode=first["code"]))
    assert (row["currencyCode"], row["currencyId"]) == (first["code"], first["id"])
    row = patch(bc, entity_set, row["id"], currencyId=second["id"])
    assert (row["currencyCode"], row["currencyId"]) == (second["code"], second["id"])
    row = patch(bc, entity_set, row["id"], currencyId=EMPTY_GUID)
    assert (row["currencyCode"], row["currencyId"]) == (local_code(bc), EMPTY_GUID)


@pytest.mark.parametrize("entity_set", [*ID_FIRST, "bankAccounts"])
def test_an_unknown_currency_is_refused_in_the_pages_words(bc, entity_set):
    """An id or a code that names no Currency row is refused with the page's label.

    Source: CurrencyIdDoesNotMatchACurrencyErr and CurrencyCodeDoesNotMatchACurrencyErr of each
    page (same text on all ten writable pages read).
    """
    assert error_of(post(bc, entity_set, currencyCode="ZZZ")) == (400, DIALOG, CODE_NOT_FOUND)
    unknown = str(uuid.uuid4())
    assert error_of(post(bc, entity_set, currencyId=unknown)) == (400, DIALOG, ID_NOT_FOUND)


@pytest.mark.parametrize("entity_set", ID_FIRST)
def test_a_currency_id_and_code_that_disagree_are_refused(bc, entity_set):
    """With an id, the code must name the same currency; a blank GUID lets the code decide.

    Source: currencyCode's OnValidate on these pages: `if Currency.Code <> '' then begin if
    Currency.Code <> "Currency Code" then Error(CurrencyValuesDontMatchErr); exit; end;` - the
    global Currency record is loaded only by a non-blank currencyId, validated first (layout).
    """
    first, second = foreign_currencies(bc)[:2]
    refused = post(bc, entity_set, currencyId=first["id"], currencyCode=second["code"])
    assert error_of(refused) == (400, DIALOG, MISMATCH)
    same = created(post(bc, entity_set, currencyId=first["id"], currencyCode=first["code"]))
    assert (same["currencyCode"], same["currencyId"]) == (first["code"], first["id"])
    blank = created(post(bc, entity_set, currencyId=EMPTY_GUID, currencyCode=second["code"]))
    assert (blank["currencyCode"], blank["currencyId"]) == (second["code"], second["id"])


def test_bank_accounts_take_the_id_after_the_code_and_never_read_it_back(bc):
    """bankAccounts: currencyCode is validated before currencyId, and currencyId is a variable.

    Source: P/APIV2BankAccounts.Page.al @25fa5c1f (and @71eb6252, same text): field currencyCode
    comes before currencyId; its mismatch check reads CurrencyCodeId, a page variable the later
    currencyId field has not set yet, so the id silently wins; LoadCurrencyInformation (the read)
    fills only CurrencyCodeTxt, so currencyId reads as the empty GUID.
    """
    first, second = foreign_currencies(bc)[:2]
    by_code = created(post(bc, "bankAccounts", currencyCode=first["code"]))
    assert (by_code["currencyCode"], by_code["currencyId"]) == (first["code"], EMPTY_GUID)
    both = created(post(bc, "bankAccounts", currencyCode=first["code"], currencyId=second["id"]))
    assert read(bc, "bankAccounts", both["id"])["currencyCode"] == second["code"]
    assert read(bc, "bankAccounts", both["id"])["currencyId"] == EMPTY_GUID


@pytest.mark.parametrize(
    "entity_set",
    [*ID_FIRST[2:], "customers", "vendors", "bankAccounts", "salesShipments", "purchaseReceipts"],
)
def test_no_page_with_a_translated_code_serves_a_blank_one(bc, entity_set):
    """Every row's currencyCode is a code: the blank LCY is served as the LCY code.

    Source: SetCalculatedFields / LoadCurrencyInformation of each page (see the module notes),
    including the read-only posted shipments and receipts.
    """
    served = rows(bc, entity_set, **{"$select": "currencyCode"})
    assert served
    assert all(row["currencyCode"] for row in served)
    assert any(row["currencyCode"] == local_code(bc) for row in served)


def test_aged_payables_keep_a_vendors_blank_currency(bc):
    """agedAccountsPayables does not translate: a vendor in LCY has a blank currencyCode there.

    Source: BaseApp "Graph Mgt - Reports".SetUpAgedReportAPIData (the LCY substitution is in the
    customer branch only; read for FIDELITY.md section 1, index id 57854096), while the vendors
    page itself shows the LCY code.
    """
    lcy_vendors = {v["id"] for v in rows(bc, "vendors") if v["currencyCode"] == local_code(bc)}
    report = rows(bc, "agedAccountsPayables")[:-1]  # the last row is the Total
    assert lcy_vendors
    assert all(row["currencyCode"] == "" for row in report if row["vendorId"] in lcy_vendors)
