"""Contract: setup sets, code tables and read-only sets behave as Business Central's.

Each test names its source in its docstring: Microsoft Learn, real responses quoted in public
issues and fixtures, or Microsoft's AL source in StefanMaron/MSDyn365BC.Code.History (`P/` is
APIV2/Source/_Exclude_APIV2_/src/pages/, `B/` is BaseApp/Source/Base Application/, at the commit
named). Assertions are BC's status, error code and message word for word, or the values BC
derives. Everything runs over HTTPS against the emulator.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from typing import Any

import pytest
from bc_answers import DIALOG, created, error_of, first, rows
from businesscentral_emulator.odata.edmx import standard_api
from tests_support import BC_API_FIXTURES

NOT_ALLOWED = "BadRequest_MethodNotAllowed"
SAME_KEY = "Internal_EntityWithSameKeyExists"


@pytest.fixture(scope="module")
def bc(start_emulator):
    """A small emulator of its own: these tests change rows."""
    return start_emulator(seed=31, scale=0.1)


def url(bc, path: str) -> str:
    return bc.company_url(path)


def post(bc, entity_set: str, body: dict[str, Any]):
    return bc.request("POST", url(bc, entity_set), json=body)


def patch(bc, path: str, body: dict[str, Any]):
    return bc.request("PATCH", url(bc, path), json=body, headers={"If-Match": "*"})


def not_allowed(method: str, entity_set: str, kind: str) -> str:
    return (
        f"'{method}' requests for '{entity_set}' of EdmType '{kind}' are not allowed within"
        " Dynamics 365 Business Central OData web services."
    )


# -- read-only sets ------------------------------------------------------------------------------

READ_ONLY_SETS = [
    "accounts",
    "generalLedgerEntries",
    "itemLedgerEntries",
    "dimensions",
    "dimensionValues",
    "generalLedgerSetup",
    "accountingPeriods",
    "currencyExchangeRates",
    "inventoryPostingGroups",
    "generalProductPostingGroups",
    "jobQueueEntries",
    "jobQueueLogEntries",
]


@pytest.mark.parametrize("entity_set", READ_ONLY_SETS)
def test_a_read_only_set_refuses_every_write_with_bcs_method_not_allowed(bc, entity_set):
    """POST, PATCH and DELETE on a set whose Capabilities say GET only: 405
    `BadRequest_MethodNotAllowed` `'<METHOD>' requests for '<set>' of EdmType 'Entity' are not
    allowed within Dynamics 365 Business Central OData web services.`

    Source: the BC 26 `$metadata` (tests/fixtures/bc-api/metadata-v2.0.xml: Insertable,
    Updatable and Deletable false for these sets; the pages are `Editable = false` or
    Insert/Modify/DeleteAllowed = false, e.g. P/APIV2GLEntries.Page.al @0812a575,
    P/APIV2InventoryPostGroup.Page.al @ca500c0c). The answer: Microsoft Learn
    dev-itpro/webservices/dynamics-error-codes.md (MicrosoftDocs/dynamics365smb-devitpro-pb
    @3ff33b97: ODataMethodNotAllowedException, `'POST' requests for 'companies' of EdmType
    'Entity' are not allowed within Microsoft Dynamics NAV OData web services.`,
    BadRequest_MethodNotAllowed), the status from Learn's include-http-status-error-codes.md
    (405, "a client calling an API query (which is read-only) using HTTP POST"), the product
    name as real BC SaaS answers spell it (hougaard/Simple-Object-Designer issues 36, 100, 284).
    """
    api = standard_api()
    capabilities = api.entity_sets[entity_set]
    assert not capabilities.insertable
    assert not capabilities.updatable
    assert not capabilities.deletable
    row = first(bc, entity_set)
    answers = {
        "POST": post(bc, entity_set, {}),
        "PATCH": patch(bc, f"{entity_set}({row['id']})", {}),
        "DELETE": bc.request("DELETE", url(bc, f"{entity_set}({row['id']})")),
    }
    for method, response in answers.items():
        assert error_of(response) == (405, NOT_ALLOWED, not_allowed(method, entity_set, "Entity"))
    assert first(bc, entity_set, **{"$filter": f"id eq {row['id']}"}) == row


def test_company_information_takes_patch_only(bc):
    """companyInformation: POST and DELETE are refused (InsertAllowed/DeleteAllowed false, EDMX
    GET,PATCH); a PATCH of an editable field is answered 200 with the change.

    Source: P/APIV2CompanyInformation.Page.al @1f415a716a12399d625ae36870e355a94b197ffa; the
    refusal's words as in test_a_read_only_set_refuses_every_write_with_bcs_method_not_allowed.
    """
    info = first(bc, "companyInformation")
    assert error_of(post(bc, "companyInformation", {})) == (
        405,
        NOT_ALLOWED,
        not_allowed("POST", "companyInformation", "Entity"),
    )
    deleted = bc.request("DELETE", url(bc, f"companyInformation({info['id']})"))
    assert error_of(deleted) == (
        405,
        NOT_ALLOWED,
        not_allowed("DELETE", "companyInformation", "Entity"),
    )
    changed = patch(bc, f"companyInformation({info['id']})", {"phoneNumber": "+1 425 555 0199"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["phoneNumber"] == "+1 425 555 0199"


def test_company_information_shows_the_local_currency_and_the_fiscal_year_start(bc):
    """currencyCode is General Ledger Setup's "LCY Code"; currentFiscalYearStartDate is the
    starting date of the last accounting period with New Fiscal Year; both read-only.

    Source: P/APIV2CompanyInformation.Page.al @1f415a71 SetCalculatedFields
    (`LCYCurrencyCode := GeneralLedgerSetup."LCY Code"`, `AccountingPeriod.SetRange("New Fiscal
    Year", true); if AccountingPeriod.FindLast() then FiscalYearStart := ...`), `Editable = false`.
    """
    info = first(bc, "companyInformation")
    setup = first(bc, "generalLedgerSetup")
    years = [p["startingDate"] for p in rows(bc, "accountingPeriods") if p["newFiscalYear"]]
    assert info["currencyCode"] == setup["localCurrencyCode"]
    assert info["currentFiscalYearStartDate"] == max(years)
    refused = patch(bc, f"companyInformation({info['id']})", {"currencyCode": "EUR"})
    assert error_of(refused) == (400, "BadRequest", "Control 'currencyCode' is read-only.")


def test_a_patch_or_delete_of_a_whole_collection_is_refused(bc):
    """PATCH (or DELETE) of a collection URL: 405 `'PATCH' requests for 'items' of EdmType
    'Collection' are not allowed within Dynamics 365 Business Central OData web services.`

    Source: real BC SaaS answers quoted in hougaard/Simple-Object-Designer issue 36 (2022-01,
    `items`, word for word) and issues 100 and 284 (custom pages, same shape); DELETE by the same
    rule (inferred).
    """
    response = bc.request("PATCH", url(bc, "items"), json={}, headers={"If-Match": "*"})
    assert error_of(response) == (405, NOT_ALLOWED, not_allowed("PATCH", "items", "Collection"))
    response = bc.request("DELETE", url(bc, "paymentTerms"))
    assert error_of(response) == (
        405,
        NOT_ALLOWED,
        not_allowed("DELETE", "paymentTerms", "Collection"),
    )


# -- code tables ---------------------------------------------------------------------------------

CODE_TABLES = [
    ("paymentTerms", "Payment Terms"),
    ("paymentMethods", "Payment Method"),
    ("shipmentMethods", "Shipment Method"),
    ("countriesRegions", "Country/Region"),
    ("currencies", "Currency"),
    ("unitsOfMeasure", "Unit of Measure"),
    ("itemCategories", "Item Category"),
    ("disputeStatus", "Dispute Status"),
    ("customerReturnReasons", "Reason Code"),
    ("fixedAssetLocations", "FA Location"),
]


@pytest.mark.parametrize(("entity_set", "table"), CODE_TABLES)
def test_a_duplicate_code_is_the_platforms_duplicate_key_error(bc, entity_set, table):
    """POST with an existing code, or a PATCH renaming onto one: 400
    `Internal_EntityWithSameKeyExists` `The record in table <Table> already exists.
    Identification fields and values: Code='<code>'`.

    Source: the pages insert with the code as the table's primary key (P/APIV2PaymentTerms.Page.al
    @680438e5 OnInsertRecord: `if not PaymentTerms.IsEmpty() then Rec.Insert()`, the others
    `Insert(true)`, OnModifyRecord `Rename`). Code: Learn dynamics-error-codes
    (NavCSideDuplicateKeyException). Wording: a real v2.0 answer, `The record in table Customer
    already exists. Identification fields and values: No.='4281'`
    (fivesenses/business_central test/fixtures/post_customer_409.json @c500572e). Status 400: a
    BC automation-API client tests `status === 400 && code === "Internal_EntityWithSameKeyExists"`
    (find_string id 8859720307). Table captions: the tables' `Caption` (B/.../PaymentTerms.Table.al
    'Payment Terms', table 9 'Country/Region', 204 'Unit of Measure', 231 'Reason Code', 5609 'FA
    Location', ...).
    """
    existing, other = rows(bc, entity_set, **{"$top": "2", "$orderby": "code"})
    message = (
        f"The record in table {table} already exists."
        f" Identification fields and values: Code='{existing['code']}'"
    )
    assert error_of(post(bc, entity_set, {"code": existing["code"]})) == (400, SAME_KEY, message)
    renamed = patch(bc, f"{entity_set}({other['id']})", {"code": existing["code"]})
    assert error_of(renamed) == (400, SAME_KEY, message)


@pytest.mark.parametrize("entity_set", [name for name, _ in CODE_TABLES])
def test_patching_the_code_renames_the_record_and_keeps_its_id(bc, entity_set):
    """A PATCH of `code` renames: 200, the same id, the new code, found by the new code.

    Source: OnModifyRecord in P/APIV2PaymentTerms.Page.al @680438e5 and P/APIV2Currencies.Page.al
    @2605be96 (`PaymentTerms.Rename(Rec.Code)` when the code differs); pages without the trigger
    (P/APIV2UnitsOfMeasure, page 30030) rename through the platform's primary-key change.
    """
    row = created(post(bc, entity_set, {"code": "RN1"}))
    response = patch(bc, f"{entity_set}({row['id']})", {"code": "RN2"})
    assert response.status_code == 200, response.text
    assert (response.json()["id"], response.json()["code"]) == (row["id"], "RN2")
    assert first(bc, entity_set, **{"$filter": "code eq 'RN2'"})["id"] == row["id"]


@pytest.mark.parametrize(
    ("entity_set", "user_set", "field"),
    [
        ("unitsOfMeasure", "items", "baseUnitOfMeasureCode"),
        ("itemCategories", "items", "itemCategoryCode"),
        ("countriesRegions", "customers", "country"),
        ("fixedAssetLocations", "fixedAssets", "fixedAssetLocationCode"),
    ],
)
def test_a_rename_follows_into_the_records_that_name_the_code(bc, entity_set, user_set, field):
    """After a rename, the records that held the old code hold the new one.

    Source: Rename updates the fields whose TableRelation points at the renamed key (Item "Base
    Unit of Measure", "Item Category Code", Customer "Country/Region Code", Fixed Asset "FA
    Location Code"); for units of measure the table says so itself:
    B/Foundation/UOM/UnitofMeasure.Table.al @0599fda7 OnRename `Item.ModifyAll("Base Unit of
    Measure", Code, true)`.
    """
    user = first(bc, user_set, **{"$filter": f"{field} ne ''"})
    code = user[field]
    renamed = first(bc, entity_set, **{"$filter": f"code eq '{code}'"})
    new_code = f"Z{code}"[:10]
    response = patch(bc, f"{entity_set}({renamed['id']})", {"code": new_code})
    assert response.status_code == 200, response.text
    after = bc.get(url(bc, f"{user_set}({user['id']})")).json()
    assert after[field] == new_code
    assert not rows(bc, user_set, **{"$filter": f"{field} eq '{code}'"})


def test_a_unit_of_measure_in_use_cannot_be_deleted(bc):
    """DELETE of a unit of measure that is an item's base unit: 400 Application_DialogException
    `You cannot delete the unit of measure because it is assigned to one or more records.`; an
    unused one is deleted (204).

    Source: B/Foundation/UOM/UnitofMeasure.Table.al @0599fda7 OnDelete (UoMIsStillUsedError).
    """
    item = first(bc, "items", **{"$filter": "baseUnitOfMeasureCode ne ''"})
    unit = first(bc, "unitsOfMeasure", **{"$filter": f"code eq '{item['baseUnitOfMeasureCode']}'"})
    response = bc.request("DELETE", url(bc, f"unitsOfMeasure({unit['id']})"))
    assert error_of(response) == (
        400,
        DIALOG,
        "You cannot delete the unit of measure because it is assigned to one or more records.",
    )
    unused = created(post(bc, "unitsOfMeasure", {"code": "UNUSED", "displayName": "Unused"}))
    assert bc.request("DELETE", url(bc, f"unitsOfMeasure({unused['id']})")).status_code == 204


@pytest.mark.parametrize(
    ("entity_set", "table"), [("currencies", "Currency"), ("itemCategories", "Item Category")]
)
def test_a_blank_code_fails_the_tables_testfield(bc, entity_set, table):
    """POST without a code on a table whose OnInsert runs `TestField(Code)`: 400
    `Application_FieldValidationException` `Code must have a value in <Table>: Code=. It cannot
    be zero or empty.`

    Source: B/Finance/Currency/Currency.Table.al @0599fda7 and Item Category (table 5722,
    find_string id 1188305291) OnInsert `TestField(Code)`; the code and message pattern from
    Learn dynamics-error-codes (NavTestFieldException: `Customer Posting Group must have a value
    in Customer: No.=C00690. It cannot be zero or empty.`).
    """
    assert error_of(post(bc, entity_set, {"displayName": "No code"})) == (
        400,
        "Application_FieldValidationException",
        f"Code must have a value in {table}: Code=. It cannot be zero or empty.",
    )


def test_a_new_currency_takes_the_tables_initial_values_and_its_symbol(bc):
    """A currency POSTed with only a code: amountDecimalPlaces `2:2`, amountRoundingPrecision
    0.01, and the symbol BC knows for the code; a symbol sent wins.

    Source: B/Finance/Currency/Currency.Table.al @0599fda7: InitValue '2:2' ("Amount Decimal
    Places") and 0.01 ("Invoice Rounding Precision", which P/APIV2Currencies.Page.al @2605be96
    shows as amountRoundingPrecision); Code OnValidate `if Symbol = '' then Symbol :=
    ResolveCurrencySymbol(Code)` ('NZD' and the other dollars -> '$', 'ISK' -> 'kr'); the page
    validates `symbol` after `code`.
    """
    dollar = created(post(bc, "currencies", {"code": "NZD", "displayName": "New Zealand dollar"}))
    assert (dollar["amountDecimalPlaces"], dollar["amountRoundingPrecision"]) == ("2:2", 0.01)
    assert dollar["symbol"] == "$"
    krona = created(post(bc, "currencies", {"code": "ISK"}))
    assert krona["symbol"] == "kr"
    own = created(post(bc, "currencies", {"code": "SGD", "symbol": "S$"}))
    assert own["symbol"] == "S$"


def test_amount_decimal_places_are_checked_and_stored_as_bc_formats_them(bc):
    """amountDecimalPlaces must be one number or min:max, each 0..9, min <= max; otherwise 400
    Application_DialogException `Enter one number or two numbers separated by a colon. The
    online Help for this field describes how you can fill in the field.`; `02:3` is stored `2:3`.

    Source: B/Finance/Currency/Currency.Table.al @0599fda7 ("Amount Decimal Places" OnValidate ->
    GLSetup.CheckDecimalPlacesFormat); General Ledger Setup table (find_string id 59702916440:
    CheckDecimalPlacesFormat, Text016 + Text017, `DecimalPlaces := StrSubstNo('%1:%2', ...)`).
    """
    normalised = created(post(bc, "currencies", {"code": "HKD", "amountDecimalPlaces": "02:3"}))
    assert normalised["amountDecimalPlaces"] == "2:3"
    message = (
        "Enter one number or two numbers separated by a colon."
        " The online Help for this field describes how you can fill in the field."
    )
    for bad in ("3:2", "2:", "a", "1:10"):
        response = patch(bc, f"currencies({normalised['id']})", {"amountDecimalPlaces": bad})
        assert error_of(response) == (400, DIALOG, message), bad


def test_deleting_a_currency_deletes_its_exchange_rates(bc):
    """DELETE of a currency removes its exchange rates.

    Source: B/Finance/Currency/Currency.Table.al @0599fda7 OnDelete
    (`CurrExchRate.SetRange("Currency Code", Code); CurrExchRate.DeleteAll()`).
    """
    rate = first(bc, "currencyExchangeRates")
    currency = first(bc, "currencies", **{"$filter": f"code eq '{rate['currencyCode']}'"})
    assert bc.request("DELETE", url(bc, f"currencies({currency['id']})")).status_code == 204
    assert not rows(
        bc, "currencyExchangeRates", **{"$filter": f"currencyCode eq '{currency['code']}'"}
    )


# -- actions, navigation, webhooks ---------------------------------------------------------------


def test_restarting_a_job_queue_entry_makes_it_ready(bc):
    """`jobQueueEntries(id)/Microsoft.NAV.restart`: 204 no content; the entry is Ready with its
    session values cleared.

    Source: P/APIV2JobQueueEntries.Page.al @270597d100da44810d4bc15d7e5ac31263b0e803 (Restart:
    `Rec.Restart()`); Job Queue Entry.Restart (find_string id 29963032: ClearServiceValues, Status
    := Ready); Microsoft Learn api-reference/v2.0/resources/dynamics_jobqueueentry ("The response
    has no content; the response code is 204.").
    """
    entry = first(bc, "jobQueueEntries", **{"$filter": "userSessionId ne 0"})
    response = bc.request("POST", url(bc, f"jobQueueEntries({entry['id']})/Microsoft.NAV.restart"))
    assert response.status_code == 204, response.text
    assert not response.content
    after = bc.get(url(bc, f"jobQueueEntries({entry['id']})")).json()
    assert after["status"] == "Ready"
    assert (after["userSessionId"], after["userServiceInstanceId"]) == (0, 0)
    assert after["userSessionStarted"] == "0001-01-01T00:00:00Z"


def test_a_job_queue_entrys_log_entries_are_read_through_it(bc):
    """`jobQueueEntries(id)/jobQueueLogEntries` answers the log entries whose jobQueueEntryId is
    the entry's "ID" (a real GUID, never empty).

    Source: P/APIV2JobQueueEntries.Page.al @270597d100da44810d4bc15d7e5ac31263b0e803 (field
    jobQueueEntryId = Rec.ID; part jobQueueLogEntry, SubPageLink ID = field(ID));
    P/APIV2JobQueueLogEntries.Page.al @ac6f143e (jobQueueEntryId = Rec.ID).
    """
    logged = {row["jobQueueEntryId"] for row in rows(bc, "jobQueueLogEntries")}
    entry = next(e for e in rows(bc, "jobQueueEntries") if e["jobQueueEntryId"] in logged)
    assert entry["jobQueueEntryId"] != "00000000-0000-0000-0000-000000000000"
    found = rows(bc, f"jobQueueEntries({entry['id']})/jobQueueLogEntries")
    assert found
    assert {row["jobQueueEntryId"] for row in found} == {entry["jobQueueEntryId"]}


def test_a_dimensions_values_are_read_through_it(bc):
    """`dimensions(id)/dimensionValues` answers that dimension's values, each with its
    dimensionId; the company-level set answers all of them.

    Source: P/APIV2Dimensions.Page.al @25fa5c1f (part dimensionValues, SubPageLink "Dimension
    Id" = field(SystemId)); P/APIV2DimensionValuesEntity.Page.al @25fa5c1f (no OnFindRecord).
    """
    dimension = first(bc, "dimensions")
    values = rows(bc, f"dimensions({dimension['id']})/dimensionValues")
    assert values
    assert {v["dimensionId"] for v in values} == {dimension["id"]}
    everything = bc.get_all(url(bc, "dimensionValues"))
    assert len(everything) > len(values)


def test_a_subscription_gets_its_id_and_expires_three_days_on(bc):
    """POST subscriptions: 201 with a `subscriptionId` of 32 hexadecimal digits and an
    `expirationDateTime` three days after `lastModifiedDateTime`, as a real answer has them; a
    PATCH renews it for three days from then and keeps clientState unless sent.

    Source: a real answer (tests/fixtures/bc-api/responses/subscription.json, from
    rebelpl/bc-api2-client tests/files/subscription.json); Microsoft Learn
    api-reference/v1.0/api/dynamics_subscription_update ("A subscription is valid for 3 days
    unless it is updated."). Not asserted: the handshake, which the emulator does not make.
    """
    real = json.loads((BC_API_FIXTURES / "responses" / "subscription.json").read_text())

    def lifetime(row: dict[str, Any]) -> dt.timedelta:
        return _instant(row["expirationDateTime"]) - _instant(row["lastModifiedDateTime"])

    assert lifetime(real) == dt.timedelta(days=3)
    company = bc.companies[0]["id"]
    body = {
        "notificationUrl": "https://hooks.example/bc",
        "resource": f"api/v2.0/companies({company})/customers",
        "clientState": "secret-state",
    }
    response = bc.request("POST", f"{bc.api_root()}/subscriptions", json=body)
    row = created(response)
    assert re.fullmatch(r"[0-9a-f]{32}", row["subscriptionId"])
    assert re.fullmatch(r"[0-9a-f]{32}", real["subscriptionId"])
    assert lifetime(row) == dt.timedelta(days=3)
    assert row["clientState"] == "secret-state"
    path = f"{bc.api_root()}/subscriptions('{row['subscriptionId']}')"
    renewed = bc.request("PATCH", path, json={}, headers={"If-Match": row["@odata.etag"]})
    assert renewed.status_code == 200, renewed.text
    assert lifetime(renewed.json()) == dt.timedelta(days=3)
    assert _instant(renewed.json()["expirationDateTime"]) >= _instant(row["expirationDateTime"])
    assert renewed.json()["clientState"] == "secret-state"
    assert bc.request("DELETE", path).status_code == 204


def _instant(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment.replace(microsecond=0)


def test_a_new_code_row_gets_a_fresh_id(bc):
    """A code-table POST is answered 201 with a new SystemId, the code sent and the row found by it.

    Source: P/APIV2PaymentMethods.Page.al @10383a2a (Insert(true); `id` is SystemId, Editable =
    false).
    """
    row = created(post(bc, "paymentMethods", {"code": "NEWPM", "displayName": "New"}))
    assert uuid.UUID(row["id"])
    assert first(bc, "paymentMethods", **{"$filter": "code eq 'NEWPM'"})["id"] == row["id"]
