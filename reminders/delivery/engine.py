"""The delivery loop's two halves, shared by the embedded mode and the Celery workers.

``dispatch_round`` claims and commits, then hands the claims to ``submit``;
``send_batch`` sends a batch in groups, renewing the leases of what is still waiting.
Only ``submit`` differs between the modes (a thread pool, or Celery tasks).

Sizes, and why:

- a *batch* (one send task) holds up to 100 claims, so the per-task cost of the queue
  is paid once per hundred messages; when SMS is rate limited it holds no more than a
  quarter of a lease's worth at that rate, so a task never outlives its claims;
- a *group* (one prepare and one record transaction) is up to 100 messages, or about
  five seconds' worth when rate limited, which bounds how stale the opt-out and
  quiet-hours re-check can be when the provider is called;
- at most 2,000 claims are in flight, and a rate-limited sender has at most two
  dispatch ticks' worth (never half a lease's), so a large backlog is claimed as
  workers free up, never all at once, and every number's messages go out side by side.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders.clinics.models import Clinic
from reminders.clock import Clock
from reminders.config import Settings
from reminders.delivery.dispatch import Claim, Limits, claim_due, renew_leases
from reminders.delivery.send import Outcome, Sender, SessionFactory

log = logging.getLogger(__name__)

MAX_BATCH = 100
MAX_GROUP = 100
MAX_IN_FLIGHT = 2000
MAX_ROUNDS = 50  # per dispatch tick; the next tick (or a finished batch) continues


def batch_size(settings: Settings) -> int:
    """Claims per send task."""
    rate = settings.sms_rate_per_second
    if rate <= 0:
        return MAX_BATCH
    return max(1, min(MAX_BATCH, int(rate * settings.claim_lease_seconds / 4)))


def group_size(settings: Settings) -> int:
    """Messages per prepare/record transaction: at least as many as a process keeps in
    flight (claims are mixed across numbers, so a group is many numbers' next sends)."""
    rate = settings.sms_rate_per_second
    if rate <= 0:
        return MAX_GROUP
    return max(1, min(MAX_GROUP, max(settings.provider_concurrency, int(rate * 5))))


def limits(settings: Settings, *, session: Session) -> Limits:
    """The claim caps: 2,000 in flight, and two ticks' worth per rate-limited sender.

    A clinic's own ``sms_rate_per_second`` (toll-free, short code) sizes its cap; the
    others get the deployment's rate. A deployment rate of 0 sends without any limiter
    (see delivery.factory), so nothing is capped per sender then either.
    """
    rate = settings.sms_rate_per_second
    per_sender, per_clinic = None, {}
    if rate > 0:
        per_sender = _lease_worth(rate, settings)
        # One small query (clinics with their own rate), in the claim's transaction.
        own = session.execute(
            select(Clinic.id, Clinic.sms_rate_per_second).where(
                Clinic.sms_rate_per_second.is_not(None)
            )
        )
        per_clinic = {clinic_id: _lease_worth(own_rate, settings) for clinic_id, own_rate in own}
    return Limits(
        max_in_flight=max(MAX_IN_FLIGHT, settings.dispatch_batch_size),
        per_sender=per_sender,
        per_clinic=per_clinic,
    )


def _lease_worth(rate: float, settings: Settings) -> int | None:
    """What one number may have claimed and unsent: two dispatch ticks' worth (10 at 1/s
    with the 5 s tick), never more than half of what ``rate`` sends in a lease.

    Two ticks' worth is what keeps a number from idling between ticks; more only lets
    the numbers whose messages happen to be due first (a clinic's whole import at 9:00)
    hold claims the others could be sending, and a claim must never outlive its lease.
    None (no cap) for a rate <= 0: the limiter leaves such a number alone too.
    """
    if rate <= 0:
        return None
    ticks = rate * settings.dispatch_interval_seconds * 2
    return max(1, int(min(ticks, rate * settings.claim_lease_seconds / 2)))


def dispatch_round(
    *,
    sessions: SessionFactory,
    clock: Clock,
    settings: Settings,
    submit: Callable[[list[Claim]], None],
    limit: int | None = None,
) -> int:
    """Claim one slice of due messages, commit, then submit them; returns how many."""
    lease = timedelta(seconds=settings.claim_lease_seconds)
    with sessions() as session:
        claims = claim_due(
            session=session,
            now=clock.now(),
            limit=limit or settings.dispatch_batch_size,
            lease=lease,
            limits=limits(settings, session=session),
        )
    # The claim is committed now: a worker that picks a task up always finds its rows.
    if claims:
        submit(claims)
    return len(claims)


def dispatch_due(
    *,
    sessions: SessionFactory,
    clock: Clock,
    settings: Settings,
    submit: Callable[[list[Claim]], None],
    max_rounds: int = MAX_ROUNDS,
) -> int:
    """Claim round after round until nothing more is due or the in-flight cap is met."""
    total = 0
    for _ in range(max_rounds):
        claimed = dispatch_round(sessions=sessions, clock=clock, settings=settings, submit=submit)
        total += claimed
        if claimed == 0:
            break
    return total


def send_batch(sender: Sender, claims: Sequence[Claim]) -> list[Outcome]:
    """Send ``claims`` group after group, keeping the rest of the batch leased meanwhile.

    Outcomes come back in the order of ``claims``.
    """
    lease = timedelta(seconds=sender.settings.claim_lease_seconds)
    renew_every = lease.total_seconds() / 3
    size = group_size(sender.settings)
    last_renewal = time.monotonic()
    outcomes: list[Outcome] = []
    for start in range(0, len(claims), size):
        if time.monotonic() - last_renewal > renew_every:
            with sender.sessions() as session:
                renew_leases(
                    session=session,
                    claims=list(claims[start:]),
                    now=sender.clock.now(),
                    lease=lease,
                )
            last_renewal = time.monotonic()
        group = claims[start : start + size]
        try:
            outcomes.extend(sender.send_many(group))
        except Exception:
            # Unexpected (database down…): leave the rows claimed; their leases expire
            # and a later round retries them. Log without patient data.
            log.exception("send of %d messages crashed", len(group))
            outcomes.extend(Outcome(c.message_id, "error") for c in group)
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
        """One dispatch tick: claim everything due, slice by slice.

        With ``wait``, each slice is sent before the next is claimed and the outcomes
        are returned, so what a send makes due at once (an email fallback) goes out in
        the same tick; without, slices are claimed back to back and sent meanwhile.
        """
        sender = self.sender
        if not wait:
            dispatch_due(
                sessions=sender.sessions,
                clock=sender.clock,
                settings=sender.settings,
                submit=self.submit,
            )
            return []
        outcomes: list[Outcome] = []
        for _ in range(MAX_ROUNDS):
            claimed = dispatch_round(
                sessions=sender.sessions,
                clock=sender.clock,
                settings=sender.settings,
                submit=self.submit,
            )
            outcomes += self.drain()
            if not claimed:
                break
        return outcomes

    def drain(self) -> list[Outcome]:
        with self._lock:
            futures, self._futures = self._futures, []
        return [o for f in futures for o in f.result()]

    def run(self, stop: threading.Event, interval: float) -> None:
        while not stop.is_set():
            try:
                self.dispatch_once(wait=False)
                self._forget_done()
            except Exception:
                log.exception("dispatch round failed")
            stop.wait(interval)
        self.shutdown()

    def _forget_done(self) -> None:
        # A long-running embedded process must not keep every finished future forever.
        with self._lock:
            done = [f for f in self._futures if f.done()]
            self._futures = [f for f in self._futures if not f.done()]
        for future in done:
            if future.exception() is not None:
                log.error("send batch failed: %s", type(future.exception()).__name__)

    def shutdown(self) -> None:
        self.drain()
        self.pool.shutdown(wait=True)
