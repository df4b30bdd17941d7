"""An urgent reply pages on-call at once; unacknowledged, it climbs to backup, then admin.

Time is a SimulatedClock; alerts really go out, to a fake Twilio and a fake SMTP server.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders.audit.models import AuditEvent
from reminders.clinics.models import Clinic, StaffMember
from reminders.clock import SimulatedClock
from reminders.config import Settings
from reminders.conversations.alerts import deliver_pending
from reminders.conversations.escalation import escalate_due
from reminders.conversations.models import Concern, StaffAlert
from reminders.conversations.outbound import Channels
from reminders.conversations.service import Handled, receive_sms
from reminders.delivery.send import SessionFactory
from reminders.enrollments.models import Enrollment
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
    deliver_pending(sessions=sessions, channels=channels, settings=settings, clock=clock)
    return created


def test_urgent_reply_pages_on_call_then_backup_then_admin(
    session: Session, alice: Enrollment, staffed: Clinic, now: datetime,
    same_session: SessionFactory, channels: Channels, settings: Settings,
    fake_twilio: FakeTwilio, fake_smtp: FakeSmtp,
) -> None:  # fmt: skip
    clock = SimulatedClock(now + hours(9.5))  # 23:40 in Chicago
    handled = text(session, clock, FEVER)
    assert deliver_pending(sessions=same_session, channels=channels, settings=settings,
                           clock=clock, only=handled.alert_ids) == 2  # fmt: skip
    concern = session.scalars(select(Concern)).one()
    [page] = texts_to(fake_twilio, ON_CALL)
    # Minimal PHI: first name, severity, a link and the code; nothing of what she wrote.
    assert "Alice" in page and "URGENT" in page and concern.ack_code in page
    assert f"{PUBLIC_URL}/concerns/{concern.id}" in page
    assert "fever" not in page.lower() and "Alice" in page and "123" not in page
    [mail] = fake_smtp.messages
    assert mail["To"] == "oncall@riverside.test" and "URGENT" in mail["Subject"]
    assert fake_twilio.messages and all(m["from"] == RIVERSIDE_NUMBER
                                        for m in fake_twilio.messages.values())  # fmt: skip

    clock.advance(hours(29 / 60))
    assert escalate(session, clock, same_session, channels, settings) == []
    clock.advance(hours(1 / 60))  # 30 minutes: the urgent window
    assert escalate(session, clock, same_session, channels, settings)
    assert len(texts_to(fake_twilio, BACKUP)) == 1
    assert concern.escalation_level == 1
    clock.advance(hours(0.5))
    assert escalate(session, clock, same_session, channels, settings)
    assert len(texts_to(fake_twilio, ADMIN)) == 1
    assert {m["To"] for m in fake_smtp.messages} == {
        "oncall@riverside.test", "backup@riverside.test", "admin@riverside.test"}
    assert (concern.escalation_level, concern.next_escalation_at) == (2, None)
    clock.advance(hours(2))
    assert escalate(session, clock, same_session, channels, settings) == []  # admins are last

    levels = session.scalars(select(StaffAlert.level).where(StaffAlert.channel == "sms")
                             .order_by(StaffAlert.id)).all()  # fmt: skip
    assert levels == [0, 1, 2]  # recorded per level
    actions = session.scalars(select(AuditEvent.action).where(
        AuditEvent.subject_type == "concern").order_by(AuditEvent.id)).all()  # fmt: skip
    assert actions == ["concern.alert", "concern.escalate", "concern.escalate"]


def test_ack_by_sms_from_on_call_stops_escalation(
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
    # The alerts queued before the ACK are not sent any more.
    assert deliver_pending(sessions=same_session, channels=channels, settings=settings,
                           clock=clock) == 0  # fmt: skip
    clock.advance(hours(1))
    assert escalate(session, clock, same_session, channels, settings) == []
    assert texts_to(fake_twilio, BACKUP) == []
    event = session.scalars(select(AuditEvent).where(
        AuditEvent.action == "concern.acknowledge")).one()  # fmt: skip
    assert (event.actor, event.details["via"]) == ("sms:on_call", "sms:on_call")


def test_a_staff_members_own_phone_acknowledges_in_their_name(
    session: Session, alice: Enrollment, staffed: Clinic, now: datetime,
) -> None:  # fmt: skip
    clock = SimulatedClock(now)
    text(session, clock, FEVER)
    concern = session.scalars(select(Concern)).one()
    admin = session.scalars(select(StaffMember).where(StaffMember.phone == ADMIN)).one()
    assert text(session, clock, concern.ack_code, sender=ADMIN).replies[0].startswith("Ack")
    assert concern.acknowledged_by == admin.id
    assert text(session, clock, f"ACK {concern.ack_code}", sender=ADMIN).replies == [
        f"{concern.ack_code} was already acknowledged."]


def test_only_that_clinics_staff_can_acknowledge(
    session: Session, alice: Enrollment, bob: Enrollment, staffed: Clinic, lakeside: Clinic,
    now: datetime,
) -> None:  # fmt: skip
    clock = SimulatedClock(now)
    text(session, clock, FEVER)
    concern = session.scalars(select(Concern)).one()
    # Alice texting the code acknowledges nothing: it is just a message from her.
    text(session, clock, f"ACK {concern.ack_code}")
    # Nor does Lakeside's on-call phone, for a Riverside concern.
    lakeside.on_call_phone = "+12125550199"
    session.flush()
    lakeside_reply = text(session, clock, f"ACK {concern.ack_code}", sender="+12125550199",
                          to=LAKESIDE_NUMBER)  # fmt: skip
    assert lakeside_reply.replies == [f"No open concern has code {concern.ack_code}. "
                                      "Check the alert."]  # fmt: skip
    text(session, clock, f"ACK {concern.ack_code}", sender=BOB_PHONE, to=LAKESIDE_NUMBER)
    assert concern.status == "open"


def test_escalating_twice_at_the_same_moment_moves_one_level(
    session: Session, alice: Enrollment, staffed: Clinic, now: datetime,
) -> None:  # fmt: skip
    clock = SimulatedClock(now)
    text(session, clock, "I cant breathe")
    concern = session.scalars(select(Concern)).one()
    clock.advance(hours(5 / 60))
    first = escalate_due(session=session, now=clock.now())
    second = escalate_due(session=session, now=clock.now())
    assert first and second == [] and concern.escalation_level == 1


def test_a_clinic_without_a_backup_goes_straight_to_its_admins(
    session: Session, alice: Enrollment, riverside: Clinic, now: datetime,
) -> None:  # fmt: skip
    session.add(StaffMember(clinic_id=riverside.id, email="boss@riverside.test", role="admin"))
    clock = SimulatedClock(now)
    text(session, clock, FEVER)
    clock.advance(hours(0.5))
    created = escalate_due(session=session, now=clock.now())
    alerts = session.scalars(select(StaffAlert).where(StaffAlert.id.in_(created))).all()
    assert [(a.role, a.channel, a.recipient) for a in alerts] == [
        ("admin", "email", "boss@riverside.test")]
