"""Texts stored by the webhook and read by the pipeline: once each, however they race.

Alice and her neighbours at Riverside Ortho answer their pain check in a burst. The
webhook only stores each text; readers (Celery tasks, the sweep job, or the web process
itself without a broker) read them afterwards, as of the moment each arrived.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import httpx
import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from reminders.clinics.service import create_clinic
from reminders.clock import SimulatedClock
from reminders.conversations.inbox import read_pending, store_texts, unread
from reminders.conversations.jobs import read_stored_texts
from reminders.conversations.models import ANSWER, InboundMessage
from reminders.conversations.service import sms_row
from reminders.db import make_engine
from reminders.delivery.send import SessionFactory
from reminders.enrollments.models import REPLY, ScheduledMessage
from reminders.web.app import create_app
from tests.conftest import alice_payload, truncate_all
from tests.conversations.conftest import (
    PUBLIC_URL,
    RIVERSIDE_NUMBER,
    enroll,
    hours,
    make_settings,
    send_question,
    texts_to,
)
from tests.fakes import FakeTwilio, sign
from tests.web.live import live_server

SMS_URL = f"{PUBLIC_URL}/webhooks/twilio/sms"


def phone(n: int) -> str:
    return f"+1312555{1000 + n:04d}"


@pytest.fixture
def committed(engine: Engine) -> Iterator[Engine]:
    """The parametrised engine (SQLite and PostgreSQL), with rows committed for real:
    readers race on their own connections."""
    yield engine
    truncate_all(engine)


def scopes(engine: Engine) -> SessionFactory:
    maker = sessionmaker(bind=engine, expire_on_commit=False)

    @contextmanager
    def scope() -> Iterator[Session]:
        with maker() as session, session.begin():
            yield session

    return scope


def riverside_with_questions(engine: Engine, now: datetime, n: int) -> None:
    """Riverside, and ``n`` patients injected at ``now`` whose numbness check went out
    four hours later (Alice is the first; the others are her neighbours)."""
    base = dict(alice_payload()["patient"])  # type: ignore[call-overload]
    with Session(engine) as session, session.begin():
        clinic = create_clinic(session=session, name="Riverside Ortho", timezone="America/Chicago",
                               sms_from=RIVERSIDE_NUMBER).clinic  # fmt: skip
        for i in range(n):
            patient = {**base, "given_name": f"Pat{i}", "phone": phone(i), "email": None,
                       "external_id": f"MRN-{2000 + i}"}  # fmt: skip
            enrollment = enroll(session, clinic, now, patient=patient)
            send_question(session, enrollment, "numbness_check", now + hours(4))


def stored(engine: Engine, at: datetime, bodies: list[tuple[str, str]]) -> list[int]:
    rows = [sms_row(now=at, message_sid=sid, sender=sender, to=RIVERSIDE_NUMBER, body="no")
            for sid, sender in bodies]  # fmt: skip
    with engine.begin() as conn:
        return store_texts(connection=conn, rows=rows)


def test_a_retried_or_doubled_message_sid_is_stored_once(committed: Engine, now: datetime) -> None:
    first = stored(committed, now, [("SMa", phone(0)), ("SMb", phone(1)), ("SMa", phone(0))])
    assert first[0] == first[2] != first[1]  # twice in one batch: one row
    again = stored(committed, now, [("SMb", phone(1)), ("SMc", phone(2))])
    assert again[0] == first[1]  # Twilio retrying: the row it already has
    with Session(committed) as session:
        assert session.scalar(select(func.count()).select_from(InboundMessage)) == 3


@pytest.mark.postgres
def test_four_readers_racing_read_each_text_exactly_once(pg_engine: Engine, now: datetime) -> None:
    riverside_with_questions(pg_engine, now, 12)
    try:
        stored(pg_engine, now + hours(4.5), [(f"SM{i:04d}", phone(i)) for i in range(12)])
        clock, sessions = SimulatedClock(now + hours(5)), scopes(pg_engine)
        start = threading.Barrier(4)
        counts: list[int] = []

        def reader() -> None:
            start.wait()
            counts.append(read_pending(sessions=sessions, clock=clock).read)

        threads = [threading.Thread(target=reader) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sum(counts) == 12 and unread(sessions=sessions) == 0
        with Session(pg_engine) as session:
            replies = session.execute(select(ScheduledMessage.inbound_id, func.count())
                                      .where(ScheduledMessage.kind == REPLY)
                                      .group_by(ScheduledMessage.inbound_id)).all()  # fmt: skip
            kinds = set(session.scalars(select(InboundMessage.kind)))
        assert len(replies) == 12 and {n for _, n in replies} == {1}  # one reply each
        assert kinds == {ANSWER}
    finally:
        truncate_all(pg_engine)


def test_a_text_is_judged_as_of_when_it_arrived_and_the_sweep_reads_a_lost_kick(
    committed: Engine, now: datetime, fake_twilio: FakeTwilio
) -> None:
    riverside_with_questions(committed, now, 1)
    # Stored at 18:40, the answer window open ...
    [inbound_id] = stored(committed, now + hours(4.5), [("SMlate", phone(0))])
    # ... but no reader was kicked; the sweep job finds it half an hour later.
    settings = make_settings(database_url=str(committed.url), sms_provider="twilio",
                             twilio_api_url=fake_twilio.url)  # fmt: skip
    from reminders.conversations.outbound import build_channels

    clock = SimulatedClock(now + hours(5))
    sessions = scopes(committed)
    assert read_stored_texts(sessions, clock, build_channels(settings), settings) == 1
    assert read_stored_texts(sessions, clock, build_channels(settings), settings) == 0
    with Session(committed) as session:
        inbound = session.get_one(InboundMessage, inbound_id)
        assert inbound.kind == ANSWER  # it answered the numbness check
        assert inbound.processed_at == clock.now()
    # The thanks went out (with her check-ins due by then).
    assert texts_to(fake_twilio, phone(0)).count(inbound.auto_reply) == 1


def replies_sent(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.scalars(select(ScheduledMessage.recipient).where(
            ScheduledMessage.kind == REPLY, ScheduledMessage.status == "sent")))  # fmt: skip


@pytest.mark.postgres
def test_a_burst_of_signed_texts_shares_inserts_and_every_one_is_read(
    pg_url: str, now: datetime, fake_twilio: FakeTwilio
) -> None:
    """40 texts at once through a real server: fewer INSERTs than texts, all read."""
    engine = make_engine(pg_url)
    riverside_with_questions(engine, now, 40)
    # No per-number spacing: 40 replies at 1/s would take 40 s.
    settings = make_settings(database_url=pg_url, sms_provider="twilio",
                             twilio_api_url=fake_twilio.url, sms_rate_per_second=0)  # fmt: skip
    app = create_app(settings, clock=SimulatedClock(now + hours(4.5)))
    inserts: list[int] = []
    event.listen(app.state.engine, "before_cursor_execute",
                 lambda _c, _cur, sql, *_a: inserts.append(1) if sql.startswith(
                     "INSERT INTO inbound_messages") else None)  # fmt: skip
    try:
        with live_server(app) as url:

            async def burst() -> list[int]:
                async with httpx.AsyncClient(base_url=url, timeout=30) as client:

                    async def text(i: int) -> int:
                        params = {"MessageSid": f"SMburst{i:026d}", "From": phone(i),
                                  "To": RIVERSIDE_NUMBER, "Body": "no"}  # fmt: skip
                        response = await client.post(
                            "/webhooks/twilio/sms", data=params,
                            headers={"X-Twilio-Signature": sign(SMS_URL, params)})
                        return response.status_code

                    return await asyncio.gather(*(text(i) for i in range(40)))

            assert asyncio.run(burst()) == [200] * 40
            from tests.conftest import wait_until

            wait_until(lambda: unread(sessions=scopes(engine)) == 0, 30, "every text read")
            wait_until(lambda: len(replies_sent(engine)) == 40, 30, "40 replies sent")
        assert 1 <= len(inserts) < 40
        assert sorted(replies_sent(engine)) == sorted(phone(i) for i in range(40))
    finally:
        app.state.engine.dispose()
        truncate_all(engine)
        engine.dispose()


def test_a_burst_bigger_than_one_round_is_read_to_the_end(
    committed: Engine, now: datetime, fake_twilio: FakeTwilio
) -> None:
    """A round stops at its limit and says so; the sweep goes round until none is left
    (the Celery task queues its own continuation instead)."""
    riverside_with_questions(committed, now, 7)
    stored(committed, now + hours(4.5), [(f"SMr{i:04d}", phone(i)) for i in range(7)])
    clock, sessions = SimulatedClock(now + hours(4.6)), scopes(committed)
    first = read_pending(sessions=sessions, clock=clock, limit=3)
    assert (first.read, first.more) == (3, True)
    settings = make_settings(database_url=str(committed.url), sms_provider="twilio",
                             twilio_api_url=fake_twilio.url, sms_rate_per_second=0)  # fmt: skip
    from reminders.conversations.outbound import build_channels

    assert read_stored_texts(sessions, clock, build_channels(settings), settings) == 4
    assert unread(sessions=sessions) == 0


@pytest.mark.postgres
def test_the_writer_survives_its_connection_dying_between_bursts(
    pg_url: str, now: datetime
) -> None:
    """The webhook keeps one autocommit connection; if the database drops it (a restart),
    the next text is stored on a fresh one, not refused."""
    from fastapi.testclient import TestClient
    from sqlalchemy import text

    engine = make_engine(pg_url)
    riverside_with_questions(engine, now, 2)
    settings = make_settings(database_url=pg_url)
    app = create_app(settings, clock=SimulatedClock(now + hours(4.5)))

    def post(i: int) -> int:
        params = {"MessageSid": f"SMdrop{i:027d}", "From": phone(i), "To": RIVERSIDE_NUMBER,
                  "Body": "no"}  # fmt: skip
        return client.post("/webhooks/twilio/sms", data=params,
                           headers={"X-Twilio-Signature": sign(SMS_URL, params)}).status_code

    try:
        with TestClient(app) as client:
            assert post(0) == 200
            writer = app.state.inbound_writer._connection
            pid = writer.connection.dbapi_connection.info.backend_pid
            with engine.begin() as conn:
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            assert post(1) == 200
        with Session(engine) as session:
            assert session.scalar(select(func.count()).select_from(InboundMessage)) == 2
    finally:
        app.state.engine.dispose()
        truncate_all(engine)
        engine.dispose()
