"""Time registration entries: the employee and project checks of their page on POST and PATCH.

Sources (StefanMaron/MSDyn365BC.Code.History):
- PAGE: APIV2/Source/_Exclude_APIV2_/src/pages/APIV2TimeRegistrEntries.Page.al
  @860039e1bf5b43c0073f10a99b2c905b836a54ac (page 30041 "APIV2 - Time Registr. Entries");
- BUFFER: BaseApp/Source/Base Application/Integration/Graph/EmployeeTimeRegBuffer.Table.al
  @59bbe1556564437810e5873812e7ce1e978fd76b (table 5510: "Employee Id" OnValidate,
  PropagateInsert);
- Microsoft Learn, "OnValidate (Page Field) trigger": the table field's OnValidate runs before
  the page field's.

In BC's order, for the fields the body sends:
- employeeId: the table's OnValidate first (`Employee.GetBySystemId` else CouldNotFindEmployeeErr
  `The employee cannot be found.`, so the page's own "does not match" label is never reached for
  an unknown id); then the page's: under `employees(id)/...` (a filter, HasFilter) another
  employee → CannotChangeEmployeeIdErr; the employee's number is filled in.
- employeeNumber: after an employeeId, a different number → EmployeeValuesDontMatchErr; blank →
  no employee; unknown → EmployeeNumberDoesNotMatchAnEmployeeErr; under another employee's URL →
  CannotChangeEmployeeNumberErr; else the employee's id.
- jobId: unknown → JobIdDoesNotMatchAJobErr (projects); blank → no project number.
- jobNumber: after a jobId, a different number → JobValuesDontMatchErr (which says "employee",
  sic); blank → no project id; a known number → its id.
- OnInsertRecord: no employee and no filter → EmployeeIdOrNumberShouldBeSpecifiedErr; else the
  employee of the URL. PropagateInsert: the unit of measure of the employee's resource.
- OnModifyRecord: the employee changed → CannotModifyEmployeeIdErr; the date changed →
  CannotModifyDateErr.

Simplified: v2.0 shows no resources, so "the employee's resource's Base Unit of Measure" is the
unit of the employee's latest entry (the seed books every entry in HOUR), blank for an employee
with none. An unknown jobNumber is not refused here: the buffer's "Job No." has a TableRelation,
so the platform's table-relation error would come first, and its wording for this temporary table
is unconfirmed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from businesscentral_emulator.rules.references import find_row
from businesscentral_emulator.rules.validation import EMPTY_GUID, STANDARD_ROUTE, dialog
from businesscentral_emulator.store.sqlite import table_name

if TYPE_CHECKING:
    from businesscentral_emulator.odata.edmx import ApiModel
    from businesscentral_emulator.odata.paths import Target
    from businesscentral_emulator.store.sqlite import Store

SET = "timeRegistrationEntries"
EMPLOYEE_NOT_FOUND = "The employee cannot be found."
EMPLOYEE_MISMATCH = "The employee values do not match to a specific Employee."
EMPLOYEE_NUMBER_UNKNOWN = 'The "employeeNumber" does not match to an Employee.'
JOB_ID_UNKNOWN = 'The "jobId" does not match to a Job.'
JOB_MISMATCH = "The employee values do not match to a specific Employee."  # sic, BC's label
EMPLOYEE_ID_FIXED = 'The "employeeId" cannot be modified.'
DATE_FIXED = "The date cannot be modified."
OTHER_EMPLOYEE_ID = 'The value for "employeeId" cannot be modified.'
OTHER_EMPLOYEE_NUMBER = "The value for employee number cannot be modified."
NO_EMPLOYEE = (
    "You must specify an Employee ID or Employee number to get the time registration entries."
)


def _given(value: Any) -> bool:  # noqa: ANN401 - a stored value
    return value not in (None, "", EMPTY_GUID)


def _same(a: Any, b: Any) -> bool:  # noqa: ANN401 - GUIDs as sent or stored
    return str(a or "").lower() == str(b or "").lower()


def before_insert(store: Store, target: Target, values: dict[str, Any], changed: set[str]) -> None:
    """A POST's OnValidate triggers and OnInsertRecord, before the URL's employee is linked.

    Raises:
        BusinessCentralError: No employee, an unknown employee or project, or values that name
            different employees (or another employee than the URL's).
    """
    api = target.api
    if api.route != STANDARD_ROUTE or target.entity_set.name != SET:
        return
    parent = target.parent
    url_employee = parent.key if target.navigation is not None and parent is not None else None
    employee = _validate_employee(store, api, target.company, values, url_employee)
    _validate_job(store, api, target.company, values)
    if not _given(values.get("employeeId")):
        if url_employee is None:
            raise dialog(NO_EMPLOYEE)
        employee = find_row(store, api, "employees", target.company, ("id", url_employee))
    if employee is not None:
        values["employeeId"] = employee["id"]
        values["employeeNumber"] = employee["number"]
        values.update(_unit_of(store, api, target.company, employee["id"]))
        changed.update(("employeeId", "employeeNumber", "unitOfMeasureId", "unitOfMeasureCode"))
    changed.update(k for k in ("jobId", "jobNumber") if k in values)


def before_update(
    store: Store, api: ApiModel, name: str, row: dict[str, Any], values: dict[str, Any]
) -> None:
    """A PATCH's OnValidate triggers, then OnModifyRecord's fixed employee and date.

    Raises:
        BusinessCentralError: An unknown employee or project, or a changed employee or date.
    """
    if api.route != STANDARD_ROUTE or name != SET:
        return
    company = row.get("_company")
    _validate_employee(store, api, company, values, None)
    _validate_job(store, api, company, values)
    if "employeeId" in values and not _same(values["employeeId"], row.get("employeeId")):
        raise dialog(EMPLOYEE_ID_FIXED)
    if "date" in values and str(values["date"]) != str(row.get("date")):
        raise dialog(DATE_FIXED)


def _validate_employee(
    store: Store,
    api: ApiModel,
    company: str | None,
    values: dict[str, Any],
    url_employee: str | None,
) -> dict[str, Any] | None:
    """The employeeId, then employeeNumber OnValidate triggers (table's, then page's)."""
    # The body's number is assigned after employeeId's OnValidate has filled one in.
    number_sent, sent_number = "employeeNumber" in values, values.get("employeeNumber")
    employee = _employee_by_id(store, api, company, values, url_employee)
    if not number_sent:
        return employee
    values["employeeNumber"] = sent_number
    if employee is not None:
        if employee["number"] != sent_number:
            raise dialog(EMPLOYEE_MISMATCH)
        return employee
    if not sent_number:
        values["employeeId"] = EMPTY_GUID
        return None
    employee = find_row(store, api, "employees", company, ("number", sent_number))
    if employee is None:
        raise dialog(EMPLOYEE_NUMBER_UNKNOWN)
    if url_employee is not None and not _same(employee["id"], url_employee):
        raise dialog(OTHER_EMPLOYEE_NUMBER)
    values["employeeId"] = employee["id"]
    return employee


def _employee_by_id(
    store: Store,
    api: ApiModel,
    company: str | None,
    values: dict[str, Any],
    url_employee: str | None,
) -> dict[str, Any] | None:
    """The employeeId OnValidate triggers: the employee it names, if it names one."""
    if "employeeId" not in values:
        return None
    if not _given(values["employeeId"]):
        values["employeeNumber"] = ""
        return None
    employee = find_row(store, api, "employees", company, ("id", values["employeeId"]))
    if employee is None:
        raise dialog(EMPLOYEE_NOT_FOUND)
    if url_employee is not None and not _same(employee["id"], url_employee):
        raise dialog(OTHER_EMPLOYEE_ID)
    values["employeeNumber"] = employee["number"]
    return employee


def _validate_job(store: Store, api: ApiModel, company: str | None, values: dict[str, Any]) -> None:
    """The jobId, then jobNumber OnValidate triggers (a job is a v2.0 `project`)."""
    job: dict[str, Any] | None = None
    number_sent, sent_number = "jobNumber" in values, values.get("jobNumber")
    if "jobId" in values:
        if not _given(values["jobId"]):
            values["jobNumber"] = ""
        else:
            job = find_row(store, api, "projects", company, ("id", values["jobId"]))
            if job is None:
                raise dialog(JOB_ID_UNKNOWN)
            values["jobNumber"] = job["number"]
    if not number_sent:
        return
    number = values["jobNumber"] = sent_number
    if job is not None:
        if job["number"] != number:
            raise dialog(JOB_MISMATCH)
        return
    if not number:
        values["jobId"] = EMPTY_GUID
        return
    found = find_row(store, api, "projects", company, ("number", number))
    if found is not None:
        values["jobId"] = found["id"]


def _unit_of(store: Store, api: ApiModel, company: str | None, employee_id: str) -> dict[str, Any]:
    """The unit of the employee's latest entry (stand-in for its resource's base unit)."""
    found = store.fetch_one(
        f'SELECT "unitOfMeasureId", "unitOfMeasureCode" FROM {table_name(api.route, SET)}'
        ' WHERE _company IS ? AND "employeeId" = ? ORDER BY _rowid DESC LIMIT 1',
        (company, str(employee_id).lower()),
    )
    if found is None:
        return {"unitOfMeasureId": EMPTY_GUID, "unitOfMeasureCode": ""}
    return {"unitOfMeasureId": found[0], "unitOfMeasureCode": found[1]}
