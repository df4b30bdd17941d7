"""Questions nobody answered: re-ask once, then tell the coordinator (per-step setting).

For a question sent at ``sent`` with answer window ``W`` and the step's
``no_response: {reask_after: R, concern: C}``:

* at ``sent + R`` it is re-asked once ("Reminder: " + the question), if the window is
  still open, the patient can still be reached on that channel and it is not quiet hours
  (queued as a ``reask`` message: it goes out through the delivery pipeline);
* at ``reask + R`` (or ``sent + W`` without a re-ask) a routine ``no_response`` concern
  is opened when ``C`` is true.

Any reply attached to the question (even an unreadable one) counts as a response. Every
transition is claimed through the one ``question_followups`` row per question (unique
``message_id``, conditional state updates), so concurrent runs act once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from reminders import display
from reminders.clinics.models import Clinic
from reminders.clinics.service import send_window
from reminders.clock import Clock
from reminders.conversations import texts
from reminders.conversations.flagging import raise_concern
from reminders.conversations.matching import LOOKBACK
from reminders.conversations.models import InboundMessage, QuestionFollowup
from reminders.conversations.outbound import queue
from reminders.delivery.prepare import render_message
from reminders.delivery.send import SessionFactory
from reminders.enrollments.models import REASK, SENT, Enrollment, ScheduledMessage
from reminders.patients.models import Patient
from reminders.protocols.models import ProtocolVersion
from reminders.protocols.service import steps_of
from reminders.protocols.spec import NoResponse

log = logging.getLogger(__name__)


def run_no_response(*, sessions: SessionFactory, clock: Clock, limit: int = 200) -> int:
    """One pass over unanswered questions; returns how many re-asks and concerns it made.

    Re-asks are queued for the delivery pipeline; the caller delivers them after commit.
    """
    with sessions() as session:
        ids = _candidates(session, clock.now(), limit)
    return sum(_follow_up(message_id, sessions, clock) for message_id in ids)


def _candidates(session: Session, now: datetime, limit: int) -> list[int]:
    m = ScheduledMessage
    replied = exists().where(InboundMessage.answers_message_id == m.id)
    closed = exists().where(QuestionFollowup.message_id == m.id, QuestionFollowup.state == "closed")
    return list(session.scalars(
        select(m.id).where(
            m.status == SENT, m.expects.is_not(None), m.sent_at.is_not(None),
            m.sent_at >= now - LOOKBACK, ~replied, ~closed,
        ).order_by(m.sent_at).limit(limit)
    ))  # fmt: skip


def _follow_up(message_id: int, sessions: SessionFactory, clock: Clock) -> int:
    now = clock.now()
    with sessions() as session:
        message = session.get_one(ScheduledMessage, message_id)
        rule = _rule(session, message)
        followup = session.scalar(
            select(QuestionFollowup).where(QuestionFollowup.message_id == message_id)
        )
        assert message.sent_at is not None
        if followup is None and rule.reask_after and now >= message.sent_at + rule.reask_after:
            reask = _reask_text(session, message, now)
            if reask is not None and _claim(session, message, now):
                body, subject = reask
                enrollment = session.get_one(Enrollment, message.enrollment_id)
                queue(session=session, clinic_id=message.clinic_id, kind=REASK,
                      channel=message.channel, body=body, subject=subject, now=now,
                      key=str(message.id), patient_id=enrollment.patient_id,
                      enrollment_id=enrollment.id, about_message_id=message.id,
                      time_critical=message.time_critical, step_key=message.step_key,
                      expires_at=_window_closes(message))  # fmt: skip
                log.info("re-ask of message %s queued", message_id)
                return 1
        return _maybe_close(session, message, followup, rule, now)


def _rule(session: Session, message: ScheduledMessage) -> NoResponse:
    enrollment = session.get_one(Enrollment, message.enrollment_id)
    version = session.get_one(ProtocolVersion, enrollment.protocol_version_id)
    step = next((s for s in steps_of(version) if s.key == message.step_key), None)
    return step.no_response if step is not None else NoResponse()


def _window_closes(message: ScheduledMessage) -> datetime:
    assert message.sent_at is not None
    return message.sent_at + timedelta(minutes=message.answer_window_minutes or 0)


def _reask_text(
    session: Session, message: ScheduledMessage, now: datetime
) -> tuple[str, str | None] | None:
    """The re-ask's (text, email subject), or None when it cannot or should not go now."""
    enrollment = session.get_one(Enrollment, message.enrollment_id)
    patient = session.get_one(Patient, enrollment.patient_id)
    clinic = session.get_one(Clinic, message.clinic_id)
    address = patient.phone if message.channel == "sms" else patient.email
    opted_out = patient.sms_opted_out_at if message.channel == "sms" else patient.email_opted_out_at
    if enrollment.status != "active" or now >= _window_closes(message) or not address or opted_out:
        return None
    local = now.astimezone(ZoneInfo(patient.timezone)).time()
    if not message.time_critical and not send_window(clinic).allows(local):
        return None  # quiet hours: a later run re-asks once they end, if still in time
    question = render_message(session=session, message=message, at=now)
    context = texts.clinic_context(clinic, patient.given_name)
    prefix = texts.render("reask", patient.language, context) or "Reminder:"
    subject = f"{prefix} {question.subject or ''}".strip() if message.channel == "email" else None
    return f"{prefix} {question.text}", subject


def _claim(session: Session, message: ScheduledMessage, now: datetime) -> bool:
    try:
        with session.begin_nested():
            # Queued in this same transaction, so "reasked" is true once it commits.
            session.add(QuestionFollowup(
                clinic_id=message.clinic_id, message_id=message.id, state="reasked",
                reasked_at=now, created_at=now, updated_at=now,
            ))  # fmt: skip
            session.flush()
    except IntegrityError:
        return False  # another run got there first
    return True


def _maybe_close(
    session: Session, message: ScheduledMessage, followup: QuestionFollowup | None,
    rule: NoResponse, now: datetime,
) -> int:  # fmt: skip
    assert message.sent_at is not None
    if rule.reask_after:
        base = (followup.reasked_at if followup and followup.reasked_at else None) or (
            message.sent_at + rule.reask_after)
        deadline = base + rule.reask_after
    else:
        deadline = message.sent_at + timedelta(minutes=message.answer_window_minutes or 0)
    if now < deadline:
        return 0
    reason = "no_response_concern" if rule.concern else "no_response"
    if followup is None:
        followup = QuestionFollowup(clinic_id=message.clinic_id, message_id=message.id,
                                    state="closed", closed_reason=reason, created_at=now,
                                    updated_at=now)  # fmt: skip
        try:
            with session.begin_nested():
                session.add(followup)
                session.flush()
        except IntegrityError:
            return 0
    else:
        moved = session.execute(
            update(QuestionFollowup)
            .where(QuestionFollowup.id == followup.id, QuestionFollowup.state != "closed")
            .values(
                state="closed", closed_reason=reason, updated_at=now,
                reasked_at=followup.reasked_at,
            )
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            return 0
    if not rule.concern:
        return 0
    enrollment = session.get_one(Enrollment, message.enrollment_id)
    clinic = session.get_one(Clinic, message.clinic_id)
    concern, _alerts = raise_concern(
        session=session, clinic=clinic, severity="routine", kind="no_response", now=now,
        summary=f"No answer to the {display.step_label(message.step_key)}", categories=[],
        patient_id=enrollment.patient_id, enrollment_id=enrollment.id, dedupe=False,
    )  # fmt: skip
    session.execute(
        update(QuestionFollowup).where(QuestionFollowup.id == followup.id)
        .values(concern_id=concern.id if concern else None)
    )  # fmt: skip
    return 1
