"""A rate limiter shared by all threads, so a long run slows down instead of collecting 429s.

BC online allows 6,000 requests per user in any sliding 5 minutes and processes 5 at a time
(more only queue). :class:`RateLimiter` enforces both: a request starts only when fewer than
``max_requests`` started in the last ``window_seconds`` and fewer than ``max_concurrency`` are in
flight. After a 429, :meth:`RateLimiter.pause` holds every thread for the server's ``Retry-After``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = ["RateLimiter"]

FIVE_MINUTES = 300.0


class RateLimiter:
    """Sliding-window request budget plus a bound on requests in flight, thread-safe."""

    def __init__(
        self,
        max_requests: int = 6000,
        window_seconds: float = FIVE_MINUTES,
        max_concurrency: int = 5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Set the budget; ``window_seconds`` is injectable so tests take seconds, not minutes.

        Args:
            max_requests: Requests allowed to start within any window.
            window_seconds: Length of the sliding window.
            max_concurrency: Requests allowed in flight at once.
            clock: Monotonic clock, seconds.
        """
        if max_requests < 1 or max_concurrency < 1 or window_seconds <= 0:
            msg = "rate limits must be positive"
            raise ValueError(msg)
        self.max_requests = max_requests
        self.window_seconds = window_seconds
        self.max_concurrency = max_concurrency
        self._clock = clock
        self._cond = threading.Condition()
        self._starts: deque[float] = deque()
        self._in_flight = 0
        self._paused_until = 0.0
        self.started = 0
        self.peak_in_flight = 0
        self.waits = 0

    @contextmanager
    def slot(self, cost: int = 1) -> Iterator[None]:
        """Hold one request slot for the duration of the block (the request and its body).

        ``cost`` is what the request counts against the window: a ``$batch`` counts each of its
        operations, as BC does.
        """
        self.acquire(cost)
        try:
            yield
        finally:
            self.release()

    def acquire(self, cost: int = 1) -> None:
        """Block until a request may start, then count it (``cost`` times) and hold a slot."""
        cost = max(1, min(cost, self.max_requests))
        with self._cond:
            waited = False
            while True:
                now = self._clock()
                cutoff = now - self.window_seconds
                while self._starts and self._starts[0] <= cutoff:
                    self._starts.popleft()
                delay = self._delay(now, cost)
                if delay is None:
                    break
                waited = True
                self._cond.wait(timeout=delay)
            self._starts.extend([now] * cost)
            self._in_flight += 1
            self.started += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
            if waited:
                self.waits += 1

    def _delay(self, now: float, cost: int = 1) -> float | None:
        """Seconds to wait before re-checking (None: go now); caller holds the lock."""
        if now < self._paused_until:
            return self._paused_until - now
        if len(self._starts) + cost > self.max_requests:
            # Wait until enough of the oldest starts have left the window.
            oldest = self._starts[len(self._starts) + cost - self.max_requests - 1]
            return max(oldest + self.window_seconds - now, 0.001)
        if self._in_flight >= self.max_concurrency:
            return 1.0  # woken by release() long before this elapses
        return None

    def release(self) -> None:
        """Mark one request as finished."""
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()

    def pause(self, seconds: float) -> None:
        """Hold every new request for ``seconds`` (BC said ``Retry-After`` on a 429)."""
        with self._cond:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    def starts_within_window(self) -> int:
        """How many requests started within the current window (for tests and logs)."""
        with self._cond:
            cutoff = self._clock() - self.window_seconds
            return sum(1 for t in self._starts if t > cutoff)
