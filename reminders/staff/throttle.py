"""Per-IP throttle on failed sign-ins: a sliding window kept in memory.

The account lockout (on the staff row, shared by every process) is the real guard
against guessing one nurse's password; this throttle slows a single address spraying
many accounts. It is per process, which is enough for that purpose and needs no Redis.
"""

from __future__ import annotations

import threading
from collections import deque
from datetime import datetime, timedelta


class Throttle:
    def __init__(self, max_failures: int = 20, window: timedelta = timedelta(minutes=5)) -> None:
        self.max_failures = max_failures
        self.window = window
        self._failures: dict[str, deque[datetime]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: datetime) -> deque[datetime]:
        times = self._failures.setdefault(key, deque())
        while times and now - times[0] >= self.window:
            times.popleft()
        return times

    def blocked(self, key: str, now: datetime) -> bool:
        with self._lock:
            return len(self._recent(key, now)) >= self.max_failures

    def failed(self, key: str, now: datetime) -> None:
        with self._lock:
            self._recent(key, now).append(now)
            if len(self._failures) > 10_000:  # bound memory under a wide spray
                for stale in [k for k, v in self._failures.items() if not v]:
                    del self._failures[stale]

    def retry_after(self, key: str, now: datetime) -> int:
        with self._lock:
            times = self._recent(key, now)
            if not times:
                return 0
            return max(1, int((times[0] + self.window - now).total_seconds()))
