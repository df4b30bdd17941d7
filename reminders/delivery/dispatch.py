"""Claiming due messages: the only way a message gets into a worker's hands.

A claim is a lease. The claiming transaction moves rows to ``claimed`` with
``lease_until`` and bumps ``claims``, which doubles as a fencing token: a worker whose
lease ran out (it stalled, or died and was replaced) holds a stale token and every
conditional update it tries afterwards matches no row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, or_, select, tuple_, update
from sqlalchemy.orm import Session, aliased

from reminders.enrollments.models import CLAIMED, OPEN_STATUSES, PENDING, SENDING, ScheduledMessage


@dataclass(frozen=True)
class Claim:
    message_id: int
    token: int  # the row's ``claims`` value after this claim


def claim_due(*, session: Session, now: datetime, limit: int, lease: timedelta) -> list[Claim]:
    """Claim up to ``limit`` messages that are due, oldest first; commit before enqueueing.

    Due means pending with ``due_at`` ≤ now and any retry back-off elapsed, or claimed /
    sending with an expired lease (its worker died). A message waits while an earlier
    message of the same enrollment is still open, so one patient's messages go out in
    order. PostgreSQL skips rows another dispatcher has locked (FOR UPDATE SKIP LOCKED);
    SQLite has a single writer, and our engine opens every transaction with BEGIN
    IMMEDIATE, which serialises claims the same way.
    """
    m = ScheduledMessage
    earlier = aliased(ScheduledMessage)
    ready = or_(
        and_(
            m.status == PENDING,
            m.due_at <= now,
            or_(m.next_attempt_at.is_(None), m.next_attempt_at <= now),
        ),
        and_(m.status.in_((CLAIMED, SENDING)), m.lease_until < now),
    )
    blocked = exists().where(
        earlier.enrollment_id == m.enrollment_id,
        earlier.status.in_(OPEN_STATUSES),
        tuple_(earlier.due_at, earlier.id) < tuple_(m.due_at, m.id),
        # An earlier message whose own lease expired is itself claimable; it must not
        # block, or nothing would move — it will be claimed in this or the next round.
        or_(earlier.status == PENDING, earlier.lease_until >= now),
    )
    candidates = (
        select(m.id)
        .where(ready, ~blocked)
        .order_by(m.due_at, m.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=m)
    )
    if session.get_bind().dialect.name == "sqlite":
        # SQLite cannot compare row values inside a correlated subquery of an UPDATE
        # on older versions; reading ids first is safe under BEGIN IMMEDIATE.
        ids = list(session.scalars(candidates))
        if not ids:
            return []
        target = m.id.in_(ids)
    else:
        target = m.id.in_(candidates.scalar_subquery())
    rows = session.execute(
        update(m)
        .where(target)
        .values(status=CLAIMED, lease_until=now + lease, claims=m.claims + 1, updated_at=now)
        .returning(m.id, m.claims)
        .execution_options(synchronize_session=False)
    ).all()
    return [Claim(message_id=row[0], token=row[1]) for row in rows]


def renew_leases(
    *, session: Session, claims: list[Claim], now: datetime, lease: timedelta
) -> int:
    """Extend the leases still held (same token) by workers busy on a long batch."""
    if not claims:
        return 0
    m = ScheduledMessage
    result = session.execute(
        update(m)
        .where(
            tuple_(m.id, m.claims).in_([(c.message_id, c.token) for c in claims]),
            m.status.in_((CLAIMED, SENDING)),
        )
        .values(lease_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def due_backlog(*, session: Session, now: datetime) -> int:
    from sqlalchemy import func

    return int(
        session.scalar(
            select(func.count()).select_from(ScheduledMessage).where(
                ScheduledMessage.status == PENDING, ScheduledMessage.due_at <= now
            )
        )
        or 0
    )


def next_due_at(*, session: Session) -> datetime | None:
    """The earliest pending due time (the accelerated demo jumps its clock to it)."""
    from sqlalchemy import func

    return session.scalar(
        select(func.min(ScheduledMessage.due_at)).where(ScheduledMessage.status == PENDING)
    )
