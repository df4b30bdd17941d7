"""Which question a reply answers: the right one, only while it is open, only for its patient."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from reminders.conversations.models import InboundMessage
from reminders.conversations.service import receive_sms
from reminders.enrollments.models import Enrollment
from tests.conversations.conftest import (
    ALICE_PHONE,
    BOB_PHONE,
    LAKESIDE_NUMBER,
    RIVERSIDE_NUMBER,
    hours,
    send_question,
)

_sid = iter(range(10_000))


def text(session: Session, at: datetime, body: str, sender: str = ALICE_PHONE,
         to: str = RIVERSIDE_NUMBER) -> InboundMessage:  # fmt: skip
    handled = receive_sms(session=session, now=at, message_sid=f"SM{next(_sid):032d}",
                          sender=sender, to=to, body=body)  # fmt: skip
    inbound = session.get(InboundMessage, handled.inbound_id)
    assert inbound is not None
    return inbound


def test_alice_answers_her_flare_check(session: Session, alice: Enrollment, now: datetime) -> None:
    flare = send_question(session, alice, "flare_check", now + hours(24))
    reply = text(session, now + hours(25), "pain is about a 3 today")
    assert reply.answers_message_id == flare.id
    assert (reply.kind, reply.patient_id, reply.enrollment_id) == ("answer", alice.patient_id,
                                                                   alice.id)  # fmt: skip
    assert reply.parsed["pain"] == 3
    assert reply.severity == "none"


def test_the_most_recent_open_question_wins(
    session: Session, alice: Enrollment, now: datetime
) -> None:
    # Day 1: the blood sugar check at 09:00 local, the flare check at 14:10; both still open.
    send_question(session, alice, "glucose_check", now + hours(19))
    flare = send_question(session, alice, "flare_check", now + hours(24))
    reply = text(session, now + hours(24.5), "5")
    assert reply.answers_message_id == flare.id
    assert reply.parsed == {"pain": 5}


def test_a_reply_after_the_answer_window_is_a_free_message(
    session: Session, alice: Enrollment, now: datetime
) -> None:
    send_question(session, alice, "flare_check", now + hours(24))  # 12 h answer window
    reply = text(session, now + hours(36.5), "3")
    assert reply.answers_message_id is None
    assert reply.kind == "free"
    assert reply.patient_id == alice.patient_id


def test_an_answered_question_takes_no_second_answer(
    session: Session, alice: Enrollment, now: datetime
) -> None:
    flare = send_question(session, alice, "flare_check", now + hours(24))
    assert text(session, now + hours(25), "2").answers_message_id == flare.id
    later = text(session, now + hours(25.2), "ok thanks")
    assert later.answers_message_id is None and later.kind == "free"
    assert later.auto_reply is None  # chit-chat gets no answer


def test_bob_at_lakeside_is_never_matched_to_alices_question(
    session: Session, alice: Enrollment, bob: Enrollment, now: datetime
) -> None:
    alices = send_question(session, alice, "flare_check", now + hours(24))
    reply = text(session, now + hours(25), "4", sender=BOB_PHONE, to=LAKESIDE_NUMBER)
    assert reply.patient_id == bob.patient_id
    assert reply.clinic_id == bob.clinic_id
    assert reply.answers_message_id is None  # Bob has no open question of his own
    assert text(session, now + hours(25.1), "1").answers_message_id == alices.id


def test_a_shared_phone_is_resolved_by_the_clinic_number_texted(
    session: Session, alice: Enrollment, lakeside, now: datetime  # type: ignore[no-untyped-def]
) -> None:
    from tests.conversations.conftest import enroll

    # Alice's husband, also a patient, at Lakeside, on the same family phone.
    husband = enroll(session, lakeside, now, patient={
        "external_id": "L-3003", "given_name": "Carl", "phone": ALICE_PHONE,
        "timezone": "America/New_York"})  # fmt: skip
    assert text(session, now, "hello", to=LAKESIDE_NUMBER).patient_id == husband.patient_id
    assert text(session, now, "hello", to=RIVERSIDE_NUMBER).patient_id == alice.patient_id


def test_a_message_before_any_question_is_free(
    session: Session, alice: Enrollment, now: datetime
) -> None:
    reply = text(session, now + hours(1), "the spot is a bit sore but fine")
    assert reply.kind == "free" and reply.answers_message_id is None
