"""A failure Twilio reports later (status callback) acts like one at send time.

Alice's first check-in goes out by SMS through the pipeline to the fake Twilio; then the
carrier's report comes back. Olive is on call, Ben her backup (``staffed``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders.clinics.models import Clinic
from reminders.clock import SimulatedClock
from reminders.config import Settings
from reminders.conversations.models import Concern, StaffAlert
from reminders.conversations.outbound import Channels, deliver_now
from reminders.conversations.service import receive_sms
from reminders.delivery.failures import after_report
from reminders.delivery.models import SendAttempt
from reminders.delivery.send import SessionFactory
from reminders.delivery.status import apply_status
from reminders.enrollments.models import PAGE, Enrollment, ScheduledMessage
from reminders.patients.models import Patient
from tests.conversations.conftest import ALICE_PHONE, BACKUP, ON_CALL, RIVERSIDE_NUMBER, texts_to
from tests.fakes import FakeSmtp, FakeTwilio


def report(session: Session, sid: str, status: str, code: str | None, now: datetime) -> str | None:
    """What the status webhook does with a signed callback."""
    if apply_status(session=session, provider_id=sid, status=status, error_code=code,
                    now=now) != "updated":  # fmt: skip
        return None
    return after_report(session=session, provider_id=sid, code=code, now=now,
                        email_possible=True)  # fmt: skip


def first_check_in(session: Session, alice: Enrollment, clock: SimulatedClock,
                   sessions: SessionFactory, channels: Channels, settings: Settings,
                   ) -> tuple[ScheduledMessage, str]:  # fmt: skip
    deliver_now(sessions=sessions, channels=channels, settings=settings, clock=clock)
    message = session.scalars(select(ScheduledMessage).where(
        ScheduledMessage.enrollment_id == alice.id, ScheduledMessage.status == "sent",
    ).order_by(ScheduledMessage.id)).first()  # fmt: skip
    assert message is not None and message.channel == "sms"
    attempt = session.scalars(select(SendAttempt).where(
        SendAttempt.message_id == message.id)).one()  # fmt: skip
    assert attempt.provider_id is not None
    return message, attempt.provider_id


def test_a_landline_report_falls_back_to_email_and_tells_the_coordinator(
    session: Session, alice: Enrollment, now: datetime, same_session: SessionFactory,
    channels: Channels, settings: Settings, fake_smtp: FakeSmtp,
) -> None:  # fmt: skip
    clock = SimulatedClock(now + timedelta(minutes=5))
    message, sid = first_check_in(session, alice, clock, same_session, channels, settings)
    assert report(session, sid, "undelivered", "30006", clock.now()) == "fallback"
    session.refresh(message)
    assert (message.status, message.channel) == ("pending", "email")
    concern = session.scalars(select(Concern)).one()
    assert (concern.kind, concern.severity) == ("delivery", "routine")
    assert "30006" in concern.summary and "email instead" in concern.summary
    # The same report again changes nothing more.
    assert report(session, sid, "undelivered", "30006", clock.now()) is None
    deliver_now(sessions=same_session, channels=channels, settings=settings, clock=clock)
    assert [m["To"] for m in fake_smtp.messages] == ["alice@example.org"]
    assert len(session.scalars(select(Concern)).all()) == 1


def test_an_unreachable_handset_is_retried_a_few_times_then_given_up(
    session: Session, alice: Enrollment, now: datetime, same_session: SessionFactory,
    channels: Channels, settings: Settings, fake_twilio: FakeTwilio,
) -> None:  # fmt: skip
    patient = session.get_one(Patient, alice.patient_id)
    patient.email = None  # nothing to fall back to
    clock = SimulatedClock(now + timedelta(minutes=5))
    message, sid = first_check_in(session, alice, clock, same_session, channels, settings)
    outcomes = []
    for _ in range(4):
        outcomes.append(report(session, sid, "undelivered", "30003", clock.now()))
        session.refresh(message)
        if message.status == "pending":
            assert message.next_attempt_at is not None
            clock.set(message.next_attempt_at)
            deliver_now(sessions=same_session, channels=channels, settings=settings,
                        clock=clock)  # fmt: skip
            session.refresh(message)
            newest = select(SendAttempt.provider_id).where(
                SendAttempt.message_id == message.id).order_by(SendAttempt.id.desc())  # fmt: skip
            sid = session.scalars(newest).first()
            assert sid is not None
    assert outcomes == ["retry", "retry", "retry", "failed"]
    assert message.status == "failed"
    assert session.scalars(select(Concern.kind)).all() == ["delivery"]


def test_an_unsubscribed_report_opts_alice_out_of_sms(
    session: Session, alice: Enrollment, now: datetime, same_session: SessionFactory,
    channels: Channels, settings: Settings,
) -> None:  # fmt: skip
    clock = SimulatedClock(now + timedelta(minutes=5))
    _message, sid = first_check_in(session, alice, clock, same_session, channels, settings)
    report(session, sid, "failed", "21610", clock.now())
    assert session.get_one(Patient, alice.patient_id).sms_opted_out_at == clock.now()


def test_an_undelivered_page_escalates_to_the_backup_at_once(
    session: Session, alice: Enrollment, staffed: Clinic, now: datetime,
    same_session: SessionFactory, channels: Channels, settings: Settings,
    fake_twilio: FakeTwilio,
) -> None:  # fmt: skip
    clock = SimulatedClock(now + timedelta(hours=9.5))
    receive_sms(session=session, now=clock.now(), message_sid="SM" + "f" * 32,
                sender=ALICE_PHONE, to=RIVERSIDE_NUMBER,
                body="fever 102 and the spot is red and oozing")  # fmt: skip
    deliver_now(sessions=same_session, channels=channels, settings=settings, clock=clock)
    [page] = session.scalars(select(ScheduledMessage).where(ScheduledMessage.kind == PAGE)).all()
    sid = session.scalars(select(SendAttempt.provider_id).where(
        SendAttempt.message_id == page.id)).one()  # fmt: skip
    assert sid is not None and len(texts_to(fake_twilio, ON_CALL)) == 1
    clock.advance(timedelta(seconds=20))  # long before the step's 30 minutes
    assert report(session, sid, "undelivered", "30005", clock.now()) == "failed"
    concern = session.scalars(select(Concern)).one()
    assert concern.escalation_level == 1
    deliver_now(sessions=same_session, channels=channels, settings=settings, clock=clock)
    assert len(texts_to(fake_twilio, BACKUP)) == 1
    statuses = session.scalars(select(StaffAlert.status).order_by(StaffAlert.id)).all()
    assert statuses == ["failed", "sent"]
    assert not session.scalars(select(Concern).where(Concern.kind == "delivery")).all()
