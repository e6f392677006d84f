"""Read Singer input line by line, so one broken line costs that line and nothing else.

The SDK's readers stop the run at the first line they cannot read: a text stream dies on the first
non-UTF-8 byte, a line that is not JSON or names an unknown message type raises, and every record
buffered before it is lost with a stack trace. This reader takes the input as bytes (the fastest
path for msgspec, and the only one on which a bad byte stays inside its own line) and judges each
line apart. A line that is no usable message goes to ``on_bad_line`` with its number and the
reason; the target puts it in the rejected-records file and reads on. Newline framing makes that
safe: the next line does not depend on the broken one.

``NaN`` and ``Infinity`` are not JSON, but Python's ``json.dumps`` writes them, so some taps send
them. Such a line is read with the standard library's lenient parser, so the record reaches the
value checks and is rejected by name (``field 'creditLimit' ... is not a finite number``) instead
of as an unreadable line.
"""

from __future__ import annotations

import codecs
import decimal
import json
import sys
from collections import Counter
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, Any

import msgspec
from singer_sdk.singerlib.encoding.base import GenericSingerReader
from singer_sdk.singerlib.exceptions import InvalidInputLine

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

__all__ = ["BadLineHandler", "InputReader"]

BadLineHandler = Callable[[int, bytes, str], None]
"""Called with the line's number (from 1), its raw bytes and why it was not read."""

_DECODER = msgspec.json.Decoder(float_hook=decimal.Decimal)


class InputReader(GenericSingerReader[bytes]):
    """Singer lines as bytes; each line that is no message is handed on, never raised."""

    def __init__(self, on_bad_line: BadLineHandler | None = None) -> None:
        """``on_bad_line`` receives each unreadable line; without it such a line stops the run."""
        super().__init__()
        self.on_bad_line = on_bad_line
        self.line_number = 0
        self.blank_lines = 0

    @property
    @override
    def default_input(self) -> IO[bytes]:
        """Standard input as bytes: a bad byte then spoils one line, not the rest of the stream."""
        return sys.stdin.buffer

    @override
    def process_lines(
        self,
        file_input: IO[bytes] | None,
        callbacks: dict[str, Callable[[dict[str, Any]], None]],
    ) -> Counter[str]:
        """Hand each message to its callback; skip blank lines; pass bad lines to the handler."""
        stats: Counter[str] = Counter()
        lines = _without_bom(_as_bytes(file_input or self.default_input))
        for number, line in enumerate(lines, start=1):
            self.line_number = number
            self._current_message = line
            message = read_message(line)
            if isinstance(message, str):
                if line.strip():
                    self._bad(number, line, message)
                else:  # a blank line carries nothing to lose
                    self.blank_lines += 1
                continue
            kind = message.get("type")
            callback = callbacks.get(kind) if isinstance(kind, str) else None
            if callback is None or not isinstance(kind, str):
                reason = "has no message type" if kind is None else f"has unknown type {kind!r}"
                self._bad(number, line, reason)
                continue
            try:
                callback(message)
            except InvalidInputLine as exc:
                self._bad(number, line, str(exc))
                continue
            stats[kind] += 1
        return stats

    @override
    def deserialize_json(self, line: bytes) -> dict[str, Any]:
        """One message; raises for a line that is none (``process_lines`` does not call this).

        Raises:
            InvalidInputLine: The line is not a JSON object.
        """
        message = read_message(line)
        if isinstance(message, str):
            raise InvalidInputLine(message)
        return message

    @staticmethod
    @override
    def assert_line_requires(line_dict: dict[str, Any], requires: set[str]) -> None:
        """Name the missing keys briefly (the SDK's message repeats the whole line).

        Raises:
            InvalidInputLine: ``line_dict`` is not an object or lacks one of ``requires``.
        """
        if not isinstance(line_dict, dict):
            msg = f"has {', '.join(sorted(requires))} inside something that is not a JSON object"
            raise InvalidInputLine(msg)
        missing = sorted(requires.difference(line_dict))
        if missing:
            kind = line_dict.get("type")
            what = f"{kind} message" if isinstance(kind, str) else "object"
            msg = f"is a {what} without {', '.join(repr(m) for m in missing)}"
            raise InvalidInputLine(msg)

    def _bad(self, number: int, line: bytes, reason: str) -> None:
        if self.on_bad_line is None:
            msg = f"Input line {number} {reason}."
            raise InvalidInputLine(msg)
        self.on_bad_line(number, line, reason)


def read_message(line: bytes) -> dict[str, Any] | str:
    """The message on ``line``, or why there is none (a phrase that follows "line N")."""
    try:
        message = _DECODER.decode(line)
    except UnicodeDecodeError:
        return _not_utf8(line)
    except msgspec.DecodeError as exc:
        lenient = _read_lenient(line)
        if lenient is None:
            if not line.endswith(b"\n") and "truncated" in str(exc):
                return "is cut off: the input ends in the middle of it"
            return f"is not valid JSON ({exc})"
        message = lenient
    if not isinstance(message, dict):
        return "is not a JSON object"
    return message


def _not_utf8(line: bytes) -> str:
    """Where the line stops being UTF-8 (msgspec counts within the string, not the line)."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"is not UTF-8 text (byte {exc.start + 1} is {line[exc.start]:#04x})"
    return "is not UTF-8 text"


def _read_lenient(line: bytes) -> Any:  # noqa: ANN401 - JSON is any shape
    """The line read with ``NaN``, ``Infinity`` and ``-Infinity`` allowed, or None."""
    try:
        return json.loads(line, parse_float=decimal.Decimal, parse_constant=decimal.Decimal)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        return None


def _as_bytes(source: IO[bytes] | IO[str]) -> Iterable[bytes]:
    """Lines as bytes, from a binary stream, a text stream's buffer, or text (as in SDK tests)."""
    buffer = getattr(source, "buffer", None)
    if buffer is not None:
        yield from buffer
        return
    for line in source:
        yield line if isinstance(line, bytes) else line.encode("utf-8", "surrogateescape")


def _without_bom(lines: Iterable[bytes]) -> Iterator[bytes]:
    """The lines, the first without the UTF-8 byte order mark some Windows tools start with."""
    iterator = iter(lines)
    first = next(iterator, None)
    if first is None:
        return
    yield first.removeprefix(codecs.BOM_UTF8)
    yield from iterator
