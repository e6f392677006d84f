"""Sets attached to a record (attachments, default dimensions): their pages' write rules.

Each rule copies Microsoft's APIV2 AL source (StefanMaron/MSDyn365BC.Code.History,
APIV2/Source/_Exclude_APIV2_/src/pages/, abbreviated `P/`) or the BaseApp table the page writes:

- attachments: P/APIV2Attachments.Page.al @0b66fe5f2e63ea26942e447902a57c13b75c577f.
  parentType OnValidate refuses Employee, Job, Item, Customer and Vendor
  (`ParentTypeNotSupportedErr`); OnInsertRecord replaces a file name that
  FileManagement.IsValidFileName refuses by `filename.txt` and computes byteSize from the content
  (a byteSize sent is overwritten); OnModifyRecord refuses a change of id, parentId or parentType
  (`CannotModifyKeyFieldErr`) and computes byteSize again.
- documentAttachments: P/APIV2DocumentAttachments.Page.al @551714c693c771c5b13a6d219b5bfece87c922f8,
  the same file-name and byte-size rules (byteSize is `Editable = false` there).
- defaultDimensions: P/APIV2DefaultDimensions.Page.al @3d025c27b90f4b1aa8e1f3b07a8b87d3a3e85c36
  (OnInsertRecord: a parent type and a parent id from the body or the navigation, else
  `ParentNotSpecifiedErr`) and BaseApp table 352 "Default Dimension"
  (Finance/Dimension/DefaultDimension.Table.al @1528cc084b0cfa5f29dd862462353e44effc9fbf: the
  OnValidate triggers of ParentId, DimensionId and DimensionValueId, which look the records up,
  refuse unknown ones and fill the codes in), run in the page's field order.

The emulator keeps no file content for seeded attachments, so a seeded row's byteSize is only
recomputed once content has been stored for it.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from businesscentral_emulator.odata.values import stream_bytes
from businesscentral_emulator.rules.references import find_row
from businesscentral_emulator.rules.validation import EMPTY_GUID, STANDARD_ROUTE, dialog, page_name

if TYPE_CHECKING:
    from businesscentral_emulator.odata.edmx import ApiModel
    from businesscentral_emulator.odata.paths import Target
    from businesscentral_emulator.store.sqlite import Store

_FILE_SETS = frozenset({"attachments", "documentAttachments"})
_CONTENT = "attachmentContent"
# attachments' parentType OnValidate: these document types belong to documentAttachments.
_UNSUPPORTED_PARENTS = frozenset({"Employee", "Job", "Item", "Customer", "Vendor"})
_PARENT_TYPE_NOT_SUPPORTED = "Parent type {} is not supported. Use documentAttachments API instead."
_KEY_FIELD = "You cannot change the value of the key field {}."
# attachments' OnModifyRecord compares these with xRec, in this order (id is checked first by
# validation.ID_CHANGE_LABELS).
_ATTACHMENT_KEYS = ("parentId", "parentType")
# .NET Path.GetInvalidFileNameChars / GetInvalidPathChars on Windows, where BC runs.
_BAD_NAME = re.compile(r'[\x00-\x1f"<>|:*?]')
_BAD_PATH = re.compile(r"[\x00-\x1f|]")
DEFAULT_FILE_NAME = "filename.txt"

# The parts' SubPageLink `"Document Type" = const(...)` under each parent (e.g.
# P/APIV2SalesInvoices.Page.al @02a8df41; the employees page, index id 1723568721).
_DOCUMENT_TYPES = {
    "salesInvoices": "Sales_x0020_Invoice",
    "salesOrders": "Sales_x0020_Order",
    "salesQuotes": "Sales_x0020_Quote",
    "salesCreditMemos": "Sales_x0020_Credit_x0020_Memo",
    "purchaseInvoices": "Purchase_x0020_Invoice",
    "purchaseOrders": "Purchase_x0020_Order",
    "purchaseCreditMemos": "Purchase_x0020_Credit_x0020_Memo",
    "journalLines": "Journal",
    "customers": "Customer",
    "vendors": "Vendor",
    "items": "Item",
    "employees": "Employee",
    "projects": "Job",
}
# Default dimensions: the parent sets and their "Default Dimension Parent Type" (the parts'
# SubPageLink `ParentId = field(SystemId), "Parent Type" = const(...)`).
_PARENT_SETS = {
    "customers": "Customer",
    "items": "Item",
    "vendors": "Vendor",
    "employees": "Employee",
}
_PARENT_NOT_SPECIFIED = "You must get to the parent first to get to the default dimensions."
_PARENT_NOT_FOUND = "Parent is not found."
_PARENT_ID_UNKNOWN = 'The "parenteId" does not match to any entity.'  # sic, BC's label
_MULTIPLE_PARENTS = "Multiple parents have been found for the specified criteria."
_DIMENSION_UNKNOWN = 'The "dimensionId" does not match to a Dimension.'
_VALUE_UNKNOWN = 'The "dimensionValueId" does not match to a Dimension Value.'
_DIMENSION_MISMATCH = (
    'The "dimensionId" and "dimensionValueId" match to different Dimension records.'
)


def valid_file_name(name: str) -> bool:
    """FileManagement.IsValidFileName: not blank, no character Windows refuses in it."""
    if not name:
        return False
    directory, _, file_name = name.replace("\\", "/").rpartition("/")
    return not _BAD_NAME.search(file_name) and not _BAD_PATH.search(directory)


def _byte_size(content: Any) -> int:  # noqa: ANN401 - stored content
    return len(stream_bytes(content))


def _given(value: Any) -> bool:  # noqa: ANN401
    return value not in (None, "", EMPTY_GUID)


def before_insert(store: Store, target: Target, values: dict[str, Any], changed: set[str]) -> None:
    """Apply the page's OnValidate and OnInsertRecord rules to a new row's values."""
    api, name = target.api, page_name(target.api, target.entity_set)
    parent = target.parent.entity_set.name if target.navigation and target.parent else None
    if name in _FILE_SETS:
        if parent in _DOCUMENT_TYPES and values.get("parentType") in (None, "", "_x0020_"):
            values["parentType"] = _DOCUMENT_TYPES[parent]
            changed.add("parentType")
        _check_parent_type(name, values)
        if not valid_file_name(str(values.get("fileName") or "")):
            values["fileName"] = DEFAULT_FILE_NAME
        values["byteSize"] = _byte_size(values.get(_CONTENT))
        changed.update({"fileName", "byteSize"})
    elif name == "defaultDimensions":
        if parent in _PARENT_SETS and not _given(values.get("parentType")):
            values["parentType"] = _PARENT_SETS[parent]  # the part's SubPageLink
        _validate_dimension_fields(store, api, target.company, values, values)
        if not _given(values.get("parentType")) or not _given(values.get("parentId")):
            raise dialog(_PARENT_NOT_SPECIFIED)
        changed.update(values)


def before_update(
    store: Store, api: ApiModel, name: str, row: dict[str, Any], values: dict[str, Any]
) -> None:
    """Apply the page's OnValidate and OnModifyRecord rules to a PATCH's values."""
    name = name if api.route == STANDARD_ROUTE else ""  # a partner's page has its own rules
    if name in _FILE_SETS:
        _check_parent_type(name, values)
        if name == "attachments":
            for key in _ATTACHMENT_KEYS:
                if key in values and str(values[key]).lower() != str(row.get(key)).lower():
                    raise dialog(_KEY_FIELD.format(key))
        if row.get(_CONTENT) is not None or _CONTENT in values:
            values["byteSize"] = _byte_size(values.get(_CONTENT, row.get(_CONTENT)))
    elif name == "defaultDimensions":
        merged = {**row, **values}
        _validate_dimension_fields(store, api, row.get("_company"), values, merged)
        for key in ("parentType", "parentId", "dimensionCode", "dimensionValueCode"):
            if merged.get(key) != row.get(key):
                values[key] = merged[key]


def _check_parent_type(name: str, values: dict[str, Any]) -> None:
    if name == "attachments" and values.get("parentType") in _UNSUPPORTED_PARENTS:
        raise dialog(_PARENT_TYPE_NOT_SUPPORTED.format(values["parentType"]))


def _validate_dimension_fields(
    store: Store,
    api: ApiModel,
    company: str | None,
    sent: dict[str, Any],
    row: dict[str, Any],
) -> None:
    """Table 352's OnValidate of the fields sent, in the page's order; the result into `row`."""
    if "parentId" in sent and _given(sent["parentId"]):
        _validate_parent(store, api, company, row)
    if "dimensionId" in sent:
        dimension = find_row(store, api, "dimensions", company, ("id", sent["dimensionId"] or ""))
        if dimension is None:
            raise dialog(_DIMENSION_UNKNOWN)
        row["dimensionCode"] = dimension["code"]
    if "dimensionValueId" in sent:
        if not _given(sent["dimensionValueId"]):
            row["dimensionValueCode"] = ""
            return
        value = find_row(store, api, "dimensionValues", company, ("id", sent["dimensionValueId"]))
        if value is None:
            raise dialog(_VALUE_UNKNOWN)
        dimension = find_row(store, api, "dimensions", company, ("id", value["dimensionId"]))
        value_dimension = dimension["code"] if dimension else ""
        if not row.get("dimensionCode"):
            row["dimensionCode"] = value_dimension
        elif row["dimensionCode"] != value_dimension:
            raise dialog(_DIMENSION_MISMATCH)
        row["dimensionValueCode"] = value["code"]


def _validate_parent(store: Store, api: ApiModel, company: str | None, row: dict[str, Any]) -> None:
    """ParentId OnValidate: UpdateNo with a parent type, else UpdateTableIdAndNo."""
    parent_id = row["parentId"]
    if _given(row.get("parentType")):
        sets = [s for s, kind in _PARENT_SETS.items() if kind == row["parentType"]]
        if not any(find_row(store, api, s, company, ("id", parent_id)) for s in sets):
            raise dialog(_PARENT_NOT_FOUND)
        return
    # GetRecordRefFromFilter looks in Item, Customer, Vendor and Employee, in this order.
    found = [
        kind
        for set_name, kind in (
            ("items", "Item"),
            ("customers", "Customer"),
            ("vendors", "Vendor"),
            ("employees", "Employee"),
        )
        if find_row(store, api, set_name, company, ("id", parent_id)) is not None
    ]
    if not found:
        raise dialog(_PARENT_ID_UNKNOWN)
    if len(found) > 1:
        raise dialog(_MULTIPLE_PARENTS)
    row["parentType"] = found[0]
