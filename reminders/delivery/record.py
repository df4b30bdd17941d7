"""Writing down what happened to a claimed message: every change conditional on the claim.

A worker whose claim ran out (its token no longer matches) changes nothing here, so a
stalled worker waking up can never overwrite the outcome of the one that replaced it.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from reminders.channels.base import SendResult
from reminders.delivery import bulk
from reminders.delivery.dispatch import IN_FLIGHT, Claim
from reminders.delivery.models import SendAttempt
from reminders.delivery.prepare import Ready
from reminders.delivery.rows import DOUBTFUL
from reminders.enrollments.models import SENT, ScheduledMessage

MAX_BACKOFF = timedelta(hours=1)
BASE_BACKOFF = timedelta(seconds=30)


def finish(
    session: Session, claim: Claim, status: str, reason: str | None, now: datetime, **values: Any
) -> bool:
    """Move a claimed (or sending) message on, if the claim is still ours."""
    m = ScheduledMessage
    result = session.execute(
        update(m)
        .where(m.id == claim.message_id, m.claims == claim.token, m.status.in_(IN_FLIGHT))
        .values(status=status, status_reason=reason, lease_until=None, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def record_accepted(
    session: Session, accepted: Sequence[tuple[Ready, SendResult, datetime]], now: datetime
) -> set[int]:
    """Record a group of provider accepts in two statements; return the messages finished.

    The attempt rows always take the provider's id (it is the truth, whoever holds the
    claim now); the message moves to ``sent`` only where our claim still holds. A
    message whose claim was lost meanwhile is found already accepted on its next claim.
    A database crash losing this commit is recovered the same way, so it does not wait
    for the disk (see :func:`bulk.relax_durability`).
    """
    if not accepted:
        return set()
    bulk.relax_durability(session)
    bulk.mark_accepted(
        session, [(ready.attempt_id, result.provider_id, at) for ready, result, at in accepted], now
    )
    return bulk.finish_sent(
        session,
        [(ready.claim.message_id, ready.claim.token, at) for ready, _, at in accepted],
        now,
    )


def record_one_accepted(
    session: Session, ready: Ready, provider_id: str | None, at: datetime, now: datetime
) -> bool:
    """The slow path for one accept (used when the bulk write hit a duplicate provider id)."""
    session.execute(
        update(SendAttempt)
        .where(SendAttempt.id == ready.attempt_id)
        .values(provider_id=provider_id, status="accepted", accepted_at=at, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return finish(session, ready.claim, SENT, None, now, sent_at=at)


def settle_attempts(
    session: Session,
    attempt_ids: Sequence[int],
    status: str,
    now: datetime,
    message: str | None = None,
    **values: Any,
) -> None:
    """Resolve attempts still in doubt (only those: a callback may have moved others)."""
    if not attempt_ids:
        return
    session.execute(
        update(SendAttempt)
        .where(SendAttempt.id.in_(list(attempt_ids)), SendAttempt.status.in_(DOUBTFUL))
        .values(status=status, error_message=message, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )


def attempt_count(session: Session, message_id: int, code: str | None = None) -> int:
    query = select(func.count()).where(SendAttempt.message_id == message_id)
    if code is not None:
        query = query.where(SendAttempt.error_code == code)
    return int(session.scalar(query) or 0)


def backoff(attempt_number: int, retry_after: float | None = None) -> timedelta:
    """Exponential back-off with jitter: 30 s, 60 s, 120 s… capped at an hour.

    The jitter (50–100 % of the step) spreads retries from many workers apart; a
    provider's Retry-After is honoured when it asks for longer.
    """
    step = min(MAX_BACKOFF, BASE_BACKOFF * (2 ** max(0, attempt_number - 1)))
    delay = step * random.uniform(0.5, 1.0)
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=retry_after))
    return delay
