"""The delivery loop's two halves, shared by the embedded mode and the Celery workers.

``dispatch_round`` claims and commits, then hands the claims to ``submit``;
``send_batch`` sends a batch in order, renewing the leases of what is still waiting.
Only ``submit`` differs between the modes (a thread pool, or Celery tasks).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta

from reminders.clock import Clock
from reminders.config import Settings
from reminders.delivery.dispatch import Claim, claim_due, renew_leases
from reminders.delivery.send import Outcome, Sender, SessionFactory

log = logging.getLogger(__name__)


def dispatch_round(
    *,
    sessions: SessionFactory,
    clock: Clock,
    settings: Settings,
    submit: Callable[[list[Claim]], None],
    limit: int | None = None,
) -> int:
    lease = timedelta(seconds=settings.claim_lease_seconds)
    with sessions() as session:
        claims = claim_due(
            session=session, now=clock.now(), limit=limit or settings.dispatch_batch_size,
            lease=lease,
        )  # fmt: skip
    # The claim is committed now: a worker that picks a task up always finds its rows.
    if claims:
        submit(claims)
    return len(claims)


def send_batch(sender: Sender, claims: Sequence[Claim]) -> list[Outcome]:
    """Send ``claims`` one after another, keeping the rest of the batch leased meanwhile."""
    lease = timedelta(seconds=sender.settings.claim_lease_seconds)
    renew_every = lease.total_seconds() / 3
    last_renewal = time.monotonic()
    outcomes = []
    for index, claim in enumerate(claims):
        if time.monotonic() - last_renewal > renew_every:
            with sender.sessions() as session:
                renew_leases(session=session, claims=list(claims[index:]),
                             now=sender.clock.now(), lease=lease)  # fmt: skip
            last_renewal = time.monotonic()
        try:
            outcomes.append(sender.send(claim))
        except Exception:
            # Unexpected (database down…): leave the row claimed; its lease expires and
            # another round retries it. Log without patient data.
            log.exception("send of message %s crashed", claim.message_id)
            outcomes.append(Outcome(claim.message_id, "error"))
    return outcomes


def chunks(claims: Sequence[Claim], size: int) -> list[list[Claim]]:
    return [list(claims[i : i + size]) for i in range(0, len(claims), size)]


class EmbeddedRunner:
    """Dispatcher plus a small thread pool in one process: the no-broker mode."""

    def __init__(self, *, sender: Sender, threads: int, chunk_size: int = 20) -> None:
        self.sender = sender
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="send")
        self.chunk_size = chunk_size
        self._futures: list[Future[list[Outcome]]] = []
        self._lock = threading.Lock()

    def submit(self, claims: list[Claim]) -> None:
        with self._lock:
            for chunk in chunks(claims, self.chunk_size):
                self._futures.append(self.pool.submit(send_batch, self.sender, chunk))

    def dispatch_once(self, *, wait: bool = True) -> list[Outcome]:
        dispatch_round(sessions=self.sender.sessions, clock=self.sender.clock,
                       settings=self.sender.settings, submit=self.submit)  # fmt: skip
        return self.drain() if wait else []

    def drain(self) -> list[Outcome]:
        with self._lock:
            futures, self._futures = self._futures, []
        return [o for f in futures for o in f.result()]

    def run(self, stop: threading.Event, interval: float) -> None:
        while not stop.is_set():
            try:
                self.dispatch_once(wait=False)
            except Exception:
                log.exception("dispatch round failed")
            stop.wait(interval)
        self.shutdown()

    def shutdown(self) -> None:
        self.drain()
        self.pool.shutdown(wait=True)
