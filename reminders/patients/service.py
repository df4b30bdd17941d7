"""Patient search and timelines for staff screens. Every query takes the caller's clinic:
another clinic's patient is reported exactly like a missing one (NotFound)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from reminders.clinics.models import Clinic
from reminders.conversations.models import Concern, InboundMessage
from reminders.delivery.models import SendAttempt
from reminders.enrollments.models import (
    CANCELLED,
    PENDING,
    REASK,
    SENT,
    SKIPPED,
    STAFF_TEXT,
    STEP,
    Enrollment,
    ScheduledMessage,
)
from reminders.enrollments.service import NotFound
from reminders.patients import consent
from reminders.patients.models import Patient, Procedure
from reminders.protocols.models import ProtocolVersion
from reminders.protocols.service import steps_of
from reminders.retention.service import removed_after_days
from reminders.segments import count as count_segments
from reminders.segments import normalize

log = logging.getLogger(__name__)
MMOL_TO_MG_DL = 18.0


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search(*, session: Session, clinic_id: int, q: str = "", limit: int = 50) -> list[Patient]:
    """By name, MRN (external id) or phone digits; newest patients first when ``q`` is empty."""
    query = select(Patient).where(Patient.clinic_id == clinic_id)
    text = " ".join(q.replace("\x00", "").split())[:100]
    if text:
        terms = [or_(Patient.given_name.ilike(_like(word), escape="\\"),
                     Patient.family_name.ilike(_like(word), escape="\\"),
                     Patient.external_id.ilike(_like(word), escape="\\"))
                 for word in text.split()]  # fmt: skip
        digits = "".join(ch for ch in text if ch.isdigit())
        by_name = and_(*terms)  # every word must match a name or the MRN
        query = query.where(or_(by_name, Patient.phone.like(_like(digits), escape="\\"))
                            if len(digits) >= 4 else by_name)  # fmt: skip
    return list(session.scalars(query.order_by(Patient.created_at.desc(), Patient.id.desc())
                                .limit(limit)))  # fmt: skip


def get_patient(*, session: Session, clinic_id: int, patient_id: int) -> Patient:
    patient = session.get(Patient, patient_id)
    if patient is None or patient.clinic_id != clinic_id:
        raise NotFound(f"no patient {patient_id}")
    return patient


@dataclass(frozen=True)
class MessageView:
    message: ScheduledMessage
    delivery: str | None  # the latest provider status: accepted, sent, delivered, failed…
    delivery_error: str | None = None
    # What it said: its stored text, else the step rendered again as the sender renders
    # it (at ``sent_at``; a scheduled one as it would go out). None when it cannot be
    # known (texts removed under retention, a template that no longer renders).
    text: str | None = None
    subject: str | None = None
    segments: int | None = None  # SMS parts (billed ones once sent); None for email
    # A question's state: "answered", "awaiting" (its window is open) or "unanswered".
    answer: str | None = None
    # Scheduled for a channel the patient has opted out of: it will be skipped.
    opted_out: bool = False


@dataclass
class EnrollmentView:
    enrollment: Enrollment
    procedure: Procedure
    protocol: ProtocolVersion
    messages: list[MessageView] = field(default_factory=list)
    # Purged under the retention period: after how many days its texts were removed.
    removed_after: int | None = None


@dataclass(frozen=True)
class Event:
    at: datetime
    kind: str  # message | reply | concern | consent
    item: Any
    # Its text is gone with its enrolment's (retention): after how many days.
    removed_after: int | None = None
    # A reply: the question it answered.
    question: ScheduledMessage | None = None


@dataclass
class Timeline:
    patient: Patient
    enrollments: list[EnrollmentView]
    replies: list[InboundMessage]
    concerns: list[Concern]
    events: list[Event]
    pain: list[tuple[datetime, float]]
    glucose: list[tuple[datetime, float]]
    # Step key → its title in the patient's protocol versions (a clinic's own steps).
    titles: dict[str, str] = field(default_factory=dict)


def readings(parsed: dict[str, Any] | None) -> dict[str, float]:
    """Pain (0-10) and glucose (mg/dL) from a reply's parsed values, in whichever shape the
    parser wrote them: ``{"pain_score": 7}``, ``{"glucose_mg_dl": 250}``,
    ``{"glucose": 5.5, "unit": "mmol/L"}`` or ``{"kind": "pain_score", "value": 7}``."""
    out: dict[str, float] = {}
    if not isinstance(parsed, dict):
        return out
    values = dict(parsed)
    if isinstance(values.get("kind"), str) and "value" in values:
        values[values["kind"]] = values["value"]
    for key in ("pain_score", "pain"):
        value = values.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 10:
            out["pain"] = float(value)
            break
    for key in ("glucose_mg_dl", "glucose_mgdl", "glucose"):
        value = values.get(key)
        unit = str(values.get("unit") or values.get("glucose_unit") or "").lower()
        if isinstance(value, dict):
            unit, value = str(value.get("unit") or "").lower(), value.get("value")
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            out["glucose"] = float(value) * (MMOL_TO_MG_DL if "mmol" in unit else 1)
            break
    if "glucose" not in out and isinstance(values.get("glucose_mmol_l"), int | float):
        out["glucose"] = float(values["glucose_mmol_l"]) * MMOL_TO_MG_DL
    return out


def latest_attempts(session: Session, message_ids: list[int]) -> dict[int, SendAttempt]:
    latest: dict[int, SendAttempt] = {}
    if not message_ids:
        return latest
    query = select(SendAttempt).where(SendAttempt.message_id.in_(message_ids))
    for attempt in session.scalars(query.order_by(SendAttempt.id)):
        if attempt.message_id is not None:
            latest[attempt.message_id] = attempt
    return latest


def timeline(*, session: Session, clinic_id: int, patient_id: int,
             now: datetime | None = None) -> Timeline:  # fmt: skip
    """Everything that happened to a patient and what is still to come, oldest first.

    A message is placed when it went out; one that never will (skipped, cancelled) at
    the time the protocol planned it, which is what its reason refers to. A question
    whose answer window closed (by ``now``) without a reply is "unanswered"."""
    patient = get_patient(session=session, clinic_id=clinic_id, patient_id=patient_id)
    enrollments = list(session.scalars(
        select(Enrollment).where(Enrollment.clinic_id == clinic_id,
                                 Enrollment.patient_id == patient.id)
        .order_by(Enrollment.created_at.desc(), Enrollment.id.desc())))  # fmt: skip
    enrollment_ids = [e.id for e in enrollments]
    clinic = session.get_one(Clinic, clinic_id)
    removed = removed_after_days(session=session, clinic=clinic, enrollments=enrollments)
    messages = list(session.scalars(
        select(ScheduledMessage).where(
            ScheduledMessage.clinic_id == clinic_id,
            or_(ScheduledMessage.enrollment_id.in_(enrollment_ids),
                # Clinicians' texts to her (auto-replies show with the reply they answer).
                and_(ScheduledMessage.patient_id == patient.id,
                     ScheduledMessage.kind == STAFF_TEXT)),
        ).order_by(ScheduledMessage.due_at, ScheduledMessage.id)))  # fmt: skip
    attempts = latest_attempts(session, [m.id for m in messages])
    views: dict[int, EnrollmentView] = {}
    titles: dict[str, str] = {}
    for enrollment in enrollments:
        version = session.get_one(ProtocolVersion, enrollment.protocol_version_id)
        views[enrollment.id] = EnrollmentView(
            enrollment=enrollment,
            procedure=session.get_one(Procedure, enrollment.procedure_id),
            protocol=version, removed_after=removed.get(enrollment.id),
        )  # fmt: skip
        for step in steps_of(version):
            titles.setdefault(step.key, step.title)
    concerns = list(session.scalars(
        select(Concern).where(Concern.clinic_id == clinic_id, Concern.patient_id == patient.id)
        .order_by(Concern.created_at.desc())))  # fmt: skip
    replies = list(session.scalars(
        select(InboundMessage).where(InboundMessage.clinic_id == clinic_id,
                                     InboundMessage.patient_id == patient.id)
        .order_by(InboundMessage.received_at)))  # fmt: skip
    by_id = {m.id: m for m in messages}
    answered = {r.answers_message_id for r in replies if r.answers_message_id is not None}
    # A question's window restarts when it is re-asked (matching.window_end).
    reasked = {m.about_message_id: m.sent_at for m in messages
               if m.kind == REASK and m.about_message_id and m.sent_at}  # fmt: skip
    texts = _texts(session, messages, attempts, {e.id for e in enrollments if e.purged_at})
    # A clinician's text belongs to its concern's enrolment (it has none of its own).
    enrollment_of_concern = {c.id: c.enrollment_id for c in concerns}
    events: list[Event] = []
    for message in messages:
        attempt = attempts.get(message.id)
        text, subject, segments = texts.get(message.id, (None, None, None))
        view = MessageView(
            message, attempt.status if attempt else None,
            attempt.error_message if attempt else None, text=text, subject=subject,
            segments=segments, answer=_answer_state(message, answered, reasked, now),
            opted_out=message.status == PENDING and consent.is_opted_out(patient,
                                                                         message.channel),
        )  # fmt: skip
        if message.enrollment_id in views and message.kind == STEP:
            views[message.enrollment_id].messages.append(view)
        owner = message.enrollment_id or enrollment_of_concern.get(message.concern_id or 0)
        gone = removed.get(owner or 0) if message.body is None else None
        events.append(Event(_placed_at(message), "message", view, gone))
    pain, glucose = [], []
    for reply in replies:
        gone = removed.get(reply.enrollment_id or 0) if not reply.body else None
        question = by_id.get(reply.answers_message_id or 0)
        events.append(Event(reply.received_at, "reply", reply, gone, question))
        found = readings(reply.parsed)
        if "pain" in found:
            pain.append((reply.received_at, found["pain"]))
        if "glucose" in found:
            glucose.append((reply.received_at, found["glucose"]))
    events.extend(Event(c.created_at, "concern", c) for c in concerns)
    # A STOP and the opt-out it caused share a moment: the reply first, then the change.
    events.extend(Event(e.at, "consent", e)
                  for e in consent.history(session=session, patient_id=patient.id))  # fmt: skip
    order = {"message": 0, "reply": 1, "consent": 2, "concern": 3}
    events.sort(key=lambda e: (e.at, order[e.kind]))
    return Timeline(patient, list(views.values()), replies, concerns, events, pain, glucose,
                    titles)  # fmt: skip


def _placed_at(message: ScheduledMessage) -> datetime:
    """When it went out; a step that never will, when the protocol planned it (its
    ``due_at`` is the moment the skip was decided, e.g. the enrolment)."""
    if message.sent_at is not None:
        return message.sent_at
    if message.status in (SKIPPED, CANCELLED):
        return message.planned_at
    return message.due_at


def _answer_state(
    message: ScheduledMessage, answered: set[int], reasked: dict[int, datetime],
    now: datetime | None,
) -> str | None:  # fmt: skip
    if message.expects is None or message.kind != STEP or message.status != SENT:
        return None
    if message.id in answered:
        return "answered"
    start = max(filter(None, (message.sent_at, reasked.get(message.id))))
    closes = start + timedelta(minutes=message.answer_window_minutes or 0)
    return "awaiting" if now is not None and now < closes else "unanswered"


def _texts(session: Session, messages: list[ScheduledMessage], attempts: dict[int, SendAttempt],
           purged: set[int]) -> dict[int, tuple[str, str | None, int | None]]:  # fmt: skip
    """Each message's (text, email subject, SMS segments). Stored texts as they are; a
    step is rendered again from its pinned templates, in one query for all of them, at
    the moment it was sent (or is planned). Steps of a purged enrolment stay unknown:
    rendering them again would undo the retention period."""
    from reminders.delivery.prepare import render  # the delivery package imports this one
    from reminders.delivery.rows import load_rows

    out: dict[int, tuple[str, str | None, int | None]] = {}
    steps = [m for m in messages if m.body is None and m.kind in (STEP, REASK)
             and m.enrollment_id not in purged]  # fmt: skip
    rows = load_rows(session, [m.id for m in steps]) if steps else {}
    for message in messages:
        if message.body is not None:
            text, subject = message.body, message.subject
        elif message.id in rows:
            try:
                rendered = render(session, rows[message.id], message.sent_at or message.due_at)
            except Exception:  # a clinic's template that no longer renders: say so, not 500
                log.warning("message %s: could not render its text again", message.id)
                continue
            text, subject = rendered.text, rendered.subject
        else:
            continue
        attempt = attempts.get(message.id)
        segments = None
        if message.channel == "sms":
            billed = attempt.segments if attempt is not None and message.sent_at else None
            segments = billed or count_segments(normalize(text)).segments
        out[message.id] = (text, subject, segments)
    return out


def patient_of_message(*, session: Session, message: ScheduledMessage) -> Patient | None:
    """The patient a message concerns: its own ``patient_id`` (replies, clinicians' texts,
    pages), else its enrollment's (check-ins, re-asks); None for neither."""
    if message.patient_id is not None:
        return session.get(Patient, message.patient_id)
    if message.enrollment_id is None:
        return None
    enrollment = session.get_one(Enrollment, message.enrollment_id)
    return session.get(Patient, enrollment.patient_id)
