"""Claiming due messages: the only way a message gets into a worker's hands.

A claim is a lease. The claiming transaction moves rows to ``claimed`` with
``lease_until`` and bumps ``claims``, which doubles as a fencing token: a worker whose
lease ran out (it stalled, or died and was replaced) holds a stale token and every
conditional update it tries afterwards matches no row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import ColumnElement, Select, Table, and_, exists, func, or_, select, tuple_, update
from sqlalchemy.orm import Session, aliased

from reminders.delivery.bulk import among
from reminders.enrollments.models import (
    CLAIMED,
    NOTICE,
    OPEN_STATUSES,
    PAGE,
    PENDING,
    REPLY,
    SENDING,
    STAFF_TEXT,
    ScheduledMessage,
)

IN_FLIGHT = (CLAIMED, SENDING)
URGENT_KINDS = (PAGE, REPLY, NOTICE, STAFF_TEXT)
CAP_PASSES = 8  # candidate queries per claim when per-number caps hold rows back
# With caps, each candidate query looks this many times further than it may claim: a
# clinic's whole import sits contiguous in due order, and a window only as deep as the
# claim would see two or three numbers and leave the rest idle until the next tick.
CAP_WINDOW = 4
# One alias for the life of the process: SQLAlchemy adapts an alias's columns on first
# use, which costs milliseconds; a fresh alias per claim paid that every time.
_EARLIER = aliased(ScheduledMessage, name="earlier")
_TABLE = cast(Table, ScheduledMessage.__table__)


@dataclass(frozen=True)
class Claim:
    message_id: int
    token: int  # the row's ``claims`` value after this claim


@dataclass(frozen=True)
class Limits:
    """How much may be claimed and not yet finished, so claims never outlive their lease.

    ``max_in_flight`` caps unexpired claims overall: a huge backlog (after an outage) is
    claimed a slice at a time instead of all at once and then left to expire in the
    queue. ``per_sender`` caps the SMS claims of one clinic when its sender number is
    rate limited: two dispatch ticks' worth keeps the number busy, and more would only
    hold claims other numbers could be sending (engine._lease_worth). ``per_clinic``
    holds the caps of clinics whose number sends at its own rate (a toll-free number
    at 3/s may hold three times a long code's claims); other clinics get ``per_sender``.
    """

    max_in_flight: int | None = None
    per_sender: int | None = None
    per_clinic: Mapping[int, int | None] = field(default_factory=dict)

    @property
    def capped(self) -> bool:
        return self.per_sender is not None or bool(self.per_clinic)

    def cap_for(self, clinic_id: int) -> int | None:
        """The SMS claims clinic ``clinic_id`` may hold; None: no cap."""
        return self.per_clinic.get(clinic_id, self.per_sender)


def claim_due(
    *,
    session: Session,
    now: datetime,
    limit: int,
    lease: timedelta,
    limits: Limits | None = None,
) -> list[Claim]:
    """Claim up to ``limit`` messages that are due, oldest first; commit before enqueueing.

    Due means claimed / sending with an expired lease (its worker died; these come
    first), or pending with ``due_at`` ≤ now and any retry back-off elapsed. A message
    waits while an earlier message of the same enrollment is still open, so one
    patient's messages go out in order. PostgreSQL skips rows another dispatcher has
    locked (FOR UPDATE SKIP LOCKED); SQLite has a single writer, and our engine opens
    every transaction with BEGIN IMMEDIATE, which serialises claims the same way.
    """
    m = ScheduledMessage
    limits = limits or Limits()
    if limits.max_in_flight is not None:
        limit = min(limit, limits.max_in_flight - in_flight(session=session, now=now))
    if limit <= 0:
        return []
    # Two queries rather than one OR: each then walks its own partial index in order
    # (ix_messages_lease, ix_messages_due) and stops at ``limit``. Ordered by the indexed
    # column alone: a tie-breaker the index lacks would make PostgreSQL read and sort
    # every row sharing a due time (20,000 reminders due at 09:00) on every claim. A
    # patient's own order does not depend on it (see ``blocked``).
    expired = and_(m.status.in_(IN_FLIGHT), m.lease_until < now)
    rows = _candidates(session, expired, now, limit, order=(m.lease_until,))
    pending = pending_due(now)
    busy: dict[int, int] = _sms_in_flight(session, now) if limits.capped else {}
    ids: list[int] = []
    clinic_of: dict[int, int] = {}

    def take(found: list[tuple[int, int, str]]) -> None:
        for message_id, clinic_id, channel in found:
            if len(ids) >= limit:
                break  # looked further than it may claim (CAP_WINDOW): the rest stay due
            clinic_of[message_id] = clinic_id
            if limits.capped and channel == "sms":
                if _full(limits, clinic_id, busy.get(clinic_id, 0)):
                    continue  # locked but not claimed: released when this transaction ends
                busy[clinic_id] = busy.get(clinic_id, 0) + 1
            ids.append(message_id)

    take(rows)

    def ready(extra: ColumnElement[bool]) -> ColumnElement[bool]:
        saturated = [c for c, n in busy.items() if _full(limits, c, n)]
        if saturated:
            extra = and_(extra, or_(m.channel != "sms", m.clinic_id.not_in(saturated)))
        return and_(extra, m.id.not_in(list(clinic_of))) if clinic_of else extra

    if len(ids) < limit:
        # Pages, replies and clinicians' texts first: a page must not queue behind the
        # morning's backlog of check-ins (its own small partial index, ix_messages_urgent).
        take(_candidates(session, ready(and_(pending, m.kind.in_(URGENT_KINDS))), now,
                         limit - len(ids), order=(m.due_at,)))  # fmt: skip
    # Then check-ins in due order. A number at its cap drops out and the query looks
    # again, a few times, so one claim spans many numbers, not just the first few whose
    # messages happen to be due first (a clinic's whole import at 9:00).
    for _ in range(CAP_PASSES):
        if len(ids) >= limit:
            break
        want = limit - len(ids)
        window = want * CAP_WINDOW if limits.capped else want
        found = _candidates(session, ready(pending), now, window, order=(m.due_at,))
        before = len(ids)
        take(found)
        if len(found) < window or len(ids) - before == len(found):
            break  # nothing more due, or nothing held back by a cap: no need to look again
    if not ids:
        return []
    t = _TABLE  # Core, not ORM: no identity-map bookkeeping for rows nobody loaded
    claimed = session.execute(
        update(t)
        .where(among(session, t.c.id, ids))
        .values(status=CLAIMED, lease_until=now + lease, claims=t.c.claims + 1, updated_at=now)
        .returning(t.c.id, t.c.claims)
    ).all()
    tokens = {row[0]: row[1] for row in claimed}
    return mix_senders([Claim(mid, tokens[mid]) for mid in ids if mid in tokens], clinic_of)


def mix_senders(claims: list[Claim], clinic_of: dict[int, int]) -> list[Claim]:
    """Claims round-robin by clinic (a clinic sends from one number), due order kept
    within each: the batches and groups cut from this list then mix senders, so a
    rate-limited number never holds a whole batch (and a worker) to its one a second.
    (RETURNING gives rows in storage order, which is usually one clinic after another.)
    """
    by_clinic: dict[int, list[Claim]] = {}
    for claim in claims:
        by_clinic.setdefault(clinic_of.get(claim.message_id, 0), []).append(claim)
    queues = list(by_clinic.values())
    mixed: list[Claim] = []
    for depth in range(max((len(q) for q in queues), default=0)):
        mixed.extend(q[depth] for q in queues if depth < len(q))
    return mixed


def _full(limits: Limits, clinic_id: int, claimed: int) -> bool:
    cap = limits.cap_for(clinic_id)
    return cap is not None and claimed >= cap


def _candidates(
    session: Session,
    ready: ColumnElement[bool],
    now: datetime,
    limit: int,
    *,
    order: Sequence[ColumnElement[object] | object],
) -> list[tuple[int, int, str]]:
    """(id, clinic, channel) to claim, locked (PostgreSQL) until the transaction ends."""
    query = candidates_query(ready, now, limit, order=order)
    return [(row[0], row[1], row[2]) for row in session.execute(query)]


def candidates_query(
    ready: ColumnElement[bool],
    now: datetime,
    limit: int,
    *,
    order: Sequence[ColumnElement[object] | object] = (),
) -> Select[tuple[int, int, str]]:
    """The claim's SELECT … FOR UPDATE SKIP LOCKED (public for the benchmark's EXPLAIN)."""
    m, earlier = ScheduledMessage, _EARLIER
    blocked = exists().where(
        earlier.enrollment_id == m.enrollment_id,
        earlier.status.in_(OPEN_STATUSES),
        tuple_(earlier.due_at, earlier.id) < tuple_(m.due_at, m.id),
        # An earlier message whose own lease expired is itself claimable; it must not
        # block, or nothing would move — it will be claimed in this or the next round.
        or_(earlier.status == PENDING, earlier.lease_until >= now),
    )
    return (
        select(m.id, m.clinic_id, m.channel)
        .where(ready, ~blocked)
        .order_by(*(order or (m.due_at,)))  # type: ignore[arg-type]
        .limit(limit)
        .with_for_update(skip_locked=True, of=m)
    )


def pending_due(now: datetime) -> ColumnElement[bool]:
    """Pending, due, and past any retry back-off."""
    m = ScheduledMessage
    return and_(
        m.status == PENDING,
        m.due_at <= now,
        or_(m.next_attempt_at.is_(None), m.next_attempt_at <= now),
    )


def in_flight(*, session: Session, now: datetime) -> int:
    """Claims not yet finished whose lease still runs (read from ix_messages_lease)."""
    m = ScheduledMessage
    query = select(func.count()).where(m.status.in_(IN_FLIGHT), m.lease_until >= now)
    return int(session.scalar(query) or 0)


def _sms_in_flight(session: Session, now: datetime) -> dict[int, int]:
    """Unfinished SMS claims per clinic (a clinic sends from one number)."""
    m = ScheduledMessage
    query = (
        select(m.clinic_id, func.count())
        .where(m.status.in_(IN_FLIGHT), m.lease_until >= now, m.channel == "sms")
        .group_by(m.clinic_id)
    )
    return {row[0]: int(row[1]) for row in session.execute(query)}


def renew_leases(*, session: Session, claims: list[Claim], now: datetime, lease: timedelta) -> int:
    """Extend the leases still held (same token) by workers busy on a long batch.

    A lease that ran out but was not yet claimed again is renewed too: the token still
    matches, so nobody else can have started on the message.
    """
    if not claims:
        return 0
    m = ScheduledMessage
    result = session.execute(
        update(m)
        .where(
            tuple_(m.id, m.claims).in_([(c.message_id, c.token) for c in claims]),
            m.status.in_(IN_FLIGHT),
        )
        .values(lease_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def due_backlog(*, session: Session, now: datetime) -> int:
    """Pending messages already due (served by the partial index ix_messages_due)."""
    m = ScheduledMessage
    query = select(func.count()).where(m.status == PENDING, m.due_at <= now)
    return int(session.scalar(query) or 0)


def next_due_at(*, session: Session) -> datetime | None:
    """The earliest pending due time (the accelerated demo jumps its clock to it)."""
    return session.scalar(
        select(func.min(ScheduledMessage.due_at)).where(ScheduledMessage.status == PENDING)
    )
