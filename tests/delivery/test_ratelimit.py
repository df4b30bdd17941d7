"""Per-sender rate limits: no one-second window ever holds more than the rate."""

from __future__ import annotations

import itertools
import threading
import time
import uuid

import pytest

from reminders.delivery.ratelimit import LocalRateLimiter, NoLimit, RateLimiter
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


# Per-number rates: Riverside sends from a toll-free number (3 a second), Lakeside from
# a long code at a deployment default of 1; each acquire names its number's rate.
TOLL_FREE, SHORT_CODE = "+18005550100", "12345"
SLACK = 0.005  # the clock between a grant and the stamp taken right after it


Senders = dict[str, tuple[float, int]]  # number → (its rate, grants per thread)


def interleave(limiters: list[RateLimiter], senders: Senders) -> dict[str, list[float]]:
    """Two threads per limiter and sender acquire at that sender's rate, all at once;
    the grant times per sender."""
    stamps: dict[str, list[float]] = {key: [] for key in senders}
    lock = threading.Lock()
    start = threading.Barrier(2 * len(limiters) * len(senders))

    def run(limiter: RateLimiter, key: str, rate: float, each: int) -> None:
        # A worker's first call opens its connection and loads the script, once, at
        # start-up; here all would do it in the same instant and skew the first grants.
        limiter.acquire(f"warm-up-{uuid.uuid4().hex}", rate=1)
        start.wait()
        for _ in range(each):
            limiter.acquire(key, rate=rate)
            granted = time.monotonic()  # before the lock: waiting for it is not the limiter
            with lock:
                stamps[key].append(granted)

    threads = [
        threading.Thread(target=run, args=(limiter, key, rate, each))
        for limiter in limiters
        for key, (rate, each) in senders.items()
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return stamps


def closest(stamps: list[float]) -> float:
    """The shortest gap between two grants."""
    return min(b - a for a, b in itertools.pairwise(sorted(stamps)))


def assert_each_sender_kept_its_interval(
    stamps: dict[str, list[float]], senders: Senders, threads: int
) -> None:
    for key, (rate, each) in senders.items():
        assert len(stamps[key]) == threads * each
        assert closest(stamps[key]) >= 1 / rate - SLACK, key
        assert busiest_second(stamps[key]) <= rate


def test_local_limiter_keeps_each_number_to_its_own_rate_over_a_run() -> None:
    senders = {TOLL_FREE: (3.0, 5), "+13125550100": (5.0, 8)}  # 10 and 16 sends: about 3 s
    began = time.monotonic()
    stamps = interleave([LocalRateLimiter(1)], senders)

    assert_each_sender_kept_its_interval(stamps, senders, threads=2)
    # Neither number waited for the other: the run took one number's time, not the sum.
    assert time.monotonic() - began < 4.5


def test_local_limiter_default_rate_and_an_unlimited_number() -> None:
    limiter = LocalRateLimiter(5)
    default = hammer([limiter], "+13125550100", each=3)  # no rate given: 5 a second
    began = time.monotonic()
    for _ in range(50):
        limiter.acquire(SHORT_CODE, rate=0)  # <= 0: this number is not limited

    assert closest(default) >= 1 / 5 - SLACK
    assert time.monotonic() - began < 0.1
    NoLimit().acquire(SHORT_CODE, rate=3.0)  # the same interface, no waiting


@pytest.mark.redis
def test_redis_limiter_keeps_each_number_to_its_own_rate_across_workers(redis_url: str) -> None:
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    # Three clients for three worker processes at a default of 1 a second; each acquire
    # says its number's rate, as the sender does with the clinic's setting.
    limiters: list[RateLimiter] = [RedisRateLimiter(redis_url, 1, prefix=prefix) for _ in range(3)]
    senders = {TOLL_FREE: (3.0, 2), "+13125550100": (5.0, 3)}  # 12 and 18 sends: about 3.5 s
    began = time.monotonic()
    stamps = interleave(limiters, senders)

    assert_each_sender_kept_its_interval(stamps, senders, threads=6)
    assert time.monotonic() - began < 4.5


@pytest.mark.redis
def test_redis_limiter_rate_wins_over_overrides_and_zero_means_unlimited(redis_url: str) -> None:
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    limiter = RedisRateLimiter(redis_url, 1, prefix=prefix, overrides={TOLL_FREE: 3})
    assert limiter.rate_for(TOLL_FREE) == 3 and limiter.rate_for(TOLL_FREE, 30) == 30
    assert limiter.rate_for("+13125550100") == 1
    began = time.monotonic()
    for _ in range(20):
        limiter.acquire(SHORT_CODE, rate=0)  # not limited: no wait, no slot taken

    assert time.monotonic() - began < 0.5
