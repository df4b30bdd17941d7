"""The whole chain on PostgreSQL, over real sockets.

Alice texts at 23:40; the signed webhook (a real uvicorn server) stores it and answers;
read right after, it opens an urgent concern, and her reply and on-call's page go out
(fake Twilio and SMTP on loopback) through the delivery pipeline. Nobody answers, so it
escalates to the backup; Olive, on call, texts "ACK <code>" and it stops. Once with the
clock driven in-process, once by a real Celery worker.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from reminders.clinics.service import create_clinic
from reminders.clock import SimulatedClock
from reminders.conversations.jobs import JOBS, escalate_concerns
from reminders.conversations.models import Concern, StaffAlert
from reminders.conversations.outbound import build_channels
from reminders.conversations.service import receive_sms
from reminders.db import make_engine
from reminders.delivery.send import SessionFactory
from tests.conftest import on_call_rota, truncate_all
from tests.conversations.conftest import (
    ALICE_PHONE,
    BACKUP,
    ON_CALL,
    PUBLIC_URL,
    RIVERSIDE_NUMBER,
    enroll,
    hours,
    make_settings,
    texts_to,
)
from tests.fakes import ACCOUNT_SID, AUTH_TOKEN, FakeSmtp, FakeTwilio, sign
from tests.fakes.smtp_server import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.slow]
FEVER = "fever 102 and the spot is red and oozing"
SMS_URL = f"{PUBLIC_URL}/webhooks/twilio/sms"


@pytest.fixture
def pg(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    yield engine
    truncate_all(engine)
    engine.dispose()


def scope_on(engine: Engine) -> SessionFactory:
    maker = sessionmaker(bind=engine, expire_on_commit=False)

    @contextmanager
    def scope() -> Iterator[Session]:
        with maker() as session, session.begin():
            yield session

    return scope


def seed(engine: Engine, enrolled_at: datetime) -> None:
    with Session(engine) as session, session.begin():
        clinic = create_clinic(session=session, name="Riverside Ortho", timezone="America/Chicago",
                               sms_from=RIVERSIDE_NUMBER).clinic  # fmt: skip
        on_call_rota(session, clinic, primary=("Olive", ON_CALL, "oncall@riverside.test"),
                     backup=("Ben", BACKUP, "backup@riverside.test"))  # fmt: skip
        enroll(session, clinic, enrolled_at, procedure={
            "performed_at": enrolled_at.isoformat(), "injectate": "corticosteroid"})  # fmt: skip


def wait_for(condition: Callable[[], object], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def concern_of(engine: Engine) -> Concern:
    with Session(engine) as session:
        return session.scalars(select(Concern)).one()


def test_signed_sms_to_acknowledgement_over_real_http(
    pg: Engine, pg_url: str, now: datetime, fake_twilio: FakeTwilio, fake_smtp: FakeSmtp
) -> None:
    seed(pg, now)
    clock = SimulatedClock(now + hours(9.5))  # 23:40 in Chicago
    settings = make_settings(database_url=pg_url, sms_provider="twilio",
                             twilio_api_url=fake_twilio.url, email_provider="smtp",
                             smtp_url=fake_smtp.url)  # fmt: skip
    from reminders.web.app import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, clock=clock), host="127.0.0.1",
                                           port=port, log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=10)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:

            def text(sender: str, body: str) -> str:
                params = {"MessageSid": "SM" + uuid.uuid4().hex, "AccountSid": ACCOUNT_SID,
                          "From": sender, "To": RIVERSIDE_NUMBER, "Body": body, "NumMedia": "0"}
                # Twilio signs the public URL; we sit behind a proxy on 127.0.0.1.
                response = http.post("/webhooks/twilio/sms", data=params,
                                     headers={"X-Twilio-Signature": sign(SMS_URL, params)})
                assert response.status_code == 200, response.text
                return response.text

            # The webhook stores and answers; the server reads it right after (no broker).
            assert "<Message" not in text(ALICE_PHONE, FEVER)
            wait_for(lambda: any("closed" in t for t in texts_to(fake_twilio, ALICE_PHONE)))
            concern = concern_of(pg)  # urgent, with the after-hours wording above
            assert (concern.severity, concern.status) == ("urgent", "open")
            wait_for(lambda: texts_to(fake_twilio, ON_CALL))  # urgent: an SMS page
            assert concern.ack_code in texts_to(fake_twilio, ON_CALL)[0]

            sessions, channels = scope_on(pg), build_channels(settings)
            clock.advance(timedelta(minutes=30))
            assert escalate_concerns(sessions, clock, channels, settings) == 1
            # Sent by this job or by the server still delivering after the webhook: the
            # two share the clock, and whichever claims the page sends it.
            wait_for(lambda: texts_to(fake_twilio, BACKUP))
            [backup_page] = texts_to(fake_twilio, BACKUP)
            assert f"{PUBLIC_URL}/concerns/{concern.id}" in backup_page

            text(ON_CALL, f"ACK {concern.ack_code}")
            wait_for(lambda: any("Acknowledged" in t for t in texts_to(fake_twilio, ON_CALL)))
            assert concern_of(pg).status == "acknowledged"
            clock.advance(timedelta(hours=1))
            assert escalate_concerns(sessions, clock, channels, settings) == 0
            # No page after the ACK; Ben is told Olive took it.
            assert texts_to(fake_twilio, BACKUP)[1:] in (
                [], [f"Aftercare: {concern.ack_code} was acknowledged by Olive. No action needed."])
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.mark.redis
def test_a_real_celery_worker_runs_the_escalation_job(
    pg: Engine, pg_url: str, redis_url: str, fake_twilio: FakeTwilio, fake_smtp: FakeSmtp
) -> None:
    from celery import Celery

    from workers.app import RUN_JOB_TASK, beat_schedule

    assert {f"job-{job.name}" for job in JOBS} <= set(beat_schedule(5.0))  # beat runs them
    # The worker reads the real clock: Alice wrote 31 minutes ago and nobody answered.
    real_now = datetime.now(UTC)
    seed(pg, real_now - timedelta(hours=3))
    with Session(pg) as session, session.begin():
        receive_sms(session=session, now=real_now - timedelta(minutes=31), body=FEVER,
                    message_sid="SM" + uuid.uuid4().hex, sender=ALICE_PHONE,
                    to=RIVERSIDE_NUMBER)  # fmt: skip
    queue = f"aftercare-test-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERCARE_")}
    env.update(
        AFTERCARE_DATABASE_URL=pg_url, AFTERCARE_BROKER_URL=redis_url,
        AFTERCARE_CELERY_QUEUE=queue, AFTERCARE_PUBLIC_URL=PUBLIC_URL,
        AFTERCARE_SMS_PROVIDER="twilio", AFTERCARE_TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        AFTERCARE_TWILIO_AUTH_TOKEN=AUTH_TOKEN, AFTERCARE_TWILIO_API_URL=fake_twilio.url,
        AFTERCARE_EMAIL_PROVIDER="smtp", AFTERCARE_SMTP_URL=fake_smtp.url,
        AFTERCARE_ENVIRONMENT="test",
    )  # fmt: skip
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "workers.app", "worker", "--pool=solo",
         "-Q", queue, "--without-gossip", "--without-mingle", "--without-heartbeat",
         "--loglevel=WARNING"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    client = Celery(broker=redis_url)
    try:
        client.send_task(RUN_JOB_TASK, args=["escalate_concerns"], queue=queue)
        # On-call's queued alerts and the backup's new one both go out from the worker.
        wait_for(lambda: texts_to(fake_twilio, BACKUP) and texts_to(fake_twilio, ON_CALL),
                 timeout=30)  # fmt: skip
        concern = concern_of(pg)
        assert concern.escalation_level == 1
        with Session(pg) as session, session.begin():
            receive_sms(session=session, now=datetime.now(UTC), sender=ON_CALL,
                        message_sid="SM" + uuid.uuid4().hex, to=RIVERSIDE_NUMBER,
                        body=f"ACK {concern.ack_code}")  # fmt: skip
        client.send_task(RUN_JOB_TASK, args=["escalate_concerns"], queue=queue)
        client.send_task(RUN_JOB_TASK, args=["escalate_concerns"], queue=queue)
        time.sleep(1.0)
        assert concern_of(pg).status == "acknowledged"
        with Session(pg) as session:
            levels = sorted(session.scalars(select(StaffAlert.level).where(
                StaffAlert.channel == "sms")))  # fmt: skip
        assert levels == [0, 1]
    finally:
        worker.terminate()
        output, _ = worker.communicate(timeout=20)
        client.close()
    assert "Traceback" not in output, output


def test_two_escalation_runs_at_once_move_a_concern_one_level(pg: Engine, now: datetime) -> None:
    """Celery beat and the embedded runner may both fire: SKIP LOCKED lets only one act."""
    from reminders.conversations.escalation import escalate_due

    seed(pg, now)
    with Session(pg) as session, session.begin():
        receive_sms(session=session, now=now, message_sid="SM" + uuid.uuid4().hex, body=FEVER,
                    sender=ALICE_PHONE, to=RIVERSIDE_NUMBER)  # fmt: skip
    later = now + timedelta(minutes=31)
    with Session(pg) as first, Session(pg) as second:
        moved = escalate_due(session=first, now=later)  # holds the row lock, not committed
        skipped = escalate_due(session=second, now=later)  # does not wait: skips the row
        first.commit()
        second.commit()
    assert moved and skipped == []
    with Session(pg) as session:
        assert escalate_due(session=session, now=later) == []  # next step is 30 min away
        assert session.scalars(select(Concern.escalation_level)).one() == 1


def test_a_retry_racing_the_first_delivery_is_still_one_message(
    pg: Engine, now: datetime
) -> None:
    """Twilio's retry arrives while the first request is still in its transaction."""
    from reminders.conversations.service import Handled

    seed(pg, now)
    sid = "SM" + uuid.uuid4().hex
    first_inserted, results = threading.Event(), {}

    def first() -> None:
        with Session(pg) as session, session.begin():
            results["first"] = receive_sms(session=session, now=now, message_sid=sid,
                                           body=FEVER, sender=ALICE_PHONE, to=RIVERSIDE_NUMBER)
            first_inserted.set()
            time.sleep(0.5)  # the retry now waits on the unique index

    def retry() -> None:
        first_inserted.wait(5)
        with Session(pg) as session, session.begin():
            results["retry"] = receive_sms(session=session, now=now, message_sid=sid,
                                           body=FEVER, sender=ALICE_PHONE, to=RIVERSIDE_NUMBER)

    threads = [threading.Thread(target=first), threading.Thread(target=retry)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    one, two = results["first"], results["retry"]
    assert isinstance(two, Handled) and two.duplicate and two.inbound_id == one.inbound_id
    assert two.replies == one.replies and two.alert_ids == []
    with Session(pg) as session:
        assert len(session.scalars(select(Concern)).all()) == 1
