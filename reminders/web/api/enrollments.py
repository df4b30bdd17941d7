"""/api/v1/enrollments: enrol, read the timeline, reschedule, cancel. Thin over
reminders.enrollments.service; the API key's clinic scopes every call."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, HTTPException, Path, Response, status
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders import audit
from reminders.conversations.models import InboundMessage
from reminders.enrollments import service
from reminders.enrollments.late import past_steps
from reminders.enrollments.models import Enrollment
from reminders.enrollments.schemas import EnrollmentIn, InputError
from reminders.enrollments.service import UNSET, NotFound
from reminders.patients.models import Patient, Procedure
from reminders.patients.service import latest_attempts
from reminders.protocols import service as protocols
from reminders.protocols.models import ProtocolVersion
from reminders.web.api.schemas import (
    EnrollmentOut,
    EnrollmentPatch,
    MessageOut,
    PatientOut,
    ProcedureOut,
    ProtocolRef,
    ReplyOut,
    plausible,
)
from reminders.web.deps import ApiClinic, ClockDep, SessionDep

router = APIRouter(prefix="/enrollments", tags=["enrollments"])
ACTOR = "api-key"
EnrollmentId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Enrolment id")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such enrolment in this clinic"}
}


def _no_nul(value: Any, path: str = "body") -> list[tuple[str, str]]:
    """NUL characters: PostgreSQL text cannot hold them, so refuse them as input errors."""
    if isinstance(value, str):
        return [(path, "must not contain NUL characters")] if "\x00" in value else []
    if isinstance(value, dict):
        return [e for k, v in value.items() for e in _no_nul(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [e for i, v in enumerate(value) for e in _no_nul(v, f"{path}.{i}")]
    return []


def enrollment_out(session: Session, enrollment: Enrollment, **extra: Any) -> EnrollmentOut:
    patient = session.get_one(Patient, enrollment.patient_id)
    procedure = session.get_one(Procedure, enrollment.procedure_id)
    version = session.get_one(ProtocolVersion, enrollment.protocol_version_id)
    messages = service.messages_of(session=session, enrollment_id=enrollment.id)
    attempts = latest_attempts(session, [m.id for m in messages])
    replies = session.scalars(
        select(InboundMessage)
        .where(InboundMessage.enrollment_id == enrollment.id,
               InboundMessage.clinic_id == enrollment.clinic_id)
        .order_by(InboundMessage.received_at)
    )  # fmt: skip
    return EnrollmentOut(
        id=enrollment.id, status=enrollment.status, channel=enrollment.channel,
        patient=PatientOut(
            id=patient.id, external_id=patient.external_id, given_name=patient.given_name,
            timezone=patient.timezone, language=patient.language,
            sms_opted_out=patient.sms_opted_out_at is not None,
            email_opted_out=patient.email_opted_out_at is not None,
        ),
        procedure=ProcedureOut(
            performed_at=procedure.performed_at, injectate=procedure.injectate,
            site=procedure.site, side=procedure.side, diagnostic=procedure.diagnostic,
            follow_up_at=procedure.follow_up_at,
        ),
        protocol=ProtocolRef(key=version.key, version=version.version),
        messages=[
            MessageOut(
                id=m.id, step=m.step_key, occurrence=m.occurrence, due_at=m.due_at,
                channel=m.channel, status=m.status, status_reason=m.status_reason,
                expects=m.expects, sent_at=m.sent_at,
                delivery=attempts[m.id].status if m.id in attempts else None,
            )
            for m in messages
        ],
        replies=[
            ReplyOut(
                id=r.id, received_at=r.received_at, channel=r.channel, body=r.body,
                severity=r.severity, categories=list(r.categories or []),
                parsed=dict(r.parsed or {}), answers_message_id=r.answers_message_id,
            )
            for r in replies
        ],
        **extra,
    )  # fmt: skip


class PastStepOut(BaseModel):
    """A step that was already too late when the patient was enrolled."""

    step: str
    occurrence: int
    label: str = Field(description="The step's name for people")
    planned_at: datetime
    outcome: Literal["sent_late", "skipped"] = Field(
        description="sent_late: time-critical, so it goes out at enrolment although too "
        "late; skipped: too late to be useful")  # fmt: skip
    reason: str = Field(description="late_time_critical, expired_before_enrollment or "
                        "quiet_hours_past_expiry")  # fmt: skip
    explanation: str = Field(description="The reason in words")


class EnrolledOut(EnrollmentOut):
    past_steps: list[PastStepOut] = Field(
        default_factory=list, description="POST only: the steps already too late at "
        "enrolment, and what was done with each (sent late or skipped), in planned order. "
        "Steps due a little earlier and still useful simply go out now")  # fmt: skip


def _get(session: Session, clinic_id: int, enrollment_id: int) -> Enrollment:
    try:
        return service.get_enrollment(session=session, clinic_id=clinic_id,
                                      enrollment_id=enrollment_id)  # fmt: skip
    except NotFound:
        raise HTTPException(404, "enrollment not found") from None


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=EnrolledOut,
    responses={200: {"model": EnrolledOut, "description": "Already enrolled (idempotent)"}},
)
def create_enrollment(
    data: Annotated[EnrollmentIn, Body()], response: Response, clinic: ApiClinic,
    session: SessionDep, clock: ClockDep,
) -> EnrolledOut:  # fmt: skip
    """Enrol a patient and plan their messages.

    Idempotent: the same `patient.external_id` and `procedure.performed_at` again answers
    **200** with the existing enrolment and `created: false`; a new one answers **201**
    with `created: true`. Either way the body lists every planned message, and
    `past_steps` the steps already due at enrolment: time-critical ones (the discharge
    summary) are sent late, others skipped once too late to be useful, each with why.
    """
    errors = _no_nul(data.model_dump(mode="json"))
    for name in ("performed_at",):
        try:
            plausible(data.procedure.performed_at, name)
        except ValueError as exc:
            errors.append((f"procedure.{name}", str(exc)))
    if data.follow_up_at is not None:
        try:
            plausible(data.follow_up_at, "follow_up_at")
        except ValueError as exc:
            errors.append(("follow_up_at", str(exc)))
    if errors:
        raise InputError(errors)
    try:
        result = service.enroll(data, session=session, clinic=clinic, now=clock.now(),
                                actor=ACTOR)  # fmt: skip
    except protocols.NotFound as exc:
        raise InputError([("procedure.injectate", str(exc))]) from None
    if not result.created:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/api/v1/enrollments/{result.enrollment.id}"
    out = enrollment_out(session, result.enrollment, created=result.created)
    past = [PastStepOut(step=p.step, occurrence=p.occurrence, label=p.label,
                        planned_at=p.planned_at, outcome=p.outcome,
                        reason=p.reason, explanation=p.explanation)
            for p in past_steps(session=session, enrollment=result.enrollment)]  # fmt: skip
    return EnrolledOut(**out.model_dump(), past_steps=past)


@router.get("/{enrollment_id}", response_model=EnrollmentOut, responses=NOT_FOUND)
def get_enrollment(enrollment_id: EnrollmentId, clinic: ApiClinic,
                   session: SessionDep) -> EnrollmentOut:  # fmt: skip
    """The enrolment's timeline: every message with its status, and the patient's replies."""
    enrollment = _get(session, clinic.id, enrollment_id)
    audit.record(session=session, clinic_id=clinic.id, actor=ACTOR, action="enrollment.view",
                 subject_type="enrollment", subject_id=enrollment.id)  # fmt: skip
    return enrollment_out(session, enrollment)


@router.patch("/{enrollment_id}", response_model=EnrollmentOut, responses=NOT_FOUND)
def patch_enrollment(
    enrollment_id: EnrollmentId, patch: EnrollmentPatch, clinic: ApiClinic,
    session: SessionDep, clock: ClockDep,
) -> EnrollmentOut:  # fmt: skip
    """Reschedule: a new `performed_at` and/or `follow_up_at` (null removes the visit).
    Pending messages move; sent ones stay as history."""
    enrollment = _get(session, clinic.id, enrollment_id)
    fields = patch.model_fields_set
    if not fields or ("performed_at" in fields and patch.performed_at is None
                      and "follow_up_at" not in fields):  # fmt: skip
        raise InputError([("body", "give performed_at and/or follow_up_at")])
    service.reschedule(
        session=session, clinic=clinic, enrollment=enrollment, now=clock.now(), actor=ACTOR,
        performed_at=patch.performed_at,
        follow_up_at=patch.follow_up_at if "follow_up_at" in fields else UNSET,
    )  # fmt: skip
    return enrollment_out(session, enrollment)


@router.delete("/{enrollment_id}", response_model=EnrollmentOut, responses=NOT_FOUND)
def cancel_enrollment(enrollment_id: EnrollmentId, clinic: ApiClinic, session: SessionDep,
                      clock: ClockDep) -> EnrollmentOut:  # fmt: skip
    """Cancel the enrolment: pending messages are cancelled, sent ones stay. Repeating it is
    harmless (`cancelled_messages: 0`)."""
    enrollment = _get(session, clinic.id, enrollment_id)
    count = service.cancel(session=session, enrollment=enrollment, now=clock.now(), actor=ACTOR,
                           reason="cancelled via API")  # fmt: skip
    return enrollment_out(session, enrollment, cancelled_messages=count)
