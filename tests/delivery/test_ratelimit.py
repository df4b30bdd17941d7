"""Per-sender rate limits: no one-second window ever holds more than the rate."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from reminders.delivery.ratelimit import LocalRateLimiter, RateLimiter
from reminders.delivery.redis_ratelimit import RedisRateLimiter


def busiest_second(stamps: list[float]) -> int:
    """The most grants inside any window [t, t + 1 s) starting at a grant."""
    stamps = sorted(stamps)
    return max(sum(1 for s in stamps[i:] if s - t < 1.0) for i, t in enumerate(stamps))


def hammer(limiters: list[RateLimiter], key: str, each: int) -> list[float]:
    """Two threads per limiter acquire ``each`` slots apiece; the grant times."""
    stamps: list[float] = []
    lock = threading.Lock()

    def run(limiter: RateLimiter) -> None:
        for _ in range(each):
            limiter.acquire(key)
            with lock:
                stamps.append(time.monotonic())

    threads = [threading.Thread(target=run, args=(lim,)) for lim in limiters for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return stamps


@pytest.mark.redis
def test_redis_limiter_shares_one_schedule_between_processes(redis_url: str) -> None:
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    # Three clients stand for three worker processes; each runs two threads.
    limiters: list[RateLimiter] = [RedisRateLimiter(redis_url, 10, prefix=prefix) for _ in range(3)]
    stamps = hammer(limiters, "+13125550100", each=4)  # 24 sends at 10 a second

    assert len(stamps) == 24
    assert busiest_second(stamps) <= 10
    # The limiter spaces sends rather than refusing them: all went out, just not at once.
    assert max(stamps) - min(stamps) >= 2.0


@pytest.mark.redis
def test_redis_limiter_keeps_senders_apart_and_honours_overrides(redis_url: str) -> None:
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    limiter = RedisRateLimiter(redis_url, 1, prefix=prefix, overrides={"+18005550100": 20})
    limiter.acquire("+13125550100")
    started = time.monotonic()
    limiter.acquire("+13125550200")  # another number: its own schedule, no wait
    toll_free = hammer([limiter], "+18005550100", each=10)

    assert time.monotonic() - started < 5  # 1/s would have taken about 20 s
    assert busiest_second(toll_free) <= 20


@pytest.mark.redis
def test_redis_limiter_refuses_a_rate_of_zero(redis_url: str) -> None:
    with pytest.raises(ValueError, match="positive"):
        RedisRateLimiter(redis_url, 0)


def test_local_limiter_spaces_threads_of_one_process() -> None:
    stamps = hammer([LocalRateLimiter(20)], "+13125550100", each=15)

    assert len(stamps) == 30
    assert busiest_second(stamps) <= 20
    assert max(stamps) - min(stamps) >= 1.4
