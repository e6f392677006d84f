"""The account of every input record: how many were written how, and the rejected-records file.

Each record ends in exactly one column of its stream's tally (created, updated, unchanged, deleted
or rejected); each rejection is also one JSON line in the rejected-records file with what BC said,
so a run can be audited and its rejects fixed and replayed. Thread-safe: batches finish on workers.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from businesscentral_api.jsonutil import dump_json

if TYPE_CHECKING:
    from businesscentral_api.errors import BusinessCentralError

__all__ = ["OUTCOMES", "Ledger", "Rejection", "Tally"]

OUTCOMES = ("created", "updated", "unchanged", "deleted", "posted", "rejected")


@dataclass
class Tally:
    """One stream's counts."""

    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    requests: int = 0

    def line(self, stream: str, *, dry_run: bool) -> str:
        """The summary line of this stream."""
        prefix = "would be " if dry_run else ""
        parts = [f"{prefix}{name} {self.counts[name]}" for name in OUTCOMES]
        return f"{stream}: " + ", ".join(parts) + f"; {self.requests} requests"


@dataclass(frozen=True)
class Rejection:
    """Why one record was not written.

    Attributes:
        operation: What was tried: create, update, delete, post, or validate.
        message: BC's message (or ours, for a record refused before sending).
        status: HTTP status, None when refused before sending.
        code: BC's error code.
        correlation_id: BC's correlation id, for a support ticket.
        current_etag: The server's etag, for a conflict.
    """

    operation: str
    message: str
    status: int | None = None
    code: str | None = None
    correlation_id: str | None = None
    current_etag: str | None = None

    @classmethod
    def from_error(
        cls, operation: str, error: BusinessCentralError, current_etag: str | None = None
    ) -> Rejection:
        """A rejection carrying BC's own status, code, message and correlation id."""
        return cls(
            operation,
            error.message,
            error.status,
            error.code,
            error.correlation_id,
            current_etag,
        )


class Ledger:
    """Counts per stream, and the rejected-records JSON Lines file (opened on first rejection)."""

    def __init__(self, rejected_path: str | Path, *, dry_run: bool = False) -> None:
        """Nothing is written until something is rejected."""
        self.rejected_path = Path(rejected_path)
        self.dry_run = dry_run
        self.tallies: dict[str, Tally] = {}
        self._lock = threading.Lock()
        self._file: IO[bytes] | None = None

    def tally(self, stream: str) -> Tally:
        """The stream's tally (created on first use)."""
        with self._lock:
            return self.tallies.setdefault(stream, Tally())

    def count(self, stream: str, outcome: str, number: int = 1) -> None:
        """Add records to one outcome column."""
        with self._lock:
            self.tallies.setdefault(stream, Tally()).counts[outcome] += number

    def count_requests(self, stream: str, number: int = 1) -> None:
        """Add HTTP requests sent on behalf of a stream."""
        with self._lock:
            self.tallies.setdefault(stream, Tally()).requests += number

    def reject(self, stream: str, record: dict[str, Any], rejection: Rejection) -> None:
        """Count the record as rejected and append it with its reason to the rejected file."""
        entry = {
            "stream": stream,
            "record": record,
            "operation": rejection.operation,
            "status": rejection.status,
            "code": rejection.code,
            "message": rejection.message,
            "correlation_id": rejection.correlation_id,
            "current_etag": rejection.current_etag,
            "time": dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds"),
        }
        line = dump_json(entry) + b"\n"
        with self._lock:
            self.tallies.setdefault(stream, Tally()).counts["rejected"] += 1
            if self._file is None:
                self.rejected_path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self.rejected_path.open("ab")
            self._file.write(line)
            self._file.flush()

    @property
    def rejected(self) -> int:
        """Records rejected in all streams."""
        with self._lock:
            return sum(t.counts["rejected"] for t in self.tallies.values())

    def summary(self) -> list[str]:
        """One line per stream, in the order streams arrived."""
        with self._lock:
            return [t.line(s, dry_run=self.dry_run) for s, t in self.tallies.items()]

    def close(self) -> None:
        """Close the rejected file."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
