"""Alice's follow-up visit in her calendar: the reminder email carries an invite, a moved
visit updates it (same UID, higher SEQUENCE), a cancelled one removes it.

The invites are read back with icalendar itself, as a calendar program would; the last
tests send them through the real SMTP channel to the loopback server.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar, Event, Timezone
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from reminders.channels import ConsoleChannel, SmtpEmail
from reminders.clinics.models import Clinic
from reminders.clock import SimulatedClock
from reminders.config import Settings
from reminders.delivery import invites
from reminders.delivery import prepare as prep
from reminders.delivery.rows import load_rows
from reminders.enrollments import service
from reminders.enrollments.models import NOTICE, PENDING, SENT, Enrollment, ScheduledMessage
from reminders.enrollments.schemas import parse_enrollment
from reminders.enrollments.visits import VISIT_CANCEL, VISIT_UPDATE
from reminders.patients.models import Patient
from tests.conftest import alice_payload, truncate_all
from tests.delivery.helpers import Db, make_sender, send_all
from tests.fakes import FakeSmtp

CHICAGO = ZoneInfo("America/Chicago")
VISIT = datetime(2026, 12, 4, 10, 30, tzinfo=CHICAGO)  # Alice's visit (alice_payload)
REMINDER_DUE = datetime(2026, 12, 3, 18, 0, tzinfo=CHICAGO)  # "visit -1 day at 18:00"
CLINIC_FROM = "Riverside Ortho <care@riverside.example>"
SETTINGS = Settings(public_url="https://care.example")


def parse(ics: str) -> tuple[Calendar, Event]:
    calendar = Calendar.from_ical(ics)
    (event,) = calendar.events
    return calendar, event


def visit(**overrides: object) -> invites.Visit:
    values: dict[str, object] = {
        "uid": "5f0c1d2e-visit", "sequence": 0, "start": VISIT, "timezone": "America/Chicago",
        "clinic_name": "Riverside Ortho", "organizer": CLINIC_FROM,
        "clinic_phone": "+1 312-555-0100", "language": "en",
    }  # fmt: skip
    return invites.Visit(**(values | overrides))  # type: ignore[arg-type]


# -- the invite itself ----------------------------------------------------------------


def test_the_invite_is_a_request_at_her_local_time_with_chicagos_rules() -> None:
    ics = invites.invite(visit(), method="REQUEST", stamp=datetime(2026, 12, 4, 0, tzinfo=UTC))
    calendar, event = parse(ics)

    assert calendar["METHOD"] == "REQUEST"
    assert event["UID"] == "5f0c1d2e-visit" and event["SEQUENCE"] == 0
    assert event["STATUS"] == "CONFIRMED"
    # Written in her zone, named, not converted to UTC: it stays 10:30 in any client.
    assert event["DTSTART"].params["TZID"] == "America/Chicago"
    assert "DTSTART;TZID=America/Chicago:20261204T103000" in ics
    assert event.start == VISIT and event.end - event.start == timedelta(minutes=30)
    # The zone travels with it, DST rules included (CST -06:00, CDT -05:00).
    (tz,) = calendar.walk("VTIMEZONE")
    assert isinstance(tz, Timezone) and tz["TZID"] == "America/Chicago"
    daylight, standard = tz.walk("DAYLIGHT"), tz.walk("STANDARD")
    assert daylight and standard
    assert {d.decoded("TZOFFSETTO") for d in daylight} == {timedelta(hours=-5)}
    assert {s.decoded("TZOFFSETTO") for s in standard} == {timedelta(hours=-6)}
    assert calendar.get_missing_tzids() == set()
    # The clinic organises it; no diagnosis, procedure or patient name in what it shows.
    assert str(event["ORGANIZER"]) == "mailto:care@riverside.example"
    assert event["ORGANIZER"].params["CN"] == "Riverside Ortho"
    assert event["SUMMARY"] == "Follow-up visit - Riverside Ortho"
    assert event["LOCATION"] == "Riverside Ortho"
    for word in ("injection", "steroid", "hip", "Alice", "diabet"):
        assert word.lower() not in ics.lower()


def test_a_visit_after_the_clocks_change_keeps_its_local_time() -> None:
    spring = datetime(2027, 3, 20, 9, 0, tzinfo=CHICAGO)  # CDT, after 14 March 2027
    calendar, event = parse(invites.invite(visit(start=spring.astimezone(UTC)),
                                           method="REQUEST", stamp=spring))  # fmt: skip
    assert "DTSTART;TZID=America/Chicago:20270320T090000" in calendar.to_ical().decode()
    assert event.start.utcoffset() == timedelta(hours=-5)


def test_a_cancel_names_the_same_appointment_and_the_attendee_is_added_when_sent() -> None:
    ics = invites.invite(visit(sequence=2), method="CANCEL", stamp=VISIT - timedelta(days=3))
    assert "ATTENDEE" not in ics  # what is stored carries no patient address
    calendar, event = parse(invites.addressed(ics, "alice@example.org"))

    assert calendar["METHOD"] == "CANCEL" and event["STATUS"] == "CANCELLED"
    assert event["UID"] == "5f0c1d2e-visit" and event["SEQUENCE"] == 2
    assert str(event["ATTENDEE"]) == "mailto:alice@example.org"
    assert event["ATTENDEE"].params["RSVP"] == "FALSE"


def test_spanish_summary() -> None:
    _, event = parse(invites.invite(visit(language="es"), method="REQUEST", stamp=VISIT))
    assert event["SUMMARY"] == "Cita de control - Riverside Ortho"


# -- Alice's enrolment: the reminder, moves, cancellations ------------------------------


def enroll_alice(session: Session, clinic, now: datetime, channel: str = "email") -> Enrollment:
    clinic.email_from = CLINIC_FROM
    data = parse_enrollment(alice_payload(channel=channel))
    return service.enroll(data, session=session, clinic=clinic, now=now, actor="test").enrollment


def reminder_of(session: Session, enrollment: Enrollment) -> ScheduledMessage:
    return session.scalars(select(ScheduledMessage).where(
        ScheduledMessage.enrollment_id == enrollment.id,
        ScheduledMessage.step_key == "follow_up_reminder")).one()  # fmt: skip


def rendered_invite(session: Session, message: ScheduledMessage, at: datetime) -> str | None:
    row = load_rows(session, [message.id])[message.id]
    return prep.render(session, row, at, SETTINGS).calendar


def mark_sent(session: Session, message: ScheduledMessage, at: datetime) -> None:
    session.execute(update(ScheduledMessage).where(ScheduledMessage.id == message.id)
                    .values(status=SENT, sent_at=at))  # fmt: skip


def notices(session: Session, enrollment: Enrollment) -> list[ScheduledMessage]:
    return list(session.scalars(select(ScheduledMessage).where(
        ScheduledMessage.enrollment_id == enrollment.id, ScheduledMessage.kind == NOTICE,
    ).order_by(ScheduledMessage.id)))  # fmt: skip


def test_her_reminder_email_carries_the_invite_and_a_move_bumps_the_sequence(
    session, riverside, now
) -> None:
    alice = enroll_alice(session, riverside, now)
    uid = alice.visit_uid
    reminder = reminder_of(session, alice)

    _, first = parse(rendered_invite(session, reminder, REMINDER_DUE) or "")
    assert first["UID"] == uid and first["SEQUENCE"] == 0 and first.start == VISIT

    # The clinic moves her visit before the reminder went out: same appointment, new time.
    later = VISIT + timedelta(days=2)
    service.reschedule(session=session, clinic=riverside, enrollment=alice, now=now,
                       actor="test", follow_up_at=later)  # fmt: skip
    reminder = reminder_of(session, alice)
    _, moved = parse(rendered_invite(session, reminder, reminder.due_at) or "")
    assert moved["UID"] == uid and moved["SEQUENCE"] == 1 and moved.start == later
    assert notices(session, alice) == []  # nothing was in her calendar yet

    # Moving the procedure alone does not touch the visit.
    service.reschedule(session=session, clinic=riverside, enrollment=alice, now=now,
                       actor="test", performed_at=now - timedelta(hours=1))  # fmt: skip
    assert session.get_one(Enrollment, alice.id).visit_sequence == 1


def test_a_text_reminder_has_no_invite(session, riverside, now) -> None:
    alice = enroll_alice(session, riverside, now, channel="sms")
    reminder = reminder_of(session, alice)
    assert reminder.channel == "sms"
    assert rendered_invite(session, reminder, REMINDER_DUE) is None


def test_after_the_invite_went_out_a_move_sends_an_update(session, riverside, now) -> None:
    alice = enroll_alice(session, riverside, now)
    mark_sent(session, reminder_of(session, alice), REMINDER_DUE)
    at = REMINDER_DUE + timedelta(hours=1)

    later = VISIT + timedelta(days=7)
    service.reschedule(session=session, clinic=riverside, enrollment=alice, now=at,
                       actor="test", follow_up_at=later)  # fmt: skip

    (notice,) = notices(session, alice)
    assert notice.step_key == VISIT_UPDATE and notice.channel == "email"
    assert notice.status == PENDING and notice.expires_at == later
    assert "moved to Fri 11 Dec at 10:30" in (notice.body or "")
    assert notice.subject == "A message from Riverside Ortho"
    calendar, event = parse(notice.calendar or "")
    assert calendar["METHOD"] == "REQUEST"
    assert event["UID"] == alice.visit_uid and event["SEQUENCE"] == 1 and event.start == later


def test_a_cancelled_visit_is_cancelled_in_her_calendar(session, riverside, now) -> None:
    alice = enroll_alice(session, riverside, now)
    uid = alice.visit_uid
    mark_sent(session, reminder_of(session, alice), REMINDER_DUE)
    at = REMINDER_DUE + timedelta(hours=1)

    service.reschedule(session=session, clinic=riverside, enrollment=alice, now=at,
                       actor="test", follow_up_at=None)  # fmt: skip

    (notice,) = notices(session, alice)
    assert notice.step_key == VISIT_CANCEL
    assert "invite for your follow-up visit on Fri 4 Dec at 10:30" in (notice.body or "")
    calendar, event = parse(notice.calendar or "")
    assert calendar["METHOD"] == "CANCEL" and event["STATUS"] == "CANCELLED"
    assert event["UID"] == uid and event["SEQUENCE"] == 1 and event.start == VISIT
    # A visit booked after that is another appointment: a new UID, nothing to cancel yet.
    alice = session.get_one(Enrollment, alice.id)
    assert alice.visit_uid != uid and alice.visit_sequence == 0
    service.reschedule(session=session, clinic=riverside, enrollment=alice, now=at,
                       actor="test", follow_up_at=VISIT + timedelta(days=10))  # fmt: skip
    service.cancel(session=session, enrollment=session.get_one(Enrollment, alice.id), now=at,
                   actor="test", reason="test")  # fmt: skip
    assert len(notices(session, alice)) == 1


def test_cancelling_her_enrolment_cancels_the_invite(session, riverside, now) -> None:
    alice = enroll_alice(session, riverside, now)
    mark_sent(session, reminder_of(session, alice), REMINDER_DUE)

    service.cancel(session=session, enrollment=alice, now=REMINDER_DUE, actor="test",
                   reason="patient declined")  # fmt: skip

    (notice,) = notices(session, alice)
    assert notice.status == PENDING and notice.step_key == VISIT_CANCEL
    calendar, event = parse(notice.calendar or "")
    assert calendar["METHOD"] == "CANCEL" and event["UID"] == alice.visit_uid
    assert event["SEQUENCE"] == 1


def test_no_cancellation_email_when_no_invite_went_out(session, riverside, now) -> None:
    # Her reminder had not gone out when the enrolment was cancelled: nothing to remove.
    alice = enroll_alice(session, riverside, now)
    service.cancel(session=session, enrollment=alice, now=now, actor="test", reason="test")
    assert notices(session, alice) == []


def test_an_email_opt_out_holds_the_calendar_notice(session, riverside, now) -> None:
    alice = enroll_alice(session, riverside, now)
    mark_sent(session, reminder_of(session, alice), REMINDER_DUE)
    patient = session.get_one(Patient, alice.patient_id)
    patient.email_opted_out_at = REMINDER_DUE
    session.flush()

    service.cancel(session=session, enrollment=alice, now=REMINDER_DUE, actor="test",
                   reason="test")  # fmt: skip
    assert notices(session, alice) == []


# -- end to end: the real SMTP channel, the loopback server -----------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest) -> Iterator[Db]:
    engine: Engine = request.getfixturevalue(
        "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    )
    truncate_all(engine)
    yield Db(engine)
    truncate_all(engine)


def test_the_reminder_email_arrives_with_the_invite_and_the_cancel_follows(db: Db) -> None:
    from reminders.clinics.service import create_clinic

    enrolled_at = datetime(2026, 11, 20, 20, 10, tzinfo=UTC)
    with db.sessions() as session:
        clinic = create_clinic(
            session=session, name="Riverside Ortho", timezone="America/Chicago",
            sms_from="+13125550100",
        ).clinic  # fmt: skip
        alice = enroll_alice(session, clinic, enrolled_at)
        alice_id, uid, clinic_id = alice.id, alice.visit_uid, clinic.id
        # Only the visit reminder is left to send (the rest of her timeline is not the point).
        session.execute(update(ScheduledMessage).where(
            ScheduledMessage.enrollment_id == alice_id,
            ScheduledMessage.step_key != "follow_up_reminder",
        ).values(status="cancelled"))  # fmt: skip

    clock = SimulatedClock(REMINDER_DUE)
    with FakeSmtp() as smtp:
        email = SmtpEmail(smtp.url, timeout=5, local_hostname="test.localhost")
        sender = make_sender(db, clock, {"sms": ConsoleChannel(), "email": email})
        try:
            assert [o.result for o in send_all(sender)] == ["sent"]
            (received,) = smtp.received
            message = received.message
            assert received.rcpt_tos == ["alice@example.org"]
            assert "follow-up visit is on Fri 4 Dec at 10:30" in (
                message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            )
            parts = {p.get_content_type(): p for p in message.walk()}
            invite = parts["text/calendar"]
            assert invite.get_param("method") == "REQUEST"
            assert parts["application/ics"].get_filename() == "invite.ics"
            ics = invite.get_payload(decode=True)
            assert b"\r\nEND:VEVENT\r\n" in ics  # RFC 5545 line endings survive the trip
            calendar, event = parse(ics.decode())
            assert calendar["METHOD"] == "REQUEST" and event["UID"] == uid
            assert event["SEQUENCE"] == 0 and event.start == VISIT
            assert str(event["ATTENDEE"]) == "mailto:alice@example.org"
            assert str(event["ORGANIZER"]) == "mailto:care@riverside.example"

            # The next morning the clinic cancels the visit: the same appointment, cancelled.
            clock.advance(timedelta(hours=15))
            with db.sessions() as session:
                service.reschedule(session=session, clinic=session.get_one(Clinic, clinic_id),
                                   enrollment=session.get_one(Enrollment, alice_id),
                                   now=clock.now(), actor="test", follow_up_at=None)  # fmt: skip
            assert [o.result for o in send_all(sender)] == ["sent"]
            cancel = smtp.received[-1].message
            assert cancel["Subject"] == "A message from Riverside Ortho"
            parts = {p.get_content_type(): p for p in cancel.walk()}
            assert parts["text/calendar"].get_param("method") == "CANCEL"
            calendar, event = parse(parts["text/calendar"].get_payload(decode=True).decode())
            assert calendar["METHOD"] == "CANCEL" and event["UID"] == uid
            assert event["SEQUENCE"] == 1 and event["STATUS"] == "CANCELLED"
            assert str(event["ATTENDEE"]) == "mailto:alice@example.org"
        finally:
            sender.close()
