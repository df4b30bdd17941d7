"""The cast for conversations: Alice at Riverside Ortho, Bob at Lakeside Spine, and staff.

Alice's injection was at 14:10 Chicago time (NOW); her numbness check goes out four
hours later, her flare checks a day and two days later. Staff alerts go to a fake Twilio
and a fake SMTP server on loopback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders.channels import SmtpEmail, TwilioSms
from reminders.clinics.models import Clinic, StaffMember
from reminders.clock import SimulatedClock
from reminders.config import Settings
from reminders.conversations.outbound import Channels
from reminders.delivery.send import SessionFactory
from reminders.enrollments import service as enrollments
from reminders.enrollments.models import SENT, Enrollment, ScheduledMessage
from reminders.enrollments.schemas import parse_enrollment
from reminders.oncall.models import OnCallShift
from tests.conftest import alice_payload
from tests.fakes import ACCOUNT_SID, AUTH_TOKEN, FakeSmtp, FakeTwilio

ALICE_PHONE = "+13125550123"
BOB_PHONE = "+12125550177"
ON_CALL = "+13125550199"
BACKUP = "+13125550198"
ADMIN = "+13125550197"
RIVERSIDE_NUMBER = "+13125550100"
LAKESIDE_NUMBER = "+12125550100"
PUBLIC_URL = "https://aftercare.example.org"


def make_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "public_url": PUBLIC_URL, "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": AUTH_TOKEN, "inbound_email_user": "parse",
        "inbound_email_password": "parse-secret", "environment": "test",
        "sms_rate_per_second": 0,
    }  # fmt: skip
    return Settings(**(values | overrides))  # type: ignore[arg-type]


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
def clock(now: datetime) -> SimulatedClock:
    return SimulatedClock(now)


def enroll(session: Session, clinic: Clinic, now: datetime, **overrides: object) -> Enrollment:
    return enrollments.enroll(
        parse_enrollment(alice_payload(**overrides)), session=session, clinic=clinic, now=now,
        actor="test",
    ).enrollment  # fmt: skip


@pytest.fixture
def alice(session: Session, riverside: Clinic, now: datetime) -> Enrollment:
    return enroll(session, riverside, now)


@pytest.fixture
def bob(session: Session, lakeside: Clinic, now: datetime) -> Enrollment:
    patient = {"external_id": "L-2002", "given_name": "Bob", "phone": BOB_PHONE,
               "timezone": "America/New_York", "language": "en"}  # fmt: skip
    return enroll(session, lakeside, now, patient=patient)


@pytest.fixture
def staffed(session: Session, riverside: Clinic) -> Clinic:
    """Riverside with Ben as Olive's backup on the rota and Ada the admin, so escalation has
    somewhere to go: primary Olive → backup Ben → the clinicians (both) → Ada."""
    ben = StaffMember(clinic_id=riverside.id, email="backup@riverside.test", name="Ben",
                      role="clinician", phone=BACKUP)  # fmt: skip
    session.add_all([ben, StaffMember(clinic_id=riverside.id, email="admin@riverside.test",
                                      name="Ada", role="admin", phone=ADMIN)])  # fmt: skip
    session.flush()
    shift = session.scalars(select(OnCallShift).where(OnCallShift.clinic_id == riverside.id)).one()
    shift.backup_staff_id = ben.id
    session.flush()
    return riverside


def send_question(
    session: Session, enrollment: Enrollment, step_key: str, at: datetime, occurrence: int = 0
) -> ScheduledMessage:
    """Pretend the delivery pipeline sent this step at ``at``."""
    message = session.scalars(
        select(ScheduledMessage).where(
            ScheduledMessage.enrollment_id == enrollment.id,
            ScheduledMessage.step_key == step_key,
            ScheduledMessage.occurrence == occurrence,
        )
    ).one()
    message.status, message.sent_at = SENT, at
    session.flush()
    return message


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


@pytest.fixture
def same_session(session: Session) -> SessionFactory:
    """A session factory handing out the test's own (rolled-back) session."""

    @contextmanager
    def scope() -> Iterator[Session]:
        yield session
        session.flush()

    return scope


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def fake_smtp() -> Iterator[FakeSmtp]:
    with FakeSmtp() as smtp:
        yield smtp


@pytest.fixture
def channels(fake_twilio: FakeTwilio, fake_smtp: FakeSmtp) -> Channels:
    return {"sms": TwilioSms(ACCOUNT_SID, AUTH_TOKEN, api_url=fake_twilio.url),
            "email": SmtpEmail(fake_smtp.url)}  # fmt: skip


def texts_to(fake: FakeTwilio, number: str) -> list[str]:
    return [m["body"] for m in fake.messages.values() if m["to"] == number]
