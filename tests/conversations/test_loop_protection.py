"""Loop protection holds back chatter, never an answer Alice needs to act on.

A robot answering our answers gets at most three replies an hour; Alice reporting a fever
or a bleed after three replies still hears what to do. A number we do not know gets one
generic line a day, whatever it says.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from reminders.clinics.models import Clinic
from reminders.conversations import replies
from reminders.conversations.models import InboundMessage
from reminders.conversations.service import Handled, receive_sms
from reminders.enrollments.models import Enrollment
from tests.conversations.conftest import ALICE_PHONE, RIVERSIDE_NUMBER, hours

_sid = iter(range(10_000))
STRANGER = "+13125550111"


def text(session: Session, at: datetime, body: str, sender: str = ALICE_PHONE) -> Handled:
    return receive_sms(session=session, now=at, message_sid=f"SMl{next(_sid):031d}",
                       sender=sender, to=RIVERSIDE_NUMBER, body=body)  # fmt: skip


def three_answered_questions(session: Session, start: datetime) -> None:
    for i, body in enumerate(["is the swelling normal?", "can I go for a walk today?",
                              "when can I shower?"]):  # fmt: skip
        assert len(text(session, start + hours(i / 60), body).replies) == 1


def test_a_fourth_message_reporting_a_fever_still_gets_its_reply(
    session: Session, alice: Enrollment, now: datetime
) -> None:
    three_answered_questions(session, now + hours(2))
    fever = text(session, now + hours(2.1), "I have a fever of 101")
    assert len(fever.replies) == 1 and "312-555-0100" in fever.replies[0]
    emergency = text(session, now + hours(2.2), "blood everywhere I am going to pass out")
    assert len(emergency.replies) == 1 and "911" in emergency.replies[0]


def test_a_fourth_routine_message_in_the_hour_gets_no_reply(
    session: Session, alice: Enrollment, now: datetime
) -> None:
    three_answered_questions(session, now + hours(2))
    fourth = text(session, now + hours(2.1), "does it usually bruise like this?")
    assert fourth.replies == []
    assert session.get_one(InboundMessage, fourth.inbound_id).concern_id is not None  # still seen
    later = text(session, now + hours(3.2), "does it usually bruise like this?")
    assert len(later.replies) == 1  # an hour on, the cap has room again


def test_an_unknown_number_gets_one_line_a_day_even_when_it_sounds_urgent(
    session: Session, riverside: Clinic, now: datetime
) -> None:
    first = text(session, now, "my wound is bleeding a lot", sender=STRANGER)
    assert len(first.replies) == 1 and first.alert_ids  # staff are paged all the same
    again = text(session, now + hours(1), "my wound is bleeding a lot", sender=STRANGER)
    assert again.replies == []
    next_day = text(session, now + hours(25), "my wound is bleeding a lot", sender=STRANGER)
    assert len(next_day.replies) == 1


def test_the_severity_exemption_is_for_known_patients_only(
    session: Session, riverside: Clinic, now: datetime
) -> None:
    for i in range(3):  # three auto-replies to a number we do not know, this hour
        session.add(InboundMessage(channel="sms", sender=STRANGER, body="auto", kind="unknown",
                                   clinic_id=riverside.id, auto_reply="Hi",
                                   received_at=now + hours(i / 60)))  # fmt: skip
    fourth = InboundMessage(channel="sms", sender=STRANGER, body="urgent?", kind="unknown",
                            clinic_id=riverside.id, received_at=now + hours(0.1))  # fmt: skip
    session.add(fourth)
    session.flush()
    assert not replies.may_reply(session=session, inbound=fourth, now=now + hours(0.1),
                                 severity="emergency")  # fmt: skip
