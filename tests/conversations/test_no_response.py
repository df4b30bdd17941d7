"""A question nobody answers is re-asked once; still nothing → a routine concern (per step)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from reminders.clinics.models import Clinic
from reminders.clock import SimulatedClock
from reminders.config import Settings
from reminders.conversations.models import Concern, InboundMessage, QuestionFollowup
from reminders.conversations.no_response import run_no_response
from reminders.conversations.outbound import Channels, deliver_now
from reminders.conversations.service import receive_sms
from reminders.delivery.send import SessionFactory
from reminders.enrollments import service as enrollments
from reminders.enrollments.models import (
    CANCELLED,
    PENDING,
    REASK,
    STEP,
    Enrollment,
    ScheduledMessage,
)
from tests.conversations.conftest import (
    ALICE_PHONE,
    RIVERSIDE_NUMBER,
    hours,
    send_question,
    texts_to,
)
from tests.fakes import FakeTwilio


def follow_up(sessions: SessionFactory, channels: Channels, settings: Settings,
              clock: SimulatedClock) -> int:  # fmt: skip
    """The periodic job: re-asks and concerns queued, then delivered by the pipeline."""
    done = run_no_response(sessions=sessions, clock=clock)
    deliver_now(sessions=sessions, channels=channels, settings=settings, clock=clock)
    return done


def only_the_question_was_due(session: Session) -> None:
    """Alice's other check-ins are out of the way: only re-asks are left to send."""
    m = ScheduledMessage
    session.execute(update(m).where(m.status == PENDING, m.kind == STEP)
                    .values(status=CANCELLED))  # fmt: skip


def test_infection_check_is_reasked_once_then_goes_to_the_coordinator(
    session: Session, alice: Enrollment, now: datetime, same_session: SessionFactory,
    channels: Channels, settings: Settings, fake_twilio: FakeTwilio,
) -> None:  # fmt: skip
    # Day 3 at 10:00 Chicago; the step says reask_after 6h, concern: true.
    sent = now + hours(2 * 24 + 19 + 50 / 60)
    check = send_question(session, alice, "infection_check", sent)
    only_the_question_was_due(session)
    clock = SimulatedClock(sent + hours(5.9))

    def run() -> int:
        return follow_up(same_session, channels, settings, clock)

    assert run() == 0
    clock.advance(hours(0.1))  # 16:00: six hours without an answer
    assert run() == 1
    [reask] = texts_to(fake_twilio, ALICE_PHONE)
    assert reask.startswith("Reminder: ") and "Reply" in reask
    # It went out through the pipeline: a message row of its own, with an attempt.
    row = session.scalars(select(ScheduledMessage).where(ScheduledMessage.kind == REASK)).one()
    assert (row.status, row.about_message_id, row.body) == ("sent", check.id, reask)
    clock.advance(hours(1))
    assert run() == 0  # re-asked once, never twice
    assert session.scalars(select(Concern)).all() == []
    clock.advance(hours(5))  # six hours after the re-ask
    assert run() == 1
    concern = session.scalars(select(Concern)).one()
    assert (concern.kind, concern.severity, concern.patient_id) == ("no_response", "routine",
                                                                    alice.patient_id)  # fmt: skip
    assert concern.next_escalation_at is None  # routine: nobody is paged
    clock.advance(hours(1))
    assert run() == 0
    assert len(texts_to(fake_twilio, ALICE_PHONE)) == 1
    followup = session.scalars(select(QuestionFollowup)).one()
    assert (followup.message_id, followup.state, followup.concern_id) == (
        check.id, "closed", concern.id)

    # She answers late (the re-ask reopened the window): the concern resolves itself.
    receive_sms(session=session, now=clock.now(), message_sid="SMlate" + "0" * 28,
                sender=ALICE_PHONE, to=RIVERSIDE_NUMBER, body="no, all looks fine")  # fmt: skip
    answer = session.scalars(select(InboundMessage)).one()
    assert (answer.kind, answer.answers_message_id) == ("answer", check.id)
    assert concern.status == "resolved" and concern.resolved_by is None


def test_numbness_check_is_reasked_but_raises_no_concern(
    session: Session, alice: Enrollment, now: datetime, same_session: SessionFactory,
    channels: Channels, settings: Settings, fake_twilio: FakeTwilio,
) -> None:  # fmt: skip
    send_question(session, alice, "numbness_check", now + hours(4))  # 18:10 local
    only_the_question_was_due(session)
    clock = SimulatedClock(now + hours(6))  # 20:10: quiet hours have begun
    run = lambda: follow_up(same_session, channels, settings, clock)  # noqa: E731
    assert run() == 0 and texts_to(fake_twilio, ALICE_PHONE) == []  # no texts at night
    clock.advance(hours(2))  # two hours past the re-ask time, never re-asked: close quietly
    assert run() == 0
    assert session.scalars(select(QuestionFollowup.closed_reason)).one() == "no_response"
    assert session.scalars(select(Concern)).all() == []


def test_an_answered_question_is_left_alone(
    session: Session, alice: Enrollment, now: datetime, same_session: SessionFactory,
    channels: Channels, settings: Settings, fake_twilio: FakeTwilio,
) -> None:  # fmt: skip
    sent = now + hours(2 * 24 + 19 + 50 / 60)
    send_question(session, alice, "infection_check", sent)
    only_the_question_was_due(session)
    receive_sms(session=session, now=sent + hours(1), message_sid="SMans" + "0" * 29,
                sender=ALICE_PHONE, to=RIVERSIDE_NUMBER, body="no")  # fmt: skip
    clock = SimulatedClock(sent + hours(30))
    assert follow_up(same_session, channels, settings, clock) == 0
    assert texts_to(fake_twilio, ALICE_PHONE) == []
    assert session.scalars(select(Concern)).all() == []


def test_rescheduling_the_visit_leaves_a_queued_reask_alone(
    session: Session, alice: Enrollment, riverside: Clinic, now: datetime,
    same_session: SessionFactory,
) -> None:  # fmt: skip
    """A re-ask shares its question's step key; replanning the protocol must not take it
    for the step (nor move the step's own history)."""
    sent = now + hours(2 * 24 + 19 + 50 / 60)
    check = send_question(session, alice, "infection_check", sent)
    clock = SimulatedClock(sent + hours(6))
    assert run_no_response(sessions=same_session, clock=clock) == 1
    reask = session.scalars(select(ScheduledMessage).where(ScheduledMessage.kind == REASK)).one()
    queued = (reask.due_at, reask.expires_at, reask.planned_at)
    enrollments.reschedule(session=session, clinic=riverside, enrollment=alice, now=clock.now(),
                           actor="test", follow_up_at=now + hours(24 * 20))  # fmt: skip
    session.refresh(reask)
    session.refresh(check)
    assert (reask.status, reask.kind, reask.about_message_id) == (PENDING, REASK, check.id)
    assert (reask.due_at, reask.expires_at, reask.planned_at) == queued
    assert reask.body is not None and reask.body.startswith("Reminder: ")
    assert check.status == "sent"
