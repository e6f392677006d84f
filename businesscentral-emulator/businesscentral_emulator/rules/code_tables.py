"""Code tables (payment terms, currencies, units of measure, ...): BC's keys, renames and defaults.

These API pages sit on real BaseApp tables whose primary key is `Code`, so what a client meets is
mostly the platform's and the table's behaviour, each cited below. P/ is
StefanMaron/MSDyn365BC.Code.History `APIV2/Source/_Exclude_APIV2_/src/pages/`, B/ its
`BaseApp/Source/Base Application/`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from businesscentral_emulator.odata.errors import BusinessCentralError
from businesscentral_emulator.rules.validation import dialog
from businesscentral_emulator.store.sqlite import quote, table_name

if TYPE_CHECKING:
    from businesscentral_emulator.odata.edmx import ApiModel
    from businesscentral_emulator.store.sqlite import Store

# The BaseApp table behind a page, by its caption (`Caption = '...'` of the table), where it is
# not the entity type's name split into words: the duplicate-key message names the table.
TABLE_CAPTIONS = {
    "paymentTerms": "Payment Terms",  # B/Foundation/PaymentTerms/PaymentTerms.Table.al (table 3)
    "countriesRegions": "Country/Region",  # table 9
    "unitsOfMeasure": "Unit of Measure",  # B/Foundation/UOM/UnitofMeasure.Table.al (table 204)
    "customerReturnReasons": "Reason Code",  # P/APIV2CustReturnReasons.Page.al: table Reason Code
    "fixedAssetLocations": "FA Location",  # P/APIV2FALocations.Page.al: table FA Location
    "salespeoplePurchasers": "Salesperson/Purchaser",  # page 30075: table Salesperson/Purchaser
    "projects": "Job",  # P/APIV2Jobs.Page.al: table Job
}


def table_caption(set_name: str, type_name: str) -> str:
    """The caption of the table behind an entity set: `paymentTerms` -> `Payment Terms`."""
    if set_name in TABLE_CAPTIONS:
        return TABLE_CAPTIONS[set_name]
    return re.sub(r"(?<!^)(?=[A-Z])", " ", type_name).title()


def duplicate_key(table: str, identification: str) -> BusinessCentralError:
    """An insert or rename onto an existing key: the platform's NavCSideDuplicateKeyException.

    Code `Internal_EntityWithSameKeyExists` (Microsoft Learn dynamics-error-codes); the message as
    a real BC v2.0 response worded it: `The record in table Customer already exists.
    Identification fields and values: No.='4281'` (fivesenses/business_central
    test/fixtures/post_customer_409.json @c500572e). Status 400: a client of BC's automation API
    tests `status === 400 && code === "Internal_EntityWithSameKeyExists"` (find_string id
    8859720307) and the same Ruby client stubs the body with 400; no source shows BC's 409.
    """
    return BusinessCentralError(
        400,
        "Internal_EntityWithSameKeyExists",
        f"The record in table {table} already exists."
        f" Identification fields and values: {identification}",
    )


# -- renames -------------------------------------------------------------------------------------

# A PATCH of `code` renames the record (the pages' OnModifyRecord call Rename, or the platform
# renames a page's primary key), and a Rename updates every field whose TableRelation points at
# the old key. Fields that hold the code in other API sets, per renamed set:
RENAMED_IN = {
    # B/Foundation/UOM/UnitofMeasure.Table.al OnRename: Item.ModifyAll("Base Unit of Measure")
    "unitsOfMeasure": (("items", "baseUnitOfMeasureCode"),),
    # Item."Item Category Code" TableRelation "Item Category"
    "itemCategories": (("items", "itemCategoryCode"),),
    # Fixed Asset."FA Location Code" TableRelation "FA Location"
    "fixedAssetLocations": (("fixedAssets", "fixedAssetLocationCode"),),
    # Sales Invoice Header/Sales Header "Dispute Status" TableRelation "Dispute Status"
    "disputeStatus": (("salesInvoices", "disputeStatus"),),
    # Sales Shipment Header "Payment Terms Code" / "Shipment Method Code"
    "paymentTerms": (("salesShipments", "paymentTermsCode"),),
    "shipmentMethods": (("salesShipments", "shipmentMethodCode"),),
    # "Currency Code" TableRelation Currency on the parties, documents and exchange rates
    "currencies": (
        ("currencyExchangeRates", "relationalCurrencyCode"),
        *(
            (set_name, "currencyCode")
            for set_name in (
                "customers",
                "vendors",
                "bankAccounts",
                "salesInvoices",
                "salesOrders",
                "salesQuotes",
                "salesCreditMemos",
                "salesShipments",
                "purchaseInvoices",
                "purchaseOrders",
                "purchaseCreditMemos",
                "purchaseReceipts",
                "currencyExchangeRates",
            )
        ),
    ),
    # "Country/Region Code" TableRelation "Country/Region" on addresses
    "countriesRegions": (
        *(
            (set_name, "country")
            for set_name in ("customers", "vendors", "contacts", "employees", "locations")
        ),
        *(
            (set_name, f"{part}Country")
            for set_name, parts in (
                ("salesInvoices", ("sellTo", "billTo", "shipTo")),
                ("salesOrders", ("sellTo", "billTo", "shipTo")),
                ("salesQuotes", ("sellTo", "billTo", "shipTo")),
                ("salesCreditMemos", ("sellTo", "billTo")),
                ("salesShipments", ("sellTo", "billTo", "shipTo")),
                ("purchaseInvoices", ("buyFrom", "payTo", "shipTo")),
                ("purchaseOrders", ("buyFrom", "payTo", "shipTo")),
                ("purchaseCreditMemos", ("buyFrom", "payTo")),
                ("purchaseReceipts", ("buyFrom", "payTo", "shipTo")),
            )
            for part in parts
        ),
    ),
}


def cascade_rename(
    store: Store, api: ApiModel, set_name: str, company: str | None, codes: tuple[str, str]
) -> None:
    """After a code changed (`codes`: old, new), records that named the old code name the new."""
    old, new = codes
    if not old or old == new:
        return
    db = store.connection()
    for other, field in RENAMED_IN.get(set_name, ()):
        entity_set = api.entity_sets.get(other)
        if entity_set is None or field not in entity_set.entity_type.properties:
            continue
        db.execute(
            f"UPDATE {table_name(api.route, other)} SET {quote(field)} = ?"
            f" WHERE _company IS ? AND {quote(field)} = ?",
            (new, company, old),
        )


# -- currencies ----------------------------------------------------------------------------------

# B/Finance/Currency/Currency.Table.al @0599fda7: ResolveCurrencySymbol, called from the Code
# field's OnValidate when Symbol is blank (the page validates `code` before `symbol`).
_SYMBOLS = {
    **dict.fromkeys(("AUD", "BND", "CAD", "FJD", "HKD", "MXN", "NZD", "SBD", "SGD", "USD"), "$"),
    "GBP": "\N{POUND SIGN}",
    **dict.fromkeys(("DKK", "ISK", "NOK", "SEK"), "kr"),
    "EUR": "\N{EURO SIGN}",
    **dict.fromkeys(("CNY", "JPY"), "\N{YEN SIGN}"),
}
# General Ledger Setup.CheckDecimalPlacesFormat: Error(Text016 + Text017).
DECIMAL_PLACES_ERROR = (
    "Enter one number or two numbers separated by a colon. "
    "The online Help for this field describes how you can fill in the field."
)
_AL_INTEGER = re.compile(r"^\s*[+-]?\d+\s*$")


def decimal_places(text: str) -> str:
    """General Ledger Setup.CheckDecimalPlacesFormat: `2:5` or `3`, each 0..9, min <= max.

    Returns the value as BC stores it (`Format` of the integers: `02:3` -> `2:3`).
    """
    parts = text.split(":", 1)
    if not all(_AL_INTEGER.match(part) for part in parts):
        raise dialog(DECIMAL_PLACES_ERROR)
    numbers = [int(part) for part in parts]
    if any(n < 0 or n > 9 for n in numbers) or numbers != sorted(numbers):  # noqa: PLR2004
        raise dialog(DECIMAL_PLACES_ERROR)
    return ":".join(str(n) for n in numbers)


def _currency_insert(row: dict[str, Any], sent: set[str]) -> None:
    """Currency's InitValues and OnInsert, and the Code field's OnValidate.

    `amountDecimalPlaces` InitValue '2:2'; `amountRoundingPrecision` is bound to "Invoice
    Rounding Precision" (P/APIV2Currencies.Page.al @2605be96), InitValue 0.01.
    """
    if "amountDecimalPlaces" not in sent:
        row["amountDecimalPlaces"] = "2:2"
    if "amountRoundingPrecision" not in sent:
        row["amountRoundingPrecision"] = "0.01"
    if "symbol" not in sent and not row.get("symbol"):
        row["symbol"] = _SYMBOLS.get(str(row["code"]).upper(), "")


def _currency_fields(row: dict[str, Any], sent: set[str]) -> None:
    if "amountDecimalPlaces" in sent:
        row["amountDecimalPlaces"] = decimal_places(str(row.get("amountDecimalPlaces") or ""))


# -- hooks called by the writer ------------------------------------------------------------------


# Tables whose OnInsert trigger runs `TestField(Code)`: B/Finance/Currency/Currency.Table.al
# @0599fda7, Item Category (table 5722; find_string id 1188305291).
CODE_TESTED_ON_INSERT = {"currencies": "Currency", "itemCategories": "Item Category"}


def blank_code(table: str) -> BusinessCentralError:
    """`TestField(Code)` on a blank code: NavTestFieldException in BC's words.

    From Microsoft Learn dynamics-error-codes (Application_FieldValidationException,
    `Customer Posting Group must have a value in Customer: No.=C00690. It cannot be zero or
    empty.`); the key shown as `Code=` for a blank code is inferred from that pattern.
    """
    return BusinessCentralError(
        400,
        "Application_FieldValidationException",
        f"Code must have a value in {table}: Code=. It cannot be zero or empty.",
    )


def on_insert(set_name: str, row: dict[str, Any], sent: set[str]) -> None:
    """What a code table's page and table do to a new record before it is inserted."""
    if set_name in CODE_TESTED_ON_INSERT and not row.get("code"):
        raise blank_code(CODE_TESTED_ON_INSERT[set_name])
    if set_name == "currencies":
        _currency_fields(row, sent)
        _currency_insert(row, sent)


def on_update(set_name: str, row: dict[str, Any], sent: set[str], before: dict[str, Any]) -> None:
    """What a code table's page and table do to a changed record (`row` holds the new values)."""
    if set_name == "currencies":
        _currency_fields(row, sent)
        code_changed = row.get("code") != before.get("code")
        if code_changed and "symbol" not in sent and not row.get("symbol"):
            row["symbol"] = _SYMBOLS.get(str(row.get("code") or "").upper(), "")


# B/Foundation/UOM/UnitofMeasure.Table.al @0599fda7 OnDelete (UoMIsStillUsedError).
UNIT_IN_USE = "You cannot delete the unit of measure because it is assigned to one or more records."


def check_delete(store: Store, api: ApiModel, set_name: str, row: dict[str, Any]) -> None:
    """A table's OnDelete refusals."""
    if set_name == "unitsOfMeasure" and row.get("code") and "items" in api.entity_sets:
        used = store.fetch_one(
            f"SELECT 1 FROM {table_name(api.route, 'items')}"
            ' WHERE _company IS ? AND "baseUnitOfMeasureCode" = ? LIMIT 1',
            (row.get("_company"), row["code"]),
        )
        if used is not None:
            raise dialog(UNIT_IN_USE)


def after_delete(store: Store, api: ApiModel, set_name: str, row: dict[str, Any]) -> None:
    """What a table's OnDelete removes with the record.

    Currency.OnDelete: `CurrExchRate.SetRange("Currency Code", Code); CurrExchRate.DeleteAll()`.
    """
    if set_name == "currencies" and row.get("code") and "currencyExchangeRates" in api.entity_sets:
        store.connection().execute(
            f"DELETE FROM {table_name(api.route, 'currencyExchangeRates')}"
            ' WHERE _company IS ? AND "currencyCode" = ?',
            (row.get("_company"), row["code"]),
        )
