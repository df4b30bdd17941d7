"""Keywords first, then triage, then the right words back (or none), in Alice's language."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reminders.audit.models import AuditEvent
from reminders.channels import ConsoleChannel
from reminders.clinics.models import Clinic
from reminders.clock import SimulatedClock
from reminders.config import Settings
from reminders.conversations.models import Concern, InboundMessage, StaffAlert
from reminders.conversations.service import Handled, receive_sms
from reminders.delivery.dispatch import claim_due
from reminders.delivery.ratelimit import NoLimit
from reminders.delivery.send import Outcome, Sender, SessionFactory
from reminders.enrollments.models import Enrollment, ScheduledMessage
from reminders.patients.models import Patient
from tests.conversations.conftest import (
    ALICE_PHONE,
    BOB_PHONE,
    RIVERSIDE_NUMBER,
    hours,
    send_question,
)

_sid = iter(range(10_000))


def text(session: Session, at: datetime, body: str, sender: str = ALICE_PHONE) -> Handled:
    return receive_sms(session=session, now=at, message_sid=f"SMr{next(_sid):031d}",
                       sender=sender, to=RIVERSIDE_NUMBER, body=body)  # fmt: skip


def concerns(session: Session) -> list[Concern]:
    return list(session.scalars(select(Concern).order_by(Concern.id)))


def test_stop_opts_alice_out_confirms_once_and_her_next_check_in_is_not_sent(
    session: Session, alice: Enrollment, now: datetime, same_session: SessionFactory,
    settings: Settings,
) -> None:  # fmt: skip
    first = text(session, now + hours(1), "Stop.")
    assert len(first.replies) == 1 and "START" in first.replies[0]
    patient = session.get_one(Patient, alice.patient_id)
    assert patient.sms_opted_out_at == now + hours(1)
    assert text(session, now + hours(1.1), "STOP").replies == []  # confirmed once only
    assert concerns(session) == []  # a bare keyword is not a concern

    console = ConsoleChannel("sms")
    clock = SimulatedClock(now + hours(4))  # the numbness check is due
    sender = Sender(channels={"sms": console, "email": ConsoleChannel("email")}, clock=clock,
                    settings=settings, sessions=same_session, rate_limiter=NoLimit())  # fmt: skip
    outcomes: list[Outcome] = []
    while claims := claim_due(session=session, now=clock.now(), limit=50, lease=hours(1)):
        outcomes += [sender.send(claim) for claim in claims]  # one patient's messages in order
    numbness = session.scalars(select(ScheduledMessage).where(
        ScheduledMessage.enrollment_id == alice.id,
        ScheduledMessage.step_key == "numbness_check")).one()  # fmt: skip
    assert numbness.id in {o.message_id for o in outcomes}
    assert (numbness.status, numbness.status_reason) == ("skipped", "opted_out")
    # Only the confirmation went out (replies are queued like every message we send).
    assert [o.body for o in console.outbox] == first.replies
    actions = session.scalars(select(AuditEvent.action).where(
        AuditEvent.subject_type == "patient", AuditEvent.subject_id == patient.id)).all()
    assert actions == ["patient.opt-out"]


def test_an_opt_out_that_reports_a_red_flag_is_still_triaged(
    session: Session, alice: Enrollment, now: datetime
) -> None:
    handled = text(session, now + hours(30), "quit the texts, my leg is throbbing 9/10 and warm")
    patient = session.get_one(Patient, alice.patient_id)
    assert patient.sms_opted_out_at is not None
    [concern] = concerns(session)
    assert concern.severity == "urgent" and "severe_pain" in concern.categories
    assert handled.alert_ids  # on-call paged
    assert "START" in handled.replies[0]  # the confirmation…
    assert "call" in handled.replies[1].lower()  # …and what to do now


def test_start_and_yes_opt_back_in_but_yes_is_an_answer_otherwise(
    session: Session, alice: Enrollment, now: datetime
) -> None:
    patient = session.get_one(Patient, alice.patient_id)
    numbness = send_question(session, alice, "numbness_check", now + hours(4))
    yes = session.get_one(InboundMessage, text(session, now + hours(4.5), "Yes").inbound_id)
    assert (yes.kind, yes.answers_message_id, yes.parsed) == ("answer", numbness.id,
                                                              {"answer": "yes"})  # fmt: skip
    assert patient.sms_opted_out_at is None

    text(session, now + hours(5), "STOP")
    back = text(session, now + hours(6), "start")
    assert patient.sms_opted_out_at is None and "again" in back.replies[0]
    text(session, now + hours(7), "STOP")
    again = text(session, now + hours(8), "YES")
    assert patient.sms_opted_out_at is None
    assert session.get_one(InboundMessage, again.inbound_id).kind == "opt_in"


def test_help_gets_the_clinic_contact_text_and_a_call_back(
    session: Session, alice: Enrollment, riverside: Clinic, now: datetime
) -> None:
    handled = text(session, now + hours(1), "HELP")
    assert "Riverside Ortho" in handled.replies[0] and "312-555-0100" in handled.replies[0]
    # After an injection a bare HELP may be a plea: a person calls back today.
    [concern] = concerns(session)
    assert concern.severity == "urgent"


def test_an_emergency_tells_alice_to_call_911_and_pages_on_call(
    session: Session, alice: Enrollment, now: datetime
) -> None:
    handled = text(session, now + hours(2), "I cant breathe and my lips are swelling up")
    assert "911" in handled.replies[0]
    [concern] = concerns(session)
    assert concern.severity == "emergency" and concern.escalation_level == 0
    assert concern.next_escalation_at == now + hours(2) + (hours(5 / 60))
    alerts = session.scalars(select(StaffAlert).where(StaffAlert.concern_id == concern.id)).all()
    assert sorted((a.channel, a.role) for a in alerts) == [("email", "primary"), ("sms", "primary")]


def test_a_routine_question_opens_a_quiet_concern_and_thanks_her(
    session: Session, alice: Enrollment, now: datetime
) -> None:
    handled = text(session, now + hours(3), "is it normal that the spot is a bit bruised?")
    [concern] = concerns(session)
    assert concern.severity == "routine" and concern.next_escalation_at is None
    assert handled.alert_ids == []  # routine pages no one
    assert "team" in handled.replies[0]


def test_out_of_hours_wording_follows_the_clinics_office_hours(
    session: Session, alice: Enrollment, now: datetime
) -> None:
    night = now + hours(9)  # 23:10 on Friday in Chicago; the office is closed
    assert "closed" in text(session, night, "my hip is sore, is that ok?").replies[0]
    saturday = now + hours(20)  # 10:10 on Saturday: inside the send window, office closed
    assert "closed" in text(session, saturday, "still a bit sore, is that ok?").replies[0]
    monday = now + hours(68)  # 10:10 on Monday
    assert "closed" not in text(session, monday, "still a bit sore, is that ok?").replies[0]


def test_spanish_speakers_get_spanish(
    session: Session, riverside: Clinic, now: datetime
) -> None:
    from tests.conversations.conftest import enroll

    enroll(session, riverside, now, patient={
        "external_id": "R-4004", "given_name": "Lucía", "phone": BOB_PHONE,
        "timezone": "America/Chicago", "language": "es"})  # fmt: skip
    handled = text(session, now + hours(2), "tengo fiebre y la herida está roja", sender=BOB_PHONE)
    assert "Gracias, Lucía" in handled.replies[0]


def test_one_clarifying_question_then_the_answer_goes_to_staff(
    session: Session, alice: Enrollment, now: datetime
) -> None:
    send_question(session, alice, "flare_check", now + hours(24))
    first = text(session, now + hours(24.2), "banana")
    assert "could not read" in first.replies[0]
    assert concerns(session) == []
    second = text(session, now + hours(24.4), "potato")
    assert "could not read" not in second.replies[0]
    [concern] = concerns(session)
    assert (concern.kind, concern.severity) == ("unclear", "routine")
    third = text(session, now + hours(24.6), "6")  # finally a number: it answers the question
    assert session.get_one(InboundMessage, third.inbound_id).kind == "answer"


def test_an_unknown_number_is_stored_shown_to_staff_and_answered_once(
    session: Session, riverside: Clinic, now: datetime
) -> None:
    stranger = "+13125550111"
    first = text(session, now, "hi is this the hip clinic? my leg hurts", sender=stranger)
    assert len(first.replies) == 1 and "do not know this phone number" in first.replies[0]
    second = text(session, now + hours(1), "hello??", sender=stranger)
    assert second.replies == []
    stored = session.scalars(select(InboundMessage).where(InboundMessage.sender == stranger)).all()
    assert [m.kind for m in stored] == ["unknown", "unknown"]
    assert all(m.clinic_id == riverside.id and m.patient_id is None for m in stored)
    [concern] = concerns(session)  # one open concern per unknown number
    assert concern.kind == "unknown_sender" and concern.patient_id is None


def test_loop_protection_caps_auto_replies_per_number_per_hour(
    session: Session, alice: Enrollment, now: datetime
) -> None:
    # Another robot answering our answers: "Thanks for your message!" forever.
    sent = [text(session, now + hours(2 + i / 60), "Thanks for your message! We will be in touch")
            for i in range(6)]  # fmt: skip
    assert sum(len(h.replies) for h in sent) == 3
    assert len(text(session, now + hours(3.1), "is the swelling normal?").replies) == 1
    total = session.scalar(select(func.count()).select_from(InboundMessage))
    assert total == 7  # every message is still stored


def test_a_triage_failure_never_loses_the_message(
    session: Session, alice: Enrollment, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug in a rule")

    monkeypatch.setattr("reminders.conversations.reading.triage", broken)
    handled = text(session, now + hours(2), "my leg feels strange")
    [concern] = concerns(session)
    assert concern.severity == "urgent" and handled.alert_ids  # a nurse reads it soon
    assert session.get_one(InboundMessage, handled.inbound_id).body == "my leg feels strange"


def test_a_broken_template_still_tells_an_emergency_to_call(
    session: Session, alice: Enrollment, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reminders.conversations import texts

    sources = dict(texts.system_sources()) | {"auto_reply_emergency.en": "{{ oops"}
    monkeypatch.setattr(texts, "system_sources", lambda: sources)
    handled = text(session, now + hours(2), "I passed out and can't breathe")
    assert handled.replies == ["If you feel very unwell or cannot breathe, call 911 now."]
    assert handled.alert_ids
