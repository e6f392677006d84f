"""The shared rate limiter: a sliding window and a bound on requests in flight."""

from __future__ import annotations

import threading
import time

import pytest
from businesscentral_api.ratelimit import RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_window_counts_starts_and_frees_slots_as_they_age():
    clock = FakeClock()
    limiter = RateLimiter(max_requests=3, window_seconds=10, max_concurrency=10, clock=clock)
    for _ in range(3):
        with limiter.slot():
            pass
    assert limiter.starts_within_window() == 3
    assert limiter._delay(clock.now) == pytest.approx(10)
    clock.now = 9.99
    assert limiter._delay(clock.now) == pytest.approx(0.01)
    clock.now = 10.0
    with limiter.slot():
        pass
    assert limiter.starts_within_window() == 1


def test_a_batch_counts_each_of_its_operations():
    clock = FakeClock()
    limiter = RateLimiter(max_requests=10, window_seconds=10, max_concurrency=10, clock=clock)
    with limiter.slot(cost=6):  # a $batch of 6 operations
        pass
    assert limiter.starts_within_window() == 6
    clock.now = 4.0
    assert limiter._delay(clock.now, cost=4) is None  # 6 + 4 fit the window of 10
    assert limiter._delay(clock.now, cost=5) == pytest.approx(6)  # waits for the batch to age
    clock.now = 20.0
    with limiter.slot(cost=500):  # larger than the window: counted as the whole window
        pass
    assert limiter.starts_within_window() == 10


def test_burst_stays_under_the_window_across_threads():
    """32 requests from 8 threads, 5 allowed per 0.25 s window: no window ever holds more than 5."""
    window = 0.25
    limiter = RateLimiter(max_requests=5, window_seconds=window, max_concurrency=3)
    starts: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(4):
            with limiter.slot():
                with lock:
                    starts.append(time.monotonic())
                time.sleep(0.001)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(starts) == 32
    starts.sort()
    for i, start in enumerate(starts):
        in_window = sum(1 for s in starts[i:] if s - start < window)
        assert in_window <= 5
    assert limiter.peak_in_flight <= 3
    assert limiter.waits > 0
    # 32 requests at 5 per window need at least 6 full windows; a coarse lower bound only.
    assert starts[-1] - starts[0] >= 6 * window * 0.9


def test_concurrency_bound_holds():
    limiter = RateLimiter(max_requests=1000, window_seconds=60, max_concurrency=2)
    inside = 0
    peak = 0
    lock = threading.Lock()
    barrier = threading.Barrier(6)

    def worker() -> None:
        nonlocal inside, peak
        barrier.wait()
        with limiter.slot():
            with lock:
                inside += 1
                peak = max(peak, inside)
            time.sleep(0.02)
            with lock:
                inside -= 1

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert peak == 2
    assert limiter.peak_in_flight == 2
    assert limiter.started == 6


def test_pause_holds_everyone():
    clock = FakeClock()
    limiter = RateLimiter(max_requests=10, window_seconds=10, max_concurrency=10, clock=clock)
    limiter.pause(3)
    assert limiter._delay(clock.now) == pytest.approx(3)
    clock.now = 3.0
    assert limiter._delay(clock.now) is None


def test_invalid_limits_are_refused():
    with pytest.raises(ValueError, match="positive"):
        RateLimiter(max_requests=0)
