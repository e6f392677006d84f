"""Contract: the emulator's write rules are Business Central's, each from evidence.

Each test names its source in its docstring: real recorded traffic (issue 10 of this project, or
a public issue quoting BC's response), Microsoft Learn, or Microsoft's APIV2 AL source in
StefanMaron/MSDyn365BC.Code.History (folder APIV2/Source/_Exclude_APIV2_/src/pages/, abbreviated
`P/`, at the commit named). Assertions are BC's status, error code and message word for word, or
the values BC derives. Everything runs over HTTPS against the emulator.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from bc_answers import DIALOG, created, error_of, first
from businesscentral_emulator.odata.edmx import standard_api
from businesscentral_emulator.rules import validation
from target_businesscentral import entities


@pytest.fixture(scope="module")
def bc(start_emulator):
    """A small emulator of its own: these tests change rows."""
    return start_emulator(seed=7, scale=0.1)


def post(bc, entity_set: str, body: dict[str, Any]):
    return bc.request("POST", bc.company_url(entity_set), json=body)


def patch(bc, entity_set: str, row_id: str, body: dict[str, Any]):
    url = bc.company_url(f"{entity_set}({row_id})")
    return bc.request("PATCH", url, json=body, headers={"If-Match": "*"})


def customer_with_address(bc) -> dict[str, Any]:
    return first(bc, "customers", **{"$filter": "addressLine1 ne '' and city ne ''"})


def item_with_unit(bc) -> dict[str, Any]:
    return first(bc, "items", **{"$filter": "baseUnitOfMeasureCode ne '' and unitCost gt 0"})


def posting_account(bc) -> dict[str, Any]:
    return first(bc, "accounts", **{"$filter": "accountType eq 'Posting'"})


def new_invoice(bc, set_name: str = "salesInvoices") -> dict[str, Any]:
    party = "vendorNumber" if set_name.startswith("purchase") else "customerNumber"
    source = "vendors" if set_name.startswith("purchase") else "customers"
    return created(post(bc, set_name, {party: first(bc, source)["number"]}))


def add_line(bc, header_set: str, header_id: str, body: dict[str, Any]):
    lines = header_set.removesuffix("s") + "Lines"
    url = bc.company_url(f"{header_set}({header_id})/{lines}")
    return bc.request("POST", url, json=body)


# -- B. fields a client may not set --------------------------------------------------------------


@pytest.mark.parametrize(
    ("entity_set", "field", "value"),
    [
        ("customers", "taxAreaDisplayName", "X"),
        ("vendors", "balance", 12.5),
        ("vendors", "lastModifiedDateTime", "2024-01-01T00:00:00Z"),
        ("salesInvoices", "customerName", "X"),
        ("salesInvoices", "billToCity", "X"),
        ("purchaseInvoices", "payToName", "X"),
        ("salesInvoiceLines", "taxPercent", 5),
    ],
)
def test_a_read_only_field_is_refused_with_bcs_control_message(bc, entity_set, field, value):
    """A read-only field sent on POST: 400 `BadRequest` "Control '<field>' is read-only.".

    Source: real responses: MicrosoftDocs/dynamics365smb-devitpro-pb issue 1953 (v2.0 taxAreas:
    `{"code": "BadRequest", "message": "Control 'taxType' is read-only. ..."}`), issue 618
    (customers POST: "Control 'taxAreaDisplayName' is read-only."), issue 2390 (vendors POST
    with balance and lastModifiedDateTime "raise errors"). Which fields are read-only: each page's
    `Editable = false` (P/APIV2SalesInvoices.Page.al @02a8df419400b10bfc9cc4bc714de5cd2ddb9fad,
    P/APIV2PurchaseInvoices.Page.al @114421e2d2490b5b431c9953b44d09e64c47ed21,
    P/APIV2SalesInvoiceLines.Page.al @1701efe5ad0799a43093ec6053cb5c258e4bb135).
    """
    response = post(bc, entity_set, {field: value})
    assert error_of(response) == (400, "BadRequest", f"Control '{field}' is read-only.")


def _read_only_cases() -> list[tuple[str, str]]:
    api = standard_api()
    return [
        (set_name, field)
        for set_name, fields in sorted(validation.READ_ONLY.items())
        if set_name in api.entity_sets and api.entity_sets[set_name].insertable
        for field in sorted(fields)
    ]


def test_every_read_only_field_of_the_table_is_refused(bc):
    """Every (set, field) of the read-only table is refused on POST with BC's control message.

    Source: the pages' `Editable = false` fields, one entry per set in
    businesscentral_emulator/rules/validation.py `READ_ONLY` (page and commit named there).
    """
    cases = _read_only_cases()
    assert len(cases) > 80
    for set_name, field in cases:
        response = post(bc, set_name, {field: None})
        assert error_of(response) == (400, "BadRequest", f"Control '{field}' is read-only."), (
            set_name,
            field,
        )


def test_the_read_only_table_names_real_fields_and_the_target_agrees():
    """The table is kept honest: every field exists in BC 26's EDMX, and the target's own table
    (target_businesscentral/entities.py, which must not send them) is the same.

    Source: /work/shared/bc-api/metadata-v2.0.xml (the real BC 26.0 `$metadata`).
    """
    api = standard_api()
    for set_name, fields in validation.READ_ONLY.items():
        props = api.entity_sets[set_name].entity_type.properties
        assert fields <= set(props), (set_name, fields - set(props))
    for set_name, fields in validation.READ_ONLY.items():
        assert fields <= entities.READ_ONLY.get(set_name, frozenset()), set_name
    # Beyond BC's table the target also never sends journalLines.journalDisplayName (always an
    # error on BC) and journals.templateDisplayName.
    extra = {
        name: fields - validation.READ_ONLY.get(name, frozenset())
        for name, fields in entities.READ_ONLY.items()
    }
    assert {name: fields for name, fields in extra.items() if fields} == {
        "journalLines": {"journalDisplayName"},
        "journals": {"templateDisplayName"},
    }


def test_a_patch_may_repeat_the_entitys_own_id(bc):
    """A PATCH body that repeats the entity's own unchanged `id` is answered 200.

    Source: real recorded traffic (issue 10 of this project: "a PATCH body that repeats the
    entity's own `id` (200 on BC)").
    """
    customer = first(bc, "customers")
    response = patch(
        bc, "customers", customer["id"], {"id": customer["id"], "website": "a.example"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["website"] == "a.example"
    invoice = new_invoice(bc)
    again = patch(bc, "salesInvoices", invoice["id"], {"id": invoice["id"].upper()})
    assert again.status_code == 200, again.text


@pytest.mark.parametrize(
    ("entity_set", "message"),
    [
        ("salesInvoices", "The id cannot be changed."),
        ("salesOrders", 'The "id" cannot be changed.'),
        ("purchaseInvoices", 'The "id" cannot be changed.'),
    ],
)
def test_a_patch_that_changes_a_documents_id_is_refused_in_the_pages_words(bc, entity_set, message):
    """A document PATCH with a different `id`: the page's OnModifyRecord label.

    Source: `if xRec.Id <> Rec.Id then Error(CannotChangeIDErr)` in
    P/APIV2SalesInvoices.Page.al @02a8df419400b10bfc9cc4bc714de5cd2ddb9fad (`The id cannot be
    changed.`), P/APIV2SalesOrders.Page.al @03c38418d322f60516c21dc3df9389ad3ada806f and
    P/APIV2PurchaseInvoices.Page.al @114421e2d2490b5b431c9953b44d09e64c47ed21
    (`The "id" cannot be changed.`).
    """
    document = new_invoice(bc, entity_set)
    response = patch(bc, entity_set, document["id"], {"id": str(uuid.uuid4())})
    assert error_of(response) == (400, DIALOG, message)


def test_a_post_may_set_the_id(bc):
    """An `id` sent on POST becomes the new record's id.

    Source: Microsoft Learn, "SystemId" in Table system fields: "If the SystemId field is
    specified in a Web Service POST request, the OData stack persists the value in the database"
    (Business Central 2020 release wave 2 and later); MicrosoftDocs/dynamics365smb-devitpro-pb
    issue 1953: a v2.0 POST whose body starts with `id` is refused only for `taxType`.
    """
    wanted = str(uuid.uuid4())
    row = created(post(bc, "customers", {"id": wanted, "displayName": "Chosen id"}))
    assert row["id"] == wanted
    assert bc.get(bc.company_url(f"customers({wanted})")).json()["displayName"] == "Chosen id"


def test_items_inventory_is_refused_on_post_and_taken_on_patch(bc):
    """items `inventory`: POST errors, PATCH is accepted (BC posts an adjustment).

    Source: P/APIV2Items.Page.al @05d57db6d43e38869cac1b56c2346aba8a889eec (InsertItem:
    `Inventory cannot be changed during on insert.`; UpdateInventory on modify).
    """
    response = post(bc, "items", {"displayName": "Stock", "inventory": 5})
    assert error_of(response) == (400, DIALOG, "Inventory cannot be changed during on insert.")
    item = created(post(bc, "items", {"displayName": "Stock"}))
    patched = patch(bc, "items", item["id"], {"inventory": 7})
    assert patched.status_code == 200, patched.text
    assert Decimal(str(patched.json()["inventory"])) == 7


@pytest.mark.parametrize("entity_set", ["customers", "contacts"])
def test_customers_and_contacts_need_a_display_name(bc, entity_set):
    """customers and contacts: no displayName on POST, or a blank one on POST or PATCH, errors.

    Source: P/APIV2Customers.Page.al @069a685cfdaa720c6f0665d3da7f1e30253b8938 and
    P/APIV2Contacts.Page.al @06a21a8cf7913c4dbe7ee72ea383ad4f26c84c29 (NotProvidedCustomerNameErr,
    BlankCustomerNameErr / NotProvidedContactNameErr, BlankContactNameErr).
    """
    assert error_of(post(bc, entity_set, {"email": "a@b.example"})) == (
        400,
        DIALOG,
        'A "displayName" must be provided.',
    )
    blank = (400, DIALOG, 'The blank "displayName" is not allowed.')
    assert error_of(post(bc, entity_set, {"displayName": ""})) == blank
    row = created(post(bc, entity_set, {"displayName": "Named"}))
    assert error_of(patch(bc, entity_set, row["id"], {"displayName": ""})) == blank


def test_vendors_need_no_display_name(bc):
    """vendors have no displayName check: a POST without one is created.

    Source: P/APIV2Vendors.Page.al @220c9d4e085ea7298091e1f021d9814a57319224 (OnInsertRecord has
    no name check, unlike customers and contacts).
    """
    created(post(bc, "vendors", {"email": "v@b.example"}))


def test_an_employees_display_name_is_first_and_last_name(bc):
    """employees.displayName is computed as "<First Name> <Last Name>" (and is read-only).

    Source: P/APIV2Employees.Page.al @270597d100da44810d4bc15d7e5ac31263b0e803
    (`StrSubstNo('%1 %2', "First Name", "Last Name")`, `Editable = false`).
    """
    row = created(post(bc, "employees", {"givenName": "Ada", "surname": "Lovelace"}))
    assert row["displayName"] == "Ada Lovelace"
    patched = patch(bc, "employees", row["id"], {"surname": "King"})
    assert patched.json()["displayName"] == "Ada King"


# -- F. input leniency ---------------------------------------------------------------------------


def test_an_int32_sent_as_a_string_is_accepted_and_read_back_as_a_number(bc):
    """`"sequence": "10"` sent as a JSON string for an Int32: 201, read back as 10.

    Source: real recorded traffic (issue 10 of this project).
    """
    invoice = new_invoice(bc)
    line = created(
        add_line(
            bc,
            "salesInvoices",
            invoice["id"],
            {"sequence": "10", "lineType": "Comment", "description": "x"},
        )
    )
    assert line["sequence"] == 10
    url = bc.company_url(f"salesInvoices({invoice['id']})/salesInvoiceLines")
    assert [row["sequence"] for row in bc.get(url).json()["value"]] == [10]


def test_a_decimal_sent_as_a_string_is_refused(bc):
    """A decimal sent as a JSON string (without `IEEE754Compatible=true`) is refused.

    Source: ODataLib's conversion rule, seen on Dataverse (same library):
    microsoft/PowerPlatform-DataverseServiceClient issue 26. NOT confirmed on BC: decided so
    because BC's acceptance of an Int32 string (issue 10) is ODataLib's string conversion, and
    ODataLib checks Edm.Decimal and Edm.Int64 strings against IEEE754Compatible separately.
    """
    response = post(bc, "customers", {"displayName": "X", "creditLimit": "12.5"})
    message = (
        "Cannot convert a value to target type 'Edm.Decimal' because of conflict between input"
        " format string/number and parameter 'IEEE754Compatible' false/true."
    )
    assert error_of(response) == (400, "BadRequest", message)


# -- C. documents: required party, unknown references, header derivations -----------------------


@pytest.mark.parametrize(
    ("entity_set", "message"),
    [
        ("salesInvoices", 'A "customerNumber" or a "customerId" must be provided.'),
        ("salesOrders", 'A "customerNumber" or a "customerId" must be provided.'),
        ("salesCreditMemos", 'A "customerNumber" or a "customerId" must be provided.'),
        ("purchaseInvoices", 'A "vendorNumber" or a "vendorID" must be provided.'),
    ],
)
def test_a_document_without_its_customer_or_vendor_is_refused(bc, entity_set, message):
    """A document POST without a customer (vendor): CheckSellToCustomerSpecified's label.

    Source: SellToCustomerNotProvidedErr in P/APIV2SalesInvoices.Page.al
    @02a8df419400b10bfc9cc4bc714de5cd2ddb9fad, P/APIV2SalesOrders.Page.al,
    P/APIV2SalesCreditMemos.Page.al;
    BuyFromVendorNotProvidedErr (`vendorID`) in P/APIV2PurchaseInvoices.Page.al
    @114421e2d2490b5b431c9953b44d09e64c47ed21.
    """
    response = post(bc, entity_set, {"postingDate": "2024-01-31"})
    assert error_of(response) == (400, DIALOG, message)


def test_unknown_or_mismatched_customers_and_vendors_use_the_pages_labels(bc):
    """Unknown sell-to/bill-to customer or vendor, and an id and number that disagree.

    Source: CouldNotFindSellToCustomerErr, SellToCustomerValuesDontMatchErr,
    CouldNotFindBillToCustomerErr in P/APIV2SalesInvoices.Page.al
    @02a8df419400b10bfc9cc4bc714de5cd2ddb9fad; CouldNotFindBuyFromVendorErr (`The vendor cannot
    be found.`) in P/APIV2PurchaseInvoices.Page.al @114421e2d2490b5b431c9953b44d09e64c47ed21,
    whose vendorNumber after a vendorId is ignored (no mismatch error).
    """
    customers = bc.get(bc.company_url("customers"), params={"$top": "2"}).json()["value"]
    missing = str(uuid.uuid4())
    cases = [
        ({"customerId": missing}, "The sell-to customer cannot be found."),
        ({"customerNumber": "NO-SUCH"}, "The sell-to customer cannot be found."),
        (
            {"customerId": customers[0]["id"], "customerNumber": customers[1]["number"]},
            "The sell-to customer values do not match to a specific Customer.",
        ),
        (
            {"customerNumber": customers[0]["number"], "billToCustomerNumber": "NO-SUCH"},
            "The bill-to customer cannot be found.",
        ),
    ]
    for body, message in cases:
        assert error_of(post(bc, "salesInvoices", body)) == (400, DIALOG, message), body
    assert error_of(post(bc, "purchaseInvoices", {"vendorNumber": "NO-SUCH"})) == (
        400,
        DIALOG,
        "The vendor cannot be found.",
    )
    vendors = bc.get(bc.company_url("vendors"), params={"$top": "2"}).json()["value"]
    invoice = created(
        post(
            bc,
            "purchaseInvoices",
            {"vendorId": vendors[0]["id"], "vendorNumber": vendors[1]["number"]},
        )
    )
    assert invoice["vendorNumber"] == vendors[0]["number"]


def test_unknown_payment_terms_shipment_and_payment_methods_use_the_pages_labels(bc):
    """An unknown paymentTermsId, shipmentMethodId or paymentMethodId.

    Source: PaymentTermsIdDoesNotMatchAPaymentTermsErr,
    ShipmentMethodIdDoesNotMatchAShipmentMethodErr,
    PaymentMethodIdDoesNotMatchAPaymentMethodErr in P/APIV2Customers.Page.al
    @069a685cfdaa720c6f0665d3da7f1e30253b8938 (the same labels on the sales document pages).
    """
    missing = str(uuid.uuid4())
    customer = first(bc, "customers")["number"]
    # customers and vendors answer with the platform's table-relation error instead:
    # tests/contract/test_contract_master_data.py.
    cases = [
        (
            "salesInvoices",
            {"customerNumber": customer, "shipmentMethodId": missing},
            "shipmentMethodId",
            "Shipment Method",
        ),
    ]
    for entity_set, body, field, caption in cases:
        message = f'The "{field}" does not match to a {caption}.'
        assert error_of(post(bc, entity_set, body)) == (400, DIALOG, message), body


def test_a_sales_header_takes_names_addresses_currency_and_terms_from_its_customers(bc):
    """The header is filled from the sell-to and bill-to customers; values sent win.

    Source: Sales Invoice Aggregator.PropagateOnInsert (BaseApp SalesInvoiceAggregator.Codeunit.al
    @c845a0c4974a573382204b27b5af2dd4397a6db6) runs the Sales Header validation of the sell-to
    customer (name, address, ship-to, salesperson, shipment method) and bill-to customer (name,
    address, currency, payment terms), then CopySellToAddressToBillToAddress; the page validates
    the customer before the address fields, so an address sent in the body wins.
    """
    customer = customer_with_address(bc)
    invoice = created(
        post(
            bc,
            "salesInvoices",
            {"customerNumber": customer["number"], "sellToCity": "Sent City"},
        )
    )
    assert invoice["customerId"] == customer["id"]
    assert invoice["customerName"] == customer["displayName"]
    assert invoice["sellToAddressLine1"] == customer["addressLine1"]
    assert invoice["sellToCity"] == "Sent City"
    assert invoice["billToCustomerNumber"] == customer["number"]
    assert invoice["billToName"] == customer["displayName"]
    assert invoice["billToCity"] == customer["city"]
    assert invoice["shipToName"] == customer["displayName"]
    assert invoice["paymentTermsId"] == customer["paymentTermsId"]
    assert invoice["currencyId"] == customer["currencyId"]
    other = first(bc, "customers", **{"$filter": f"number ne '{customer['number']}'"})
    billed = created(
        post(
            bc,
            "salesInvoices",
            {"customerNumber": customer["number"], "billToCustomerNumber": other["number"]},
        )
    )
    assert billed["billToName"] == other["displayName"]
    assert billed["billToCustomerId"] == other["id"]
    assert billed["customerName"] == customer["displayName"]


def test_a_purchase_header_takes_names_and_addresses_from_its_vendor(bc):
    """The purchase header is filled from the buy-from and pay-to vendor.

    Source: Purch. Inv. Aggregator.PropagateOnInsert (BaseApp codeunit 5529, same model as the
    sales aggregator): Purchase Header validation of Buy-from and Pay-to Vendor No.
    """
    vendor = first(bc, "vendors", **{"$filter": "addressLine1 ne ''"})
    invoice = created(post(bc, "purchaseInvoices", {"vendorNumber": vendor["number"]}))
    assert invoice["vendorId"] == vendor["id"]
    assert invoice["vendorName"] == vendor["displayName"]
    assert invoice["buyFromAddressLine1"] == vendor["addressLine1"]
    assert invoice["payToVendorNumber"] == vendor["number"]
    assert invoice["payToName"] == vendor["displayName"]
    assert invoice["payToCity"] == vendor["city"]


def test_a_posted_invoice_can_no_longer_be_modified(bc):
    """PATCH of a posted invoice, or a line added to it: the aggregator's label.

    Source: CannotModifyPostedInvioceErr in Sales Invoice Aggregator
    (SalesInvoiceAggregator.Codeunit.al @c845a0c4974a573382204b27b5af2dd4397a6db6).
    """
    invoice = new_invoice(bc)
    created(
        add_line(
            bc,
            "salesInvoices",
            invoice["id"],
            {"lineObjectNumber": item_with_unit(bc)["number"], "quantity": 1},
        )
    )
    url = bc.company_url(f"salesInvoices({invoice['id']})/Microsoft.NAV.post")
    assert bc.request("POST", url).status_code == 204
    posted = (400, DIALOG, "The invoice has been posted and can no longer be modified.")
    assert (
        error_of(patch(bc, "salesInvoices", invoice["id"], {"externalDocumentNumber": "Y"}))
        == posted
    )
    line = {"lineType": "Comment", "description": "late"}
    assert error_of(add_line(bc, "salesInvoices", invoice["id"], line)) == posted


# -- C. lines: derivations, fixed fields, duplicates ---------------------------------------------


def test_an_item_line_takes_number_type_description_unit_and_price_from_the_item(bc):
    """A sales line with only `itemId`: BC fills lineObjectNumber, lineType, description, unit of
    measure and unit price from the item.

    Source: itemId OnValidate (`"No." := Item."No."`, RegisterFieldSet Type/No.) in
    P/APIV2SalesInvoiceLines.Page.al @1701efe5ad0799a43093ec6053cb5c258e4bb135, then Sales Line
    validation of No. in PropagateInsertLine (SalesInvoiceAggregator.Codeunit.al
    @c845a0c4974a573382204b27b5af2dd4397a6db6); the unit of measure from real recorded traffic
    (issue 10: the POST "set the item's unit of measure").
    """
    item = item_with_unit(bc)
    invoice = new_invoice(bc)
    line = created(
        add_line(bc, "salesInvoices", invoice["id"], {"itemId": item["id"], "quantity": 2})
    )
    assert line["lineObjectNumber"] == item["number"]
    assert line["lineType"] == "Item"
    assert line["description"] == item["displayName"]
    assert line["unitOfMeasureCode"] == item["baseUnitOfMeasureCode"]
    assert line["unitOfMeasureId"] == item["baseUnitOfMeasureId"]
    assert Decimal(str(line["unitPrice"])) == Decimal(str(item["unitPrice"]))
    sent = created(
        add_line(
            bc,
            "salesInvoices",
            invoice["id"],
            {"itemId": item["id"], "quantity": 1, "unitPrice": 3.25, "description": "Mine"},
        )
    )
    assert Decimal(str(sent["unitPrice"])) == Decimal("3.25")
    assert sent["description"] == "Mine"


def test_a_purchase_item_line_takes_the_items_cost_over_the_one_sent(bc):
    """A purchase Item line POST replaces the `unitCost` sent with the item's cost and sets the
    item's unit of measure.

    Source: real recorded traffic (issue 10 of this project: "A real POST of an Item line replaced
    the `unitCost` sent with the item's cost and set the item's unit of measure").
    """
    item = item_with_unit(bc)
    invoice = new_invoice(bc, "purchaseInvoices")
    body = {"lineObjectNumber": item["number"], "quantity": 2, "unitCost": 0.5}
    line = created(add_line(bc, "purchaseInvoices", invoice["id"], body))
    assert Decimal(str(line["unitCost"])) == Decimal(str(item["unitCost"]))
    assert line["unitOfMeasureCode"] == item["baseUnitOfMeasureCode"]
    assert line["itemId"] == item["id"]


def test_an_account_line_takes_its_number_from_the_account(bc):
    """A line with `accountId` gets lineObjectNumber (and type Account) from the G/L account; a
    line with lineType Account and lineObjectNumber gets accountId.

    Source: real recorded traffic (issue 10: "an Account line got `lineObjectNumber` filled from
    `accountId`"); lineObjectNumber OnValidate (`"Account Id" := GLAccount.SystemId`) in
    P/APIV2SalesInvoiceLines.Page.al @1701efe5ad0799a43093ec6053cb5c258e4bb135.
    """
    account = posting_account(bc)
    invoice = new_invoice(bc)
    by_id = created(
        add_line(bc, "salesInvoices", invoice["id"], {"accountId": account["id"], "quantity": 1})
    )
    assert by_id["lineObjectNumber"] == account["number"]
    assert by_id["lineType"] == "Account"
    by_number = created(
        add_line(
            bc,
            "salesInvoices",
            invoice["id"],
            {"lineType": "Account", "lineObjectNumber": account["number"], "quantity": 1},
        )
    )
    assert by_number["accountId"] == account["id"]


def test_unknown_items_and_accounts_and_both_at_once_use_the_line_pages_labels(bc):
    """Unknown item or account, or both itemId and accountId on one line.

    Source: ItemDoesNotExistErr, AccountDoesNotExistErr, BothItemIdAndAccountIdAreSpecifiedErr
    in P/APIV2SalesInvoiceLines.Page.al @1701efe5ad0799a43093ec6053cb5c258e4bb135 (the issue 10
    recorded traffic: "A line with both `itemId` and `accountId` is refused with
    `Application_DialogException`").
    """
    invoice = new_invoice(bc)
    item, account = item_with_unit(bc), posting_account(bc)
    cases = [
        ({"itemId": str(uuid.uuid4())}, "Item does not exist."),
        ({"lineObjectNumber": "NO-SUCH-ITEM"}, "Item does not exist."),
        ({"accountId": str(uuid.uuid4())}, "Account does not exist."),
        ({"lineType": "Account", "lineObjectNumber": "NO-SUCH"}, "Account does not exist."),
        (
            {"itemId": item["id"], "accountId": account["id"]},
            'Both "itemId" and "accountId" are specified. Specify only one of them.',
        ),
    ]
    for body, message in cases:
        response = add_line(bc, "salesInvoices", invoice["id"], body)
        assert error_of(response) == (400, DIALOG, message), body


@pytest.mark.parametrize(
    ("header_set", "sequence_label"),
    [
        (
            "salesInvoices",
            'The value for "sequence" cannot be modified. Delete and insert the line again.',
        ),
        (
            "purchaseInvoices",
            "The value for sequence cannot be modified. Delete and insert the line again.",
        ),
    ],
)
def test_a_line_patch_may_repeat_but_not_change_document_sequence_and_object(
    bc, header_set, sequence_label
):
    """documentId, sequence and lineObjectNumber may be repeated unchanged on PATCH; changing
    them errors with the page's label.

    Source: OnValidate of documentId/sequence/lineObjectNumber (compare with xRec; labels
    CannotChangeDocumentIdNoErr, CannotChangeLineNoErr, CannotChangeLineObjectNoErr) in
    P/APIV2SalesInvoiceLines.Page.al @1701efe5ad0799a43093ec6053cb5c258e4bb135 and
    P/APIV2PurchaseInvoiceLines.Page.al @38b9b432391128d2ef2a159c290ac2dbd0678cfb (sequence
    without quotes).
    """
    lines = header_set.removesuffix("s") + "Lines"
    item = item_with_unit(bc)
    invoice, other = new_invoice(bc, header_set), new_invoice(bc, header_set)
    line = created(
        add_line(bc, header_set, invoice["id"], {"lineObjectNumber": item["number"], "quantity": 1})
    )
    same = {
        "id": line["id"],
        "documentId": line["documentId"],
        "sequence": line["sequence"],
        "lineObjectNumber": line["lineObjectNumber"],
        "quantity": 3,
    }
    repeated = patch(bc, lines, line["id"], same)
    assert repeated.status_code == 200, repeated.text
    assert Decimal(str(repeated.json()["quantity"])) == 3
    cases = [
        ({"documentId": other["id"]}, 'The value for "documentId" cannot be modified.'),
        ({"sequence": line["sequence"] + 1}, sequence_label),
        ({"lineObjectNumber": "OTHER"}, 'The value for "lineObjectNumber" cannot be modified.'),
    ]
    for body, message in cases:
        assert error_of(patch(bc, lines, line["id"], body)) == (400, DIALOG, message), body


@pytest.mark.parametrize(
    ("header_set", "message"),
    [
        ("salesInvoices", "You cannot insert a line because a line already exists."),
        ("purchaseInvoices", "You cannot insert a line with a duplicate sequence number."),
    ],
)
def test_a_duplicate_sequence_is_refused_in_the_aggregators_words(bc, header_set, message):
    """A line POST with a sequence the document already has.

    Source: CannotInsertALineThatAlreadyExistsErr in Sales Invoice Aggregator
    (@c845a0c4974a573382204b27b5af2dd4397a6db6) and in Purch. Inv. Aggregator (BaseApp codeunit
    5529), which words it differently.
    """
    invoice = new_invoice(bc, header_set)
    body = {"sequence": 20000, "lineType": "Comment", "description": "one"}
    created(add_line(bc, header_set, invoice["id"], body))
    assert error_of(add_line(bc, header_set, invoice["id"], body)) == (400, DIALOG, message)


def test_a_line_without_its_document_uses_the_aggregators_labels(bc):
    """A company-level line POST without documentId, or with an unknown one.

    Source: DocumentIDNotSpecifiedErr and DocumentDoesNotExistErr of the document aggregators
    (Sales Invoice Aggregator @c845a0c4974a573382204b27b5af2dd4397a6db6, Graph Mgt - Sales Order
    Buffer, Graph Mgt - Sal. Cr. Memo Buf.).
    """
    line = {"lineType": "Comment", "description": "orphan"}
    assert error_of(post(bc, "salesInvoiceLines", line)) == (
        400,
        DIALOG,
        "You must specify a document id to get the lines.",
    )
    assert error_of(post(bc, "salesInvoiceLines", {**line, "documentId": str(uuid.uuid4())})) == (
        400,
        DIALOG,
        "No document with the specified ID exists.",
    )


# -- journal lines -------------------------------------------------------------------------------


def test_journal_lines_refuse_unknown_accounts_and_the_display_name(bc):
    """journalLines: unknown accountId/accountNumber, and journalDisplayName whenever sent.

    Source: P/APIV2JournalLines.Page.al @10383a2a4754c10fba7f2bb9222d4c203ca769e4 (labels
    AccountIdDoesNotMatchAnAccountErr, AccountNumberDoesNotMatchAnAccountErr, and the
    journalDisplayName OnValidate `The Journal Batch Display Name isn't editable.`).
    """
    journal = first(bc, "journals")
    base = {"journalId": journal["id"], "amount": 1}
    cases = [
        ({"accountId": str(uuid.uuid4())}, 'The "accountId" does not match to an Account.'),
        ({"accountNumber": "NO-SUCH"}, 'The "accountNumber" does not match to an Account.'),
        ({"journalDisplayName": "x"}, "The Journal Batch Display Name isn't editable."),
    ]
    for body, message in cases:
        assert error_of(post(bc, "journalLines", {**base, **body})) == (400, DIALOG, message), body


@pytest.mark.parametrize(
    ("entity_set", "mismatch"),
    [
        ("purchaseOrders", "The buy-from vendor values do not match to a specific Vendor."),
        ("purchaseCreditMemos", "The buy-from vendor values do not match to a Vendor."),
    ],
)
def test_purchase_orders_and_credit_memos_check_their_vendor_in_the_pages_words(
    bc, entity_set, mismatch
):
    """An unknown buy-from vendor, and a vendor id and number that disagree.

    Sources: StefanMaron/MSDyn365BC.Code.History P/APIV2PurchaseOrders.Page.al @02326b00 and
    P/APIV2PurchaseCreditMemos.Page.al @3da3569a (vendorId / vendorNumber OnValidate:
    CouldNotFindBuyFromVendorErr, BuyFromVendorValuesDontMatchErr).
    """
    vendors = bc.get(bc.company_url("vendors"), params={"$top": 2}).json()["value"]
    unknown = post(bc, entity_set, {"vendorNumber": "NO-SUCH"})
    assert error_of(unknown) == (400, DIALOG, "The buy-from vendor cannot be found.")
    both = post(
        bc, entity_set, {"vendorId": vendors[0]["id"], "vendorNumber": vendors[1]["number"]}
    )
    assert error_of(both) == (400, DIALOG, mismatch)
