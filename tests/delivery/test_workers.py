"""Real Celery workers (prefork processes) on Redis and PostgreSQL, sending to the fakes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from reminders.enrollments.models import PENDING, SENT, ScheduledMessage
from tests.conftest import wait_until
from tests.delivery.helpers import PUBLIC_URL, Db, add_patients, make_clinic, worker_env
from tests.delivery.test_ratelimit import busiest_second
from tests.fakes import FakeSmtp, FakeTwilio

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Stack:
    env: dict[str, str]
    queue: str
    logs: Path
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_worker(self, name: str, *, concurrency: int = 2, beat: bool = False) -> Path:
        log = self.logs / f"{name}.log"
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "workers.app",
            "worker",
            "--pool=prefork",
            f"--concurrency={concurrency}",
            f"--queues={self.queue}",
            "--loglevel=INFO",
            f"--hostname={name}-{self.queue}@%h",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        if beat:
            command += ["--beat", f"--schedule={self.logs / f'{name}-beat'}"]
        with log.open("wb") as out:
            # A session of its own, so kill -9 can take the whole worker (parent,
            # children and embedded beat) down at once, like a machine dying.
            self.workers.append(
                subprocess.Popen(
                    command,
                    env=self.env,
                    cwd=ROOT,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        wait_until(lambda: b" ready." in log.read_bytes(), 30, f"worker {name} to start")
        return log

    def kill_9(self) -> None:
        for worker in self.workers:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)
        self.workers.clear()

    def stop(self) -> None:
        for worker in self.workers:
            os.killpg(worker.pid, signal.SIGTERM)
        for worker in self.workers:
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(timeout=10)
        self.workers.clear()


@pytest.fixture
def stack(
    pg_url: str, pg_db: Db, redis_url: str, twilio: FakeTwilio, smtp: FakeSmtp, tmp_path: Path
) -> Iterator[Stack]:
    env = worker_env(
        db_url=pg_url, broker_url=redis_url, twilio=twilio, smtp=smtp,
        name=f"aftercare-test-{uuid.uuid4().hex[:8]}",
        # Short leases and ticks keep recovery within a test's patience.
        AFTERCARE_CLAIM_LEASE_SECONDS="3", AFTERCARE_DISPATCH_INTERVAL_SECONDS="0.5",
    )  # fmt: skip
    stack = Stack(env=env, queue=env["AFTERCARE_CELERY_QUEUE"], logs=tmp_path)
    try:
        yield stack
    finally:
        stack.stop()


def count(db: Db, status: str) -> int:
    with db.sessions() as session:
        query = select(func.count()).where(ScheduledMessage.status == status)
        return int(session.scalar(query) or 0)


def recently() -> datetime:
    return datetime.now(UTC) - timedelta(seconds=1)


def test_beat_and_a_worker_send_due_sms_and_email_once(
    stack: Stack, pg_db: Db, twilio: FakeTwilio, smtp: FakeSmtp
) -> None:
    clinic = make_clinic(pg_db, all_day=True)
    add_patients(pg_db, clinic, 15, due_at=recently())
    add_patients(
        pg_db,
        clinic,
        5,
        due_at=recently(),
        channel="email",
        email="pat@example.org",
        phone_start=3125552000,
    )
    [later] = add_patients(
        pg_db, clinic, 1, phone_start=3125553000, due_at=datetime.now(UTC) + timedelta(days=1)
    )

    stack.start_worker("w1", beat=True)
    wait_until(lambda: count(pg_db, SENT) == 20, 30, "20 messages to be sent")
    time.sleep(1.0)  # two more dispatch ticks: nothing may go out again

    numbers = Counter(m["to"] for m in twilio.messages.values())
    assert len(numbers) == 15 and set(numbers.values()) == {1}
    for sms in twilio.messages.values():
        assert sms["_status_callback"] == f"{PUBLIC_URL}/webhooks/twilio/status"
        assert str(sms["body"]).startswith("Hi Pat") and "Riverside Ortho" in str(sms["body"])
    assert sorted(r.rcpt_tos[0] for r in smtp.received) == sorted(
        f"pat+{i}@example.org" for i in range(5)
    )
    assert pg_db.message(later).status == PENDING
    assert len(pg_db.attempts()) == 20


def test_kill_9_mid_batch_then_recovery_sends_every_message_exactly_once(
    stack: Stack, pg_db: Db, twilio: FakeTwilio
) -> None:
    # 20 a second spreads the sends out enough to kill the worker in the middle.
    stack.env["AFTERCARE_SMS_RATE_PER_SECOND"] = "20"
    clinic = make_clinic(pg_db, all_day=True)
    add_patients(pg_db, clinic, 40, due_at=recently())

    stack.start_worker("doomed", beat=True)
    wait_until(lambda: len(twilio.messages) >= 8, 30, "the first sends")
    # Both processes hang inside their next provider call, mid-batch, with accepted
    # but not yet recorded messages behind them; then the machine dies.
    twilio.hang_next(2, seconds=120)
    wait_until(lambda: not twilio._script, 10, "both processes to be inside a call")
    stack.kill_9()
    accepted_before = len(twilio.messages)
    assert count(pg_db, SENT) < accepted_before < 40

    stack.start_worker("rescuer", beat=True)
    wait_until(lambda: count(pg_db, SENT) == 40, 60, "all 40 messages after recovery")

    numbers = Counter(m["to"] for m in twilio.messages.values())
    assert len(numbers) == 40 and set(numbers.values()) == {1}
    with pg_db.sessions() as session:
        reasons = Counter(session.scalars(select(ScheduledMessage.status_reason)))
    # Accepted before the crash but never recorded: found at Twilio, not sent again.
    assert reasons["reconciled"] >= 1


def test_the_rate_limit_holds_across_two_worker_processes(
    stack: Stack, pg_db: Db, twilio: FakeTwilio
) -> None:
    stack.env["AFTERCARE_SMS_RATE_PER_SECOND"] = "4"
    for i in range(3):
        clinic = make_clinic(pg_db, sms_from=f"+1312555010{i}", name=f"Clinic {i}", all_day=True)
        add_patients(pg_db, clinic, 10, phone_start=3125551000 + 100 * i, due_at=recently())

    logs = [
        stack.start_worker("a", concurrency=1, beat=True),
        stack.start_worker("b", concurrency=1),
    ]
    wait_until(lambda: count(pg_db, SENT) == 30, 60, "30 messages to be sent")

    sends: dict[str, list[float]] = {}
    for request in twilio.requests:
        if request["method"] == "POST" and request["status"] == 201:
            sends.setdefault(request["params"]["From"], []).append(request["t"])
    assert sorted(len(times) for times in sends.values()) == [10, 10, 10]
    for times in sends.values():
        assert busiest_second(times) <= 4
    assert len({m["to"] for m in twilio.messages.values()}) == 30
    for log in logs:  # both processes took part
        assert b"batch of" in log.read_bytes()
