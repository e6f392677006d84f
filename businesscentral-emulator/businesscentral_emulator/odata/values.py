"""How values are kept in the store and how BC writes them on the wire.

Stored forms are chosen so that SQLite compares and sorts them correctly as plain columns:

| kind     | stored as                                   | on the wire                         |
|----------|---------------------------------------------|-------------------------------------|
| string   | TEXT                                        | string                              |
| guid     | TEXT, lower case                            | string                              |
| decimal  | TEXT, exact (`1234.5`), compared as REAL    | JSON number, digits as stored       |
| int      | INTEGER                                     | JSON number                         |
| bool     | INTEGER 0/1                                 | true/false                          |
| date     | TEXT `YYYY-MM-DD`                           | same; empty is `0001-01-01`         |
| datetime | TEXT `YYYY-MM-DDTHH:MM:SS.mmmZ` (fixed ms)  | trailing ms zeros dropped (`51.26Z`)|
| enum     | TEXT member name, BC spelling (`_x0020_`)   | string                              |
| json     | TEXT (JSON)                                 | the JSON value                      |
| stream   | TEXT, base64 of the bytes (NULL: none)      | the bytes, at `<entity>/<property>` |
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import decimal
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from businesscentral_emulator.odata.edmx import Property

EMPTY_GUID = "00000000-0000-0000-0000-000000000000"
EMPTY_DATE = "0001-01-01"
EMPTY_DATETIME = "0001-01-01T00:00:00.000Z"

SQL_TYPE = {
    "string": "TEXT",
    "guid": "TEXT",
    "decimal": "TEXT",
    "int": "INTEGER",
    "bool": "INTEGER",
    "date": "TEXT",
    "datetime": "TEXT",
    "enum": "TEXT",
    "json": "TEXT",
    "stream": "TEXT",
}


_EMPTY_BY_KIND: dict[str, Any] = {
    "guid": EMPTY_GUID,
    "decimal": "0",
    "int": 0,
    "bool": 0,
    "date": EMPTY_DATE,
    "datetime": EMPTY_DATETIME,
    "json": "[]",
    "stream": None,
}


def empty_value(prop: Property) -> Any:  # noqa: ANN401 - stored values are of several types
    """The value BC shows for a field nobody filled in."""
    if prop.kind == "enum":
        return prop.enum.members[0] if prop.enum and prop.enum.members else ""
    return _EMPTY_BY_KIND.get(prop.kind, "")


def format_datetime(moment: dt.datetime) -> str:
    """Stored form of a moment: UTC, millisecond precision, fixed width."""
    moment = moment.astimezone(dt.timezone.utc)
    # Not strftime: on Linux `%Y` does not pad years below 1000, and BC's empty date is year 1.
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}T{moment.hour:02d}:"
        f"{moment.minute:02d}:{moment.second:02d}.{moment.microsecond // 1000:03d}Z"
    )


def format_decimal(value: decimal.Decimal | float | str) -> str:
    """Stored form of a decimal: plain digits, no exponent, no trailing fractional zeros."""
    number = decimal.Decimal(str(value))
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in {"-0", ""} else text


def wire_datetime(stored: str) -> str:
    """BC drops trailing millisecond zeros: `51.260Z` -> `51.26Z`, `51.000Z` -> `51Z`."""
    if len(stored) == 24 and stored[19] == ".":  # noqa: PLR2004 - fixed-width stored form
        fraction = stored[20:23].rstrip("0")
        return stored[:19] + ("." + fraction if fraction else "") + "Z"
    return stored


def _wire_decimal(stored: Any) -> Any:  # noqa: ANN401
    return msgspec.Raw(str(stored).encode()) if stored is not None else None


def _wire_bool(stored: Any) -> Any:  # noqa: ANN401
    return bool(stored) if stored is not None else None


def _wire_datetime(stored: Any) -> Any:  # noqa: ANN401
    return wire_datetime(stored) if stored is not None else None


def _wire_json(stored: Any) -> Any:  # noqa: ANN401
    return msgspec.Raw(stored.encode()) if stored is not None else None


WIRE_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "decimal": _wire_decimal,
    "bool": _wire_bool,
    "datetime": _wire_datetime,
    "json": _wire_json,
}


def wire_converter(prop: Property) -> Callable[[Any], Any] | None:
    """The function turning a stored value into its wire form, or None where they are equal."""
    return WIRE_CONVERTERS.get(prop.kind)


def stored_datetime(text: str) -> str:
    """Stored form of an ISO 8601 datetime as clients send it (`Z` or an offset)."""
    moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return format_datetime(moment)


def to_stored(prop: Property, value: Any) -> Any:  # noqa: ANN401 - values of several types
    """Turn a JSON value as a client sends it into the stored form of `prop`."""
    if value is None:
        return None
    converters: dict[str, Callable[[Any], Any]] = {
        "guid": lambda v: str(v).lower(),
        "decimal": format_decimal,
        "int": int,
        "bool": lambda v: 1 if v else 0,
        "datetime": lambda v: stored_datetime(str(v)),
        "json": lambda v: msgspec.json.encode(v).decode(),
    }
    convert = converters.get(prop.kind)
    return convert(value) if convert is not None else value


def stored_stream(content: bytes) -> str:
    """Stored form of a media property's content."""
    return base64.b64encode(content).decode()


def stream_bytes(stored: Any) -> bytes:  # noqa: ANN401 - a stored value
    """The content of a stored media property (b"" for none)."""
    if not stored:
        return b""
    try:
        return base64.b64decode(str(stored), validate=True)
    except binascii.Error:
        return str(stored).encode()


_IEEE754 = ContextVar("ieee754_compatible", default=False)


@contextmanager
def ieee754_format(content_type: str) -> Iterator[None]:
    """Read the request's JSON with OData's `IEEE754Compatible` format parameter in force.

    With `IEEE754Compatible=true` in Content-Type, ODataLib (BC's OData stack) takes Edm.Decimal
    and Edm.Int64 values as JSON strings and refuses them as numbers; without it, the reverse.
    """
    params = [p.strip().lower().replace(" ", "") for p in content_type.split(";")[1:]]
    token = _IEEE754.set("ieee754compatible=true" in params)
    try:
        yield
    finally:
        _IEEE754.reset(token)


def ieee754_compatible() -> bool:
    """Whether the request being read declared `IEEE754Compatible=true`."""
    return _IEEE754.get()
