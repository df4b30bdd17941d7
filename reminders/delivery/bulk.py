"""Set-based writes for a group of messages: one statement per step, whatever the size.

On PostgreSQL each column travels as one array parameter and is ``unnest``-ed on the
server, so the statement text is the same for every group (parsed and planned once per
connection) and the per-row work is the database's. Other backends (SQLite, the
one-process embedded mode) get plain portable forms.

Every message update is conditional on the claim token, as everywhere in delivery.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    Integer,
    String,
    Table,
    any_,
    bindparam,
    func,
    insert,
    literal,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from reminders.db import UTCDateTime
from reminders.delivery.models import SendAttempt
from reminders.enrollments.models import CLAIMED, SENDING, SENT, ScheduledMessage

_M = cast(Table, ScheduledMessage.__table__)
_A = cast(Table, SendAttempt.__table__)
_STAMPS = ARRAY(UTCDateTime())


def _pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _arrays(**columns: tuple[Any, list[Any]]) -> Any:
    """``unnest(:a, :b, …) AS u(a, b, …)``: rows from parallel array parameters."""
    params = [bindparam(name, value, type_=kind) for name, (kind, value) in columns.items()]
    return func.unnest(*params).table_valued(*columns).render_derived()


def among(session: Session, column: Any, ids: Sequence[int]) -> Any:
    """``column IN ids``; on PostgreSQL ``= ANY(:array)``, one statement text for any size."""
    if _pg(session):
        return column == any_(bindparam(None, list(ids), type_=ARRAY(Integer)))
    return column.in_(list(ids))


def relax_durability(session: Session) -> None:
    """Let this transaction's commit return before its WAL reaches disk (PostgreSQL).

    Only for writes whose loss in a database crash is recoverable: the record of a
    provider accept is one (the message stays ``sending`` with its attempt in doubt,
    and the next claim reconciles with the provider). The attempt written *before* a
    provider call never is. A later synchronous commit flushes earlier ones too.
    """
    if _pg(session):
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))


def move_to_sending(
    session: Session, claims: Sequence[tuple[int, int]], now: datetime, lease: timedelta
) -> set[int]:
    """(message id, token) pairs still claimed by us → ``sending``; the ids moved."""
    if not claims:
        return set()
    values = {"status": SENDING, "lease_until": now + lease, "updated_at": now}
    if _pg(session):
        u = _arrays(
            id=(ARRAY(Integer), [c[0] for c in claims]),
            tok=(ARRAY(Integer), [c[1] for c in claims]),
        )
        where = [_M.c.id == u.c.id, _M.c.claims == u.c.tok]
    else:
        where = [tuple_(_M.c.id, _M.c.claims).in_(list(claims))]
    statement = update(_M).where(*where, _M.c.status == CLAIMED).values(values)
    return set(session.scalars(statement.returning(_M.c.id)))


@dataclass(frozen=True)
class NewAttempt:
    clinic_id: int
    message_id: int
    channel: str
    provider: str
    recipient: str
    segments: int


def insert_attempts(session: Session, rows: Sequence[NewAttempt], now: datetime) -> dict[int, int]:
    """Write ``sending`` attempts; message id → attempt id."""
    if not rows:
        return {}
    if _pg(session):
        u = _arrays(
            clinic_id=(ARRAY(Integer), [r.clinic_id for r in rows]),
            message_id=(ARRAY(Integer), [r.message_id for r in rows]),
            channel=(ARRAY(String), [r.channel for r in rows]),
            provider=(ARRAY(String), [r.provider for r in rows]),
            recipient=(ARRAY(String), [r.recipient for r in rows]),
            segments=(ARRAY(Integer), [r.segments for r in rows]),
        )
        stamp = literal(now, UTCDateTime())
        source = select(*u.c, literal("sending"), literal(False), stamp, stamp)
        columns = [*(c.name for c in u.c), "status", "permanent", "started_at", "updated_at"]
        statement = insert(_A).from_select(columns, source)
        found = session.execute(statement.returning(_A.c.message_id, _A.c.id))
        return {row[0]: row[1] for row in found}
    params = [
        {
            **r.__dict__,
            "status": "sending",
            "permanent": False,
            "started_at": now,
            "updated_at": now,
        }
        for r in rows
    ]
    statement = insert(_A).returning(_A.c.message_id, _A.c.id, sort_by_parameter_order=True)
    return {row[0]: row[1] for row in session.execute(statement, params)}


def mark_accepted(
    session: Session, accepted: Sequence[tuple[int, str, datetime]], now: datetime
) -> None:
    """(attempt id, provider id, accepted at) → attempts ``accepted``."""
    if not accepted:
        return
    if _pg(session):
        u = _arrays(
            id=(ARRAY(Integer), [a[0] for a in accepted]),
            pid=(ARRAY(String), [a[1] for a in accepted]),
            at=(_STAMPS, [a[2] for a in accepted]),
        )
        session.execute(
            update(_A)
            .where(_A.c.id == u.c.id)
            .values(provider_id=u.c.pid, status="accepted", accepted_at=u.c.at, updated_at=now)
        )
        return
    statement = (
        update(_A)
        .where(_A.c.id == bindparam("b_id"))
        .values(
            provider_id=bindparam("b_pid"),
            status="accepted",
            accepted_at=bindparam("b_at"),
            updated_at=now,
        )
    )
    session.execute(statement, [{"b_id": a, "b_pid": p, "b_at": at} for a, p, at in accepted])


def finish_sent(
    session: Session, sent: Sequence[tuple[int, int, datetime]], now: datetime
) -> set[int]:
    """(message id, token, sent at) → ``sent`` where the claim still holds; ids finished."""
    if not sent:
        return set()
    values = {"status": SENT, "status_reason": None, "lease_until": None, "updated_at": now}
    in_flight = _M.c.status.in_((CLAIMED, SENDING))
    if _pg(session):
        u = _arrays(
            id=(ARRAY(Integer), [s[0] for s in sent]),
            tok=(ARRAY(Integer), [s[1] for s in sent]),
            at=(_STAMPS, [s[2] for s in sent]),
        )
        statement = (
            update(_M)
            .where(_M.c.id == u.c.id, _M.c.claims == u.c.tok, in_flight)
            .values(values | {"sent_at": u.c.at})
            .returning(_M.c.id)
        )
        return set(session.scalars(statement))
    finished = set()
    for message_id, token, at in sent:  # SQLite: in-process, a statement costs microseconds
        one = update(_M).where(_M.c.id == message_id, _M.c.claims == token, in_flight)
        if session.execute(one.values(values | {"sent_at": at})).rowcount:  # type: ignore[attr-defined]
            finished.add(message_id)
    return finished
