"""Reading pages from BC, and reading them ahead of the writer on worker threads.

Singer output is written by one thread, in the order the SDK syncs streams and partitions. The
network is the slow part, so :class:`Prefetcher` starts the reads of the coming (stream, company)
partitions on up to ``max_concurrency`` threads and hands the pages over in order. Nothing is
written from a worker, so the output stays valid.

Memory follows the settings, not the data: the rows held in pages (on their way, queued, being
written) are bounded by :class:`ReadAhead` (``read_ahead_rows``), however wide the set and
however many partitions are ahead. The read being written may have one page beyond that, so it
never waits for the others.
"""

from __future__ import annotations

import contextlib
import logging
import math
import queue
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

from businesscentral_api.errors import RetriesExhaustedError

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from businesscentral_api.client import BusinessCentralClient

__all__ = [
    "DEFAULT_READ_AHEAD_ROWS",
    "MAX_PAGE_SIZE",
    "MIN_PAGE_SIZE",
    "Prefetcher",
    "ReadAhead",
    "ReadRequest",
    "iter_pages",
]

LOGGER = logging.getLogger("tap_businesscentral")
MAX_PAGE_SIZE = 20000
MIN_PAGE_SIZE = 100
DEFAULT_READ_AHEAD_ROWS = 20000
_TIMEOUT_STATUSES = frozenset({408, 504})
_POLL_SECONDS = 0.5

Page = list[dict[str, Any]]


@dataclass(frozen=True)
class ReadRequest:
    """One partition's read: the first URL (query included) and the page size to ask for.

    Attributes:
        key: ``(stream name, company id)``, what the writer asks for.
        url: First page URL; later pages follow ``@odata.nextLink`` as given.
        page_size: Rows per page to ask for with ``Prefer: odata.maxpagesize``.
        nested: Whether rows bring expanded lines (which count as rows held too).
    """

    key: tuple[str, str | None]
    url: str
    page_size: int = MAX_PAGE_SIZE
    nested: bool = False

    @property
    def label(self) -> str:
        """How messages name this read: the stream, and the company when there is one."""
        stream, company = self.key
        return f"stream {stream}" + (f" (company {company})" if company else "")


def _is_timeout(error: RetriesExhaustedError) -> bool:
    return error.status in _TIMEOUT_STATUSES or "Timeout" in error.message


class _Slot(Protocol):
    """Where a read draws the rows of each page from (a job's share of the read-ahead)."""

    def reserve(self, wanted: int) -> int:
        """Rows (lines included) the next page may hold, at most ``wanted``, once allowed."""
        ...

    def received(self, reserved: int, rows: int) -> None:
        """The page came with ``rows`` (lines included) for the ``reserved``: settle up."""
        ...


def page_weight(page: Page, nested: bool) -> int:  # noqa: FBT001 - a fact of the read
    """Rows a page holds in memory: its rows, and the lines expanded inside them."""
    if not nested:
        return len(page)
    return len(page) + sum(len(v) for row in page for v in row.values() if type(v) is list)


def iter_pages(
    client: BusinessCentralClient,
    request: ReadRequest,
    headers: Mapping[str, str] | None = None,
    slot: _Slot | None = None,
) -> Iterator[Page]:
    """Yield each page's rows, following the opaque ``@odata.nextLink`` by the shared rule.

    A page that times out even after the client's retries is asked for again at half the size:
    BC's own limit is time per request, so smaller pages are what gets a slow set through.

    With a ``slot``, each page is sized to the rows it may hold. A read with expanded lines
    starts with a page of ``MIN_PAGE_SIZE`` documents and then asks for as many as fit at the
    most lines per document seen so far, so lines count against the bound too.

    Raises:
        RetriesExhaustedError: A failure that a smaller page cannot help, or pages already at
            ``MIN_PAGE_SIZE``.
        PagingError: A next link elsewhere, back to a page read, or after endless empty pages.
    """
    size = max(MIN_PAGE_SIZE, min(request.page_size, MAX_PAGE_SIZE))
    base = {"Data-Access-Intent": "ReadOnly", **(headers or {})}
    next_url: str | None = request.url
    links = client.next_links(request.url, request.label)
    per_row = 1.0  # rows held per row asked for: 1 plus the most lines per document seen
    known = not request.nested
    while next_url:
        asked, reserved = size, 0
        if slot is not None:
            wanted = size if known else min(size, MIN_PAGE_SIZE)
            reserved = slot.reserve(math.ceil(wanted * per_row))
            asked = max(1, min(wanted, int(reserved / per_row)))
        try:
            document = client.http.get_json(
                next_url, headers={**base, "Prefer": f"odata.maxpagesize={asked}"}
            )
        except RetriesExhaustedError as exc:
            if slot is not None:
                slot.received(reserved, 0)
            if not _is_timeout(exc) or asked <= MIN_PAGE_SIZE:
                raise
            size = max(MIN_PAGE_SIZE, asked // 2)
            LOGGER.warning("%s timed out; asking for pages of %d rows", request.key[0], size)
            continue
        except BaseException:
            if slot is not None:
                slot.received(reserved, 0)
            raise
        page = document.get("value") or []
        if slot is not None:
            weight = page_weight(page, request.nested)
            if page:
                per_row = max(per_row, weight / len(page))
                known = True
            slot.received(reserved, weight)
        yield page
        next_url = links.follow(document)


_END = object()


class _CancelledError(Exception):
    """The job was abandoned while it waited for room to read ahead."""


class ReadAhead:
    """The bound on rows held in pages, shared by every job of a :class:`Prefetcher`.

    A job reserves a page's rows before asking for it, so a page on its way counts, as do the
    pages queued and the one being written (until the writer asks for the next). Pages are of
    at most ``limit // (reading + 1)`` rows, ``reading`` being the jobs reading now (at most
    ``workers``), so every one of them and the writer can hold one within the bound, and a read
    alone asks for pages of up to half the bound: every page costs a request (a round trip to
    BC and its per-request work), so the fewer the better. The job being written (the head)
    may reserve one page of ``page_rows`` (``limit // (workers + 1)``) beyond the bound when it
    has none queued or on its way: the writer waits only for it, so it never waits for another
    job's pages. At most ``limit`` rows plus ``page_rows`` are held, whatever the data.
    """

    def __init__(self, limit: int, workers: int) -> None:
        """Allow ``limit`` rows (0: no read-ahead but the head's next page, of 100 rows)."""
        self.limit = max(0, limit)
        self.page_rows = max(MIN_PAGE_SIZE, self.limit // (max(1, workers) + 1))
        self.held = 0
        self.peak = 0
        self.reading = 0  # jobs whose worker is reading now
        self.head: _Job | None = None
        self._changed = threading.Condition()

    def reserve(self, job: _Job, wanted: int) -> int:
        """Wait until ``job`` may hold another page; return its size (at most ``wanted``).

        Raises:
            _CancelledError: The job was abandoned while it waited.
        """
        with self._changed:
            while True:
                if job.cancelled.is_set():
                    raise _CancelledError
                ahead = job.held - job.writing
                share = max(self.page_rows, self.limit // (max(1, self.reading) + 1))
                size = min(wanted, share)
                if self.held + size > self.limit and job is self.head and ahead == 0:
                    size = min(wanted, self.page_rows)  # beyond the bound: one small page
                if self.held + size <= self.limit or (job is self.head and ahead == 0):
                    self.held += size
                    job.held += size
                    self.peak = max(self.peak, self.held)
                    return size
                self._changed.wait(_POLL_SECONDS)

    def release(self, job: _Job, rows: int) -> None:
        """``job`` holds ``rows`` fewer: a page was smaller than reserved, written or dropped.

        A negative ``rows`` is a page that brought more lines than reserved: held all the same.
        """
        with self._changed:
            rows = min(rows, job.held)
            job.held -= rows
            self.held -= rows
            self.peak = max(self.peak, self.held)
            self._changed.notify_all()

    def started(self) -> None:
        """A worker starts reading a job: the pages of those reading shrink to fit one more."""
        with self._changed:
            self.reading += 1

    def ended(self) -> None:
        """A worker is done with a job (read, failed or abandoned): the others may ask for more."""
        with self._changed:
            self.reading -= 1
            self._changed.notify_all()

    def set_head(self, job: _Job | None) -> None:
        """The writer now reads ``job``; jobs before it are cancelled: wake those waiting."""
        with self._changed:
            self.head = job
            self._changed.notify_all()


class _Job:
    """One partition read running on a worker; its pages wait in a queue, bounded in rows."""

    def __init__(self, request: ReadRequest, budget: ReadAhead, sequence: int = 0) -> None:
        self.request = request
        self.sequence = sequence
        self.budget = budget
        self.held = 0  # rows reserved in ``budget``: on their way, queued and being written
        self.writing = 0  # rows of the page the writer has (part of ``held``)
        self.pages: queue.Queue[object] = queue.Queue()
        self.cancelled = threading.Event()

    # The slot iter_pages draws from.
    def reserve(self, wanted: int) -> int:
        return self.budget.reserve(self, wanted)

    def received(self, reserved: int, rows: int) -> None:
        self.budget.release(self, reserved - rows)

    def run(self, client: BusinessCentralClient) -> None:
        nested = self.request.nested
        self.budget.started()
        try:
            for page in iter_pages(client, self.request, slot=self):
                if self.cancelled.is_set():
                    return
                self.pages.put((page, page_weight(page, nested)))
        except _CancelledError:
            return
        except BaseException as exc:  # noqa: BLE001 - handed to the writer thread, raised there
            self.pages.put(exc)
            return
        finally:
            self.budget.ended()
            if self.cancelled.is_set():
                self._drop()
        self.pages.put(_END)

    def _drop(self) -> None:
        """Abandoned: forget the queued pages and give their rows back."""
        with contextlib.suppress(queue.Empty):
            while True:
                self.pages.get_nowait()
        self.writing = 0
        self.budget.release(self, self.held)

    def take(self) -> Iterator[Page]:
        try:
            while True:
                item = self.pages.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                page, weight = cast("tuple[Page, int]", item)
                self.writing = weight
                yield page
                # The writer asks for the next page: this one is written.
                self.writing = 0
                self.budget.release(self, weight)
        finally:
            self.cancel()

    def cancel(self) -> None:
        """Abandon the job: its worker stops at the next page, its rows are given back."""
        self.cancelled.set()
        self._drop()  # and wakes a reserve() waiting for this job


class _PageCap:
    """A read not scheduled ahead: no waiting, but pages no larger than a scheduled one's."""

    def __init__(self, page_rows: int) -> None:
        self.page_rows = page_rows

    def reserve(self, wanted: int) -> int:
        return min(wanted, self.page_rows)

    def received(self, reserved: int, rows: int) -> None:
        """Nothing to settle: nothing was reserved."""


class Prefetcher:
    """Reads scheduled partitions ahead on worker threads; hands pages over in order.

    Workers take jobs in the order they were scheduled, which is the order the writer will ask
    for them, so the partition being written is always among those running, and it never waits
    for room to read ahead (see :class:`ReadAhead`): the writer never waits for another job.
    """

    def __init__(
        self,
        client: BusinessCentralClient,
        workers: int,
        read_ahead_rows: int = DEFAULT_READ_AHEAD_ROWS,
    ) -> None:
        """Prepare; no thread starts until something is scheduled."""
        self.client = client
        self.workers = max(1, workers)
        self.budget = ReadAhead(read_ahead_rows, self.workers)
        self._jobs: dict[tuple[str, str | None], _Job] = {}
        self._todo: queue.Queue[_Job | None] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._sequence = 0
        self._current: _Job | None = None

    def schedule(self, requests: list[ReadRequest]) -> None:
        """Start reading these partitions, in this order, as workers become free."""
        with self._lock:
            for request in requests:
                if request.key in self._jobs:
                    continue
                self._sequence += 1
                job = _Job(request, self.budget, self._sequence)
                self._jobs[request.key] = job
                self._todo.put(job)
            while len(self._threads) < min(self.workers, len(self._jobs)):
                # Daemon threads: a failed run must not hang at exit on a job nobody reads.
                thread = threading.Thread(target=self._work, name="bc-read", daemon=True)
                thread.start()
                self._threads.append(thread)

    def _work(self) -> None:
        while True:
            job = self._todo.get()
            if job is None:
                return
            if not job.cancelled.is_set():
                job.run(self.client)

    def pages(self, request: ReadRequest) -> Iterator[Page]:
        """Pages of ``request``: from its running job if scheduled as such, else read inline.

        The writer moves on in order, so the job it read before (perhaps stopped early, e.g. by
        a record limit) and any job scheduled before this one are abandoned: cancel them so
        their workers and their rows are free for the jobs still to come.
        """
        with self._lock:
            if self._current is not None:
                self._current.cancel()
            job = self._jobs.pop(request.key, None)
            if job is not None:
                for key in [k for k, j in self._jobs.items() if j.sequence < job.sequence]:
                    self._jobs.pop(key).cancel()
                if job.request != request:
                    job.cancel()  # scheduled with other options; read afresh
                    job = None
            self._current = job
            self.budget.set_head(job)
        if job is not None:
            return job.take()
        return iter_pages(self.client, request, slot=_PageCap(self.budget.page_rows))

    def close(self) -> None:
        """Cancel jobs nobody asked for and let the workers end."""
        with self._lock:
            for job in self._jobs.values():
                job.cancel()
            self._jobs.clear()
            for _ in self._threads:
                self._todo.put(None)
            self._threads.clear()
