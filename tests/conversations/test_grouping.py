"""One problem, one concern: Alice's fever texts gather on one concern, her bleed gets its own.

Alice at Riverside Ortho texts on the afternoon of her injection. The on-call clinician
(Olive) is paged for urgent and emergency concerns.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders.audit.models import AuditEvent
from reminders.clinics.models import Clinic, StaffMember
from reminders.conversations.concerns import acknowledge
from reminders.conversations.flagging import raise_concern
from reminders.conversations.models import Concern, InboundMessage
from reminders.conversations.service import Handled, receive_sms
from reminders.enrollments.models import Enrollment
from tests.conversations.conftest import ALICE_PHONE, RIVERSIDE_NUMBER, hours

_sid = iter(range(10_000))
STRANGER, OTHER_STRANGER = "+13125550111", "+13125550112"


def text(session: Session, at: datetime, body: str, sender: str = ALICE_PHONE) -> Handled:
    return receive_sms(session=session, now=at, message_sid=f"SMg{next(_sid):031d}",
                       sender=sender, to=RIVERSIDE_NUMBER, body=body)  # fmt: skip


def concerns(session: Session) -> list[Concern]:
    return list(session.scalars(select(Concern).order_by(Concern.id)))


def inbound(session: Session, handled: Handled) -> InboundMessage:
    return session.get_one(InboundMessage, handled.inbound_id)


def actions(session: Session, concern: Concern) -> list[str]:
    return list(session.scalars(select(AuditEvent.action).where(
        AuditEvent.subject_type == "concern", AuditEvent.subject_id == concern.id,
    ).order_by(AuditEvent.id)))  # fmt: skip


def olive(session: Session, clinic: Clinic) -> StaffMember:
    query = select(StaffMember).where(StaffMember.clinic_id == clinic.id,
                                      StaffMember.name == "Olive")  # fmt: skip
    return session.scalars(query).one()


def test_a_fever_reported_twice_is_one_concern_with_both_messages(
    session: Session, alice: Enrollment, now: datetime
) -> None:
    first = text(session, now + hours(2), "I have a fever of 101")
    second = text(session, now + hours(2.5), "still feverish, 101.5 now")
    [concern] = concerns(session)
    assert (concern.severity, concern.categories) == ("urgent", ["infection"])
    assert inbound(session, first).concern_id == inbound(session, second).concern_id == concern.id
    assert first.alert_ids and second.alert_ids == []  # paged once, not twice
    assert actions(session, concern)[-1] == "concern.join"
    assert len(concern.summary) <= 300


def test_a_bleed_in_the_middle_of_a_fever_opens_its_own_concern_and_pages(
    session: Session, alice: Enrollment, now: datetime
) -> None:
    text(session, now + hours(2), "I have a fever of 101")
    bleed = text(session, now + hours(2.2), "some bleeding from the site")
    fever, bleeding = concerns(session)
    assert fever.categories == ["infection"] and bleeding.categories == ["bleeding"]
    assert inbound(session, bleed).concern_id == bleeding.id
    assert bleed.alert_ids  # an urgent fever already open does not hide the bleed


def test_an_emergency_concern_does_not_hide_a_routine_question_about_something_else(
    session: Session, alice: Enrollment, now: datetime
) -> None:
    text(session, now + hours(2), "I have chest pain")
    text(session, now + hours(2.1), "does it usually bruise like this?")
    assert [(c.severity, c.categories) for c in concerns(session)] == [
        ("emergency", ["chest_pain"]),
        ("routine", ["expected_side_effect", "question"]),
    ]


def test_a_small_bleed_that_turns_into_an_emergency_raises_the_same_concern_and_pages(
    session: Session, alice: Enrollment, now: datetime
) -> None:
    small = text(session, now + hours(2), "a little blood on the bandage")
    assert small.alert_ids == []  # routine pages no one
    worse = text(session, now + hours(3), "blood everywhere I am going to pass out")
    [concern] = concerns(session)
    assert concern.severity == "emergency"
    assert concern.categories[0] == "bleeding" and len(concern.categories) > 1  # the union
    assert inbound(session, worse).concern_id == concern.id
    assert worse.alert_ids  # paging starts at the emergency level
    assert "concern.raise" in actions(session, concern)


def test_urgent_pain_becoming_an_emergency_reopens_an_acknowledged_concern(
    session: Session, riverside: Clinic, alice: Enrollment, now: datetime
) -> None:
    text(session, now + hours(2), "it hurts a lot")
    [concern] = concerns(session)
    nurse = olive(session, riverside)
    acknowledge(session=session, concern=concern, staff_id=nurse.id, now=now + hours(2.1),
                via="web")  # fmt: skip
    assert concern.status == "acknowledged"

    same = text(session, now + hours(2.5), "it hurts a lot")  # Olive is already on it
    assert (concern.status, same.alert_ids) == ("acknowledged", [])
    assert inbound(session, same).concern_id == concern.id

    worse = text(session, now + hours(3), "painful 10/10 and I cant breathe")
    assert concerns(session) == [concern]
    assert (concern.severity, concern.status) == ("emergency", "open")
    # Who had it stays on the row; the change of situation pages again.
    assert concern.acknowledged_by == nurse.id and concern.acknowledged_at is not None
    assert worse.alert_ids
    assert "concern.raise" in actions(session, concern)


def test_a_no_response_concern_does_not_hide_a_new_reply(
    session: Session, riverside: Clinic, alice: Enrollment, now: datetime
) -> None:
    quiet, _ = raise_concern(
        session=session, clinic=riverside, severity="routine", kind="no_response",
        now=now + hours(30), summary="No answer to 'flare_check'", categories=[],
        patient_id=alice.patient_id, enrollment_id=alice.id, dedupe=False,
    )  # fmt: skip
    reply = text(session, now + hours(31), "can I go for a walk today?")
    assert quiet is not None
    no_response, question = concerns(session)
    assert no_response.id == quiet.id and question.kind == "reply"
    assert inbound(session, reply).concern_id == question.id


def test_a_follow_up_that_names_nothing_new_joins_the_open_conversation(
    session: Session, alice: Enrollment, now: datetime
) -> None:
    text(session, now + hours(2), "a little blood on the bandage")
    nudge = text(session, now + hours(3), "hello??")
    [concern] = concerns(session)
    assert inbound(session, nudge).concern_id == concern.id


def test_unknown_numbers_are_grouped_by_number(
    session: Session, riverside: Clinic, alice: Enrollment, now: datetime
) -> None:
    text(session, now, "my wound is bleeding a lot", sender=STRANGER)
    text(session, now + hours(1), "hello??", sender=STRANGER)
    text(session, now + hours(1), "my wound is bleeding a lot", sender=OTHER_STRANGER)
    text(session, now + hours(1), "my wound is bleeding a lot")  # Alice, a known patient
    first, second, alices = concerns(session)
    assert (first.kind, second.kind, alices.kind) == ("unknown_sender", "unknown_sender", "reply")
    joined = session.scalars(select(InboundMessage.sender).where(
        InboundMessage.concern_id == first.id)).all()  # fmt: skip
    assert joined == [STRANGER, STRANGER]
    assert alices.patient_id == alice.patient_id and first.patient_id is None
