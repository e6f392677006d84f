"""Input the target cannot take as a message: rejected with its line number, never fatal.

A broken line (not JSON, not UTF-8, cut off, of an unknown type, a message without its required
keys) cannot be attributed to a record, so it goes to the rejected-records file as its raw text
under the pseudo-stream ``(input)``; a RECORD whose stream has had no SCHEMA is a whole record, so
it is rejected under its own stream and can be replayed as it is. Either way it counts towards
``max_rejections`` and the run goes on: the lines before and after it are written. The first few
problems are logged one line each; the rest only in the file, so a tap that prints its log to
stdout cannot flood the target's log.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from target_businesscentral.ledger import Rejection

if TYPE_CHECKING:
    import logging

    from target_businesscentral.ledger import Ledger

__all__ = ["INPUT_STREAM", "BadInput", "json_safe"]

INPUT_STREAM = "(input)"
"""The stream that unreadable lines are counted and filed under."""
SHOWN_CHARACTERS = 2000
"""How much of a bad line's text the rejected file keeps."""
LOGGED_PROBLEMS = 10
"""How many input problems are logged one line each before the rest go to the file only."""


class BadInput:
    """Files and logs the input lines and records that could not be taken."""

    def __init__(self, ledger: Ledger, logger: logging.Logger) -> None:
        """Rejections go to ``ledger``; the first few are also logged on ``logger``."""
        self.ledger = ledger
        self.logger = logger
        self.problems = 0
        self._streams_without_schema: set[str] = set()

    def line(self, number: int, raw: bytes, reason: str) -> None:
        """Reject an unreadable line as text, with its number and why."""
        text = raw.decode("utf-8", "backslashreplace").rstrip("\r\n")
        record: dict[str, Any] = {"line": number, "text": text[:SHOWN_CHARACTERS]}
        if len(text) > SHOWN_CHARACTERS:
            record["characters"] = len(text)
        message = f"input line {number} {reason}"
        self.ledger.reject(INPUT_STREAM, record, Rejection("read", message))
        self._log(message)

    def record_without_schema(self, number: int, stream: str, record: dict[str, Any]) -> None:
        """Reject a record of a stream that has had no SCHEMA yet (logged once per stream)."""
        message = f"input line {number}: RECORD of stream {stream!r} came before any SCHEMA of it"
        self.ledger.reject(stream, json_safe(record), Rejection("read", message))
        if stream not in self._streams_without_schema:
            self._streams_without_schema.add(stream)
            self._log(f"{message} (this and every such record of the stream are rejected)")

    def _log(self, text: str) -> None:
        self.problems += 1
        if self.problems <= LOGGED_PROBLEMS:
            self.logger.warning(
                "%s%s; see %s", text[0].upper(), text[1:], self.ledger.rejected_path
            )
        elif self.problems == LOGGED_PROBLEMS + 1:
            self.logger.warning(
                "More input problems: they are only in %s", self.ledger.rejected_path
            )


def json_safe(value: Any) -> Any:  # noqa: ANN401 - JSON is any shape
    """``value`` with ``NaN`` and infinities as text, so its rejected-file line stays JSON."""
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_safe(item) for item in value]
    if isinstance(value, Decimal) and not value.is_finite():
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value
