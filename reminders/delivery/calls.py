"""Step 2 of a send: the provider calls, many in flight at once, each behind its sender's
rate limit.

A provider answers in 100–300 ms; one call at a time, a process sends a handful of
messages a second whatever its CPU. Up to ``provider_concurrency`` calls run at once on
a small thread pool (the work is waiting on sockets, which releases the GIL). Nothing
else changes: each call has its attempt row committed before it (step 1) and is
recorded under the claim token after (step 3), and the shared per-sender limiter spaces
each number's sends however many threads ask. Senders are interleaved so the threads
are not all parked on one rate-limited number while other numbers wait.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from datetime import datetime

from sqlalchemy.orm import Session

from reminders.channels.base import Channel, ChannelError, SendResult
from reminders.clock import Clock
from reminders.delivery import pages
from reminders.delivery.prepare import Ready
from reminders.delivery.ratelimit import RateLimiter
from reminders.enrollments.models import PAGE

log = logging.getLogger(__name__)
Called = tuple[Ready, SendResult | ChannelError, datetime]


class ProviderCalls:
    def __init__(
        self, *, channels: Mapping[str, Channel], rate_limiter: RateLimiter,
        sessions: Callable[[], AbstractContextManager[Session]], clock: Clock, concurrency: int,
    ) -> None:  # fmt: skip
        self.channels, self.rate_limiter = channels, rate_limiter
        self.sessions, self.clock, self.concurrency = sessions, clock, concurrency
        self._pool: ThreadPoolExecutor | None = None

    def run(self, ready: Sequence[Ready]) -> list[Called]:
        """Every call's (item, result, when answered), in the order of ``ready``."""
        if min(self.concurrency, len(ready)) <= 1:
            return [self.call(item) for item in ready]
        if self._pool is None:  # built on first use: after a worker process forks
            self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="provider")
        done = {id(r[0]): r for r in self._pool.map(self.call, interleave(ready))}
        return [done[id(item)] for item in ready]

    def call(self, item: Ready) -> Called:
        if item.channel == "sms":
            self.rate_limiter.acquire(item.outbound.sender or "", rate=item.sms_rate)
        if item.kind == PAGE and item.concern_id is not None:
            result = pages.unless_acknowledged(item, lambda: self._send(item), self.sessions)
        else:
            result = self._send(item)
        return item, result, self.clock.now()

    def _send(self, item: Ready) -> SendResult | ChannelError:
        """The one provider call of the pipeline; never raises."""
        try:
            return self.channels[item.channel].send(item.outbound)
        except ChannelError as exc:
            return exc
        except Exception as exc:
            # A bug or an unexpected library error: the request may have gone out, so
            # treat it as in doubt; the retry reconciles before sending again.
            log.exception("provider call for message %s crashed", item.claim.message_id)
            return ChannelError(f"unexpected {type(exc).__name__}", in_doubt=True)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None


def interleave(ready: Sequence[Ready]) -> list[Ready]:
    """Round-robin by sender number: A1 B1 C1 A2 B2 A3… (each sender's order kept)."""
    by_sender: dict[str | None, list[Ready]] = {}
    for item in ready:
        by_sender.setdefault(item.outbound.sender, []).append(item)
    queues = list(by_sender.values())
    ordered: list[Ready] = []
    for depth in range(max(len(q) for q in queues)):
        ordered.extend(q[depth] for q in queues if depth < len(q))
    return ordered
