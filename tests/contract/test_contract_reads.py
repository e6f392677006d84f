"""Contract: the reads real Business Central refuses, refused here with BC's status, code and text.

Each test cites the AL page of Microsoft's API v2.0 app (mirrored in
StefanMaron/MSDyn365BC.Code.History under `APIV2/Source/_Exclude_APIV2_/src/pages/`) whose
`Error(...)` label it checks word for word. An AL `Error` in an API page reaches the client as
400 `Application_DialogException` (Microsoft Learn, "Business Central API error codes").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from bc_answers import DIALOG

if TYPE_CHECKING:
    import requests
    from conftest import RunningEmulator

LINES = "You must specify an Id or a Document Id to get the lines."
LINES_CREDIT_MEMO = "You must specify an id or a Document Id to get the lines."
JOURNAL = "You must specify a journal batch ID or a journal ID to get a journal line."
TIME_FILTER = "A filter must be specified. The filter could be for the date, employeeId or id."
TIME_RANGE = (
    "The date filter is invalid. The date filter must be a valid range with maximum 70 days."
)

# (lines set, header set, label): seven document line pages refuse a company-level read.
LINE_SETS = [
    ("salesInvoiceLines", "salesInvoices", LINES),
    ("salesOrderLines", "salesOrders", LINES),
    ("salesQuoteLines", "salesQuotes", LINES),
    ("salesCreditMemoLines", "salesCreditMemos", LINES_CREDIT_MEMO),
    ("purchaseInvoiceLines", "purchaseInvoices", LINES),
    ("purchaseOrderLines", "purchaseOrders", LINES),
    ("purchaseCreditMemoLines", "purchaseCreditMemos", LINES_CREDIT_MEMO),
]


def assert_refused(response: requests.Response, message: str) -> None:
    """BC's answer to an AL Error in an API page: 400, DialogException, the label verbatim."""
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == DIALOG
    text, _, correlation = error["message"].partition("  CorrelationId:  ")
    assert text == message
    assert correlation


def first_with(
    emulator: RunningEmulator, header: str, navigation: str
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A parent row that has children, and those children (read through `$expand`)."""
    rows = emulator.get_all(emulator.company_url(header), params={"$expand": navigation})
    for row in rows:
        if row[navigation]:
            return row, row[navigation]
    pytest.fail(f"the seed has no {header} with {navigation}")


@pytest.mark.parametrize(("lines", "header", "label"), LINE_SETS)
def test_lines_refused_at_company_level(
    emulator: RunningEmulator, lines: str, header: str, label: str
) -> None:
    """`GET companies(C)/<lines>` is refused; BC's OnFindRecord needs an id or documentId filter.

    Source: APIV2SalesInvoiceLines.Page.al @1701efe5, APIV2SalesOrderLines.Page.al @432e8a4e,
    APIV2SalesQuoteLines.Page.al @0812a575, APIV2PurchaseInvoiceLines.Page.al @38b9b432,
    APIV2PurchaseOrderLines.Page.al @173d43a5 (label IDOrDocumentIdShouldBeSpecifiedForLinesErr,
    "an Id"); APIV2SalesCreditMemLines.Page.al @257a4d34 and APIV2PurchCrMemoLines.Page.al
    @533b609e spell it "an id". Microsoft Learn's Power BI FAQ quotes the same error for lines.
    """
    assert_refused(emulator.get(emulator.company_url(lines)), label)
    # A filter on another field does not help: only id or documentId is looked at.
    assert_refused(emulator.get(emulator.company_url(lines), params={"$top": 1}), label)


@pytest.mark.parametrize(("lines", "header", "label"), LINE_SETS)
def test_lines_served_through_their_document(
    emulator: RunningEmulator, lines: str, header: str, label: str
) -> None:
    """Navigation, `$expand`, `$filter=documentId eq`, `$filter=id eq` and the key all work.

    Source: the same pages: the header page's part SubPageLink supplies "Document Id"; a
    `documentId` or `id` (SystemId) filter passes the OnFindRecord check.
    """
    del label
    document, expanded = first_with(emulator, header, lines)
    nested = emulator.get_all(emulator.company_url(f"{header}({document['id']})/{lines}"))
    by_filter = emulator.get_all(
        emulator.company_url(lines), params={"$filter": f"documentId eq {document['id']}"}
    )
    ids = [line["id"] for line in expanded]
    assert [line["id"] for line in nested] == ids
    assert sorted(line["id"] for line in by_filter) == sorted(ids)
    one = emulator.get(emulator.company_url(lines), params={"$filter": f"id eq {ids[0]}"})
    assert [line["id"] for line in one.json()["value"]] == [ids[0]]
    single = emulator.get(emulator.company_url(f"{lines}({ids[0]})"))
    assert single.status_code == 200
    assert single.json()["documentId"] == document["id"]


@pytest.mark.parametrize("lines", ["salesShipmentLines", "purchaseReceiptLines"])
def test_posted_shipment_and_receipt_lines_not_refused(
    emulator: RunningEmulator, lines: str
) -> None:
    """Shipment and receipt lines read real tables, with no OnFindRecord: company level works.

    Source: APIV2SalesShipmentLines.Page.al @1beba7d5 (SourceTable "Sales Shipment Line");
    page 30065 "APIV2 - Purch Receipt Lines" (SourceTable "Purch. Rcpt. Line").
    """
    response = emulator.get(emulator.company_url(lines), params={"$top": 5})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("payments", "journals"),
    [
        ("customerPayments", "customerPaymentJournals"),
        ("vendorPayments", "vendorPaymentJournals"),
        ("journalLines", "journals"),
    ],
)
def test_journal_lines_need_their_journal(
    emulator: RunningEmulator, payments: str, journals: str
) -> None:
    """Without a journalId or id filter, BC refuses, but only once a row is found.

    Source: APIV2CustomerPayments.Page.al @6098c9c0, APIV2VendorPayments.Page.al @05d57db6,
    APIV2JournalLines.Page.al @10383a2a: CheckFilters, called from OnAfterGetCurrRecord, raises
    FiltersNotSpecifiedErr when GetFilter("Journal Batch Id") and GetFilter(SystemId) are both ''.
    OnAfterGetCurrRecord runs only for a record read, so a read that finds none is an empty page.
    """
    assert_refused(emulator.get(emulator.company_url(payments)), JOURNAL)
    journal, expanded = first_with(emulator, journals, payments)
    nested = emulator.get_all(emulator.company_url(f"{journals}({journal['id']})/{payments}"))
    assert [row["id"] for row in nested] == [row["id"] for row in expanded]
    by_filter = emulator.get_all(
        emulator.company_url(payments), params={"$filter": f"journalId eq {journal['id']}"}
    )
    assert sorted(row["id"] for row in by_filter) == sorted(row["id"] for row in expanded)
    single = emulator.get(emulator.company_url(f"{payments}({expanded[0]['id']})"))
    assert single.status_code == 200
    none = emulator.get(emulator.company_url(payments), params={"$filter": "lineNumber eq -1"})
    assert none.status_code == 200
    assert none.json()["value"] == []


def test_time_registration_entries_need_a_filter(emulator: RunningEmulator) -> None:
    """An id, employeeId or date filter is required; a date range may span at most 70 days.

    Source: BaseApp table 5510 "Employee Time Reg Buffer", LoadRecords (labels
    FiltersMustBeSpecifiedErr and DateFilterIsInvalidErr, MaxDateFilterRange() = 70), called by
    page 30041 "APIV2 - Time Registr. Entries" in OnFindRecord.
    """
    url = emulator.company_url("timeRegistrationEntries")
    assert_refused(emulator.get(url), TIME_FILTER)
    assert_refused(emulator.get(url, params={"$filter": "quantity gt 0"}), TIME_FILTER)
    open_range = {"$filter": "date ge 2024-01-01"}
    assert_refused(emulator.get(url, params=open_range), TIME_RANGE)
    long_range = {"$filter": "date ge 2024-01-01 and date le 2024-03-12"}  # 71 days apart
    assert_refused(emulator.get(url, params=long_range), TIME_RANGE)
    short_range = {"$filter": "date ge 2024-01-01 and date le 2024-03-11"}  # 70 days apart
    assert emulator.get(url, params=short_range).status_code == 200
    employee, expanded = first_with(emulator, "employees", "timeRegistrationEntries")
    nested = emulator.get_all(
        emulator.company_url(f"employees({employee['id']})/timeRegistrationEntries")
    )
    assert [row["id"] for row in nested] == [row["id"] for row in expanded]
    by_employee = emulator.get_all(url, params={"$filter": f"employeeId eq {employee['id']}"})
    assert sorted(row["id"] for row in by_employee) == sorted(row["id"] for row in expanded)


def test_contacts_information_needs_its_related_record(emulator: RunningEmulator) -> None:
    """Without a relatedId filter (or the navigation's relatedId and relatedType) BC refuses.

    Source: APIV2ContactsInformation.Page.al @465316a2, OnFindRecord, label
    FiltersNotSpecifiedErrorLbl 'id type not specified.'.
    """
    url = emulator.company_url("contactsInformation")
    assert_refused(emulator.get(url), "id type not specified.")
    customer, expanded = first_with(emulator, "customers", "contactsInformation")
    nested = emulator.get_all(
        emulator.company_url(f"customers({customer['id']})/contactsInformation")
    )
    assert [row["contactId"] for row in nested] == [row["contactId"] for row in expanded]
    by_filter = emulator.get(url, params={"$filter": f"relatedId eq {customer['id']}"})
    assert by_filter.status_code == 200


def test_dimension_set_lines_need_their_parent(emulator: RunningEmulator) -> None:
    """Without a parentId filter or a parent's navigation BC refuses.

    Source: APIV2DimensionSetLines.Page.al @025334c0, OnFindRecord, label ParentNotSpecifiedErr.
    """
    url = emulator.company_url("dimensionSetLines")
    message = "You must get to the parent first to get to the dimension set line."
    assert_refused(emulator.get(url), message)
    invoice, expanded = first_with(emulator, "salesInvoices", "dimensionSetLines")
    nested = emulator.get_all(
        emulator.company_url(f"salesInvoices({invoice['id']})/dimensionSetLines")
    )
    assert [row["id"] for row in nested] == [row["id"] for row in expanded]


def test_pictures_need_their_parent(emulator: RunningEmulator) -> None:
    """A picture is read through its parent (`items(id)/picture`), else BC refuses.

    Source: APIV2Pictures.Page.al @406aa00d, OnFindRecord: both an Id and a Parent Type filter
    (or the SubPageLink's) are needed, label ParentNotSpecifiedErr.
    """
    message = "You must get to the parent first to get to the picture."
    assert_refused(emulator.get(emulator.company_url("pictures")), message)
    item = emulator.get(emulator.company_url("items"), params={"$top": 1}).json()["value"][0]
    assert_refused(emulator.get(emulator.company_url(f"pictures({item['id']})")), message)
    picture = emulator.get(emulator.company_url(f"items({item['id']})/picture"))
    assert picture.status_code in {200, 204}


def test_apply_vendor_entries_need_a_vendor_payment(emulator: RunningEmulator) -> None:
    """Only `vendorPayments(id)/applyVendorEntries` supplies the Vendor Id and journal line.

    Source: APIV2ApplyVendorEntries.Page.al @1beba7d5, OnFindRecord, label
    FiltersNotSpecifiedErr 'You must specify a vendor payment to get apply vendor entries.'.
    """
    message = "You must specify a vendor payment to get apply vendor entries."
    assert_refused(emulator.get(emulator.company_url("applyVendorEntries")), message)


def test_pdf_document_needs_its_parent(emulator: RunningEmulator) -> None:
    """The parent type is checked first, then the parent id.

    Source: APIV2PDFDocument.Page.al @270597d1, OnFindRecord, labels MissingParentTypeErr and
    MissingParentIdErr.
    """
    url = emulator.company_url("pdfDocument")
    assert_refused(emulator.get(url), "You must specify a parentType in the request body.")
    assert_refused(
        emulator.get(url, params={"$filter": "parentType eq 'Sales Invoice'"}),
        "You must specify a parentId in the request body.",
    )


@pytest.mark.parametrize(
    ("report", "party_id"),
    [("agedAccountsReceivables", "customerId"), ("agedAccountsPayables", "vendorId")],
)
def test_aged_reports_end_with_a_total_row(
    emulator: RunningEmulator, report: str, party_id: str
) -> None:
    """An aged report ends with a `Total` row: empty GUID, every amount summed.

    Source: BaseApp codeunit "Graph Mgt - Reports", SetUpAgedReportAPIData: after the customers
    (vendors) it inserts `AgedReportEntity.Init(); AccountId := DummyGuid; Name := 'Total';`
    with CalcSums of Before, Period 1-3 and Balance; read by P/APIV2AgedAR.Page.al @10383a2a and
    P/APIV2AgedAP.Page.al @44405f35.
    """
    rows = emulator.get_all(emulator.company_url(report))
    *parties, total = rows
    assert total[party_id] == "00000000-0000-0000-0000-000000000000"
    assert total["name"] == "Total"
    assert parties
    assert all(row["name"] != "Total" or row[party_id] != total[party_id] for row in parties)
    for amount in ("balanceDue", "currentAmount", "period1Amount", "period2Amount"):
        assert total[amount] == pytest.approx(sum(row[amount] for row in parties)), amount


def test_aged_receivables_show_the_local_currency_code(emulator: RunningEmulator) -> None:
    """A customer without a currency shows the LCY code in agedAccountsReceivables, not "".

    Source: "Graph Mgt - Reports".SetUpAgedReportAPIData: `if AgedReportEntity."Currency Code"
    = '' then AgedReportEntity."Currency Code" := GeneralLedgerSetup."LCY Code";` (customers
    only; the vendor branch keeps the vendor's currency as it is).
    """
    rows = emulator.get_all(emulator.company_url("agedAccountsReceivables"))
    setup = emulator.get(emulator.company_url("generalLedgerSetup")).json()["value"][0]
    *parties, _total = rows
    assert all(row["currencyCode"] for row in parties)
    assert any(row["currencyCode"] == setup["localCurrencyCode"] for row in parties)
