"""A live Aftercare for end-to-end paging tests: a Celery worker with beat and a uvicorn
web server (both real processes, configured only by AFTERCARE_* variables, like
production), on Redis and PostgreSQL, sending to the fake Twilio and the fake SMTP.

The web server's URL is AFTERCARE_PUBLIC_URL, so the fake Twilio's signed status
callbacks reach /webhooks/twilio/status, and the texts a test "receives" are posted to
/webhooks/twilio/sms signed as Twilio signs them. The cast: Alice at Riverside Ortho,
Olive on call, Ben her backup, Ada the admin.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from celery import Celery
from sqlalchemy import select, update

from reminders.clinics.models import StaffMember
from reminders.clinics.service import create_clinic
from reminders.conversations.models import Concern, InboundMessage
from reminders.enrollments import service as enrollments
from reminders.enrollments.models import ScheduledMessage
from reminders.enrollments.schemas import parse_enrollment
from reminders.oncall.models import EscalationPolicy
from tests.conftest import alice_payload, on_call_rota
from tests.conversations.conftest import ADMIN, ALICE_PHONE, BACKUP, ON_CALL, RIVERSIDE_NUMBER
from tests.delivery.helpers import Db, worker_env
from tests.fakes import ACCOUNT_SID, AUTH_TOKEN, FakeSmtp, FakeTwilio
from tests.fakes.smtp_server import free_port
from tests.fakes.twilio_server import sign
from workers.app import DISPATCH_TASK, RUN_JOB_TASK

ROOT = Path(__file__).resolve().parents[2]
ALICE_EMAIL = "alice@example.org"


def wait_until(
    check: Callable[[], Any], timeout: float, what: str, *, every: Callable[[], None] | None = None
) -> Any:
    """Poll ``check`` until it returns something truthy (returned); ``every`` runs about
    once a second meanwhile (a kick whose task a busy broker might have dropped)."""
    deadline, nudged = time.monotonic() + timeout, 0.0
    while not (found := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        if every is not None and time.monotonic() - nudged > 1.0:
            every()
            nudged = time.monotonic()
        time.sleep(0.05)
    return found


@dataclass(frozen=True)
class Cast:
    clinic_id: int
    alice_id: int
    enrollment_id: int
    olive_id: int
    ben_id: int
    ada_id: int


def riverside_with_alice(db: Db, *, now: datetime) -> Cast:
    """Riverside (sending all day: the real clock may be anywhere in Chicago's day), its
    round-the-clock rota, Ada the admin, and Alice enrolled an hour after her injection.

    Her messages are put off a day (``due_now`` brings one back), so the only texts these
    tests see are the ones they are about.
    """
    with db.sessions() as session:
        clinic = create_clinic(session=session, name="Riverside Ortho",
                               timezone="America/Chicago", sms_from=RIVERSIDE_NUMBER).clinic
        clinic.window_opens = clinic.window_closes
        shift = on_call_rota(session, clinic, primary=("Olive", ON_CALL, "oncall@riverside.test"),
                             backup=("Ben", BACKUP, "backup@riverside.test"))  # fmt: skip
        ada = StaffMember(clinic_id=clinic.id, name="Ada", role="admin", phone=ADMIN,
                          email="admin@riverside.test")  # fmt: skip
        session.add(ada)
        session.flush()
        performed = (now - timedelta(hours=1)).astimezone(UTC).isoformat()
        payload = alice_payload(
            procedure={"performed_at": performed, "injectate": "corticosteroid", "side": "right"},
            follow_up_at=(now + timedelta(days=14)).astimezone(UTC).isoformat(),
        )
        enrollment = enrollments.enroll(
            parse_enrollment(payload), session=session, clinic=clinic, now=now, actor="test"
        ).enrollment
        for message in session.scalars(select(ScheduledMessage).where(
                ScheduledMessage.enrollment_id == enrollment.id)):  # fmt: skip
            message.due_at += timedelta(days=1)
            message.expires_at += timedelta(days=1)
        assert shift.backup_staff_id is not None
        return Cast(clinic.id, enrollment.patient_id, enrollment.id, shift.primary_staff_id,
                    shift.backup_staff_id, ada.id)  # fmt: skip


def due_now(db: Db, enrollment_id: int, step_key: str) -> int:
    """Bring one of the patient's messages forward to now; its id."""
    m, now = ScheduledMessage, datetime.now(UTC)
    with db.sessions() as session:
        message = session.scalars(select(m).where(
            m.enrollment_id == enrollment_id, m.step_key == step_key).order_by(m.due_at)).first()
        assert message is not None
        message.due_at = message.planned_at = now
        message.expires_at = now + timedelta(hours=6)
        return message.id


def set_policy(db: Db, cast: Cast, steps: list[tuple[str, int]], *, severity: str = "urgent",
               repeat: bool = True) -> None:  # fmt: skip
    with db.sessions() as session:
        session.add(EscalationPolicy(
            clinic_id=cast.clinic_id, severity=severity, repeat=repeat,
            steps=[{"target": t, "wait_minutes": m} for t, m in steps]))  # fmt: skip


def the_concern(db: Db) -> Concern:
    with db.sessions() as session:
        return session.scalars(select(Concern).order_by(Concern.id)).one()


def wait_is_over(db: Db, concern_id: int) -> None:
    """What a step's wait running out means: the concern is due to escalate now."""
    with db.sessions() as session:
        session.execute(update(Concern).where(Concern.id == concern_id).values(
            next_escalation_at=datetime.now(UTC) - timedelta(seconds=1)))  # fmt: skip


def messages(db: Db, **where: object) -> list[ScheduledMessage]:
    query = select(ScheduledMessage).filter_by(**where).order_by(ScheduledMessage.id)
    with db.sessions() as session:
        return list(session.scalars(query))


@dataclass
class LiveStack:
    env: dict[str, str]
    logs: Path
    db: Db
    twilio: FakeTwilio
    smtp: FakeSmtp
    web_url: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _client: Celery | None = None

    @property
    def queue(self) -> str:
        return self.env["AFTERCARE_CELERY_QUEUE"]

    def start(self) -> None:
        """The worker (with beat) and the web server, started side by side."""
        worker_log = self._spawn("worker", [
            "-m", "celery", "-A", "workers.app", "worker", "--pool=prefork", "--concurrency=2",
            f"--queues={self.queue}", "--loglevel=INFO", f"--hostname=paging-{self.queue}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
            "--beat", f"--schedule={self.logs / 'beat-schedule'}",
        ])  # fmt: skip
        port = self.web_url.rsplit(":", 1)[1]
        self._spawn("web", [
            "-m", "uvicorn", "reminders.web.app:create_app", "--factory", "--host", "127.0.0.1",
            "--port", port, "--log-level", "warning", "--no-access-log",
        ])  # fmt: skip
        wait_until(lambda: b" ready." in worker_log.read_bytes(), 30, "the worker to start")
        wait_until(self._web_up, 30, "the web server to start")

    def _spawn(self, name: str, args: list[str]) -> Path:
        log = self.logs / f"{name}.log"
        with log.open("wb") as out:
            # A session of its own, so a stuck stop can kill the children and beat too.
            self.processes.append(subprocess.Popen(
                [sys.executable, *args], env=self.env, cwd=ROOT, stdout=out,
                stderr=subprocess.STDOUT, start_new_session=True))  # fmt: skip
        return log

    def _web_up(self) -> bool:
        for process in self.processes:
            if process.poll() is not None:
                raise AssertionError(f"a process exited early; see {self.logs}")
        try:
            return httpx.get(f"{self.web_url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self._client is not None:
            self._client.close()
        for process in self.processes:
            # The main process only: Celery then shuts its pool and beat down in order.
            process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        self.processes.clear()

    # -- driving it -------------------------------------------------------------------

    def _celery(self) -> Celery:
        if self._client is None:
            self._client = Celery("paging-tests", broker=self.env["AFTERCARE_BROKER_URL"])
        return self._client

    def run_job(self, name: str) -> None:
        """Queue the periodic job ``name`` as beat does, without waiting for beat's tick."""
        self._celery().send_task(RUN_JOB_TASK, args=[name], queue=self.queue)

    def dispatch(self) -> None:
        self._celery().send_task(DISPATCH_TASK, queue=self.queue)

    def text(self, body: str, *, sender: str = ALICE_PHONE, to: str = RIVERSIDE_NUMBER,
             sid: str | None = None) -> httpx.Response:  # fmt: skip
        """A text arriving from ``sender``, signed as Twilio signs it."""
        url = f"{self.web_url}/webhooks/twilio/sms"
        params = {"AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01", "Body": body,
                  "From": sender, "To": to, "MessageSid": sid or "SM" + secrets.token_hex(16),
                  "NumMedia": "0"}  # fmt: skip
        headers = {"X-Twilio-Signature": sign(url, params, AUTH_TOKEN)}
        response = httpx.post(url, data=params, headers=headers, timeout=30)
        assert response.status_code == 200, response.text
        return response

    def answer(self, body: str, *, sender: str = ALICE_PHONE, timeout: float = 20.0) -> list[str]:
        """A text arriving, then the replies we queued for it once a worker has read it."""
        sid = "SM" + secrets.token_hex(16)
        self.text(body, sender=sender, sid=sid)

        def read() -> int | None:
            with self.db.sessions() as session:
                return session.scalar(select(InboundMessage.id).where(
                    InboundMessage.provider_id == sid, InboundMessage.processed_at.is_not(None)))

        inbound_id = wait_until(read, timeout, "a worker to read the text")
        with self.db.sessions() as session:
            return list(session.scalars(select(ScheduledMessage.body).where(
                ScheduledMessage.inbound_id == inbound_id, ScheduledMessage.kind == "reply",
            ).order_by(ScheduledMessage.id)))  # fmt: skip

    def texts_to(self, number: str) -> list[str]:
        return [str(m["body"]) for m in list(self.twilio.messages.values()) if m["to"] == number]

    def sids_to(self, number: str) -> list[str]:
        return [sid for sid, m in list(self.twilio.messages.items()) if m["to"] == number]

    def emails_to(self, address: str) -> list[Any]:
        return [r.message for r in list(self.smtp.received) if address in r.rcpt_tos]


def stack_env(*, db_url: str, broker_url: str, twilio: FakeTwilio, smtp: FakeSmtp,
              public_url: str) -> dict[str, str]:  # fmt: skip
    """The environment both processes run with (nothing from the developer's shell)."""
    return worker_env(
        db_url=db_url, broker_url=broker_url, twilio=twilio, smtp=smtp, public_url=public_url,
        name=f"aftercare-paging-{uuid.uuid4().hex[:8]}",
        # Longer than any provider call a test holds up (hang_next), so a slow page is
        # never reclaimed mid-call; ticks twice a second, so "within a tick" is quick.
        AFTERCARE_CLAIM_LEASE_SECONDS="30", AFTERCARE_DISPATCH_INTERVAL_SECONDS="0.5",
        # One provider call at a time per process: the pages of one step then go out one
        # after the other, so an ACK can land while one is in the provider call and the
        # next is claimed but unsent (the case the ACK test is about). With calls side by
        # side the same guarantee holds; the claimed-but-unsent page just rarely exists.
        AFTERCARE_PROVIDER_CONCURRENCY="1",
    )  # fmt: skip


def web_address() -> str:
    return f"http://127.0.0.1:{free_port()}"
