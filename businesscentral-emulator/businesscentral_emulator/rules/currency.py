"""Currency codes as BC's API pages show and take them: the local currency (LCY) is a blank code.

BC stores no currency code for amounts in the local currency. Every API page with a `currencyCode`
shows a blank one as the LCY code of General Ledger Setup, and a write of the LCY code stores a
blank; `currencyId` and `currencyCode` are looked up in the Currency table and derive each other
(a blank code goes with the empty GUID). Source: BaseApp codeunit 5465 "Graph Mgt - General Tools"
(`BaseApp/Source/Base Application/Integration/Graph/GraphMgtGeneralTools.Codeunit.al`
@1566664dad5c30347333ef4fb6bf6b9414d8c8f0): TranslateNAVCurrencyCodeToCurrencyCode (read: blank
-> LCY code) and TranslateCurrencyCodeToNAVCurrencyCode (write: LCY code -> blank). Pages are
in StefanMaron/MSDyn365BC.Code.History `APIV2/Source/_Exclude_APIV2_/src/pages/` (`P/` below).

The pages validate fields in their layout order, so they come in two kinds:

- `currencyId` before `currencyCode` (customers, vendors, the seven document headers): an id
  loads the Currency record; a code sent with it must name the same currency, else
  `The currency values do not match to a specific Currency.` A blank GUID loads nothing, so a code
  sent with it decides.
- `currencyCode` before `currencyId` (bankAccounts): the code is checked first; a non-blank id then
  overrides it, without a mismatch check. `currencyId` there is a page variable that no read
  fills: it reads as the empty GUID.

Not here: agedAccountsReceivables translates in its report builder and agedAccountsPayables does
not (seed/finance.py); companyInformation's `currencyCode` is the LCY code itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from businesscentral_emulator.odata.values import EMPTY_GUID
from businesscentral_emulator.rules.references import find_row
from businesscentral_emulator.rules.validation import STANDARD_ROUTE, dialog
from businesscentral_emulator.store.sqlite import table_name

if TYPE_CHECKING:
    from collections.abc import Mapping

    from businesscentral_emulator.odata.edmx import ApiModel
    from businesscentral_emulator.store.sqlite import Store

ID_NOT_FOUND = 'The "currencyId" does not match to a Currency.'
CODE_NOT_FOUND = 'The "currencyCode" does not match to a Currency.'
MISMATCH = "The currency values do not match to a specific Currency."
# AL's Code[10]: what the pages copy the sent code into (COPYSTR(CurrencyCodeTxt, 1, 10)).
_CODE_LENGTH = 10


@dataclass(frozen=True)
class CurrencyPage:
    """How one page reads and writes its currency.

    Attributes:
        id_first: The page validates `currencyId` before `currencyCode` (False: after it).
        writable: The page takes currency fields on POST/PATCH (False: a read-only page).
        id_on_read: `currencyId` is a table field read back (False: a page variable, always empty).
        source: The page and commit read.
    """

    id_first: bool
    writable: bool
    id_on_read: bool
    source: str


def _header(source: str) -> CurrencyPage:
    return CurrencyPage(id_first=True, writable=True, id_on_read=True, source=source)


def _posted(source: str) -> CurrencyPage:
    return CurrencyPage(id_first=True, writable=False, id_on_read=True, source=source)


# One row per page whose currencyCode goes through GraphMgtGeneralTools (all of BC 26's sets with
# a currencyCode but the aged reports and companyInformation).
PAGES: dict[str, CurrencyPage] = {
    "customers": _header("P/APIV2Customers.Page.al @069a685cfdaa720c6f0665d3da7f1e30253b8938"),
    "vendors": _header("P/APIV2Vendors.Page.al @220c9d4e085ea7298091e1f021d9814a57319224"),
    "salesInvoices": _header(
        "P/APIV2SalesInvoices.Page.al @02a8df419400b10bfc9cc4bc714de5cd2ddb9fad"
    ),
    "salesOrders": _header("P/APIV2SalesOrders.Page.al @03c38418d322f60516c21dc3df9389ad3ada806f"),
    "salesQuotes": _header("P/APIV2SalesQuotes.Page.al @05d57db6d43e38869cac1b56c2346aba8a889eec"),
    "salesCreditMemos": _header(
        "P/APIV2SalesCreditMemos.Page.al @406aa00d20f4de9b6c097bc1956977caf4b8cc33"
    ),
    "purchaseInvoices": _header(
        "P/APIV2PurchaseInvoices.Page.al @114421e2d2490b5b431c9953b44d09e64c47ed21"
    ),
    "purchaseOrders": _header(
        "P/APIV2PurchaseOrders.Page.al @02326b0079a61c1a35de8912007230f4f11e4f64"
    ),
    "purchaseCreditMemos": _header(
        "P/APIV2PurchaseCreditMemos.Page.al @3da3569a38ba567695e1b497643c910f65616830"
    ),
    "bankAccounts": CurrencyPage(
        id_first=False,
        writable=True,
        id_on_read=False,
        source="P/APIV2BankAccounts.Page.al @25fa5c1ff026018d5dd2533370a09b478582bba7"
        " and @71eb62520336d419a8eef7d2e8823d5642667ce0",
    ),
    "salesShipments": _posted(
        "P/APIV2SalesShipments.Page.al @08171a2bacbbbbd6792cf55a3c60922328da42e7"
    ),
    "purchaseReceipts": _posted(
        "P/APIV2PurchaseReceipts.Page.al @0b1be9d5501f950379661f3fb2ea996a28d1b57d"
    ),
}


def local_currency(store: Store, api: ApiModel, company: str | None) -> str:
    """The company's LCY code (General Ledger Setup, `localCurrencyCode`); '' if it has none."""
    if "generalLedgerSetup" not in api.entity_sets:
        return ""
    found = store.fetch_one(
        f'SELECT "localCurrencyCode" FROM {table_name(api.route, "generalLedgerSetup")}'
        " WHERE _company IS ? LIMIT 1",
        (company,),
    )
    return str(found[0] or "") if found else ""


def _page(api: ApiModel, set_name: str) -> CurrencyPage | None:
    return PAGES.get(set_name) if api.route == STANDARD_ROUTE else None


# -- reads -----------------------------------------------------------------------------------


def show_local_currency(
    store: Store, api: ApiModel, set_name: str, company: str | None, rows: list[dict[str, Any]]
) -> None:
    """Rows as the page shows them: a blank code is the LCY code (TranslateNAVCurrencyCode...)."""
    page = _page(api, set_name)
    if page is None or not rows or "currencyCode" not in rows[0]:
        return
    lcy = local_currency(store, api, company)
    for row in rows:
        if not row["currencyCode"]:
            row["currencyCode"] = lcy


def filter_columns(
    store: Store, api: ApiModel, set_name: str, company: str | None
) -> Mapping[str, str]:
    """SQL for `$filter` on `currencyCode`: the value served, not the blank stored.

    Unconfirmed: BC's `currencyCode` is a page variable (CurrencyCodeTxt), not a table field, and
    no source says how BC filters on it. The emulator filters on what it serves.
    """
    if _page(api, set_name) is None:
        return {}
    lcy = local_currency(store, api, company).replace("'", "''")
    served = f"""(CASE WHEN "currencyCode" = '' THEN '{lcy}' ELSE "currencyCode" END)"""
    return {"currencyCode": served}


# -- writes ----------------------------------------------------------------------------------


def _code(value: object) -> str:
    """A sent code as AL's Code[10] holds it: trimmed, upper case, at most 10 characters."""
    return str(value or "").strip().upper()[:_CODE_LENGTH]


def _blank_id(value: object) -> bool:
    return str(value or "").lower() in {"", EMPTY_GUID}


def take_currency(  # noqa: PLR0913, PLR0917 - the write's context travels together
    store: Store,
    api: ApiModel,
    set_name: str,
    company: str | None,
    row: dict[str, Any],
    changed: set[str],
) -> None:
    """Check and store the currency fields `changed` touches, in `row`'s stored form.

    Raises:
        BusinessCentralError: An unknown id or code, or an id and a code that disagree.
    """
    page = _page(api, set_name)
    if page is None or not page.writable or not changed & {"currencyId", "currencyCode"}:
        return
    if page.id_first:
        _id_then_code(store, api, company, row, changed)
    else:
        _code_then_id(store, api, company, row, changed)


def _id_then_code(
    store: Store, api: ApiModel, company: str | None, row: dict[str, Any], changed: set[str]
) -> None:
    """customers, vendors and document headers: currencyId's OnValidate, then currencyCode's."""
    loaded: dict[str, Any] | None = None  # the page's global Currency record
    sent_code = row.get("currencyCode")
    if "currencyId" in changed:
        if _blank_id(row.get("currencyId")):
            row["currencyId"], row["currencyCode"] = EMPTY_GUID, ""
        else:
            loaded = find_row(store, api, "currencies", company, ("id", row["currencyId"]))
            if loaded is None:
                raise dialog(ID_NOT_FOUND)
            row["currencyCode"] = loaded["code"]
    if "currencyCode" in changed:
        code = _stored_code(store, api, company, sent_code)
        if loaded is not None:
            if loaded["code"] != code:
                raise dialog(MISMATCH)
            return
        row["currencyCode"] = code
        row["currencyId"] = _id_of(store, api, company, code)


def _code_then_id(
    store: Store, api: ApiModel, company: str | None, row: dict[str, Any], changed: set[str]
) -> None:
    """bankAccounts: currencyCode's OnValidate, then currencyId's (a page variable, not stored).

    The code's mismatch check reads CurrencyCodeId, which the later currencyId field has not set
    yet, so an id and a code that disagree are not refused: the id wins.
    """
    if "currencyCode" in changed:
        code = _stored_code(store, api, company, row["currencyCode"])
        _id_of(store, api, company, code)  # an unknown code is refused
        row["currencyCode"] = code
    if "currencyId" in changed and not _blank_id(row.get("currencyId")):
        found = find_row(store, api, "currencies", company, ("id", row["currencyId"]))
        if found is None:
            raise dialog(ID_NOT_FOUND)
        row["currencyCode"] = found["code"]
    row["currencyId"] = EMPTY_GUID


def _stored_code(store: Store, api: ApiModel, company: str | None, sent: object) -> str:
    """TranslateCurrencyCodeToNAVCurrencyCode: the LCY code is stored blank."""
    code = _code(sent)
    return "" if code == local_currency(store, api, company) else code


def _id_of(store: Store, api: ApiModel, company: str | None, code: str) -> str:
    """The id of the currency `code` names (the empty GUID for the blank LCY code)."""
    if not code:
        return EMPTY_GUID
    found = find_row(store, api, "currencies", company, ("code", code))
    if found is None:
        raise dialog(CODE_NOT_FOUND)
    return str(found["id"])
