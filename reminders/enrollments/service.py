"""Enroll a patient, keep the timeline in step with the procedure, cancel it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from reminders import audit
from reminders.clinics.models import Clinic
from reminders.clinics.service import send_window
from reminders.enrollments import visits
from reminders.enrollments.models import (
    CANCELLED,
    PENDING,
    SKIPPED,
    STEP,
    Enrollment,
    ScheduledMessage,
)
from reminders.enrollments.schemas import EnrollmentIn, InputError
from reminders.outcomes import prompts
from reminders.patients.models import Patient, Procedure
from reminders.protocols import service as protocols
from reminders.protocols.models import ProtocolVersion
from reminders.protocols.spec import Facts
from reminders.scheduling import Anchors, Planned, plan

MAX_FUTURE = timedelta(days=1)
# Skips decided by the plan (not by a send) are re-decided whenever the plan is.
PLAN_REASONS = frozenset(
    {
        "expired_before_enrollment",
        "quiet_hours_past_expiry",
        "no_contact_for_channel",
        "no_longer_applies",
    }
)
UNSET = object()


@dataclass(frozen=True)
class EnrollResult:
    enrollment: Enrollment
    created: bool


class NotFound(LookupError):
    pass


def enroll(
    data: EnrollmentIn, *, session: Session, clinic: Clinic, now: datetime, actor: str
) -> EnrollResult:
    """Enroll a patient; the same external_id and performed_at again returns the first one."""
    proc_in = data.procedure
    if proc_in.performed_at > now + MAX_FUTURE:
        raise InputError([("procedure.performed_at", "is more than a day in the future")])
    patient = None
    if data.patient.external_id:
        patient = session.scalar(
            select(Patient).where(
                Patient.clinic_id == clinic.id, Patient.external_id == data.patient.external_id
            )
        )
    if patient is not None:
        existing = session.scalar(
            select(Enrollment)
            .join(Procedure, Procedure.id == Enrollment.procedure_id)
            .where(
                Procedure.patient_id == patient.id, Procedure.performed_at == proc_in.performed_at
            )
        )
        if existing is not None:
            return EnrollResult(existing, created=False)
    version = protocols.for_injectate(
        session=session, clinic_id=clinic.id, injectate=proc_in.injectate
    )
    fields = data.patient.model_dump()
    if patient is None:
        patient = Patient(clinic_id=clinic.id, channel_preference=data.channel, **fields)
        session.add(patient)
    else:
        for name, value in fields.items():
            setattr(patient, name, value)
    session.flush()
    procedure = Procedure(
        clinic_id=clinic.id,
        patient_id=patient.id,
        performed_at=proc_in.performed_at,
        performed_tz=_offset_name(proc_in.performed_at),
        injectate=proc_in.injectate,
        site=proc_in.site,
        side=proc_in.side,
        diagnostic=proc_in.diagnostic,
        follow_up_at=data.follow_up_at,
    )
    session.add(procedure)
    session.flush()
    enrollment = Enrollment(
        clinic_id=clinic.id,
        patient_id=patient.id,
        procedure_id=procedure.id,
        protocol_version_id=version.id,
        channel=data.channel,
        created_at=now,
        baseline_pain=proc_in.baseline_pain,
    )
    session.add(enrollment)
    session.flush()
    for planned in timeline_plan(session=session, clinic=clinic, enrollment=enrollment, now=now):
        session.add(_message(enrollment, planned))
    _invite_to_proms(session=session, clinic=clinic, enrollment=enrollment, now=now)
    audit.record(
        session=session,
        clinic_id=clinic.id,
        actor=actor,
        action="enrollment.create",
        subject_type="enrollment",
        subject_id=enrollment.id,
        protocol=f"{version.key}@{version.version}",
    )
    session.flush()
    return EnrollResult(enrollment, created=True)


def timeline_plan(
    *, session: Session, clinic: Clinic, enrollment: Enrollment, now: datetime
) -> list[Planned]:
    patient = session.get_one(Patient, enrollment.patient_id)
    procedure = session.get_one(Procedure, enrollment.procedure_id)
    version = session.get_one(ProtocolVersion, enrollment.protocol_version_id)
    available = set()
    if patient.phone and patient.sms_opted_out_at is None:
        available.add("sms")
    if patient.email and patient.email_opted_out_at is None:
        available.add("email")
    # A diagnostic protocol's diary step becomes the clinic's diary times (outcomes/prompts).
    steps = prompts.expand(protocols.steps_of(version), prompts.settings_of(clinic),
                           baseline_known=enrollment.baseline_pain is not None)  # fmt: skip
    return plan(
        steps,
        facts=Facts(
            conditions=frozenset(patient.conditions),
            diagnostic=procedure.diagnostic,
            follow_up_booked=procedure.follow_up_at is not None,
            injectate=procedure.injectate,
            side=procedure.side,
        ),
        anchors=Anchors(
            performed_at=procedure.performed_at,
            tz=ZoneInfo(patient.timezone),
            follow_up_at=procedure.follow_up_at,
        ),
        window=send_window(clinic),
        preferred_channel=enrollment.channel,
        available_channels=frozenset(available),
        now=now,
        enrolled_at=enrollment.created_at,
    )


def _message(enrollment: Enrollment, planned: Planned) -> ScheduledMessage:
    return ScheduledMessage(
        clinic_id=enrollment.clinic_id,
        enrollment_id=enrollment.id,
        step_key=planned.step_key,
        occurrence=planned.occurrence,
        idempotency_key=f"{enrollment.id}:{planned.idempotency_suffix}",
        template=planned.template,
        channel=planned.channel,
        expects=planned.expects,
        time_critical=planned.time_critical,
        answer_window_minutes=_minutes(planned.answer_window),
        planned_at=planned.planned_at,
        due_at=planned.due_at,
        expires_at=planned.expires_at,
        status=planned.status,
        status_reason=planned.reason,
    )


def _minutes(delta: timedelta | None) -> int | None:
    return None if delta is None else int(delta.total_seconds() // 60)


def _offset_name(value: datetime) -> str:
    offset = value.utcoffset() or timedelta(0)
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"UTC{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def get_enrollment(*, session: Session, clinic_id: int, enrollment_id: int) -> Enrollment:
    enrollment = session.get(Enrollment, enrollment_id)
    # Another clinic's enrollment is reported exactly like a missing one.
    if enrollment is None or enrollment.clinic_id != clinic_id:
        raise NotFound(f"no enrollment {enrollment_id}")
    return enrollment


def reschedule(
    *,
    session: Session,
    clinic: Clinic,
    enrollment: Enrollment,
    now: datetime,
    actor: str,
    performed_at: datetime | None = None,
    follow_up_at: datetime | object | None = UNSET,
) -> Enrollment:
    """Move the procedure or the follow-up visit and recompute every message not yet sent
    (:func:`replan`): e.g. "book a visit" is cancelled once a visit is booked."""
    if enrollment.status != "active":
        raise InputError([("enrollment", f"is {enrollment.status}; only active ones change")])
    procedure = session.get_one(Procedure, enrollment.procedure_id)
    visit_before = procedure.follow_up_at
    if performed_at is not None:
        if performed_at > now + MAX_FUTURE:
            raise InputError([("performed_at", "is more than a day in the future")])
        procedure.performed_at = performed_at
    if follow_up_at is not UNSET:
        assert follow_up_at is None or isinstance(follow_up_at, datetime)
        if follow_up_at is not None and follow_up_at <= procedure.performed_at:
            raise InputError([("follow_up_at", "must be after the procedure")])
        procedure.follow_up_at = follow_up_at
    session.flush()
    replan(session=session, clinic=clinic, enrollment=enrollment, now=now)
    # The patient's calendar: a new SEQUENCE, an update or a cancellation (visits.py).
    visits.visit_changed(session=session, clinic=clinic, enrollment=enrollment,
                         before=visit_before, after=procedure.follow_up_at, now=now)  # fmt: skip
    audit.record(
        session=session,
        clinic_id=clinic.id,
        actor=actor,
        action="enrollment.reschedule",
        subject_type="enrollment",
        subject_id=enrollment.id,
        performed_at=procedure.performed_at.isoformat(),
        follow_up_at=procedure.follow_up_at.isoformat() if procedure.follow_up_at else None,
    )
    session.flush()
    session.expire_all()
    return enrollment


def replan(*, session: Session, clinic: Clinic, enrollment: Enrollment, now: datetime) -> int:
    """Bring every message not yet sent in line with the plan as it stands now (procedure,
    visit, the patient's time zone, conditions, addresses, opt-outs); how many changed.

    Messages already claimed, being sent or sent stay as they are (history). Pending
    messages and plan-decided skips take their new times; steps that no longer apply
    are cancelled; new ones are added. The caller audits and flushes.
    """
    planned = {
        p.idempotency_suffix: p
        for p in timeline_plan(session=session, clinic=clinic, enrollment=enrollment, now=now)
    }
    changed = 0
    existing = {
        f"{m.step_key}:{m.occurrence}": m
        for m in session.scalars(
            # Protocol steps only: a re-ask shares its question's step key.
            select(ScheduledMessage).where(
                ScheduledMessage.enrollment_id == enrollment.id, ScheduledMessage.kind == STEP
            )
        )
    }
    for suffix, message in existing.items():
        if not _replannable(message):
            continue
        new = planned.get(suffix)
        values = (
            _plan_values(new)
            if new is not None
            else {"status": CANCELLED, "status_reason": "no_longer_applies"}
        )
        if all(getattr(message, k) == v for k, v in values.items()):
            continue  # nothing moves: not counted, not rewritten
        # Conditional: a dispatcher may have claimed the row since we read it.
        result = session.execute(
            update(ScheduledMessage)
            .where(ScheduledMessage.id == message.id, ScheduledMessage.status == message.status)
            .values(**values, updated_at=now)
            .execution_options(synchronize_session=False)
        )
        changed += int(result.rowcount or 0)  # type: ignore[attr-defined]
    for suffix, new in planned.items():
        if suffix not in existing:
            session.add(_message(enrollment, new))
            changed += 1
    return changed


def _invite_to_proms(*, session: Session, clinic: Clinic, enrollment: Enrollment,
                     now: datetime) -> None:
    """HOOS JR invitations when the clinic uses it (reminders/outcomes/hoos.py)."""
    from reminders.config import get_settings
    from reminders.outcomes import hoos  # imported here: it reads the template set

    settings = get_settings()
    hoos.schedule_invites(session=session, clinic=clinic, enrollment=enrollment, now=now,
                          public_url=settings.public_url, secret=settings.secret_key)


def _replannable(message: ScheduledMessage) -> bool:
    if message.body is not None:  # carries its own text (a PROM invitation): not planned
        return False
    if message.status == PENDING:
        return True
    return message.status in (SKIPPED, CANCELLED) and message.status_reason in PLAN_REASONS


def _plan_values(planned: Planned) -> dict[str, object]:
    return {
        "status": planned.status,
        "status_reason": planned.reason,
        "planned_at": planned.planned_at,
        "due_at": planned.due_at,
        "expires_at": planned.expires_at,
        "channel": planned.channel,
    }


def cancel(
    *, session: Session, enrollment: Enrollment, now: datetime, actor: str, reason: str
) -> int:
    """Cancel the enrollment and every message not yet handed to a worker; sent ones stay."""
    if enrollment.status == "cancelled":
        return 0
    enrollment.status = "cancelled"
    enrollment.cancelled_at = now
    enrollment.cancel_reason = reason[:200]
    result = session.execute(
        update(ScheduledMessage)
        .where(ScheduledMessage.enrollment_id == enrollment.id, ScheduledMessage.status == PENDING)
        .values(status=CANCELLED, status_reason="enrollment_cancelled", updated_at=now)
        .execution_options(synchronize_session=False)
    )
    procedure = session.get_one(Procedure, enrollment.procedure_id)
    visits.enrollment_cancelled(session=session, enrollment=enrollment,
                                follow_up_at=procedure.follow_up_at, now=now)  # fmt: skip
    audit.record(
        session=session,
        clinic_id=enrollment.clinic_id,
        actor=actor,
        action="enrollment.cancel",
        subject_type="enrollment",
        subject_id=enrollment.id,
        reason=reason[:200],
    )
    session.flush()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def messages_of(*, session: Session, enrollment_id: int) -> list[ScheduledMessage]:
    return list(
        session.scalars(
            select(ScheduledMessage)
            .where(ScheduledMessage.enrollment_id == enrollment_id)
            .order_by(ScheduledMessage.due_at, ScheduledMessage.id)
        )
    )
