"""Contract: the write rules of journalLines and timeRegistrationEntries are Business Central's.

Sources (StefanMaron/MSDyn365BC.Code.History):
- LINES: APIV2/Source/_Exclude_APIV2_/src/pages/APIV2JournalLines.Page.al
  @10383a2a4754c10fba7f2bb9222d4c203ca769e4 (page 30049);
- GRAPH: BaseApp/Source/Base Application/Integration/Graph/GraphMgtJournalLines.Codeunit.al
  @9d4008cf7f3b5bd665ae01d171d1ddf377c214a5 (SetJournalLineValues);
- LIBRARY: BaseApp/Source/Base Application/Finance/GeneralLedger/Journal/
  LibraryAPIGeneralJournal.Codeunit.al @1566664dad5c30347333ef4fb6bf6b9414d8c8f0 (InitializeLine);
- TIME: APIV2/Source/_Exclude_APIV2_/src/pages/APIV2TimeRegistrEntries.Page.al
  @860039e1bf5b43c0073f10a99b2c905b836a54ac (page 30041);
- BUFFER: BaseApp/Source/Base Application/Integration/Graph/EmployeeTimeRegBuffer.Table.al
  @59bbe1556564437810e5873812e7ce1e978fd76b (table 5510);
- Microsoft Learn, devenv-onvalidate-pagefield-trigger: the table field's OnValidate runs
  before the page field's.
Every AL `Error()` answers 400 `Application_DialogException` with the label word for word.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from bc_answers import DIALOG, created, error_of, rows

GL = "G_x002F_L_x0020_Account"
BANK = "Bank_x0020_Account"


@pytest.fixture(scope="module")
def bc(start_emulator):
    """A small emulator of its own: these tests change rows."""
    return start_emulator(seed=7, scale=0.1)


def post(bc, path: str, body: dict[str, Any]):
    return bc.request("POST", bc.company_url(path), json=body)


def patch(bc, path: str, body: dict[str, Any]):
    return bc.request("PATCH", bc.company_url(path), json=body, headers={"If-Match": "*"})


def journal_with_balancing_account(bc) -> dict[str, Any]:
    found = [j for j in rows(bc, "journals") if j["balancingAccountNumber"]]
    assert found
    return found[0]


def journal_without_balancing_account(bc) -> dict[str, Any]:
    found = [j for j in rows(bc, "journals") if not j["balancingAccountNumber"]]
    assert found
    return found[0]


def lines_of(bc, journal_id: str) -> list[dict[str, Any]]:
    return rows(bc, f"journals({journal_id})/journalLines", **{"$orderby": "lineNumber"})


# -- journalLines ------------------------------------------------------------------------------


def test_journal_line_post_needs_a_journal(bc):
    """POST journalLines with no journalId and no journal in the URL → FiltersNotSpecifiedErr.

    Source: LINES OnInsertRecord (`if IsNullGuid(Rec."Journal Batch Id") then CheckFilters()`;
    CheckFilters: no "Journal Batch Id" and no SystemId filter → `You must specify a journal
    batch ID or a journal ID to get a journal line.`).
    """
    response = post(bc, "journalLines", {"amount": 10})
    assert error_of(response) == (
        400,
        DIALOG,
        "You must specify a journal batch ID or a journal ID to get a journal line.",
    )


def test_journal_line_takes_its_journal_from_the_url_or_the_body(bc):
    """The batch is the body's journalId, else the URL's journal filter.

    Source: LINES OnInsertRecord (`GenJournalBatch.GetBySystemId(TempGenJournalLine.GetFilter(
    "Journal Batch Id"))` when the body has none, else of the body's "Journal Batch Id").
    """
    journal = journal_without_balancing_account(bc)
    nested = created(post(bc, f"journals({journal['id']})/journalLines", {"amount": 5}))
    assert nested["journalId"] == journal["id"]
    assert nested["journalDisplayName"] == journal["code"]
    flat = created(post(bc, "journalLines", {"journalId": journal["id"], "amount": 6}))
    assert flat["journalId"] == journal["id"]


def test_journal_line_numbers_follow_the_last_line_and_a_sent_number_is_kept(bc):
    """Line No. 0 or absent → the batch's last line + 10000; a sent number is kept.

    Source: LIBRARY InitializeLine (`"Line No." := LineNo`; SetUpNewLine: `if "Line No." = 0
    then Validate("Line No.", GetNewLineNo(...))`).
    """
    journal = journal_without_balancing_account(bc)
    url = f"journals({journal['id']})/journalLines"
    last = max((line["lineNumber"] for line in lines_of(bc, journal["id"])), default=0)
    first = created(post(bc, url, {"amount": 1}))
    assert first["lineNumber"] == last + 10000
    zero = created(post(bc, url, {"amount": 1, "lineNumber": 0}))
    assert zero["lineNumber"] == last + 20000
    chosen = created(post(bc, url, {"amount": 1, "lineNumber": last + 25000}))
    assert chosen["lineNumber"] == last + 25000


def test_journal_line_with_a_taken_line_number_is_a_duplicate_key(bc):
    """A POST or a renaming PATCH onto a line number the batch has: the platform's duplicate key.

    Sources: LINES OnModifyRecord (`GenJournalLine.Rename(template, batch, Rec."Line No.")`);
    Gen. Journal Line's key (Journal Template Name, Journal Batch Name, Line No.); code
    Internal_EntityWithSameKeyExists and wording "The record in table Gen. Journal Line already
    exists. Identification fields and values: ..." as in tests/contract/test_contract_master_data.
    """
    journal = journal_without_balancing_account(bc)
    url = f"journals({journal['id']})/journalLines"
    one = created(post(bc, url, {"amount": 1}))
    two = created(post(bc, url, {"amount": 2}))
    taken = one["lineNumber"]
    message = (
        "The record in table Gen. Journal Line already exists. Identification fields and values:"
        f" Journal Template Name='{journal['templateDisplayName']}',"
        f"Journal Batch Name='{journal['code']}',Line No.='{taken}'"
    )
    expected = (400, "Internal_EntityWithSameKeyExists", message)
    assert error_of(post(bc, url, {"amount": 3, "lineNumber": taken})) == expected
    assert error_of(patch(bc, f"journalLines({two['id']})", {"lineNumber": taken})) == expected


def test_journal_line_number_change_renames_the_line(bc):
    """PATCH lineNumber: OnModifyRecord renames the Gen. Journal Line; the id stays.

    Source: LINES OnModifyRecord (`if Rec."Line No." = GenJournalLine."Line No." then
    Rec.Modify(true) else ... GenJournalLine.Rename(...)`).
    """
    journal = journal_without_balancing_account(bc)
    line = created(post(bc, f"journals({journal['id']})/journalLines", {"amount": 7}))
    free = line["lineNumber"] + 5000
    renamed = patch(bc, f"journalLines({line['id']})", {"lineNumber": free})
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["id"] == line["id"]
    assert renamed.json()["lineNumber"] == free


def test_journal_line_defaults_to_a_gl_account(bc):
    """A POST without accountType gets `G/L Account`.

    Source: LINES OnNewRecord (`Rec."Account Type" := Rec."Account Type"::"G/L Account"`).
    """
    journal = journal_without_balancing_account(bc)
    line = created(post(bc, f"journals({journal['id']})/journalLines", {"amount": 8}))
    assert line["accountType"] == GL


def test_bank_account_lines_look_their_account_up_among_bank_accounts(bc):
    """accountType Bank Account: accountId/accountNumber name a bank account, else BC's labels.

    Source: LINES accountId OnValidate (`BankAccount.GetBySystemId` else
    AccountIdDoesNotMatchAnAccountErr; `"Account No." := BankAccount."No."`) and accountNumber
    OnValidate → UpdateAccountIdForBankAccount (AccountValuesDontMatchErr,
    AccountNumberDoesNotMatchAnAccountErr).
    """
    journal = journal_without_balancing_account(bc)
    url = f"journals({journal['id']})/journalLines"
    bank, other = rows(bc, "bankAccounts", **{"$top": "2"})
    by_id = created(post(bc, url, {"accountType": BANK, "accountId": bank["id"], "amount": 1}))
    assert by_id["accountNumber"] == bank["number"]
    by_number = created(
        post(bc, url, {"accountType": BANK, "accountNumber": bank["number"], "amount": 1})
    )
    assert by_number["accountId"] == bank["id"]
    cases = [
        ({"accountId": str(uuid.uuid4())}, 'The "accountId" does not match to an Account.'),
        ({"accountNumber": "NO-SUCH"}, 'The "accountNumber" does not match to an Account.'),
        (
            {"accountId": bank["id"], "accountNumber": other["number"]},
            "The account values do not match to a specific Account.",
        ),
        # a G/L account's id is no bank account
        (
            {"accountId": rows(bc, "accounts", **{"$top": "1"})[0]["id"]},
            'The "accountId" does not match to an Account.',
        ),
    ]
    for body, message in cases:
        response = post(bc, url, {"accountType": BANK, "amount": 1, **body})
        assert error_of(response) == (400, DIALOG, message), body


def test_balancing_account_id_must_name_an_account_of_its_type(bc):
    """balancingAccountId: a G/L or bank account by balanceAccountType, else BC's label.

    Source: LINES balancingAccountId OnValidate (`GLAccount.GetBySystemId` /
    `BankAccount.GetBySystemId` by "Bal. Account Type", else BalAccountIdDoesNotMatchAnAccountErr
    `The "balancingAccountId" does not match to an Account.`; `"Bal. Account No." := ..."No."`).
    """
    journal = journal_without_balancing_account(bc)
    url = f"journals({journal['id']})/journalLines"
    account = rows(bc, "accounts", **{"$filter": "accountType eq 'Posting'", "$top": "1"})[0]
    bank = rows(bc, "bankAccounts", **{"$top": "1"})[0]
    line = created(post(bc, url, {"amount": 1, "balancingAccountId": account["id"]}))
    assert line["balancingAccountNumber"] == account["number"]
    assert line["balanceAccountType"] == GL
    to_bank = created(
        post(bc, url, {"amount": 1, "balanceAccountType": BANK, "balancingAccountId": bank["id"]})
    )
    assert to_bank["balancingAccountNumber"] == bank["number"]
    message = 'The "balancingAccountId" does not match to an Account.'
    for body in (
        {"balancingAccountId": str(uuid.uuid4())},
        {"balanceAccountType": BANK, "balancingAccountId": account["id"]},
    ):
        assert error_of(post(bc, url, {"amount": 1, **body})) == (400, DIALOG, message), body
    assert error_of(
        patch(bc, f"journalLines({line['id']})", {"balancingAccountId": str(uuid.uuid4())})
    ) == (400, DIALOG, message)


def test_journal_line_takes_the_journals_balancing_account(bc):
    """A new line without a balancing account gets its batch's; one sent in the body wins.

    Source: GRAPH SetJournalLineValues (`Validate("Bal. Account No.", GenJournalBatch."Bal.
    Account No.")`, then the body's "Bal. Account No." when not blank). Simplified: the batch's
    balancing account type is taken to be G/L Account (not in the v2.0 journals entity).
    """
    journal = journal_with_balancing_account(bc)
    url = f"journals({journal['id']})/journalLines"
    line = created(post(bc, url, {"amount": 1}))
    assert line["balancingAccountId"] == journal["balancingAccountId"]
    assert line["balancingAccountNumber"] == journal["balancingAccountNumber"]
    other = next(
        a
        for a in rows(bc, "accounts", **{"$filter": "accountType eq 'Posting'", "$top": "5"})
        if a["id"] != journal["balancingAccountId"]
    )
    own = created(post(bc, url, {"amount": 1, "balancingAccountId": other["id"]}))
    assert own["balancingAccountNumber"] == other["number"]


def test_a_new_journal_line_continues_the_last_lines_document(bc):
    """No documentNumber/postingDate sent: the last line's, the number incremented when balanced.

    Sources: LIBRARY InitializeLine (GetCopyValuesFromLine: the last line of the batch;
    SetUpNewLine; AlterDocNoBasedOnExternalDocNo: a copied line with another External Document
    No. → the next number); Gen. Journal Line SetUpNewLine (older version, index id 32058058102:
    `"Posting Date" := LastGenJnlLine."Posting Date"`, `"Document No." := LastGenJnlLine."Document
    No."`, IncStr when BottomLine and the lines before the last one balance) and UpdateLineBalance
    (a line with an account and a balancing account has Balance (LCY) 0); GenJnlManagement
    CalcBalance (index id 51807002572); GRAPH SetJournalLineValues (a sent posting date and a
    non-blank sent document number win). Simplified: EmptyLine as "no account and no amount".
    """
    journal = created(post(bc, "journals", {"code": "DOCNOS", "displayName": "Document numbers"}))
    url = f"journals({journal['id']})/journalLines"
    account, bank = rows(bc, "accounts", **{"$filter": "accountType eq 'Posting'", "$top": "2"})
    body = {"accountId": account["id"], "balancingAccountId": bank["id"], "amount": 12}
    empty = created(post(bc, url, body))  # an empty batch: the work date, no series modelled
    assert empty["postingDate"] == datetime.now(tz=UTC).date().isoformat()
    first = created(
        post(bc, url, {**body, "documentNumber": "T00009", "postingDate": "2024-05-02"})
    )
    assert (first["documentNumber"], first["postingDate"]) == ("T00009", "2024-05-02")
    # every line of the batch has a balancing account, so the batch is in balance: next number
    second = created(post(bc, url, body))
    assert (second["documentNumber"], second["postingDate"]) == ("T00010", "2024-05-02")
    # a line without balancing account: the lines before the next one's copy are unbalanced
    no_balance = {**body, "balancingAccountId": "00000000-0000-0000-0000-000000000000"}
    assert created(post(bc, url, no_balance))["documentNumber"] == "T00011"
    after = created(post(bc, url, {**body, "externalDocumentNumber": "EXT-1"}))
    assert after["documentNumber"] == "T00012"  # the lines before the last one still balance
    kept = created(post(bc, url, {**body, "externalDocumentNumber": "EXT-1"}))
    assert kept["documentNumber"] == "T00012"  # unbalanced before the last: the same number
    # the copied line has another external document number: the next number
    other = created(post(bc, url, {**body, "externalDocumentNumber": "EXT-2"}))
    assert other["documentNumber"] == "T00013"
    sent = created(post(bc, url, {**body, "documentNumber": "MINE-1", "postingDate": "2024-06-01"}))
    assert (sent["documentNumber"], sent["postingDate"]) == ("MINE-1", "2024-06-01")


# -- timeRegistrationEntries ---------------------------------------------------------------------


def two_employees(bc) -> tuple[dict[str, Any], dict[str, Any]]:
    first, second = rows(bc, "employees", **{"$top": "2", "$orderby": "number"})
    return first, second


def test_time_entry_post_needs_an_employee(bc):
    """POST timeRegistrationEntries without employee and without employees(id) in the URL.

    Source: TIME OnInsertRecord (`if not Rec.HasFilter() then
    Error(EmployeeIdOrNumberShouldBeSpecifiedErr)`).
    """
    response = post(bc, "timeRegistrationEntries", {"date": "2024-03-04", "quantity": 2})
    assert error_of(response) == (
        400,
        DIALOG,
        "You must specify an Employee ID or Employee number to get the time registration entries.",
    )


def test_time_entry_takes_its_employee_from_the_body_or_the_url(bc):
    """The employee from employeeId, employeeNumber or the URL; number, id and unit filled in.

    Sources: TIME employeeId / employeeNumber OnValidate and OnInsertRecord
    (`Rec.Validate("Employee Id", Rec.GetFilter("Employee Id"))`); BUFFER PropagateInsert
    (`"Unit of Measure Code" := Resource."Base Unit of Measure"`; simplified: the unit of the
    employee's latest entry, HOUR in the seed).
    """
    employee, _ = two_employees(bc)
    body = {"date": "2024-03-04", "quantity": 2}
    nested = created(post(bc, f"employees({employee['id']})/timeRegistrationEntries", body))
    assert (nested["employeeId"], nested["employeeNumber"]) == (employee["id"], employee["number"])
    assert nested["unitOfMeasureCode"] == "HOUR"
    by_number = created(
        post(bc, "timeRegistrationEntries", {**body, "employeeNumber": employee["number"]})
    )
    assert by_number["employeeId"] == employee["id"]
    by_id = created(post(bc, "timeRegistrationEntries", {**body, "employeeId": employee["id"]}))
    assert by_id["employeeNumber"] == employee["number"]


def test_time_entry_refuses_unknown_or_disagreeing_employees(bc):
    """Unknown employee id or number, id and number of two employees, another URL's employee.

    Sources: BUFFER "Employee Id" OnValidate (`if not Employee.GetBySystemId(...) then
    Error(CouldNotFindEmployeeErr)` `The employee cannot be found.`, run before the page's
    OnValidate per Microsoft Learn); TIME employeeId OnValidate (CannotChangeEmployeeIdErr) and
    employeeNumber OnValidate (EmployeeValuesDontMatchErr, EmployeeNumberDoesNotMatchAnEmployeeErr,
    CannotChangeEmployeeNumberErr).
    """
    employee, other = two_employees(bc)
    base = {"date": "2024-03-05", "quantity": 1}
    flat = "timeRegistrationEntries"
    nested = f"employees({employee['id']})/timeRegistrationEntries"
    cases = [
        (flat, {"employeeId": str(uuid.uuid4())}, "The employee cannot be found."),
        (
            flat,
            {"employeeNumber": "NO-SUCH"},
            'The "employeeNumber" does not match to an Employee.',
        ),
        (
            flat,
            {"employeeId": employee["id"], "employeeNumber": other["number"]},
            "The employee values do not match to a specific Employee.",
        ),
        (
            nested,
            {"employeeId": other["id"]},
            'The value for "employeeId" cannot be modified.',
        ),
        (
            nested,
            {"employeeNumber": other["number"]},
            "The value for employee number cannot be modified.",
        ),
    ]
    for path, body, message in cases:
        assert error_of(post(bc, path, {**base, **body})) == (400, DIALOG, message), body


def test_time_entry_projects_are_looked_up(bc):
    """jobId names a project (its number filled in); unknown → BC's label; id/number disagree.

    Source: TIME jobId OnValidate (`Job.GetBySystemId` else JobIdDoesNotMatchAJobErr;
    `"Job No." := Job."No."`) and jobNumber OnValidate (after a jobId, a different number →
    JobValuesDontMatchErr, whose text says "employee", sic).
    """
    employee, _ = two_employees(bc)
    first, second = rows(bc, "projects", **{"$top": "2"})
    url = f"employees({employee['id']})/timeRegistrationEntries"
    base = {"date": "2024-03-06", "quantity": 3}
    entry = created(post(bc, url, {**base, "jobId": first["id"]}))
    assert entry["jobNumber"] == first["number"]
    by_number = created(post(bc, url, {**base, "jobNumber": second["number"]}))
    assert by_number["jobId"] == second["id"]
    cases = [
        ({"jobId": str(uuid.uuid4())}, 'The "jobId" does not match to a Job.'),
        (
            {"jobId": first["id"], "jobNumber": second["number"]},
            "The employee values do not match to a specific Employee.",
        ),
    ]
    for body, message in cases:
        assert error_of(post(bc, url, {**base, **body})) == (400, DIALOG, message), body


def test_time_entry_employee_and_date_are_fixed(bc):
    """PATCH: another employee → CannotModifyEmployeeIdErr; another date → CannotModifyDateErr.

    Source: TIME OnModifyRecord (`if Rec."Employee Id" <> xRec."Employee Id" then
    Error(CannotModifyEmployeeIdErr)`; `if Rec.Date <> xRec.Date then Error(CannotModifyDateErr)`).
    The quantity may change (PropagateModify).
    """
    employee, other = two_employees(bc)
    entry = created(
        post(
            bc,
            f"employees({employee['id']})/timeRegistrationEntries",
            {"date": "2024-03-07", "quantity": 4},
        )
    )
    path = f"timeRegistrationEntries({entry['id']})"
    cases = [
        ({"employeeId": other["id"]}, 'The "employeeId" cannot be modified.'),
        ({"employeeNumber": other["number"]}, 'The "employeeId" cannot be modified.'),
        ({"date": "2024-03-08"}, "The date cannot be modified."),
    ]
    for body, message in cases:
        assert error_of(patch(bc, path, body)) == (400, DIALOG, message), body
    same = patch(bc, path, {"employeeId": employee["id"], "date": "2024-03-07", "quantity": 6})
    assert same.status_code == 200, same.text
    assert float(same.json()["quantity"]) == 6


def test_journal_lines_and_time_entries_delete_plainly(bc):
    """DELETE of a journal line or a time entry: 204, and the row is gone.

    Sources: LINES (no OnDeleteRecord: the platform deletes the Gen. Journal Line); TIME
    OnDeleteRecord → BUFFER PropagateDelete (`TimeSheetDetail.Delete(true)`).
    """
    journal = journal_without_balancing_account(bc)
    line = created(post(bc, f"journals({journal['id']})/journalLines", {"amount": 9}))
    employee, _ = two_employees(bc)
    entry = created(
        post(
            bc,
            f"employees({employee['id']})/timeRegistrationEntries",
            {"date": "2024-03-11", "quantity": 1},
        )
    )
    for path in (f"journalLines({line['id']})", f"timeRegistrationEntries({entry['id']})"):
        url = bc.company_url(path)
        response = bc.request("DELETE", url, headers={"If-Match": "*"})
        assert response.status_code == 204, response.text
        assert bc.get(url).status_code == 404
