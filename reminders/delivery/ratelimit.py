"""Per-sender rate limits: each number sends at its own rate (a long code about one a
second, a toll-free number three, a short code a hundred).

Every limiter takes ``acquire(key, rate)``: ``key`` is the sender number; ``rate`` is
that number's messages a second (the clinic's setting), ``None`` for the limiter's
default (the deployment's ``AFTERCARE_SMS_RATE_PER_SECOND``), and ``<= 0`` for none.

The rule, kept in two steps:

1. *reserve*: each send takes the next free slot of its sender, ``1/rate`` seconds and
   a ``margin`` (5 %) after the previous slot, and sleeps until then. The margin is
   there because a slot is granted here but the request reaches the provider a moment
   later, and those moments vary.
2. *confirm*: on waking, the send checks the moment the sender last really sent and
   waits on until a full ``1/rate`` has passed. A thread that woke late (a busy
   machine, a pause) therefore pushes the sends after it back instead of going out
   right before one of them: no two sends from one number are ever closer than its
   interval, where it is measured, not just in the schedule.

The margin makes the confirm pass at once in the usual case, so it costs nothing but
a look (locally) or one round trip (Redis).
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class RateLimiter(Protocol):
    def acquire(self, key: str, rate: float | None = None) -> None:
        """Block until one more message may go out from sender ``key`` at ``rate``/s."""


class NoLimit:
    def acquire(self, key: str, rate: float | None = None) -> None:
        return None


# 5 %: enough for the jitter between granting a slot and the request reaching the
# provider on a busy host (at 2 % the bench saw two sends 0.98 s apart at the provider).
MARGIN = 0.05


def spacing(rate: float, margin: float) -> float:
    """Seconds between two reserved slots at ``rate``, ``margin`` wider than 1/rate."""
    return (1.0 + margin) / rate


class LocalRateLimiter:
    """The rule above for the threads of one process: at most ``rate`` sends per second
    per key (the rate passed with each acquire, else ``rate``, the default).

    A clinic that changes its rate gets the new spacing after the slot already booked.
    """

    def __init__(self, rate: float, *, margin: float = MARGIN) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive; use NoLimit for none")
        self._rate = rate
        self._margin = margin
        self._next: dict[str, float] = {}  # key → next free slot (reserve)
        self._sent: dict[str, float] = {}  # key → when it last really sent (confirm)
        self._lock = threading.Lock()

    def acquire(self, key: str, rate: float | None = None) -> None:
        rate = self._rate if rate is None else rate
        if rate <= 0:
            return  # this sender is not limited
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next.get(key, now))
            self._next[key] = slot + spacing(rate, self._margin)
        if slot > now:
            time.sleep(slot - now)
        while True:
            with self._lock:
                now = time.monotonic()
                early = self._sent.get(key, -1e9) + 1.0 / rate - now
                if early <= 0:
                    self._sent[key] = now
                    return
            time.sleep(early)
