"""Contract: master data (customers, vendors, items, variants, opportunities...) as BC writes it.

Sources, cited per test: Microsoft's APIV2 pages (StefanMaron/MSDyn365BC.Code.History,
`APIV2/Source/_Exclude_APIV2_/src/pages/`, abbreviated `P/`), the BaseApp tables they hand on to
(`BaseApp/Source/Base Application/...`), the Contoso demo data's number series, Microsoft Learn's
error-code table and real BC responses quoted in public issues. Assertions are BC's status, error
code and message word for word, or the values BC gives. Everything runs over HTTPS.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from bc_answers import DIALOG, created, error_of, first, rows

RELATION = "Internal_InvalidTableRelation"


@pytest.fixture(scope="module")
def bc(start_emulator):
    """A small emulator of its own: these tests add and delete rows."""
    return start_emulator(seed=11, scale=0.1)


def post(bc, path: str, body: dict[str, Any]):
    return bc.request("POST", bc.company_url(path), json=body)


def patch(bc, entity_set: str, row_id: str, body: dict[str, Any]):
    url = bc.company_url(f"{entity_set}({row_id})")
    return bc.request("PATCH", url, json=body, headers={"If-Match": "*"})


def delete(bc, entity_set: str, row_id: str):
    return bc.request("DELETE", bc.company_url(f"{entity_set}({row_id})"))


def guid_shown(value: str) -> str:
    return "{" + value.upper() + "}"


def test_a_record_sent_without_a_number_gets_the_next_number_of_its_series(bc):
    """Table.OnInsert: a blank No. takes NoSeries.GetNextNo of the setup's series.

    Sources: BaseApp Customer.Table.al / Vendor.Table.al OnInsert (`"No." := NoSeries.GetNextNo`,
    then `while Customer.Get("No.") do` the next one); the series of the Contoso demo company
    (ContosoCoffeeDemoDataset `DemoData/Foundation/1.Setup data/CreateNoSeries.Codeunit.al`
    @08a5b6c8: Customer 'C00010'..'C99990' by 10, Vendor 'V00010' by 10, Item '1000' by 1, Bank
    'B010' by 10, Opportunity 'OP000001' by 1; codeunit 5177 Employee 'E0010' by 10; codeunit 5195
    Projects 'PR00010' by 10). The seed's own numbers (10000, EMP0001, J00010, CHECKING) are
    outside these series.
    """
    first_customer = created(post(bc, "customers", {"displayName": "Series One"}))
    second_customer = created(post(bc, "customers", {"displayName": "Series Two"}))
    assert (first_customer["number"], second_customer["number"]) == ("C00010", "C00020")
    expected = {
        "vendors": "V00010",
        "items": "1000",
        "employees": "E0010",
        "projects": "PR00010",
        "bankAccounts": "B010",
        "opportunities": "OP000001",
    }
    for entity_set, number in expected.items():
        assert created(post(bc, entity_set, {}))["number"] == number, entity_set


def test_a_series_continues_after_its_highest_number(bc):
    """The seed's contacts and fixed assets use the Contoso pattern; a new one follows them.

    Sources: CreateNoSeries.Codeunit.al @08a5b6c8 (Contact 'CT000001' by 1); codeunit 4780
    "Create FA No Series" (Fixed Asset 'FA000010' by 10). Simplified: the series' last number used
    is the highest number of its pattern in the table.
    """
    contacts = [r["number"] for r in rows(bc, "contacts", **{"$select": "number"})]
    highest = max(n for n in contacts if n.startswith("CT") and len(n) == len("CT000001"))
    new = created(post(bc, "contacts", {"displayName": "Series Contact"}))
    assert new["number"] == f"CT{int(highest[2:]) + 1:06d}"
    assets = [r["number"] for r in rows(bc, "fixedAssets", **{"$select": "number"})]
    highest = max(n for n in assets if n.startswith("FA") and len(n) == len("FA000010"))
    new = created(post(bc, "fixedAssets", {}))
    assert new["number"] == f"FA{int(highest[2:]) + 10:06d}"


def test_a_taken_number_is_a_duplicate_key_and_a_new_one_renames(bc):
    """POST with an existing No.: OnInsertRecord's plain Rec.Insert() fails on the key; PATCH of
    `number` renames the record (OnModifyRecord: `Customer.Rename(Rec."No.")`), keeping its id.

    Sources: P/APIV2Customers.Page.al @069a685cfdaa720c6f0665d3da7f1e30253b8938 and
    P/APIV2Vendors.Page.al @220c9d4e085ea7298091e1f021d9814a57319224 (OnInsertRecord,
    OnModifyRecord); code Internal_EntityWithSameKeyExists from Microsoft Learn's
    dynamics-error-codes.md (NavCSideDuplicateKeyException) and real client code; wording "The
    record in table <Table> already exists. Identification fields and values: <Field>='<value>'"
    as real BC errors quote it (e.g. "The record in table Gen. Journal Line already exists.
    Identification fields and values: ..."). Status 400 as for code tables (real client code and
    one real OData V4 trace report 400; no source shows 409).
    """
    vendors = rows(bc, "vendors", **{"$top": "2", "$orderby": "number"})
    taken = vendors[0]["number"]
    message = (
        "The record in table Vendor already exists. Identification fields and values:"
        f" No.='{taken}'"
    )
    assert error_of(post(bc, "vendors", {"number": taken})) == (
        400,
        "Internal_EntityWithSameKeyExists",
        message,
    )
    assert error_of(patch(bc, "vendors", vendors[1]["id"], {"number": taken}))[1:] == (
        "Internal_EntityWithSameKeyExists",
        message,
    )
    renamed = patch(bc, "vendors", vendors[1]["id"], {"number": "V-RENAMED"})
    assert renamed.status_code == 200, renamed.text
    assert (renamed.json()["id"], renamed.json()["number"]) == (vendors[1]["id"], "V-RENAMED")


def test_unknown_related_records_are_refused_by_the_table_relation(bc):
    """A code or id whose table field has a TableRelation is checked by the platform first.

    Sources: real v2.0 items response "The field Tax Group Id of table Item contains a value
    ({...}) that cannot be found in the related table (Tax Group)." (MicrosoftDocs/
    dynamics365smb-devitpro-pb issue 2801) although P/APIV2Items.Page.al has its own label;
    code Internal_InvalidTableRelation from Microsoft Learn dynamics-error-codes.md
    (NavCSideValidateTableRelationException). Table fields and captions: BaseApp Item.Table.al
    @020a921f (Item Category Code, Tax Group Code, Gen. Prod. Posting Group, Inventory Posting
    Group; Unit of Measure Id), Customer.Table.al / Vendor.Table.al (Payment Terms Id, Shipment
    Method Id, Payment Method Id -> `.SystemId`), ItemVariant.Table.al @05d57db6 (Item No., Item
    Id). Status 400 is unconfirmed.
    """
    missing = str(uuid.uuid4())
    cases = [
        (
            "items",
            {"taxGroupId": missing},
            "Tax Group Id",
            "Item",
            guid_shown(missing),
            "Tax Group",
        ),
        (
            "items",
            {"itemCategoryCode": "NOPE"},
            "Item Category Code",
            "Item",
            "NOPE",
            "Item Category",
        ),
        ("items", {"taxGroupCode": "NOPE"}, "Tax Group Code", "Item", "NOPE", "Tax Group"),
        (
            "items",
            {"baseUnitOfMeasureId": missing},
            "Unit of Measure Id",
            "Item",
            guid_shown(missing),
            "Unit of Measure",
        ),
        (
            "items",
            {"generalProductPostingGroupCode": "NOPE"},
            "Gen. Prod. Posting Group",
            "Item",
            "NOPE",
            "Gen. Product Posting Group",
        ),
        (
            "items",
            {"inventoryPostingGroupCode": "NOPE"},
            "Inventory Posting Group",
            "Item",
            "NOPE",
            "Inventory Posting Group",
        ),
        (
            "customers",
            {"displayName": "X", "paymentTermsId": missing},
            "Payment Terms Id",
            "Customer",
            guid_shown(missing),
            "Payment Terms",
        ),
        (
            "customers",
            {"displayName": "X", "shipmentMethodId": missing},
            "Shipment Method Id",
            "Customer",
            guid_shown(missing),
            "Shipment Method",
        ),
        (
            "vendors",
            {"paymentMethodId": missing},
            "Payment Method Id",
            "Vendor",
            guid_shown(missing),
            "Payment Method",
        ),
        (
            "itemVariants",
            {"itemNumber": "NOPE", "code": "X"},
            "Item No.",
            "Item Variant",
            "NOPE",
            "Item",
        ),
        (
            "itemVariants",
            {"itemId": missing, "code": "X"},
            "Item Id",
            "Item Variant",
            guid_shown(missing),
            "Item",
        ),
    ]
    for entity_set, body, field, table, shown, related in cases:
        message = (
            f"The field {field} of table {table} contains a value ({shown}) that cannot be found"
            f" in the related table ({related})."
        )
        assert error_of(post(bc, entity_set, body)) == (400, RELATION, message), body
    item = first(bc, "items")
    answer = patch(bc, "items", item["id"], {"taxGroupCode": "NOPE"})
    assert error_of(answer)[1] == RELATION


def test_an_items_codes_and_ids_follow_each_other(bc):
    """Setting a code fills its id and an id its code; a code that disagrees with its id is refused.

    Sources: P/APIV2Items.Page.al @05d57db6d43e38869cac1b56c2346aba8a889eec (itemCategoryId,
    itemCategoryCode, taxGroupId/Code, baseUnitOfMeasureId/Code OnValidate: ItemCategoriesValues-
    DontMatchErr, TaxGroupValuesDontMatchErr, UnitOfMeasureValuesDontMatchErr); BaseApp
    Item.Table.al @020a921f ("Gen. Prod. Posting Group" / "Inventory Posting Group" OnValidate set
    their Id).
    """
    category = first(bc, "itemCategories")
    groups = rows(bc, "taxGroups", **{"$top": "2"})
    posting = first(bc, "generalProductPostingGroups")
    item = created(
        post(
            bc,
            "items",
            {
                "itemCategoryCode": category["code"],
                "taxGroupId": groups[0]["id"],
                "generalProductPostingGroupCode": posting["code"],
            },
        )
    )
    assert item["itemCategoryId"] == category["id"]
    assert item["taxGroupCode"] == groups[0]["code"]
    assert item["generalProductPostingGroupId"] == posting["id"]
    body = {"taxGroupId": groups[0]["id"], "taxGroupCode": groups[1]["code"]}
    assert error_of(post(bc, "items", body)) == (
        400,
        DIALOG,
        "The tax group values do not match to a specific Tax Group.",
    )
    cleared = patch(bc, "items", item["id"], {"itemCategoryCode": ""})
    assert cleared.json()["itemCategoryId"] == "00000000-0000-0000-0000-000000000000"


def test_an_unknown_base_unit_of_measure_code_is_refused_in_the_items_words(bc):
    """Item."Base Unit of Measure" does not validate its relation: OnValidate looks the code up,
    then as an International Standard Code (taking that unit's code), else UnitOfMeasureNotExistErr.

    Source: BaseApp Item.Table.al @020a921f (field 8 OnValidate; label 'The Unit of Measure with
    Code %1 does not exist.').
    """
    assert error_of(post(bc, "items", {"baseUnitOfMeasureCode": "NOPE"})) == (
        400,
        DIALOG,
        "The Unit of Measure with Code NOPE does not exist.",
    )
    units = rows(bc, "unitsOfMeasure")
    codes = {u["code"] for u in units}
    unit = next(u for u in units if u["internationalStandardCode"] not in codes | {""})
    body = {"baseUnitOfMeasureCode": unit["internationalStandardCode"]}
    item = created(post(bc, "items", body))
    assert (item["baseUnitOfMeasureCode"], item["baseUnitOfMeasureId"]) == (
        unit["code"],
        unit["id"],
    )


def test_item_variants_are_keyed_by_item_and_code(bc):
    """An item variant's key is (Item No., Code): the same code may exist under another item.

    Sources: BaseApp ItemVariant.Table.al @05d57db6 (`key(Key1; "Item No.", "Code")`; "Item Id"
    OnValidate fills "Item No."); P/APIV2ItemVariants.Page.al @26153e22 (a POST under
    items(id)/itemVariants takes the item from the navigation).
    """
    taken = first(bc, "itemVariants")
    other = first(bc, "items", **{"$filter": f"id ne {taken['itemId']}"})
    variant = created(post(bc, f"items({other['id']})/itemVariants", {"code": taken["code"]}))
    assert (variant["itemId"], variant["itemNumber"]) == (other["id"], other["number"])
    again = post(bc, f"items({other['id']})/itemVariants", {"code": taken["code"]})
    assert error_of(again) == (
        400,
        "Internal_EntityWithSameKeyExists",
        (
            "The record in table Item Variant already exists. Identification fields and values:"
            f" Item No.='{other['number']}',Code='{taken['code']}'"
        ),
    )


def test_a_won_or_lost_opportunity_keeps_its_contact_and_salesperson(bc):
    """contactNumber and salespersonCode OnValidate error when the opportunity is Won or Lost.

    Source: P/APIV2Opportunities.Page.al @1076e0b5f48b1b285f391e93649328b178109a5f
    (ContactNoCannotBeChangedWonLostErr, SalespersonCodeCannotBeChangedErr; labels verbatim,
    with the unbalanced quote and no final period).
    """
    closed = created(post(bc, "opportunities", {"description": "Closed deal"}))
    assert patch(bc, "opportunities", closed["id"], {"contactNumber": ""}).status_code == 200
    # status is read-only on the page; BC closes an opportunity through its own actions
    bc.hook(
        "POST",
        "edit",
        {"entity_set": "opportunities", "ids": [closed["id"]], "changes": {"status": "Won"}},
    )
    assert error_of(patch(bc, "opportunities", closed["id"], {"contactNumber": "X"})) == (
        400,
        DIALOG,
        'The "contactNumber of a Won or Lost Opportunity cannot be changed',
    )
    assert error_of(patch(bc, "opportunities", closed["id"], {"salespersonCode": "X"})) == (
        400,
        DIALOG,
        'The "salespersonCode" of a Won or Lost Opportunity cannot be changed',
    )
    renamed = patch(bc, "opportunities", closed["id"], {"description": "Still editable"})
    assert renamed.status_code == 200, renamed.text


def test_a_customer_or_vendor_with_entries_or_documents_cannot_be_deleted(bc):
    """Customer/Vendor.OnDelete: MoveEntries refuses ledger entries in an open fiscal year, then
    the table refuses outstanding document lines; a party with neither is deleted.

    Sources: BaseApp MoveEntries.Codeunit.al (codeunit 361; Text000 'You cannot delete %1 %2
    because it has ledger entries in a fiscal year that has not been closed yet.'),
    Customer.Table.al OnDelete/CheckIfSalesOrderLinesExist (Text000 'You cannot delete %1 %2
    because there is at least one outstanding Sales %3 for this customer.'), Vendor.Table.al
    CheckOutstandingPurchaseDocuments ('... outstanding Purchase %3 for this vendor.').
    """
    period = first(
        bc, "accountingPeriods", **{"$filter": "closed eq false", "$orderby": "startingDate"}
    )
    posted = first(
        bc,
        "salesInvoices",
        **{"$filter": f"status ne 'Draft' and postingDate ge {period['startingDate']}"},
    )
    customer = first(bc, "customers", **{"$filter": f"id eq {posted['billToCustomerId']}"})
    assert error_of(delete(bc, "customers", customer["id"])) == (
        400,
        DIALOG,
        (
            f"You cannot delete Customer {customer['number']} because it has ledger entries in a"
            " fiscal year that has not been closed yet."
        ),
    )
    fresh = created(post(bc, "customers", {"displayName": "Deletable"}))
    invoice = created(post(bc, "salesInvoices", {"customerId": fresh["id"]}))
    item = first(bc, "items", **{"$filter": "type eq 'Inventory'"})
    line = post(
        bc,
        f"salesInvoices({invoice['id']})/salesInvoiceLines",
        {"lineObjectNumber": item["number"], "quantity": 1},
    )
    assert line.status_code == 201, line.text
    assert error_of(delete(bc, "customers", fresh["id"])) == (
        400,
        DIALOG,
        (
            f"You cannot delete Customer {fresh['number']} because there is at least one"
            " outstanding Sales Invoice for this customer."
        ),
    )
    vendor = created(post(bc, "vendors", {"displayName": "Vendor with a draft"}))
    bill = created(post(bc, "purchaseInvoices", {"vendorId": vendor["id"]}))
    line = post(
        bc,
        f"purchaseInvoices({bill['id']})/purchaseInvoiceLines",
        {"lineObjectNumber": item["number"], "quantity": 1},
    )
    assert line.status_code == 201, line.text
    assert error_of(delete(bc, "vendors", vendor["id"])) == (
        400,
        DIALOG,
        (
            f"You cannot delete Vendor {vendor['number']} because there is at least one outstanding"
            " Purchase Invoice for this vendor."
        ),
    )
    lonely = created(post(bc, "customers", {"displayName": "No documents"}))
    assert delete(bc, "customers", lonely["id"]).status_code == 204
