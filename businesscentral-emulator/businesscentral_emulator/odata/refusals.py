"""Reads BC refuses: entity sets whose API page needs a parent (a filter or a navigation).

Several API v2.0 pages load a temporary table per parent document in `OnFindRecord`, or check
their filters in `OnAfterGetCurrRecord`, and raise an AL `Error(...)` when the request names no
parent. BC answers such an error as 400 `Application_DialogException` with the label's text.
Each `ReadRule` below cites the AL page (Microsoft's APIV2 app, as mirrored in
StefanMaron/MSDyn365BC.Code.History, `APIV2/Source/_Exclude_APIV2_/src/pages/`) it copies.

A rule is satisfied when the request reaches the set through a navigation from a parent (the
page part's `SubPageLink` then supplies the filters the page looks for), or when `$filter` or the
key in the path names every property of one of the rule's alternatives (AL's `GetFilter(...)` is
non-empty for any filter on the field, whatever the operator).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

from businesscentral_emulator.odata.errors import BusinessCentralError
from businesscentral_emulator.odata.filter_parser import (
    Call,
    Compare,
    Ident,
    In,
    Logical,
    Not,
    Value,
    parse_filter,
)

if TYPE_CHECKING:
    from businesscentral_emulator.odata.filter_parser import Node
    from businesscentral_emulator.odata.paths import Target
    from businesscentral_emulator.odata.query import QueryOptions

__all__ = ["READ_RULES", "ReadRule", "check_after_rows", "check_read"]

DIALOG = "Application_DialogException"
_PAGES = "APIV2/Source/_Exclude_APIV2_/src/pages/"


@dataclass(frozen=True)
class ReadRule:
    """What a read of `sets` must name, and BC's error when it names none of it.

    Attributes:
        sets: Entity sets the page serves.
        alternatives: Each a set of properties that, all filtered, satisfy the rule; empty when
            only a navigation from the parent does.
        message: The AL label BC answers with, word for word.
        when_rows: The check runs in `OnAfterGetCurrRecord`, i.e. only once a row is read: a
            read that finds no row answers an empty page instead of the error.
        source: The AL page the rule copies.
    """

    sets: tuple[str, ...]
    alternatives: tuple[frozenset[str], ...]
    message: str
    when_rows: bool = False
    source: str = ""


_LINES_UPPER = "You must specify an Id or a Document Id to get the lines."
_LINES_LOWER = "You must specify an id or a Document Id to get the lines."
_BY_DOCUMENT = (frozenset({"id"}), frozenset({"documentId"}))
_BY_JOURNAL = (frozenset({"journalId"}), frozenset({"id"}))
_JOURNAL = "You must specify a journal batch ID or a journal ID to get a journal line."

READ_RULES: tuple[ReadRule, ...] = (
    # OnFindRecord: `if (IdFilter = '') and (DocumentIdFilter = '') then Error(...)`.
    ReadRule(
        ("salesInvoiceLines", "salesOrderLines", "salesQuoteLines"),
        _BY_DOCUMENT,
        _LINES_UPPER,
        source=f"{_PAGES}APIV2SalesInvoiceLines.Page.al @1701efe5, APIV2SalesOrderLines.Page.al"
        " @432e8a4e, APIV2SalesQuoteLines.Page.al @0812a575",
    ),
    ReadRule(
        ("purchaseInvoiceLines", "purchaseOrderLines"),
        _BY_DOCUMENT,
        _LINES_UPPER,
        source=f"{_PAGES}APIV2PurchaseInvoiceLines.Page.al @38b9b432,"
        " APIV2PurchaseOrderLines.Page.al @173d43a5",
    ),
    # The two credit-memo line pages spell the label with a lower-case "id".
    ReadRule(
        ("salesCreditMemoLines", "purchaseCreditMemoLines"),
        _BY_DOCUMENT,
        _LINES_LOWER,
        source=f"{_PAGES}APIV2SalesCreditMemLines.Page.al @257a4d34,"
        " APIV2PurchCrMemoLines.Page.al @533b609e",
    ),
    # salesShipmentLines and purchaseReceiptLines read real tables: no rule (company-level works).
    # CheckFilters in OnAfterGetCurrRecord: only fires once a row has been read.
    ReadRule(
        ("customerPayments", "vendorPayments", "journalLines"),
        _BY_JOURNAL,
        _JOURNAL,
        when_rows=True,
        source=f"{_PAGES}APIV2CustomerPayments.Page.al @6098c9c0, APIV2VendorPayments.Page.al"
        " @05d57db6, APIV2JournalLines.Page.al @10383a2a (CheckFilters)",
    ),
    # Table 5510 "Employee Time Reg Buffer".LoadRecords (id, then employeeId, then date).
    ReadRule(
        ("timeRegistrationEntries",),
        (frozenset({"id"}), frozenset({"employeeId"}), frozenset({"date"})),
        "A filter must be specified. The filter could be for the date, employeeId or id.",
        source="BaseApp table 5510 Employee Time Reg Buffer (LoadRecords); page 30041",
    ),
    ReadRule(
        ("contactsInformation",),
        (frozenset({"relatedId"}),),
        "id type not specified.",
        source=f"{_PAGES}APIV2ContactsInformation.Page.al @465316a2 (OnFindRecord)",
    ),
    ReadRule(
        ("dimensionSetLines",),
        (frozenset({"parentId"}),),
        "You must get to the parent first to get to the dimension set line.",
        source=f"{_PAGES}APIV2DimensionSetLines.Page.al @025334c0 (OnFindRecord)",
    ),
    # The picture's key is its parent's id; the page needs both it and the parent type.
    ReadRule(
        ("pictures",),
        (frozenset({"id", "parentType"}),),
        "You must get to the parent first to get to the picture.",
        source=f"{_PAGES}APIV2Pictures.Page.al @406aa00d (OnFindRecord)",
    ),
    # Vendor Id and Gen. Journal Line Id are not API fields: only vendorPayments(id)/... works.
    ReadRule(
        ("applyVendorEntries",),
        (),
        "You must specify a vendor payment to get apply vendor entries.",
        source=f"{_PAGES}APIV2ApplyVendorEntries.Page.al @1beba7d5 (OnFindRecord)",
    ),
    # OnFindRecord checks the parent type first, then the parent id (or id).
    ReadRule(
        ("pdfDocument",),
        (frozenset({"parentType"}),),
        "You must specify a parentType in the request body.",
        source=f"{_PAGES}APIV2PDFDocument.Page.al @270597d1 (OnFindRecord)",
    ),
    ReadRule(
        ("pdfDocument",),
        (frozenset({"parentId"}), frozenset({"id"})),
        "You must specify a parentId in the request body.",
        source=f"{_PAGES}APIV2PDFDocument.Page.al @270597d1 (OnFindRecord)",
    ),
)

_RULES_BY_SET: dict[str, list[ReadRule]] = {}
for _rule in READ_RULES:
    for _name in _rule.sets:
        _RULES_BY_SET.setdefault(_name, []).append(_rule)

# Table 5510: EmployeeFilterOneEmployeeOnlyErr.
_ONE_EMPLOYEE = "You can only search for one employee using the employee filter."
# Table 5510: MaxDateFilterRange() = 70, and LastDate - FirstDate may not exceed it.
_MAX_TIME_RANGE_DAYS = 70
_DATE_INVALID = (
    "The date filter is invalid. The date filter must be a valid range with maximum 70 days."
)


def _refused(message: str) -> BusinessCentralError:
    return BusinessCentralError(400, DIALOG, message)


def _children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, Compare):
        return (node.left, node.right)
    if isinstance(node, Logical):
        return node.operands
    if isinstance(node, (Not, In)):
        return (node.operand,)
    if isinstance(node, Call):
        return node.args
    return ()


def _names(node: Node) -> set[str]:
    """Every property the filter names (AL sees a filter on each of them)."""
    if isinstance(node, Ident):
        return {node.name}
    return set().union(*(_names(child) for child in _children(node)))


def _filtered(target: Target, options: QueryOptions) -> tuple[set[str], Node | None]:
    names: set[str] = set()
    tree = None
    if options.filter:
        tree = parse_filter(options.filter)
        names = _names(tree)
    if target.single and target.navigation is None and target.key is not None:
        names.add(target.entity_set.entity_type.key[0])
    return names, tree


def _through_parent(target: Target) -> bool:
    """Reached by a navigation from a parent entity (not from the company)."""
    return target.navigation is not None


def _unsatisfied(target: Target, options: QueryOptions, *, when_rows: bool) -> ReadRule | None:
    rules = [r for r in _RULES_BY_SET.get(target.entity_set.name, ()) if r.when_rows == when_rows]
    if not rules or _through_parent(target):
        return None
    names, _ = _filtered(target, options)
    for rule in rules:
        if not any(alternative <= names for alternative in rule.alternatives):
            return rule
    return None


def check_read(target: Target, options: QueryOptions) -> None:
    """Refuse, before reading, what the page's `OnFindRecord` refuses.

    Raises:
        BusinessCentralError: 400 `Application_DialogException` with the page's label.
    """
    if target.entity_set.name == "pdfDocument":
        _check_pdf_identifiers(target, options)
    if target.entity_set.name == "timeRegistrationEntries" and not _through_parent(target):
        _check_one_employee(target, options)
    rule = _unsatisfied(target, options, when_rows=False)
    if rule is not None:
        raise _refused(rule.message)
    if target.entity_set.name == "timeRegistrationEntries" and not _through_parent(target):
        _check_time_range(target, options)


def check_after_rows(target: Target, options: QueryOptions, *, found_rows: bool) -> None:
    """Refuse what the page's `OnAfterGetCurrRecord` refuses, once a row has been read.

    Raises:
        BusinessCentralError: 400 `Application_DialogException` with the page's label.
    """
    if not found_rows:
        return
    rule = _unsatisfied(target, options, when_rows=True)
    if rule is not None:
        raise _refused(rule.message)


def _date_bound(node: Node) -> tuple[str, dt.date] | None:
    """`(op, day)` of a simple `date op <literal>` comparison, else None."""
    if not (isinstance(node, Compare) and isinstance(node.left, Ident)):
        return None
    if node.left.name != "date" or not isinstance(node.right, Value):
        return None
    day = node.right.value
    if isinstance(day, dt.datetime):
        return node.op, day.date()
    if isinstance(day, dt.date):
        return node.op, day
    return None


def _check_time_range(target: Target, options: QueryOptions) -> None:
    """Table 5510's date rule: used only when neither an id nor an employeeId filter is given.

    BC resolves the date filter against its calendar (FindFirst/FindLast), so an open range
    runs to the calendar's end and is refused like any range longer than 70 days.
    """
    names, tree = _filtered(target, options)
    if {"id", "employeeId"} & names or tree is None or "date" not in names:
        return
    first, last = dt.date.min, dt.date.max
    nodes = tree.operands if isinstance(tree, Logical) and tree.op == "and" else (tree,)
    one_day = dt.timedelta(days=1)
    for bound in filter(None, map(_date_bound, nodes)):
        op, day = bound
        if op in {"eq", "ge"}:
            first = max(first, day)
        if op in {"eq", "le"}:
            last = min(last, day)
        if op == "gt":
            first = max(first, day + one_day if day < dt.date.max else day)
        if op == "lt":
            last = min(last, day - one_day if day > dt.date.min else day)
    if first > last or (last - first).days > _MAX_TIME_RANGE_DAYS:
        raise _refused(_DATE_INVALID)


def _literals(node: Node | None, name: str) -> list[str]:
    """The literals `name` is compared with by `eq` or `in` anywhere in a filter, in order."""
    if node is None:
        return []
    if isinstance(node, Compare) and node.op == "eq":
        for own, other in ((node.left, node.right), (node.right, node.left)):
            if isinstance(own, Ident) and own.name == name and isinstance(other, Value):
                return [str(other.value)]
    if isinstance(node, In) and isinstance(node.operand, Ident) and node.operand.name == name:
        return [str(item.value) for item in node.items if isinstance(item, Value)]
    return [found for child in _children(node) for found in _literals(child, name)]


def _check_pdf_identifiers(target: Target, options: QueryOptions) -> None:
    """P/APIV2PDFDocument.Page.al @270597d1 OnFindRecord, checked before the parent type.

    `if (DocumentIdFilter <> '') and (IdFilter <> '') and (LowerCase(DocumentIdFilter) <>
    LowerCase(IdFilter)) then Error(ConflictingIdsErr, DocumentIdFilter, IdFilter)`. The
    navigation's SubPageLink gives the document id; the key in the path gives the id.
    """
    _, tree = _filtered(target, options)
    parent_ids = _literals(tree, "parentId")
    if target.navigation is not None and target.parent is not None and target.parent.key:
        parent_ids.insert(0, target.parent.key)
    ids = _literals(tree, "id")
    if target.key:
        ids.insert(0, target.key)
    if parent_ids and ids and parent_ids[0].lower() != ids[0].lower():
        message = f"You have specified conflicting identifiers: {parent_ids[0]} and {ids[0]}."
        raise _refused(message)


def _check_one_employee(target: Target, options: QueryOptions) -> None:
    """Table 5510 LoadRecords refuses an employeeId filter matching more than one employee.

    `Employee.SetFilter(SystemId, EmployeeIdFilter); if Employee.Count > 1 then
    Error(EmployeeFilterOneEmployeeOnlyErr)`, unless an id filter is given (it is used first).

    Simplified: the distinct employee ids the filter names (by `eq` or `in`) are counted, without
    looking up whether each is an employee.
    """
    names, tree = _filtered(target, options)
    if "id" in names:
        return
    if len({value.lower() for value in _literals(tree, "employeeId")}) > 1:
        raise _refused(_ONE_EMPLOYEE)
