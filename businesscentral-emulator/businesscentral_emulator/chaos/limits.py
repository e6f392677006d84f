"""BC online's operational limits per principal: a sliding request window, concurrency, a queue.

Defaults are BC's (6,000 requests per 5 minutes, 5 processed at once, 95 queued); each limit can
be changed or switched off, and whether a 429 carries `Retry-After` is a switch (unconfirmed).
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import deque
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from businesscentral_emulator.odata.errors import BusinessCentralError

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from businesscentral_emulator.store.backend import Counters


@dataclass
class LimitSettings:
    """BC online's limits; `enabled` switches the request window and concurrency off together."""

    enabled: bool = True
    requests_per_window: int = 6000
    window_seconds: float = 300.0
    concurrent: int = 5
    queue: int = 95
    queue_timeout: float = 480.0
    retry_after: bool = True
    max_body_bytes: int = 350 * 1024 * 1024
    operation_timeout: float = 480.0
    max_batch_operations: int = 100


class LimitError(BusinessCentralError):
    """A refusal by the limits, with the seconds a client should wait (if the switch is on)."""

    def __init__(self, status: int, code: str, message: str, retry_after: float | None) -> None:
        """Keep BC's error parts and the `Retry-After` value."""
        super().__init__(status, code, message)
        self.retry_after = retry_after


@dataclass
class _Principal:
    stamps: deque[float] = field(default_factory=deque)
    active: int = 0
    waiting: int = 0
    semaphore: asyncio.Semaphore | None = None


class Limits:
    """The limits of every principal (a token's `oid`, or its `appid`)."""

    def __init__(self, settings: LimitSettings, counters: Counters) -> None:
        """Apply `settings` (changeable at runtime); count refusals in `counters`."""
        self.settings = settings
        self.counters = counters
        self._principals: dict[str, _Principal] = {}
        self._lock = threading.Lock()

    def _state(self, principal: str) -> _Principal:
        with self._lock:
            return self._principals.setdefault(principal, _Principal())

    def _throttled(self, actual: int, maximum: int, retry_after: float) -> LimitError:
        self.counters.count("throttled")
        return LimitError(
            429,
            "Application_TooManyRequests",
            f"Too many requests reached. Actual ({actual}). Maximum ({maximum}).",
            retry_after if self.settings.retry_after else None,
        )

    def charge(self, principal: str) -> None:
        """Count one request in the principal's sliding window; raise once it is full."""
        settings = self.settings
        if not settings.enabled:
            return
        state = self._state(principal)
        now = time.monotonic()
        with self._lock:
            while state.stamps and state.stamps[0] <= now - settings.window_seconds:
                state.stamps.popleft()
            if len(state.stamps) >= settings.requests_per_window:
                wait = state.stamps[0] + settings.window_seconds - now
                raise self._throttled(
                    len(state.stamps) + 1, settings.requests_per_window, max(1, math.ceil(wait))
                )
            state.stamps.append(now)

    @asynccontextmanager
    async def admit(self, principal: str, *, charge: bool = True) -> AsyncIterator[None]:
        """Hold one of the principal's processing slots (queueing for it) around a request."""
        settings = self.settings
        if not settings.enabled:
            yield
            return
        state = self._state(principal)
        if state.active + state.waiting >= settings.concurrent + settings.queue:
            total = settings.concurrent + settings.queue
            raise self._throttled(state.active + state.waiting + 1, total, 1)
        if charge:
            self.charge(principal)
        if state.semaphore is None:
            state.semaphore = asyncio.Semaphore(settings.concurrent)
        state.waiting += 1
        try:
            await asyncio.wait_for(state.semaphore.acquire(), settings.queue_timeout)
        except TimeoutError as error:
            raise LimitError(
                503,
                "Application_ServiceUnavailable",
                "The request waited too long in the queue.",
                1 if settings.retry_after else None,
            ) from error
        finally:
            state.waiting -= 1
        state.active += 1
        try:
            yield
        finally:
            state.active -= 1
            state.semaphore.release()
