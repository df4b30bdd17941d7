"""Render a scheduled message from its pinned protocol version's template snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from reminders import rendering
from reminders.clinics.models import Clinic
from reminders.delivery.context import message_context
from reminders.enrollments.models import Enrollment, ScheduledMessage
from reminders.patients.models import Patient, Procedure
from reminders.protocols import service as protocols
from reminders.protocols.models import ProtocolVersion


@dataclass(frozen=True)
class RenderedMessage:
    text: str
    segments: int
    subject: str | None = None
    html: str | None = None


def render_message(*, session: Session, message: ScheduledMessage, at: datetime) -> RenderedMessage:
    enrollment = session.get_one(Enrollment, message.enrollment_id)
    patient = session.get_one(Patient, enrollment.patient_id)
    procedure = session.get_one(Procedure, enrollment.procedure_id)
    clinic = session.get_one(Clinic, message.clinic_id)
    version = session.get_one(ProtocolVersion, enrollment.protocol_version_id)
    step = next((s for s in protocols.steps_of(version) if s.key == message.step_key), None)
    occurrences = step.repeat.count if step is not None and step.repeat else 1
    context = message_context(
        first_name=patient.given_name,
        clinic_name=clinic.name,
        clinic_phone=clinic.contact_phone,
        emergency_number=clinic.emergency_number,
        language=patient.language,
        tz=ZoneInfo(patient.timezone),
        performed_at=procedure.performed_at,
        follow_up_at=procedure.follow_up_at,
        occurrence=message.occurrence,
        occurrences=occurrences,
        at=max(at, message.planned_at),
    )
    return render_template(
        version.templates, message.template, patient.language, context, message.channel
    )


def render_template(
    sources: dict[str, str], template: str, lang: str, context: dict[str, object], channel: str
) -> RenderedMessage:
    if channel == "email":
        email = rendering.render_email(sources, template, lang, context)
        return RenderedMessage(text=email.text, segments=0, subject=email.subject, html=email.html)
    text = rendering.render_text(sources, template, lang, context)
    return RenderedMessage(text=text.text, segments=text.segments.segments)
