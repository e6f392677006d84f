"""Check record values against ``$metadata`` before BC sees them, and compare them with BC's.

A check is one small function per property, built once per entity set, so validating a record is
a dict lookup and an ``isinstance`` per field (a few microseconds; jsonschema costs ~56 µs a
record). Comparison follows BC's forms: decimals by value, datetimes by instant (BC trims trailing
zeros), GUIDs without case, and BC's empty values (``""``, ``0001-01-01``, the empty GUID) equal to
null.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from businesscentral_api.metadata import Property

__all__ = ["GUID", "checker_for", "instant", "same_value"]

GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_NUMBER_TYPES = frozenset({"Edm.Decimal", "Edm.Double", "Edm.Single"})
_INTEGER_TYPES = frozenset({"Edm.Int16", "Edm.Int32", "Edm.Int64", "Edm.Byte", "Edm.SByte"})
_EMPTYGUID = "00000000-0000-0000-0000-000000000000"
_EMPTY = frozenset({"", "0001-01-01", "0001-01-01T00:00:00Z", _EMPTYGUID})


def checker_for(prop: Property) -> Callable[[Any], str | None]:  # noqa: C901, PLR0911
    """A function that returns why a value does not fit ``prop``, or None when it fits."""
    type_name = prop.type_name
    if prop.enum is not None:
        members = frozenset(prop.enum.wire_names)
        shown = ", ".join(prop.enum.wire_names)
        return _wrap(
            prop,
            lambda v: None if isinstance(v, str) and v in members else f"is not one of: {shown}",
        )
    if type_name == "Edm.String":
        limit = prop.max_length

        def check_string(value: Any) -> str | None:  # noqa: ANN401
            if not isinstance(value, str):
                return "is not a string"
            if limit is not None and len(value) > limit:
                return f"is {len(value)} characters long; BC allows at most {limit}"
            return None

        return _wrap(prop, check_string)
    if type_name == "Edm.Guid":
        return _wrap(
            prop, lambda v: None if isinstance(v, str) and GUID.match(v) else "is not a GUID"
        )
    if type_name in _NUMBER_TYPES:
        return _wrap(prop, _check_number)
    if type_name in _INTEGER_TYPES:
        return _wrap(
            prop,
            lambda v: (
                None if isinstance(v, int) and not isinstance(v, bool) else "is not an integer"
            ),
        )
    if type_name == "Edm.Boolean":
        return _wrap(prop, lambda v: None if isinstance(v, bool) else "is not true or false")
    if type_name == "Edm.Date":
        return _wrap(prop, _check_date)
    if type_name == "Edm.DateTimeOffset":
        return _wrap(prop, _check_datetime)
    return lambda _value: None  # a type BC will judge itself


def _wrap(prop: Property, check: Callable[[Any], str | None]) -> Callable[[Any], str | None]:
    nullable = prop.nullable

    def checked(value: Any) -> str | None:  # noqa: ANN401
        if value is None:
            return None if nullable else "must not be null"
        return check(value)

    return checked


def _check_number(value: Any) -> str | None:  # noqa: ANN401
    if isinstance(value, bool) or not isinstance(value, (int, float, decimal.Decimal)):
        return "is not a number"
    if isinstance(value, (float, decimal.Decimal)) and not decimal.Decimal(value).is_finite():
        return "is not a finite number"
    return None


def _check_date(value: Any) -> str | None:  # noqa: ANN401
    if not isinstance(value, str) or not _DATE.match(value):
        return "is not a date (YYYY-MM-DD)"
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return "is not a date (YYYY-MM-DD)"
    return None


def _check_datetime(value: Any) -> str | None:  # noqa: ANN401
    if not isinstance(value, str):
        return "is not a date-time"
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return "is not a date-time"
    return None if parsed.tzinfo is not None else "has no time zone"


def same_value(type_name: str, ours: Any, theirs: Any) -> bool:  # noqa: ANN401, PLR0911
    """Whether BC already holds ``ours`` (as BC would store and send it back)."""
    if _empty(ours) or _empty(theirs):
        return (_empty(ours) and _empty(theirs)) or ours == theirs
    if type_name in _NUMBER_TYPES or type_name in _INTEGER_TYPES:
        try:
            return decimal.Decimal(str(ours)) == decimal.Decimal(str(theirs))
        except decimal.InvalidOperation:
            return False
    if type_name == "Edm.Guid":
        return str(ours).lower() == str(theirs).lower()
    if type_name == "Edm.DateTimeOffset":
        try:
            return instant(str(ours)) == instant(str(theirs))
        except ValueError:
            return False
    return bool(ours == theirs)


def _empty(value: Any) -> bool:  # noqa: ANN401
    return value is None or (isinstance(value, str) and value in _EMPTY)


def instant(text: str) -> dt.datetime:
    """A BC or record datetime as an aware instant (naive text is read as UTC)."""
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
