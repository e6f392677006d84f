"""The translator: the tap's Singer messages written as Airbyte messages, one JSON line each.

:class:`AirbyteMessageWriter` takes the place of the tap's writer in-process, so the tap runs
exactly as under Meltano and only its output changes:

- RECORD becomes an Airbyte RECORD with ``emitted_at`` (milliseconds; when BC's page arrived),
  encoded by msgspec straight from the row as the tap's own writer does (decimals stay exact
  JSON numbers); Singer's ``_sdc_deleted_at`` becomes Airbyte's ``_ab_cdc_deleted_at``.
- STATE (the tap's whole state) becomes one per-stream Airbyte STATE for each stream whose
  bookmark changed, carrying that bookmark (one partition per company) unchanged.
- SCHEMA and ACTIVATE_VERSION are not sent: Airbyte's catalog carries the schemas, and its
  full-refresh sync mode is what replaces a table.

Every other Airbyte message (LOG, TRACE, SPEC, CATALOG, CONNECTION_STATUS, STATE) is built with
the protocol's own models and written through the same buffer, so the order is kept: a STATE
never goes out before the records it covers.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import msgspec
from airbyte_protocol.models import (
    AirbyteErrorTraceMessage,
    AirbyteLogMessage,
    AirbyteMessage,
    AirbyteStateBlob,
    AirbyteStateMessage,
    AirbyteStateType,
    AirbyteStreamState,
    AirbyteStreamStatus,
    AirbyteStreamStatusTraceMessage,
    AirbyteTraceMessage,
    FailureType,
    Level,
    StreamDescriptor,
    TraceType,
    Type,
)
from singer_sdk.contrib.msgspec import encoder
from singer_sdk.singerlib.encoding.simple import (
    Message,
    RecordMessage,
    SchemaMessage,
    StateMessage,
)

from tap_businesscentral.airbyte.catalog import AB_CDC_DELETED_AT, SDC_DELETED_AT
from tap_businesscentral.writer import BufferedMsgSpecWriter

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterable

__all__ = [
    "AirbyteLogHandler",
    "AirbyteMessageWriter",
    "encode",
    "error_trace",
    "log_message",
    "record_line",
]

_LEVELS = {
    logging.CRITICAL: Level.FATAL,
    logging.ERROR: Level.ERROR,
    logging.WARNING: Level.WARN,
    logging.INFO: Level.INFO,
    logging.DEBUG: Level.DEBUG,
}


def encode(message: AirbyteMessage) -> bytes:
    """One message as a JSON line, as the protocol spells it (``global``, no unset fields)."""
    text: str = message.model_dump_json(exclude_unset=True, by_alias=True)
    return text.encode() + b"\n"


def now_ms() -> int:
    """Milliseconds since the epoch: Airbyte's ``emitted_at``."""
    return time.time_ns() // 1_000_000


def record_line(
    stream: str, record: dict[str, Any], emitted_at: int, buffer: bytearray | None = None
) -> bytearray:
    """An Airbyte RECORD line for a tap record, appended to ``buffer`` (a new one when None).

    The same JSON as ``encode(AirbyteMessage(type=RECORD, record=AirbyteRecordMessage(...)))``
    but without building a model per row; a test holds the two equal.
    """
    if SDC_DELETED_AT in record:
        record[AB_CDC_DELETED_AT] = record.pop(SDC_DELETED_AT)
    out = bytearray() if buffer is None else buffer
    message = {
        "type": "RECORD",
        "record": {"stream": stream, "data": record, "emitted_at": emitted_at},
    }
    encoder.encode_into(message, out, -1)
    out += b"\n"
    return out


def log_message(level: Level, text: str) -> AirbyteMessage:
    """A LOG message."""
    return AirbyteMessage(type=Type.LOG, log=AirbyteLogMessage(level=level, message=text))


def error_trace(text: str, *, failure_type: FailureType) -> AirbyteMessage:
    """A TRACE error: the one plain line the tap would print, nothing else (no stack, no secret)."""
    return AirbyteMessage(
        type=Type.TRACE,
        trace=AirbyteTraceMessage(
            type=TraceType.ERROR,
            emitted_at=float(now_ms()),
            error=AirbyteErrorTraceMessage(message=text, failure_type=failure_type),
        ),
    )


def stream_status(name: str, status: AirbyteStreamStatus) -> AirbyteMessage:
    """A TRACE stream status (STARTED, COMPLETE, INCOMPLETE), as Airbyte's platform tracks."""
    return AirbyteMessage(
        type=Type.TRACE,
        trace=AirbyteTraceMessage(
            type=TraceType.STREAM_STATUS,
            emitted_at=float(now_ms()),
            stream_status=AirbyteStreamStatusTraceMessage(
                stream_descriptor=StreamDescriptor(name=name), status=status
            ),
        ),
    )


def stream_state(name: str, bookmark: dict[str, Any]) -> AirbyteMessage:
    """A per-stream STATE carrying the tap's bookmark of ``name``."""
    return AirbyteMessage(
        type=Type.STATE,
        state=AirbyteStateMessage(
            type=AirbyteStateType.STREAM,
            stream=AirbyteStreamState(
                stream_descriptor=StreamDescriptor(name=name),
                stream_state=AirbyteStateBlob(**bookmark),
            ),
        ),
    )


class AirbyteMessageWriter(BufferedMsgSpecWriter):
    """The tap's writer, speaking Airbyte: translates each Singer message as it is written.

    Thread-safe for what other threads send (LOG lines from the tap's read-ahead threads): one
    lock guards every write to stdout, and RECORD lines are appended only by the tap's thread.
    """

    def __init__(self) -> None:
        """Start with no stream seen and no bookmark sent."""
        super().__init__()
        self.streams: frozenset[str] | None = None  # the configured streams; None: any
        self.started: list[str] = []
        self.closed: set[str] = set()
        self._sent_bookmarks: dict[str, bytes] = {}
        self._extracted: dt.datetime | None = None
        self._emitted_at = now_ms()
        self._lock = threading.RLock()

    # -- what the tap writes -------------------------------------------------------------------
    @override
    def write_message(self, message: Message) -> None:
        if isinstance(message, RecordMessage):
            self.write_record(message.stream, message.record, None, message.time_extracted)
        elif isinstance(message, StateMessage):
            self.write_state(message.value)
        elif isinstance(message, SchemaMessage):
            self.start_stream(message.stream)
        # ACTIVATE_VERSION and BATCH: no Airbyte equivalent (full_refresh replaces the table).

    @override
    def write_record(
        self,
        stream: str,
        record: dict[str, Any],
        version: int | None,
        time_extracted: dt.datetime | None,
    ) -> None:
        if time_extracted is not self._extracted:
            self._extracted = time_extracted
            self._emitted_at = (
                int(time_extracted.timestamp() * 1000) if time_extracted else now_ms()
            )
        record_line(stream, record, self._emitted_at, self._buffer)
        if len(self._buffer) >= 1 << 18:
            self._write_buffer()

    def write_state(self, state: dict[str, Any] | Any) -> None:  # noqa: ANN401
        """One per-stream STATE for each configured stream whose bookmark changed."""
        bookmarks = (state or {}).get("bookmarks") or {}
        for name, bookmark in bookmarks.items():
            if self.streams is not None and name not in self.streams:
                continue
            snapshot = encoder.encode(bookmark)
            if self._sent_bookmarks.get(name) == snapshot:
                continue
            self._sent_bookmarks[name] = snapshot
            self._buffer += encode(stream_state(name, msgspec.json.decode(snapshot)))
        self.flush()

    def remember_state(self, state: dict[str, Any]) -> None:
        """Note the input state as sent: the tap repeats it first; Airbyte has it already."""
        for name, bookmark in (state.get("bookmarks") or {}).items():
            self._sent_bookmarks[name] = encoder.encode(bookmark)

    def start_stream(self, name: str) -> None:
        """Send STARTED for a stream the first time the tap writes its SCHEMA."""
        if name in self.started or (self.streams is not None and name not in self.streams):
            return
        self.started.append(name)
        self.send(stream_status(name, AirbyteStreamStatus.STARTED))

    def finish(self, names: Iterable[str], status: AirbyteStreamStatus) -> None:
        """Send the closing status of each stream not closed yet (STARTED first if never sent)."""
        for name in names:
            if name in self.closed:
                continue
            self.start_stream(name)
            self.closed.add(name)
            self.send(stream_status(name, status), flush=False)
        self.flush()

    # -- what the Airbyte layer writes -----------------------------------------------------
    def send(self, message: AirbyteMessage, *, flush: bool = True) -> None:
        """Write a model-built message after the buffered records."""
        with self._lock:
            self._buffer += encode(message)
            if flush:
                self.flush()

    def send_now(self, message: AirbyteMessage) -> None:
        """Write a message straight to stdout (from any thread), leaving the buffer alone."""
        line = encode(message)
        with self._lock:
            self._write_out(line)
            sys.stdout.flush()

    @override
    def flush(self) -> None:
        with self._lock:
            super().flush()

    @override
    def _write_buffer(self) -> None:
        with self._lock:
            if self._buffer:
                self._write_out(self._buffer)
                self._buffer.clear()

    @staticmethod
    def _write_out(data: bytes | bytearray) -> None:
        out = sys.stdout.buffer
        with memoryview(data) as view:
            done = 0
            while done < len(view):
                # An unbuffered stdout is a raw FileIO, whose write may take only a part.
                done += out.write(view[done:]) or 0


class AirbyteLogHandler(logging.Handler):
    """Python logging as Airbyte LOG messages on stdout (the tap's progress and warnings).

    Records pass the loggers' secret filters first (businesscentral_api installs them), and the
    message is the formatted line only: no stack trace, which could carry a secret.
    """

    def __init__(self, writer: AirbyteMessageWriter) -> None:
        """Write through ``writer``'s lock, so log lines never split a block of records."""
        super().__init__()
        self.writer = writer

    @override
    def emit(self, record: logging.LogRecord) -> None:
        try:
            level = _LEVELS.get(record.levelno, Level.INFO)
            self.writer.send_now(log_message(level, record.getMessage()))
        except Exception:  # noqa: BLE001 - logging must never break the read
            self.handleError(record)
