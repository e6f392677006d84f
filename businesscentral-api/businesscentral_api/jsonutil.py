"""JSON for BC bodies: decimals never pass through binary floats.

BC sends money as JSON numbers (``Edm.Decimal Scale="Variable"``); parsing them as ``float`` would
turn ``0.1`` into ``0.1000000000000000055...`` on the way to a destination. Every BC body is read
with :func:`parse_json`, which yields :class:`decimal.Decimal` for any number with a fraction or
exponent, and written with :func:`dump_json`, which writes decimals back as exact JSON numbers.
"""

from __future__ import annotations

import decimal
from typing import Any

import msgspec

__all__ = ["dump_json", "parse_json"]

_DECODER = msgspec.json.Decoder(float_hook=decimal.Decimal)
_ENCODER = msgspec.json.Encoder(decimal_format="number")


def parse_json(data: bytes | str) -> Any:  # noqa: ANN401 - JSON is any shape
    """Parse a BC JSON body; numbers with a fraction become ``Decimal``, integers ``int``.

    Raises:
        ValueError: The body is not complete, valid JSON (e.g. a truncated page).
    """
    try:
        return _DECODER.decode(data)
    except msgspec.DecodeError as exc:
        raise ValueError(str(exc)) from None


def dump_json(value: object) -> bytes:
    """Serialize a request body; ``Decimal`` is written as an exact JSON number."""
    return _ENCODER.encode(value)
