"""Attempts in doubt: ask the provider before sending a message a second time.

An attempt stays ``sending`` when the worker died between writing it and recording the
provider's answer, and becomes ``in_doubt`` after an error the request may have survived
(timeout, 5xx). Before such a message is sent again the provider is asked whether it
already has it (``Channel.find_sent``: for Twilio, the recent messages to that number
with the same body). Found: the message is sent, and recorded so. Not found: the old
attempts are closed and the message, still claimed, goes through the ordinary checks
and send. The provider unreachable: try later.

This comes before the opt-out, expiry and quiet-hours checks: a message the patient
may already have must be recorded as what it is, not skipped or deferred.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from reminders import metrics
from reminders.channels.base import Channel, ChannelError, SendResult
from reminders.delivery.models import SendAttempt
from reminders.delivery.prepare import Candidate
from reminders.delivery.record import backoff, finish, settle_attempts
from reminders.delivery.rows import AttemptState
from reminders.enrollments.models import PENDING, SENT

CLOCK_SLACK = timedelta(minutes=2)  # provider clocks stamp creation a little off ours


@dataclass(frozen=True)
class Doubt:
    candidate: Candidate
    attempts: list[AttemptState]  # still in doubt, newest first


def reconcile(
    doubt: Doubt,
    *,
    channels: Mapping[str, Channel],
    sessions: Callable[[], AbstractContextManager[Session]],
    now: Callable[[], datetime],
) -> tuple[str, str] | None:
    """The outcome (result, detail), or None: not at the provider, send it as usual."""
    candidate, newest = doubt.candidate, doubt.attempts[0]
    claim, out = candidate.claim, candidate.outbound
    found: SendResult | None = None
    if newest.channel == candidate.row.channel:
        try:
            since = min(a.started_at for a in doubt.attempts) - CLOCK_SLACK
            found = channels[newest.channel].find_sent(out.to, since, out.body)
        except ChannelError as exc:
            # The provider cannot tell us now; try again later rather than guess.
            at = now()
            with sessions() as session:
                done = finish(
                    session,
                    claim,
                    PENDING,
                    "reconcile_failed",
                    at,
                    next_attempt_at=at + backoff(1, exc.retry_after),
                )
            return ("retry" if done else "stale"), "reconcile_failed"
    at = now()
    ids = [a.id for a in doubt.attempts]
    with sessions() as session:
        if found is not None:
            settle_attempts(session, ids[1:], "error", at, "superseded on reconcile")
            session.execute(
                update(SendAttempt)
                .where(SendAttempt.id == newest.id)
                .values(provider_id=found.provider_id, status="accepted", accepted_at=at)
            )
            if not finish(session, claim, SENT, "reconciled", at, sent_at=at):
                return "stale", "claim lost"
            metrics.count_sent(candidate.row.channel)
            return "reconciled", found.provider_id
        settle_attempts(session, ids, "error", at, "not found at provider on reclaim")
    return None
