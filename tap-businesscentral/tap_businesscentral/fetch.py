"""Reading pages from BC, and reading them ahead of the writer on worker threads.

Singer output is written by one thread, in the order the SDK syncs streams and partitions. The
network is the slow part, so :class:`Prefetcher` starts the reads of the coming (stream, company)
partitions on up to ``max_concurrency`` threads, each keeping at most ``depth`` pages ready, and
hands the pages over in order. Nothing is written from a worker, so the output stays valid.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from businesscentral_api.errors import RetriesExhaustedError

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from businesscentral_api.client import BusinessCentralClient

__all__ = ["MAX_PAGE_SIZE", "MIN_PAGE_SIZE", "Prefetcher", "ReadRequest", "iter_pages"]

LOGGER = logging.getLogger("tap_businesscentral")
MAX_PAGE_SIZE = 20000
MIN_PAGE_SIZE = 100
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
    """

    key: tuple[str, str | None]
    url: str
    page_size: int = MAX_PAGE_SIZE

    @property
    def label(self) -> str:
        """How messages name this read: the stream, and the company when there is one."""
        stream, company = self.key
        return f"stream {stream}" + (f" (company {company})" if company else "")


def _is_timeout(error: RetriesExhaustedError) -> bool:
    return error.status in _TIMEOUT_STATUSES or "Timeout" in error.message


def iter_pages(
    client: BusinessCentralClient,
    request: ReadRequest,
    headers: Mapping[str, str] | None = None,
) -> Iterator[Page]:
    """Yield each page's rows, following the opaque ``@odata.nextLink`` by the shared rule.

    A page that times out even after the client's retries is asked for again at half the size:
    BC's own limit is time per request, so smaller pages are what gets a slow set through.

    Raises:
        RetriesExhaustedError: A failure that a smaller page cannot help, or pages already at
            ``MIN_PAGE_SIZE``.
        PagingError: A next link elsewhere, back to a page read, or after endless empty pages.
    """
    size = max(MIN_PAGE_SIZE, min(request.page_size, MAX_PAGE_SIZE))
    base = {"Data-Access-Intent": "ReadOnly", **(headers or {})}
    next_url: str | None = request.url
    links = client.next_links(request.url, request.label)
    while next_url:
        try:
            document = client.http.get_json(
                next_url, headers={**base, "Prefer": f"odata.maxpagesize={size}"}
            )
        except RetriesExhaustedError as exc:
            if not _is_timeout(exc) or size <= MIN_PAGE_SIZE:
                raise
            size = max(MIN_PAGE_SIZE, size // 2)
            LOGGER.warning("%s timed out; asking for pages of %d rows", request.key[0], size)
            continue
        yield document.get("value") or []
        next_url = links.follow(document)


_END = object()


class _Job:
    """One partition read running on a worker; pages wait in a bounded queue."""

    def __init__(self, request: ReadRequest, depth: int, sequence: int = 0) -> None:
        self.request = request
        self.sequence = sequence
        self.pages: queue.Queue[object] = queue.Queue(maxsize=depth)
        self.cancelled = threading.Event()

    def run(self, client: BusinessCentralClient) -> None:
        try:
            for page in iter_pages(client, self.request):
                if not self._put(page):
                    return
        except BaseException as exc:  # noqa: BLE001 - handed to the writer thread, raised there
            self._put(exc)
            return
        self._put(_END)

    def _put(self, item: object) -> bool:
        while not self.cancelled.is_set():
            try:
                self.pages.put(item, timeout=_POLL_SECONDS)
            except queue.Full:
                continue
            return True
        return False

    def take(self) -> Iterator[Page]:
        try:
            while True:
                item = self.pages.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item  # type: ignore[misc]
        finally:
            self.cancelled.set()


class Prefetcher:
    """Reads scheduled partitions ahead on worker threads; hands pages over in order.

    Workers take jobs in the order they were scheduled, which is the order the writer will ask
    for them, so the partition being written is always among those running: a full queue only
    ever waits for the writer, never for another job. Memory stays bounded by
    ``workers * (depth + 1)`` pages plus the one being written.
    """

    def __init__(self, client: BusinessCentralClient, workers: int, depth: int = 1) -> None:
        """Prepare; no thread starts until something is scheduled."""
        self.client = client
        self.workers = max(1, workers)
        self.depth = max(1, depth)
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
                job = _Job(request, self.depth, self._sequence)
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
        their workers are free for the jobs still to come.
        """
        with self._lock:
            if self._current is not None:
                self._current.cancelled.set()
            job = self._jobs.pop(request.key, None)
            if job is not None:
                for key in [k for k, j in self._jobs.items() if j.sequence < job.sequence]:
                    self._jobs.pop(key).cancelled.set()
            self._current = job
        if job is not None and job.request == request:
            return job.take()
        if job is not None:
            job.cancelled.set()  # scheduled with other options; read afresh
        return iter_pages(self.client, request)

    def close(self) -> None:
        """Cancel jobs nobody asked for and let the workers end."""
        with self._lock:
            for job in self._jobs.values():
                job.cancelled.set()
            self._jobs.clear()
            for _ in self._threads:
                self._todo.put(None)
            self._threads.clear()
