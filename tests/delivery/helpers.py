"""Building blocks for the delivery tests: committed data, and a Sender on the fakes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session, sessionmaker

from reminders.channels import SmtpEmail, TwilioSms
from reminders.channels.base import Channel
from reminders.clinics.service import create_clinic
from reminders.clock import Clock
from reminders.config import Settings
from reminders.delivery.dispatch import Claim
from reminders.delivery.engine import EmbeddedRunner, dispatch_round, send_batch
from reminders.delivery.models import SendAttempt
from reminders.delivery.ratelimit import NoLimit, RateLimiter
from reminders.delivery.send import Outcome, Sender
from reminders.enrollments.models import Enrollment, ScheduledMessage
from reminders.patients.models import Patient, Procedure
from reminders.protocols import service as protocols
from tests.fakes import ACCOUNT_SID, AUTH_TOKEN, FakeSmtp, FakeTwilio

PUBLIC_URL = "https://care.example"
CLINIC_NUMBER = "+13125550100"
# 14:10 in Chicago: inside the default 08:00-20:00 send window.
T0 = datetime(2026, 11, 20, 20, 10, tzinfo=UTC)


@dataclass
class Db:
    engine: Engine
    maker: sessionmaker[Session] = field(init=False)

    def __post_init__(self) -> None:
        self.maker = sessionmaker(bind=self.engine, expire_on_commit=False)

    @contextmanager
    def sessions(self) -> Iterator[Session]:
        session = self.maker()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def message(self, message_id: int) -> ScheduledMessage:
        with self.sessions() as session:
            return session.get_one(ScheduledMessage, message_id)

    def attempts(self, message_id: int | None = None) -> list[SendAttempt]:
        query = select(SendAttempt).order_by(SendAttempt.id)
        if message_id is not None:
            query = query.where(SendAttempt.message_id == message_id)
        with self.sessions() as session:
            return list(session.scalars(query))


@dataclass(frozen=True)
class Clinic:
    id: int
    version_id: int
    sms_from: str


def make_clinic(
    db: Db, *, sms_from: str = CLINIC_NUMBER, name: str = "Riverside Ortho", all_day: bool = False
) -> Clinic:
    """A clinic with the built-in protocols; ``all_day``: no quiet hours (real-clock tests)."""
    with db.sessions() as session:
        clinic = create_clinic(
            session=session, name=name, timezone="America/Chicago", sms_from=sms_from
        ).clinic
        if all_day:
            clinic.window_opens = clinic.window_closes
        version = protocols.for_injectate(
            session=session, clinic_id=clinic.id, injectate="corticosteroid"
        )
        return Clinic(clinic.id, version.id, clinic.sms_from)


def add_patients(
    db: Db,
    clinic: Clinic,
    n: int = 1,
    *,
    due_at: datetime = T0,
    phone_start: int = 3125551000,
    email: str | None = None,
    tz: str = "America/Chicago",
    channel: str = "sms",
    template: str = "flare_check",
    expires_in: timedelta = timedelta(hours=6),
    time_critical: bool = False,
    sms_opted_out: bool = False,
    messages_each: int = 1,
    spacing: timedelta = timedelta(0),
) -> list[int]:
    """``n`` enrolled patients with ``messages_each`` messages from ``due_at``; message ids.

    Each patient gets its own number (+1 phone_start+i), so a duplicate send shows as
    a number that received the same message twice.
    """
    performed = due_at - timedelta(hours=2)
    with db.sessions() as session:
        patients = _insert(
            session,
            Patient,
            [
                {
                    "clinic_id": clinic.id,
                    "given_name": f"Pat{i}",
                    "phone": f"+1{phone_start + i}",
                    "email": email.replace("@", f"+{i}@") if email else None,
                    "timezone": tz,
                    "language": "en",
                    "conditions": [],
                    "channel_preference": channel,
                    "sms_opted_out_at": due_at - timedelta(days=1) if sms_opted_out else None,
                }
                for i in range(n)
            ],
        )
        procedures = _insert(
            session,
            Procedure,
            [
                {
                    "clinic_id": clinic.id,
                    "patient_id": pid,
                    "performed_at": performed,
                    "performed_tz": "UTC-06:00",
                    "injectate": "corticosteroid",
                }
                for pid in patients
            ],
        )
        enrollments = _insert(
            session,
            Enrollment,
            [
                {
                    "clinic_id": clinic.id,
                    "patient_id": pid,
                    "procedure_id": proc,
                    "protocol_version_id": clinic.version_id,
                    "channel": channel,
                }
                for pid, proc in zip(patients, procedures, strict=True)
            ],
        )
        rows = []
        for eid in enrollments:
            for k in range(messages_each):
                at = due_at + spacing * k
                rows.append(
                    {
                        "clinic_id": clinic.id,
                        "enrollment_id": eid,
                        "step_key": template,
                        "occurrence": k,
                        "idempotency_key": f"{eid}:{template}:{k}",
                        "template": template,
                        "channel": channel,
                        "time_critical": time_critical,
                        "planned_at": at,
                        "due_at": at,
                        "expires_at": at + expires_in,
                    }
                )
        return _insert(session, ScheduledMessage, rows)


def _insert(session: Session, model: Any, rows: list[dict[str, Any]]) -> list[int]:
    statement = insert(model).returning(model.id, sort_by_parameter_order=True)
    return list(session.scalars(statement, rows).all())


def settings_for(db_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "public_url": PUBLIC_URL,
        "sms_rate_per_second": 0,
        "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": AUTH_TOKEN,
        "claim_lease_seconds": 60,
    }
    return Settings(**(values | overrides))


def channels(twilio: FakeTwilio, smtp: FakeSmtp | None = None) -> dict[str, Channel]:
    found: dict[str, Channel] = {"sms": TwilioSms(ACCOUNT_SID, AUTH_TOKEN, api_url=twilio.url)}
    if smtp is not None:
        found["email"] = SmtpEmail(smtp.url, timeout=5, local_hostname="test.localhost")
    return found


def make_sender(
    db: Db,
    clock: Clock,
    chans: dict[str, Channel],
    *,
    rate_limiter: RateLimiter | None = None,
    **overrides: Any,
) -> Sender:
    return Sender(
        channels=chans,
        clock=clock,
        settings=settings_for(str(db.engine.url), **overrides),
        sessions=db.sessions,
        rate_limiter=rate_limiter or NoLimit(),
    )


def sent_to(twilio: FakeTwilio) -> list[str]:
    """The To number of every message the fake accepted, in order."""
    return [m["to"] for m in list(twilio.messages.values())]


def send_all(sender: Sender) -> list[Outcome]:
    claimed: list[Claim] = []
    dispatch_round(
        sessions=sender.sessions,
        clock=sender.clock,
        settings=sender.settings,
        submit=claimed.extend,
    )
    return list(send_batch(sender, claimed))


def results(runner: EmbeddedRunner) -> list[str]:
    """One dispatch tick's outcomes, sorted."""
    return sorted(o.result for o in runner.dispatch_once())


def creates(twilio: FakeTwilio) -> list[dict[str, object]]:
    """Every message-creation request the fake received (accepted or refused)."""
    return [r for r in twilio.requests if r["method"] == "POST"]


def worker_env(
    *, db_url: str, broker_url: str, twilio: FakeTwilio, name: str,
    smtp: FakeSmtp | None = None, public_url: str = PUBLIC_URL, **extra: str,
) -> dict[str, str]:  # fmt: skip
    """The environment of a real worker/beat/web process under test: nothing from the
    developer's shell, its own queue and rate-limit keys (``name``), the loopback fakes,
    no rate limit unless ``extra`` sets one. ``extra``: more AFTERCARE_* variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERCARE_")}
    env.update(
        AFTERCARE_ENVIRONMENT="test",
        AFTERCARE_DATABASE_URL=db_url,
        AFTERCARE_BROKER_URL=broker_url,
        AFTERCARE_CELERY_QUEUE=name,
        AFTERCARE_RATE_LIMIT_PREFIX=f"{name}:",
        AFTERCARE_SMS_PROVIDER="twilio",
        AFTERCARE_TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        AFTERCARE_TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        AFTERCARE_TWILIO_API_URL=twilio.url,
        AFTERCARE_PUBLIC_URL=public_url,
        AFTERCARE_SMS_RATE_PER_SECOND="0",
    )
    if smtp is not None:
        env.update(AFTERCARE_EMAIL_PROVIDER="smtp", AFTERCARE_SMTP_URL=smtp.url)
    return env | extra
