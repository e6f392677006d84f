"""General journal lines (`journalLines`): what their page checks and derives on POST and PATCH.

Sources (StefanMaron/MSDyn365BC.Code.History):
- PAGE: APIV2/Source/_Exclude_APIV2_/src/pages/APIV2JournalLines.Page.al
  @10383a2a4754c10fba7f2bb9222d4c203ca769e4 (page 30049 "APIV2 - JournalLines");
- GRAPH: BaseApp/Source/Base Application/Integration/Graph/GraphMgtJournalLines.Codeunit.al
  @9d4008cf7f3b5bd665ae01d171d1ddf377c214a5 (SetJournalLineValues);
- LIBRARY: BaseApp/Source/Base Application/Finance/GeneralLedger/Journal/
  LibraryAPIGeneralJournal.Codeunit.al @1566664dad5c30347333ef4fb6bf6b9414d8c8f0 (InitializeLine).

The rules, in the order BC runs them:
- OnNewRecord: `Account Type` := G/L Account (a POST without `accountType` gets it).
- accountId / accountNumber OnValidate look the account up in G/L Account or Bank Account by the
  line's account type (G/L lines: rules/references.py; Bank Account lines: here); other account
  types are not looked up.
- balancingAccountId OnValidate: blank → `balancingAccountNumber` blank; else a G/L or bank
  account by `balanceAccountType`, unknown → BalAccountIdDoesNotMatchAnAccountErr.
- OnInsertRecord: no `journalId` in the body and no journal filter (`journals(id)/journalLines`)
  → FiltersNotSpecifiedErr. InitializeLine: `Line No.` 0 → GetNewLineNo (the batch's last line
  + 10000). SetJournalLineValues: the batch's balancing account, unless the body names one (its
  type differing from the batch's, or a non-blank number). SetCalculatedFields:
  `journalDisplayName` is the batch's name.
- OnModifyRecord: a changed `lineNumber` renames the line (its id stays); another line of the
  batch with that number is the platform's duplicate key.

Simplified: the batch's "Bal. Account Type" is not in the v2.0 `journals` entity; it is taken to
be G/L Account (the journals page looks its balancing account up among G/L accounts).
InitializeLine's SetUpNewLine (document number and posting date from the neighbour line) follows
an older version of table 81 (index id 32058058102) and GenJnlManagement.CalcBalance (index id
51807002572): the current SetUpNewLine was not found in the parts of GenJournalLine.Table.al read.
The batch's No. Series is not in the v2.0 entity, so the first line of a batch gets no number.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from businesscentral_emulator.rules import documents as docs
from businesscentral_emulator.rules.code_tables import duplicate_key
from businesscentral_emulator.rules.payments import NO_JOURNAL
from businesscentral_emulator.rules.references import find_row
from businesscentral_emulator.rules.validation import EMPTY_GUID, STANDARD_ROUTE, dialog
from businesscentral_emulator.store.sqlite import quote, table_name

if TYPE_CHECKING:
    from businesscentral_emulator.odata.edmx import ApiModel
    from businesscentral_emulator.store.sqlite import Store

_TABLE = "Gen. Journal Line"  # the table's caption in the platform's messages
SET = "journalLines"
GL_ACCOUNT = "G_x002F_L_x0020_Account"
BANK_ACCOUNT = "Bank_x0020_Account"
# Where an account of each type is looked up by the page's OnValidate triggers.
_ACCOUNT_SETS = {GL_ACCOUNT: "accounts", BANK_ACCOUNT: "bankAccounts"}
ACCOUNT_ID_UNKNOWN = 'The "accountId" does not match to an Account.'
ACCOUNT_NUMBER_UNKNOWN = 'The "accountNumber" does not match to an Account.'
ACCOUNT_MISMATCH = "The account values do not match to a specific Account."
BALANCING_ID_UNKNOWN = 'The "balancingAccountId" does not match to an Account.'
_NEIGHBOUR_FIELDS = (
    "lineNumber",
    "documentNumber",
    "externalDocumentNumber",
    "postingDate",
    "amount",
    "accountNumber",
    "balancingAccountNumber",
)
_NO_DATE = "0001-01-01"
_LAST_NUMBER = re.compile(r"(\d+)(?!.*\d)")


def _given(value: Any) -> bool:  # noqa: ANN401 - a stored value
    return value not in (None, "", EMPTY_GUID)


def applies(api: ApiModel, set_name: str) -> bool:
    """Whether these rules are the set's (v2.0 journalLines, not a partner page)."""
    return api.route == STANDARD_ROUTE and set_name == SET


def on_insert(
    store: Store, api: ApiModel, company: str | None, row: dict[str, Any], changed: set[str]
) -> None:
    """A new line's OnNewRecord defaults, OnValidate checks and OnInsertRecord derivations.

    `row` already holds the journal of the URL (`journals(id)/journalLines`), if any.

    Raises:
        BusinessCentralError: An unknown account or balancing account, or no journal.
    """
    if "accountType" not in changed or not row.get("accountType"):
        row["accountType"] = GL_ACCOUNT
    _bank_account(store, api, company, row, changed)
    _balancing_account(store, api, company, row, changed)
    if not _given(row.get("journalId")):
        raise dialog(NO_JOURNAL)
    journal = find_row(store, api, "journals", company, ("id", row["journalId"]))
    _set_up_new_line(store, api, row, changed)
    if row.get("lineNumber") in (None, 0):
        row["lineNumber"] = docs.next_sequence(
            store, api, SET, "journalId", str(row["journalId"]), "lineNumber"
        )
    else:
        _check_free_number(store, api, row, journal, None)
    if journal is not None:
        row["journalDisplayName"] = journal.get("code") or ""  # SetCalculatedFields
        _journal_balancing_account(row, changed, journal)


def on_update(
    store: Store, api: ApiModel, old: dict[str, Any], row: dict[str, Any], changed: set[str]
) -> None:
    """A PATCH: the OnValidate checks of the fields sent, and a rename of a new line number.

    Raises:
        BusinessCentralError: An unknown account, or a line number the batch already has.
    """
    company = old.get("_company")
    _bank_account(store, api, company, row, changed)
    _balancing_account(store, api, company, row, changed)
    if "lineNumber" in changed and row.get("lineNumber") != old.get("lineNumber"):
        journal = find_row(store, api, "journals", company, ("id", row.get("journalId") or ""))
        _check_free_number(store, api, row, journal, old.get("_rowid"))


def _set_up_new_line(store: Store, api: ApiModel, row: dict[str, Any], changed: set[str]) -> None:
    """InitializeLine's SetUpNewLine: document number and posting date from a neighbour line.

    The line copied is the batch's next line after a sent line number, else its last line
    (BottomLine). A bottom line's document number is incremented when the lines before the last
    one are in balance and the last line is not empty; AlterDocNoBasedOnExternalDocNo increments
    it when the copied line has another external document number. A non-blank sent document
    number and a sent posting date win (SetJournalLineValues). An empty batch: the work date
    (today here) and no document number (the batch's No. Series is not modelled).
    """
    lines = [
        dict(zip(_NEIGHBOUR_FIELDS, found, strict=True))
        for found in store.fetch(
            f"SELECT {', '.join(quote(n) for n in _NEIGHBOUR_FIELDS)}"
            f' FROM {table_name(api.route, SET)} WHERE _company IS ? AND "journalId" = ?'
            ' ORDER BY "lineNumber"',
            (row.get("_company"), row.get("journalId")),
        )
    ]
    sent_line = int(row.get("lineNumber") or 0)
    after = [line for line in lines if sent_line and line["lineNumber"] > sent_line]
    copy = after[0] if after else (lines[-1] if lines else None)
    posting_date, document = docs.now_stored()[:10], ""
    if copy is not None:
        posting_date, document = str(copy["postingDate"] or ""), str(copy["documentNumber"] or "")
        before = [line for line in lines if line["lineNumber"] < copy["lineNumber"]]
        if not after and sum(map(_balance, before)) == 0 and not _empty(copy):
            document = increment(document)
        if document == copy["documentNumber"] and (copy["externalDocumentNumber"] or "") != (
            row.get("externalDocumentNumber") or ""
        ):
            document = increment(document)
    if not row.get("documentNumber"):
        row["documentNumber"] = document
    if "postingDate" not in changed or row.get("postingDate") in (None, "", _NO_DATE):
        row["postingDate"] = posting_date


def _balance(line: dict[str, Any]) -> Decimal:
    """Gen. Journal Line UpdateLineBalance: "Balance (LCY)" (amounts taken to be in LCY)."""
    amount = docs.money(line.get("amount"))
    if line.get("accountNumber") and line.get("balancingAccountNumber"):
        return Decimal(0)
    return -amount if line.get("balancingAccountNumber") else amount


def _empty(line: dict[str, Any]) -> bool:
    """EmptyLine, simplified: no account and no amount."""
    return not line.get("accountNumber") and docs.money(line.get("amount")) == 0


def increment(text: str) -> str:
    """AL IncStr: the last number in the text plus one, its width kept; no number: blank."""
    match = _LAST_NUMBER.search(text)
    if match is None:
        return ""
    digits = match.group(1)
    return text[: match.start(1)] + str(int(digits) + 1).zfill(len(digits)) + text[match.end(1) :]


def _bank_account(
    store: Store, api: ApiModel, company: str | None, row: dict[str, Any], changed: set[str]
) -> None:
    """accountId, then accountNumber OnValidate of a Bank Account line (UpdateAccountIdFor...)."""
    if row.get("accountType") != BANK_ACCOUNT:
        return
    found: dict[str, Any] | None = None
    sent_number = row.get("accountNumber")  # assigned after accountId's OnValidate ran
    if "accountId" in changed:
        if not _given(row.get("accountId")):
            row["accountNumber"] = ""
        else:
            found = find_row(store, api, "bankAccounts", company, ("id", row["accountId"]))
            if found is None:
                raise dialog(ACCOUNT_ID_UNKNOWN)
            row["accountNumber"] = found["number"]
    if "accountNumber" not in changed:
        return
    row["accountNumber"] = sent_number
    if found is not None:
        if found["number"] != sent_number:
            raise dialog(ACCOUNT_MISMATCH)
        return
    if not row.get("accountNumber"):
        row["accountId"] = EMPTY_GUID
        return
    found = find_row(store, api, "bankAccounts", company, ("number", row["accountNumber"]))
    if found is None:
        raise dialog(ACCOUNT_NUMBER_UNKNOWN)
    row["accountId"] = found["id"]


def _balancing_account(
    store: Store, api: ApiModel, company: str | None, row: dict[str, Any], changed: set[str]
) -> None:
    """The balancingAccountId OnValidate: the account by the line's balancing account type."""
    if "balancingAccountId" not in changed:
        return
    if not _given(row.get("balancingAccountId")):
        row["balancingAccountId"] = EMPTY_GUID
        row["balancingAccountNumber"] = ""
        return
    target = _ACCOUNT_SETS.get(str(row.get("balanceAccountType") or GL_ACCOUNT))
    if target is None:  # another account type: the page looks nothing up
        return
    found = find_row(store, api, target, company, ("id", row["balancingAccountId"]))
    if found is None:
        raise dialog(BALANCING_ID_UNKNOWN)
    row["balancingAccountId"] = found["id"]
    row["balancingAccountNumber"] = found["number"]


def _journal_balancing_account(
    row: dict[str, Any], changed: set[str], journal: dict[str, Any]
) -> None:
    """SetJournalLineValues: the batch's balancing account unless the body names another."""
    sent_type = row.get("balanceAccountType") if "balanceAccountType" in changed else None
    if not sent_type:
        row["balanceAccountType"] = GL_ACCOUNT
    elif sent_type != GL_ACCOUNT:
        return  # Validate("Bal. Account Type", <another type>) clears the batch's account
    if _given(row.get("balancingAccountNumber")) and (
        "balancingAccountNumber" in changed or "balancingAccountId" in changed
    ):
        return
    if _given(journal.get("balancingAccountId")):
        row["balancingAccountId"] = journal["balancingAccountId"]
        row["balancingAccountNumber"] = journal.get("balancingAccountNumber") or ""


def _check_free_number(
    store: Store,
    api: ApiModel,
    row: dict[str, Any],
    journal: dict[str, Any] | None,
    own_rowid: int | None,
) -> None:
    """Gen. Journal Line's key is (template, batch, Line No.): a taken number is a duplicate."""
    clash = store.fetch_one(
        f"SELECT _rowid FROM {table_name(api.route, SET)} WHERE _company IS ?"
        f' AND "journalId" = ? AND {quote("lineNumber")} = ? AND _rowid IS NOT ?',
        (row.get("_company"), row.get("journalId"), row.get("lineNumber"), own_rowid),
    )
    if clash is None:
        return
    template = (journal or {}).get("templateDisplayName") or ""
    batch = (journal or {}).get("code") or ""
    identification = (
        f"Journal Template Name='{template}',Journal Batch Name='{batch}',"
        f"Line No.='{row.get('lineNumber')}'"
    )
    raise duplicate_key(_TABLE, identification)
