"""Per-sender rate limits: a long code takes about one message a second."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class RateLimiter(Protocol):
    def acquire(self, key: str) -> None:
        """Block until one more message may go out from sender ``key``."""


class NoLimit:
    def acquire(self, key: str) -> None:
        return None


class LocalRateLimiter:
    """Spacing limiter for one process: at most ``rate`` sends per second per key.

    Each key gets the next free slot ``1/rate`` seconds after the previous one, so no
    one-second window ever holds more than ``rate`` sends, across all threads. The
    spacing is ``margin`` (2 %) wider than that: a slot is granted here but the request
    reaches the provider a moment later, and those moments vary; without the margin a
    window measured at the provider could catch one send too many.
    """

    def __init__(self, rate: float, *, margin: float = 0.02) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive; use NoLimit for none")
        self._interval = (1.0 + margin) / rate
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str) -> None:
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next.get(key, now))
            self._next[key] = slot + self._interval
        if slot > now:
            time.sleep(slot - now)
