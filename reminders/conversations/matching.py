"""Who wrote, and which question (if any) the message answers.

A reply answers the most recent question sent to that patient (a message that expects
an answer) while its answer window is open and it has no answer yet; anything else is
a free message on the patient's timeline. A re-ask reopens the window from its own time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reminders.clinics.models import Clinic
from reminders.conversations.models import ANSWER, InboundMessage, QuestionFollowup
from reminders.delivery.prepare import render_message
from reminders.enrollments.models import SENT, Enrollment, ScheduledMessage
from reminders.patients.models import Patient, Procedure
from reminders.protocols.models import ProtocolVersion
from reminders.protocols.service import steps_of
from reminders.rendering import RenderError

log = logging.getLogger(__name__)

# No protocol window is longer than a day or two; this only bounds the scan.
LOOKBACK = timedelta(days=7)


def patient_for_phone(*, session: Session, phone: str, to: str | None) -> Patient | None:
    """The patient texting from ``phone``; the clinic number they wrote to breaks ties.

    Two clinics may know the same number (or a family shares one): prefer the clinic
    whose number was texted, then whoever we last sent a message to.
    """
    found = list(session.scalars(select(Patient).where(Patient.phone == phone)))
    if to and len(found) > 1:
        clinic_ids = set(session.scalars(select(Clinic.id).where(Clinic.sms_from == to)))
        found = [p for p in found if p.clinic_id in clinic_ids] or found
    return _most_recently_messaged(session, found)


def patient_for_email(*, session: Session, address: str) -> Patient | None:
    found = list(session.scalars(select(Patient).where(Patient.email == address.lower())))
    return _most_recently_messaged(session, found)


def _most_recently_messaged(session: Session, patients: list[Patient]) -> Patient | None:
    if len(patients) <= 1:
        return patients[0] if patients else None
    last_sent = dict(
        session.execute(
            select(Enrollment.patient_id, func.max(ScheduledMessage.sent_at))
            .join(ScheduledMessage, ScheduledMessage.enrollment_id == Enrollment.id)
            .where(Enrollment.patient_id.in_([p.id for p in patients]))
            .group_by(Enrollment.patient_id)
        ).tuples()
    )
    never = datetime.min.replace(tzinfo=UTC)
    return max(patients, key=lambda p: (last_sent.get(p.id) or never, p.id))


def current_enrollment(*, session: Session, patient_id: int) -> Enrollment | None:
    """The patient's active enrollment (the newest, should there be several)."""
    return session.scalars(
        select(Enrollment)
        .where(Enrollment.patient_id == patient_id)
        .order_by((Enrollment.status == "active").desc(), Enrollment.id.desc())
        .limit(1)
    ).first()


def hours_since_procedure(
    *, session: Session, enrollment: Enrollment | None, now: datetime
) -> float | None:
    if enrollment is None:
        return None
    procedure = session.get_one(Procedure, enrollment.procedure_id)
    return max(0.0, (now - procedure.performed_at).total_seconds() / 3600)


def window_end(message: ScheduledMessage, reasked_at: datetime | None) -> datetime | None:
    if message.sent_at is None or not message.answer_window_minutes:
        return None
    start = max(message.sent_at, reasked_at) if reasked_at else message.sent_at
    return start + timedelta(minutes=message.answer_window_minutes)


def open_question(*, session: Session, patient_id: int, now: datetime) -> ScheduledMessage | None:
    """The question this patient's message answers now, or None for a free message."""
    m = ScheduledMessage
    rows = session.execute(
        select(m, QuestionFollowup.reasked_at)
        .join(Enrollment, Enrollment.id == m.enrollment_id)
        .outerjoin(QuestionFollowup, QuestionFollowup.message_id == m.id)
        .where(
            Enrollment.patient_id == patient_id,
            m.status == SENT,
            m.expects.is_not(None),
            m.sent_at.is_not(None),
            m.sent_at <= now,
            m.sent_at >= now - LOOKBACK,
        )
        .order_by(m.sent_at.desc(), m.id.desc())
        .limit(1)
    ).first()
    if rows is None:
        return None
    message, reasked_at = rows
    end = window_end(message, reasked_at)
    if end is None or now > end or is_answered(session=session, message_id=message.id):
        return None
    return message


def question_if_open(
    *, session: Session, message_id: int, patient_id: int, now: datetime
) -> ScheduledMessage | None:
    """An email reply names its message: that one, if it is this patient's open question."""
    message = session.get(ScheduledMessage, message_id)
    if message is None or message.expects is None or message.status != SENT:
        return None
    enrollment = session.get_one(Enrollment, message.enrollment_id)
    if enrollment.patient_id != patient_id:
        return None
    reasked_at = session.scalar(
        select(QuestionFollowup.reasked_at).where(QuestionFollowup.message_id == message.id)
    )
    end = window_end(message, reasked_at)
    if end is None or now > end or is_answered(session=session, message_id=message.id):
        return None
    return message


def is_answered(*, session: Session, message_id: int) -> bool:
    return (
        session.scalar(
            select(InboundMessage.id)
            .where(InboundMessage.answers_message_id == message_id, InboundMessage.kind == ANSWER)
            .limit(1)
        )
        is not None
    )


@dataclass(frozen=True)
class Asked:
    """The question as the patient got it, and which answer to it means trouble."""

    text: str | None
    concerning_answer: str | None


def what_was_asked(*, session: Session, message: ScheduledMessage) -> Asked:
    """The question's text as sent and its pinned step's ``concerning_answer``.

    The body is not stored, so it is rendered again the way the sender rendered it (same
    pinned templates, same clock: ``sent_at``). The answer that means trouble comes from
    the enrollment's protocol version, not today's protocol, so a later edit cannot turn
    a patient's "no" around.
    """
    enrollment = session.get_one(Enrollment, message.enrollment_id)
    version = session.get_one(ProtocolVersion, enrollment.protocol_version_id)
    step = next((s for s in steps_of(version) if s.key == message.step_key), None)
    concerning = step.concerning_answer if step is not None else None
    try:
        text = render_message(session=session, message=message,
                              at=message.sent_at or message.planned_at).text  # fmt: skip
    except RenderError:
        # It rendered when it was sent; if it no longer does, triage without it.
        log.warning("question %s no longer renders; triaging without its text", message.id)
        text = None
    return Asked(text=text, concerning_answer=concerning)
