"""A clinic's own yes/no question is read the right way round, and a tapback answers nothing.

Riverside Ortho adds its own step for diabetic patients, "Did you take your evening
insulin?", where "no" is the worrying answer (``concerning_answer: no``). Alice is
enrolled on that version. Her phone also turns a thumbs-up on our numbness check into
the text ``Liked “…”``, which quotes our question back: that is not a "yes".
"""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders.clinics.models import Clinic
from reminders.conversations import matching
from reminders.conversations.models import ANSWER, REACTION, Concern, InboundMessage
from reminders.conversations.service import Handled, receive_sms
from reminders.enrollments.models import Enrollment, ScheduledMessage
from reminders.protocols import service as protocols
from reminders.triage import triage
from tests.conversations.conftest import ALICE_PHONE, RIVERSIDE_NUMBER, enroll, hours, send_question

INSULIN = "Did you take your evening insulin?"
TAPBACK = "Liked “Has the numbness worn off? Reply YES or NO”"
_sid = iter(range(10_000))


def text(session: Session, at: datetime, body: str) -> Handled:
    return receive_sms(session=session, now=at, message_sid=f"SMq{next(_sid):031d}",
                       sender=ALICE_PHONE, to=RIVERSIDE_NUMBER, body=body)  # fmt: skip


def concerns(session: Session) -> list[Concern]:
    return list(session.scalars(select(Concern).order_by(Concern.id)))


def inbound(session: Session) -> InboundMessage:
    return session.scalars(select(InboundMessage).order_by(InboundMessage.id.desc())).first()


def publish_insulin_question(session: Session, clinic: Clinic, concerning: str) -> None:
    """A new corticosteroid version with the clinic's own evening insulin question."""
    draft = protocols.create_draft(session=session, clinic_id=clinic.id, key="corticosteroid")
    step = {"key": "insulin_check", "title": "Evening insulin", "when": "day 0 at 18:00",
            "template": "insulin_check", "expects": "yes_no", "concerning_answer": concerning,
            "expires": "3h", "condition": "has:diabetes", "source": "Riverside Ortho"}  # fmt: skip
    steps = [s for s in draft.steps if s["key"] != "insulin_check"]
    protocols.update_draft(session=session, version=draft, steps=[*steps, step], templates={
        "insulin_check.en": "Hi {{ first_name }}, it's {{ clinic_name }}. " + INSULIN
                            + " Reply YES or NO.",
        "insulin_check.es": "Hola {{ first_name }}, ¿se puso la insulina de la noche? "
                            "Responda SÍ o NO.",
    })  # fmt: skip
    protocols.publish(session=session, version=draft)


@pytest.fixture
def asked_alice(session: Session, riverside: Clinic, now: datetime) -> ScheduledMessage:
    """Alice, enrolled on the version with the insulin question, which went out at 18:00."""
    publish_insulin_question(session, riverside, concerning="no")
    alice = enroll(session, riverside, now)
    return send_question(session, alice, "insulin_check", now + hours(4))


def test_the_question_is_read_as_alice_got_it(
    session: Session, asked_alice: ScheduledMessage
) -> None:
    asked = matching.what_was_asked(session=session, message=asked_alice)
    assert asked.text == f"Hi Alice, it's Riverside Ortho. {INSULIN} Reply YES or NO."
    assert asked.concerning_answer == "no"


def test_nope_to_the_insulin_question_opens_a_concern(
    session: Session, asked_alice: ScheduledMessage, now: datetime
) -> None:
    handled = text(session, now + hours(4.5), "Nope")
    message = inbound(session)
    assert (message.kind, message.answers_message_id) == (ANSWER, asked_alice.id)
    [concern] = concerns(session)
    assert concern.status == "open" and concern.severity in ("routine", "urgent")
    assert handled.replies  # she is told the team will be in touch


def test_yep_to_the_insulin_question_is_good_news(
    session: Session, asked_alice: ScheduledMessage, now: datetime
) -> None:
    # Without the step's concerning_answer a bare "yep" to an unknown question goes to a
    # person; with it, it is the good answer.
    handled = text(session, now + hours(4.5), "yep")
    message = inbound(session)
    assert (message.kind, message.answers_message_id, message.severity) == (
        ANSWER, asked_alice.id, "none")  # fmt: skip
    assert concerns(session) == []
    assert len(handled.replies) == 1  # a short thanks


def test_a_later_edit_does_not_turn_alices_answer_around(
    session: Session, riverside: Clinic, asked_alice: ScheduledMessage, now: datetime
) -> None:
    """The clinic flips the worrying answer in a new version; Alice keeps her pinned one."""
    publish_insulin_question(session, riverside, concerning="yes")
    text(session, now + hours(4.5), "yep")
    assert concerns(session) == []


def test_a_tapback_on_the_numbness_check_leaves_it_open_and_raises_nothing(
    session: Session, alice: Enrollment, now: datetime
) -> None:
    assert triage(TAPBACK, expects="yes_no").reaction == "liked", "the engine reads tapbacks"
    numbness = send_question(session, alice, "numbness_check", now + hours(4))

    handled = text(session, now + hours(4.2), TAPBACK)
    message = inbound(session)
    assert (message.kind, message.answers_message_id) == (REACTION, None)
    assert message.parsed == {"reaction": "liked"}
    assert concerns(session) == [] and handled.replies == [] and handled.alert_ids == []
    still_open = matching.open_question(session=session, patient_id=alice.patient_id,
                                        now=now + hours(4.3))  # fmt: skip
    assert still_open is not None and still_open.id == numbness.id

    text(session, now + hours(4.4), "yes, all gone")  # her real answer still lands on it
    answer = inbound(session)
    assert (answer.kind, answer.answers_message_id) == (ANSWER, numbness.id)


@pytest.mark.parametrize("body", ["¿Puedo manejar mañana?", "can we move my visit to friday?"])
def test_a_question_back_reaches_a_person_and_the_check_stays_open(
    session: Session, alice: Enrollment, now: datetime, body: str
) -> None:
    """Asked whether the numbness has worn off, Alice asks something instead. Nobody
    tells her we did not understand: a routine concern asks a person to answer her."""
    numbness = send_question(session, alice, "numbness_check", now + hours(4))
    handled = text(session, now + hours(4.2), body)
    message = inbound(session)
    assert message.answers_message_id is None and message.kind == "free"
    [concern] = concerns(session)
    assert concern.severity == "routine" and concern.status == "open"
    [reply] = handled.replies
    assert "understand" not in reply.lower() and "entend" not in reply.lower()
    still_open = matching.open_question(session=session, patient_id=alice.patient_id,
                                        now=now + hours(4.3))  # fmt: skip
    assert still_open is not None and still_open.id == numbness.id
