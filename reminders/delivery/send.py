"""Send claimed messages: re-check, render, record the attempt, call the provider.

Three short transactions per group of messages, never one held across a provider call:

1. *prepare* — re-read the rows under our claim tokens, re-check that sending still
   makes sense (enrollment active, not opted out, not expired, quiet hours), render,
   then mark the messages ``sending`` and write their attempt rows. Committed before any
   provider is called.
2. the provider calls, outside any transaction, behind the per-sender rate limit, many
   in flight at once (``calls.py``).
3. *record* — what the providers said, conditional on still holding each claim.

A crash between a provider accepting and step 3 leaves the message ``sending`` with an
attempt ``sending``; when the lease expires the message is claimed again, and step 1
asks the provider whether it already has it (``Channel.find_sent``) before sending
anything. A provider error after which the request may have arrived (timeout, 5xx)
leaves its attempt ``in_doubt`` and is reconciled the same way before the retry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from reminders import metrics
from reminders.channels.base import Channel, ChannelError, SendResult
from reminders.clock import Clock
from reminders.config import Settings
from reminders.delivery import prepare as prep
from reminders.delivery import rows as rowdata
from reminders.delivery.calls import ProviderCalls
from reminders.delivery.dispatch import Claim
from reminders.delivery.failures import handle_failure
from reminders.delivery.pages import mark_pages_sent
from reminders.delivery.ratelimit import RateLimiter
from reminders.delivery.reconcile import Doubt, reconcile
from reminders.delivery.record import (
    backoff,
    finish,
    record_accepted,
    record_one_accepted,
)
from reminders.delivery.replyto import parse_reply_address, reply_address
from reminders.enrollments.models import CANCELLED, CLAIMED, FAILED, PAGE, PENDING, SENT, SKIPPED
from reminders.scheduling import defer_to_window

__all__ = ["Outcome", "Sender", "SessionFactory", "backoff", "parse_reply_address", "reply_address"]

log = logging.getLogger(__name__)
SessionFactory = Callable[[], AbstractContextManager[Session]]


@dataclass(frozen=True)
class Outcome:
    message_id: int
    # sent | skipped | cancelled | deferred | retry | failed | fallback | reconciled | stale
    # | error
    result: str
    detail: str = ""


class Sender:
    """Sends claimed messages one group at a time; see the module docstring."""

    def __init__(
        self,
        *,
        channels: dict[str, Channel],
        clock: Clock,
        settings: Settings,
        sessions: SessionFactory,
        rate_limiter: RateLimiter,
    ) -> None:
        self.channels = channels
        self.clock = clock
        self.settings = settings
        self.sessions = sessions
        self.rate_limiter = rate_limiter
        self.calls = ProviderCalls(channels=channels, rate_limiter=rate_limiter,
                                   sessions=sessions, clock=clock,
                                   concurrency=settings.provider_concurrency)  # fmt: skip

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.settings.claim_lease_seconds)

    def send(self, claim: Claim) -> Outcome:
        """Send one claimed message (the embedded demo's unit of work)."""
        return self.send_many([claim])[0]

    def send_many(self, claims: Sequence[Claim]) -> list[Outcome]:
        """Send a group of claims with one prepare and one record transaction.

        Outcomes come back in the order of ``claims``.
        """
        outcomes: dict[int, Outcome] = {}
        ready, doubts = self._prepare(claims, outcomes)
        cleared: list[Claim] = []
        for doubt in doubts:
            verdict = reconcile(
                doubt, channels=self.channels, sessions=self.sessions, now=self.clock.now
            )
            claim = doubt.candidate.claim
            if verdict is None:  # not at the provider: an ordinary send now
                cleared.append(claim)
            else:
                outcomes[claim.message_id] = Outcome(claim.message_id, *verdict)
        if cleared:
            ready += self._prepare(cleared, outcomes)[0]
        results = self.calls.run(ready)
        self._record(results, outcomes)
        return [outcomes.get(c.message_id, Outcome(c.message_id, "error")) for c in claims]

    # -- step 1 -------------------------------------------------------------------------

    def _prepare(
        self, claims: Sequence[Claim], outcomes: dict[int, Outcome]
    ) -> tuple[list[prep.Ready], list[Doubt]]:
        now = self.clock.now()
        ids = [c.message_id for c in claims]
        candidates: list[prep.Candidate] = []
        doubts: list[Doubt] = []
        with self.sessions() as session:
            rows = rowdata.load_rows(session, ids)
            tried = [row.id for row in rows.values() if row.tried]
            attempts = rowdata.open_attempts(session, tried) if tried else {}
            for claim in claims:
                row = rows.get(claim.message_id)
                if row is None or row.claims != claim.token or row.status != CLAIMED:
                    outcomes[claim.message_id] = Outcome(claim.message_id, "stale", "claim lost")
                    continue
                previous = attempts.get(row.id, [])
                in_doubt = [a for a in previous if a.status in rowdata.DOUBTFUL]
                candidate = self._check(
                    session, claim, row, now, previous, outcomes, doubtful=bool(in_doubt)
                )
                if candidate is None:
                    continue
                if in_doubt:
                    doubts.append(Doubt(candidate, in_doubt))
                else:
                    candidates.append(candidate)
            ready = prep.start_sending(
                session, candidates, now=now, lease=self.lease, provider_names=self._provider_names
            )
        started = {r.claim.message_id for r in ready}
        for c in candidates:
            if c.claim.message_id not in started:
                outcomes[c.claim.message_id] = Outcome(c.claim.message_id, "stale", "claim lost")
        return ready, doubts

    def _check(
        self,
        session: Session,
        claim: Claim,
        row: rowdata.MessageRow,
        now: datetime,
        attempts: list[rowdata.AttemptState],
        outcomes: dict[int, Outcome],
        *,
        doubtful: bool,
    ) -> prep.Candidate | None:
        """Settle what needs no provider call; the rest is rendered and addressed.

        A message in doubt skips the re-checks: it is reconciled first (reconcile.py),
        and only sent again, through these checks, if the provider does not have it.
        """

        def settle(status: str, reason: str, result: str, **values: object) -> None:
            done = finish(session, claim, status, reason, now, **values)
            outcomes[row.id] = Outcome(row.id, result if done else "stale", reason)
            if done and status == SKIPPED:
                metrics.count_skipped(row.channel, reason)

        if any(a.status not in rowdata.DOUBTFUL for a in attempts):
            # A provider took it before our record step lost the claim: it is sent.
            settle(SENT, "already_accepted", "reconciled", sent_at=now)
            return None
        reason = None if doubtful else prep.skip_reason(row, now)
        if reason == "acknowledged":  # a page whose concern someone took meanwhile
            settle(CANCELLED, reason, "cancelled")
            return None
        if reason is not None:
            settle(SKIPPED, reason, "skipped")
            return None
        tz = ZoneInfo(row.timezone or row.clinic_timezone)
        quiet = not row.time_critical and not row.window.allows(now.astimezone(tz).time())
        if quiet and not doubtful:
            opening = defer_to_window(now, tz, row.window)
            if opening >= row.expires_at:
                settle(SKIPPED, "quiet_hours_past_expiry", "skipped")
            else:
                settle(PENDING, "deferred_quiet_hours", "deferred", due_at=opening)
            return None
        try:
            rendered = prep.render(session, row, now, self.settings)
        except Exception as exc:  # a template error must not stop the rest of the batch
            log.error("render failed for message %s: %s", row.id, exc.__class__.__name__)
            settle(FAILED, "render_error", "failed")
            return None
        out = prep.outbound(row, rendered, now, self.settings)
        return prep.Candidate(claim, row, out, rendered.segments)

    @property
    def _provider_names(self) -> dict[str, str]:
        return {name: channel.name for name, channel in self.channels.items()}

    # -- step 2: delivery/calls.py -------------------------------------------------------

    def close(self) -> None:
        """Stop the provider threads (a worker process shutting down)."""
        self.calls.close()

    # -- step 3 -------------------------------------------------------------------------

    def _record(
        self,
        results: list[tuple[prep.Ready, SendResult | ChannelError, datetime]],
        outcomes: dict[int, Outcome],
    ) -> None:
        accepted = [(i, r, at) for i, r, at in results if isinstance(r, SendResult)]
        now = self.clock.now()
        try:
            with self.sessions() as session:
                finished = record_accepted(session, accepted, now)
                paged = [i.claim.message_id for i, _r, _at in accepted
                         if i.kind == PAGE and i.claim.message_id in finished]  # fmt: skip
                if paged:
                    mark_pages_sent(session, paged, now)
        except IntegrityError:
            # A provider id seen before (a console channel restarted its counter): record
            # one by one, dropping only the colliding id, rather than lose the batch.
            finished = self._record_one_by_one(accepted, now)
        for item, result, at in accepted:
            mid = item.claim.message_id
            if mid in finished:
                metrics.count_sent(item.channel)
                metrics.observe_lateness((at - item.due_at).total_seconds())
                outcomes[mid] = Outcome(mid, "sent", result.provider_id)
            else:
                outcomes[mid] = Outcome(mid, "stale", "claim lost after the provider accepted")
        for item, error, _at in results:
            if isinstance(error, ChannelError):
                outcomes[item.claim.message_id] = self._failed(item, error)

    def _record_one_by_one(
        self, accepted: list[tuple[prep.Ready, SendResult, datetime]], now: datetime
    ) -> set[int]:
        finished: set[int] = set()
        for item, result, at in accepted:
            for provider_id in (result.provider_id, None):
                try:
                    with self.sessions() as session:
                        if record_one_accepted(session, item, provider_id, at, now):
                            finished.add(item.claim.message_id)
                    break
                except IntegrityError:
                    log.warning("duplicate provider id for message %s", item.claim.message_id)
        return finished

    def _failed(self, item: prep.Ready, exc: ChannelError) -> Outcome:
        now = self.clock.now()
        with self.sessions() as session:
            result, detail = handle_failure(
                session, item, exc, now, email_possible="email" in self.channels
            )
        return Outcome(item.claim.message_id, result, detail)

