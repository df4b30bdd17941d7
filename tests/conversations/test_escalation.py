"""An urgent reply pages the primary on call at once; unacknowledged, the policy climbs to
the backup, every clinician, the admins — then starts again. It never goes quiet.

Riverside's rota (``staffed``): Olive on call, Ben her backup, Ada the admin. Time is a
SimulatedClock; pages really go out through the delivery pipeline, to a fake Twilio
and a fake SMTP server.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders.audit.models import AuditEvent
from reminders.clinics.models import Clinic, StaffMember
from reminders.clock import SimulatedClock
from reminders.config import Settings
from reminders.conversations.escalation import escalate_due
from reminders.conversations.models import Concern, StaffAlert
from reminders.conversations.outbound import Channels, deliver_now
from reminders.conversations.service import Handled, receive_sms
from reminders.delivery.send import SessionFactory
from reminders.enrollments.models import CANCELLED, PAGE, Enrollment, ScheduledMessage
from reminders.oncall.models import EscalationPolicy
from tests.conversations.conftest import (
    ADMIN,
    ALICE_PHONE,
    BACKUP,
    BOB_PHONE,
    LAKESIDE_NUMBER,
    ON_CALL,
    PUBLIC_URL,
    RIVERSIDE_NUMBER,
    hours,
    texts_to,
)
from tests.fakes import FakeSmtp, FakeTwilio

_sid = iter(range(10_000))
FEVER = "fever 102 and the spot is red and oozing"


def text(session: Session, clock: SimulatedClock, body: str, sender: str = ALICE_PHONE,
         to: str = RIVERSIDE_NUMBER) -> Handled:  # fmt: skip
    return receive_sms(session=session, now=clock.now(), message_sid=f"SMe{next(_sid):031d}",
                       sender=sender, to=to, body=body)  # fmt: skip


def escalate(session: Session, clock: SimulatedClock, sessions: SessionFactory,
             channels: Channels, settings: Settings) -> list[int]:  # fmt: skip
    created = escalate_due(session=session, now=clock.now())
    deliver_now(sessions=sessions, channels=channels, settings=settings, clock=clock)
    return created


def pages(session: Session) -> list[tuple[int, int, str, str]]:
    rows = session.execute(select(StaffAlert.round, StaffAlert.level, StaffAlert.role,
                                  StaffAlert.channel).order_by(StaffAlert.id))  # fmt: skip
    return [tuple(r) for r in rows]  # type: ignore[misc]


def test_urgent_reply_pages_primary_then_backup_clinicians_admins_and_starts_again(
    session: Session, alice: Enrollment, staffed: Clinic, now: datetime,
    same_session: SessionFactory, channels: Channels, settings: Settings,
    fake_twilio: FakeTwilio, fake_smtp: FakeSmtp,
) -> None:  # fmt: skip
    clock = SimulatedClock(now + hours(9.5))  # 23:40 in Chicago
    text(session, clock, FEVER)
    deliver_now(sessions=same_session, channels=channels, settings=settings, clock=clock)
    concern = session.scalars(select(Concern)).one()
    [page] = texts_to(fake_twilio, ON_CALL)
    # Minimal PHI: first name, severity, a link and the code; nothing of what she wrote.
    assert "Alice" in page and "URGENT" in page and concern.ack_code in page
    assert f"{PUBLIC_URL}/concerns/{concern.id}" in page
    assert "fever" not in page.lower() and "123" not in page
    assert fake_smtp.messages == []  # urgent: SMS to people with a phone
    message = session.scalars(select(ScheduledMessage).where(ScheduledMessage.kind == PAGE)).one()
    assert (message.status, message.recipient) == ("sent", ON_CALL)

    clock.advance(hours(29 / 60))
    assert escalate(session, clock, same_session, channels, settings) == []
    clock.advance(hours(1 / 60))  # 30 minutes: the urgent step's wait
    assert escalate(session, clock, same_session, channels, settings)
    assert len(texts_to(fake_twilio, BACKUP)) == 1
    clock.advance(hours(0.5))
    escalate(session, clock, same_session, channels, settings)  # every clinician: Olive, Ben
    assert (len(texts_to(fake_twilio, ON_CALL)), len(texts_to(fake_twilio, BACKUP))) == (2, 2)
    clock.advance(hours(0.5))
    escalate(session, clock, same_session, channels, settings)
    assert len(texts_to(fake_twilio, ADMIN)) == 1
    clock.advance(hours(0.5))
    escalate(session, clock, same_session, channels, settings)  # and again from the top
    assert len(texts_to(fake_twilio, ON_CALL)) == 3
    assert (concern.escalation_round, concern.escalation_level) == (1, 0)
    assert concern.next_escalation_at == clock.now() + timedelta(minutes=30)
    assert pages(session) == [
        (0, 0, "primary", "sms"), (0, 1, "backup", "sms"), (0, 2, "clinician", "sms"),
        (0, 2, "clinician", "sms"), (0, 3, "admin", "sms"), (1, 0, "primary", "sms")]
    actions = session.scalars(select(AuditEvent.action).where(
        AuditEvent.subject_type == "concern").order_by(AuditEvent.id)).all()  # fmt: skip
    assert actions == ["concern.alert"] + ["concern.escalate"] * 4


def test_an_emergency_pages_by_sms_and_email_at_every_step(
    session: Session, alice: Enrollment, staffed: Clinic, now: datetime,
    same_session: SessionFactory, channels: Channels, settings: Settings,
    fake_twilio: FakeTwilio, fake_smtp: FakeSmtp,
) -> None:  # fmt: skip
    clock = SimulatedClock(now + hours(9.5))
    text(session, clock, "I cant breathe and my throat is closing")
    deliver_now(sessions=same_session, channels=channels, settings=settings, clock=clock)
    assert len(texts_to(fake_twilio, ON_CALL)) == 1
    assert [m["To"] for m in fake_smtp.messages] == ["oncall@riverside.test"]
    assert "EMERGENCY" in fake_smtp.messages[0]["Subject"]
    clock.advance(timedelta(minutes=5))
    escalate(session, clock, same_session, channels, settings)
    assert len(texts_to(fake_twilio, BACKUP)) == 1
    assert [m["To"] for m in fake_smtp.messages][-1] == "backup@riverside.test"


def test_a_policy_without_repeat_stops_after_its_last_step(
    session: Session, alice: Enrollment, staffed: Clinic, now: datetime,
) -> None:  # fmt: skip
    session.add(EscalationPolicy(clinic_id=staffed.id, severity="urgent", repeat=False,
                                 steps=[{"target": "primary", "wait_minutes": 10},
                                        {"target": "admins", "wait_minutes": 10}]))  # fmt: skip
    session.flush()
    clock = SimulatedClock(now)
    text(session, clock, FEVER)
    concern = session.scalars(select(Concern)).one()
    for _ in range(3):
        clock.advance(timedelta(minutes=10))
        escalate_due(session=session, now=clock.now())
    assert [p[2] for p in pages(session)] == ["primary", "admin"]
    assert concern.next_escalation_at is None


def test_ack_by_sms_stops_escalation_and_cancels_pages_not_yet_sent(
    session: Session, alice: Enrollment, staffed: Clinic, now: datetime,
    same_session: SessionFactory, channels: Channels, settings: Settings,
    fake_twilio: FakeTwilio,
) -> None:  # fmt: skip
    clock = SimulatedClock(now + hours(9.5))
    text(session, clock, "I fainted and my throat feels tight")
    concern = session.scalars(select(Concern)).one()
    assert concern.severity == "emergency"
    clock.advance(hours(2 / 60))
    reply = text(session, clock, f"ack {concern.ack_code.lower()}", sender=ON_CALL)
    assert reply.replies == [f"Acknowledged {concern.ack_code}. Escalation stopped. "
                             "Please follow up with the patient."]  # fmt: skip
    assert (concern.status, concern.acknowledged_at) == ("acknowledged", clock.now())
    # The pages queued before the ACK never go out.
    statuses = session.scalars(select(ScheduledMessage.status).where(
        ScheduledMessage.kind == PAGE)).all()  # fmt: skip
    assert statuses and set(statuses) == {CANCELLED}
    deliver_now(sessions=same_session, channels=channels, settings=settings, clock=clock)
    clock.advance(hours(1))
    assert escalate(session, clock, same_session, channels, settings) == []
    # Olive got her ACK's confirmation (a reply, through the pipeline) and no page.
    assert texts_to(fake_twilio, ON_CALL) == reply.replies and texts_to(fake_twilio, BACKUP) == []
    event = session.scalars(select(AuditEvent).where(
        AuditEvent.action == "concern.acknowledge")).one()  # fmt: skip
    olive = session.scalars(select(StaffMember).where(StaffMember.phone == ON_CALL)).one()
    assert (event.staff_id, event.details["via"]) == (olive.id, "sms")


def test_the_second_to_acknowledge_is_told_who_took_it(
    session: Session, alice: Enrollment, staffed: Clinic, now: datetime,
    same_session: SessionFactory, channels: Channels, settings: Settings,
    fake_twilio: FakeTwilio,
) -> None:  # fmt: skip
    clock = SimulatedClock(now)
    text(session, clock, FEVER)
    deliver_now(sessions=same_session, channels=channels, settings=settings, clock=clock)
    concern = session.scalars(select(Concern)).one()
    admin = session.scalars(select(StaffMember).where(StaffMember.phone == ADMIN)).one()
    assert text(session, clock, concern.ack_code, sender=ADMIN).replies[0].startswith("Ack")
    assert concern.acknowledged_by == admin.id
    assert text(session, clock, f"ACK {concern.ack_code}", sender=ON_CALL).replies == [
        f"{concern.ack_code} was already acknowledged by Ada."]
    # Olive was paged; she is told Ada took it, so nobody chases it twice.
    deliver_now(sessions=same_session, channels=channels, settings=settings, clock=clock)
    assert f"Aftercare: {concern.ack_code} was acknowledged by Ada. No action needed." in (
        texts_to(fake_twilio, ON_CALL))


def test_only_that_clinics_staff_can_acknowledge(
    session: Session, alice: Enrollment, bob: Enrollment, staffed: Clinic, lakeside: Clinic,
    now: datetime,
) -> None:  # fmt: skip
    clock = SimulatedClock(now)
    text(session, clock, FEVER)
    concern = session.scalars(select(Concern)).one()
    # Alice texting the code acknowledges nothing: it is just a message from her.
    text(session, clock, f"ACK {concern.ack_code}")
    # Nor does a Lakeside clinician's phone, for a Riverside concern.
    session.add(StaffMember(clinic_id=lakeside.id, email="lee@lakeside.test", role="clinician",
                            phone="+12125550199"))  # fmt: skip
    session.flush()
    lakeside_reply = text(session, clock, f"ACK {concern.ack_code}", sender="+12125550199",
                          to=LAKESIDE_NUMBER)  # fmt: skip
    assert lakeside_reply.replies == [f"No open concern has code {concern.ack_code}. "
                                      "Check the alert."]  # fmt: skip
    text(session, clock, f"ACK {concern.ack_code}", sender=BOB_PHONE, to=LAKESIDE_NUMBER)
    assert concern.status == "open"


def test_escalating_twice_at_the_same_moment_moves_one_step(
    session: Session, alice: Enrollment, staffed: Clinic, now: datetime,
) -> None:  # fmt: skip
    clock = SimulatedClock(now)
    text(session, clock, "I cant breathe")
    concern = session.scalars(select(Concern)).one()
    clock.advance(hours(5 / 60))
    first = escalate_due(session=session, now=clock.now())
    second = escalate_due(session=session, now=clock.now())
    assert first and second == [] and concern.escalation_level == 1


def test_steps_with_nobody_in_them_are_skipped(
    session: Session, alice: Enrollment, riverside: Clinic, now: datetime,
) -> None:  # fmt: skip
    """No backup on the rota, Olive the only clinician: after her, the admins."""
    session.add(StaffMember(clinic_id=riverside.id, email="boss@riverside.test", role="admin"))
    clock = SimulatedClock(now)
    text(session, clock, FEVER)
    clock.advance(hours(0.5))
    escalate_due(session=session, now=clock.now())  # backup: nobody → clinicians (Olive)
    clock.advance(hours(0.5))
    escalate_due(session=session, now=clock.now())
    assert [(p[2], p[3]) for p in pages(session)] == [
        ("primary", "sms"), ("clinician", "sms"), ("admin", "email")]


def test_a_clinic_with_nobody_to_page_tries_again_in_a_few_minutes(
    session: Session, alice: Enrollment, riverside: Clinic, now: datetime,
) -> None:  # fmt: skip
    for member in session.scalars(select(StaffMember).where(
            StaffMember.clinic_id == riverside.id)):  # fmt: skip
        member.is_active = False
    session.flush()
    clock = SimulatedClock(now)
    text(session, clock, FEVER)
    concern = session.scalars(select(Concern)).one()
    assert pages(session) == []
    assert concern.next_escalation_at == clock.now() + timedelta(minutes=5)
    actions = session.scalars(select(AuditEvent.action).where(
        AuditEvent.subject_type == "concern")).all()  # fmt: skip
    assert "concern.unpaged" in actions
