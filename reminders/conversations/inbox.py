"""Texts the webhook stored, read by the pipeline: each exactly once, within seconds.

The SMS webhook only checks Twilio's signature, stores the text and answers: a burst of
replies after a 9 a.m. round of check-ins must not wait on matching, triage and paging.
:func:`store_texts` writes many requests' texts in one INSERT (the web process groups
concurrent requests, reminders.web.webhooks.inbound_writer); a MessageSid already stored
is left alone, so Twilio's retries change nothing.

:func:`read_pending` then reads what is stored and unread, oldest first, one text per
transaction. The claim is the rule that makes it exactly once: a conditional UPDATE
setting ``processed_at`` on the oldest unread row nobody else holds (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL; SQLite has one writer at a time), committed together with
everything the reading decided (concern, pages, reply). A reader that dies mid-way rolls
back its claim, and the next reader takes the text again. Readers are kicked right after
each stored batch (a Celery task, or in-process without a broker) and a periodic job
sweeps up anything a lost kick left behind.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, func, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.orm import Session

from reminders.clock import Clock
from reminders.conversations.models import InboundMessage
from reminders.conversations.service import read_sms
from reminders.delivery.send import SessionFactory

log = logging.getLogger(__name__)
_TABLE = cast(Table, InboundMessage.__table__)


def store_texts(*, connection: Connection, rows: list[dict[str, Any]]) -> list[int]:
    """Insert texts (``service.sms_row`` dicts, unread: no categories, nothing parsed);
    the stored id of each, in order.

    A MessageSid stored before (a retry, or twice in this batch) keeps its first row.
    """
    first: dict[str, dict[str, Any]] = {}
    for row in rows:
        first.setdefault(row["provider_id"], row)
    batch = list(first.values())
    if connection.dialect.name == "postgresql":
        # One statement of constant text whatever the batch size: arrays unnested
        # server-side, where an executemany would build and compile SQL per batch.
        result = connection.exec_driver_sql(
            _PG_INSERT, {column: [row[column] for row in batch] for column in _COLUMNS})
    else:
        statement = (
            sqlite.insert(_TABLE)
            .on_conflict_do_nothing(index_elements=["provider_id"])
            .returning(_TABLE.c.provider_id, _TABLE.c.id)
        )
        result = connection.execute(statement, batch)
    # (A Result has .keys(): dict() would take it for a mapping, so build it by hand.)
    ids = {sid: i for sid, i in result.tuples()}
    missing = [sid for sid in first if sid not in ids]
    if missing:
        stored = select(_TABLE.c.provider_id, _TABLE.c.id).where(_TABLE.c.provider_id.in_(missing))
        ids.update((sid, i) for sid, i in connection.execute(stored).tuples())
    return [ids[row["provider_id"]] for row in rows]


_COLUMNS = ("channel", "provider_id", "sender", "body", "received_at", "to_address",
            "opt_out_type", "kind", "severity")  # fmt: skip
_PG_INSERT = """INSERT INTO inbound_messages (channel, provider_id, sender, body, received_at,
    to_address, opt_out_type, kind, severity, categories, parsed)
SELECT *, '[]'::json, '{}'::json FROM unnest(
    %(channel)s::varchar[], %(provider_id)s::varchar[], %(sender)s::varchar[],
    %(body)s::text[], %(received_at)s::timestamptz[], %(to_address)s::varchar[],
    %(opt_out_type)s::varchar[], %(kind)s::varchar[], %(severity)s::varchar[])
ON CONFLICT (provider_id) DO NOTHING
RETURNING provider_id, id"""


@dataclass
class Read:
    """What a round of reading did: texts read, and whether it queued anything to send."""

    read: int = 0
    queued: bool = False
    more: bool = False  # stopped at its limit: texts may still wait


def read_pending(*, sessions: SessionFactory, clock: Clock, limit: int = 500) -> Read:
    """Read stored texts nobody has read, oldest first, up to ``limit``."""
    done = Read()
    while done.read < limit:
        with sessions() as session:
            inbound_id = session.scalar(_claim(clock))
            if inbound_id is None:
                break
            inbound = session.get_one(InboundMessage, inbound_id)
            handled = read_sms(session=session, inbound=inbound)
        done.read += 1
        done.queued = done.queued or handled.queued
    done.more = done.read >= limit
    if done.read:
        log.info("read %d stored texts", done.read)
    return done


def _claim(clock: Clock) -> Any:
    """UPDATE … SET processed_at WHERE id = the oldest unread row nobody holds."""
    oldest = (
        select(InboundMessage.id)
        .where(InboundMessage.processed_at.is_(None))
        .order_by(InboundMessage.id)
        .limit(1)
        .with_for_update(skip_locked=True)  # PostgreSQL; SQLite ignores it (one writer)
        .scalar_subquery()
    )
    return (
        update(InboundMessage)
        .where(InboundMessage.id == oldest, InboundMessage.processed_at.is_(None))
        .values(processed_at=clock.now())
        .returning(InboundMessage.id)
        .execution_options(synchronize_session=False)
    )


def waiting(*, session: Session) -> tuple[int, datetime | None]:
    """How many stored texts wait to be read, and when the oldest arrived (its partial
    index): for /healthz and tests."""
    count, oldest = session.execute(
        select(func.count(), func.min(InboundMessage.received_at))
        .where(InboundMessage.processed_at.is_(None))).one()  # fmt: skip
    return int(count or 0), oldest


def unread(*, sessions: SessionFactory) -> int:
    """How many stored texts wait to be read."""
    with sessions() as session:
        return waiting(session=session)[0]
