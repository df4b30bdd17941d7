"""EHR intake: the one core behind every door an EHR speaks through (FHIR, HL7v2).

An adapter reads its format into :class:`PatientIn`, :class:`ProcedureIn` and
:class:`AppointmentIn` (plain values in our vocabulary; no FHIR or HL7 type ever reaches
this module) and calls :func:`intake`. The rules:

- **Idempotent.** A procedure is known by the sender's identifier (``external_ids``):
  the same one again changes nothing and answers ``unchanged``. A new time for it, or a
  new time for its follow-up appointment, reschedules (enrollments.service.reschedule);
  a procedure entered in error or not done cancels its enrolment.
- **A patient** is found by MRN, else by the sender's patient id. Her details are
  updated from what is sent (patients.edits, which re-plans what they move); what is
  not sent is kept: a message without an email does not remove hers, and conditions are
  only ever added here (removing one is a staff decision).
- **A follow-up appointment** booked sets the visit; cancelled or a no-show removes the
  visit it had booked, so "book a follow-up visit" comes back and the reminder the
  evening before goes (a cancellation of an older appointment leaves a newer visit).
- **All or nothing.** Every call runs in a savepoint: bad input raises
  :class:`IntakeError` with every problem as (neutral field path, message in words) and
  nothing is stored. Two copies arriving at once: the loser's insert fails on the unique
  index and it is retried once, as the lookup it now is.

Every change is audited by the enrolment and patient services with the caller's
``actor`` ("fhir", "hl7:<sending facility>").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from reminders import audit
from reminders.clinics.models import Clinic
from reminders.enrollments import service as enrollments
from reminders.enrollments.models import Enrollment
from reminders.enrollments.schemas import (
    EARLIEST_YEAR,
    LATEST_YEAR,
    InputError,
    normalize_conditions,
    normalize_email,
    normalize_phone,
    parse_enrollment,
)
from reminders.interop.models import ExternalId
from reminders.patients import edits
from reminders.patients.models import Patient, Procedure
from reminders.protocols import service as protocols
from reminders.protocols.spec import INJECTATES, SIDES
from reminders.scheduling import validate_zone

SOURCES = ("fhir", "hl7")
PATIENT, PROCEDURE, APPOINTMENT = "patient", "procedure", "appointment"
COMPLETED, CANCELLED = "completed", "cancelled"
BOOKED, NOSHOW = "booked", "noshow"
APPOINTMENT_STATUSES = (BOOKED, CANCELLED, NOSHOW)
LANGUAGES = {"en": "en", "eng": "en", "english": "en", "es": "es", "spa": "es",
             "spanish": "es", "español": "es", "espanol": "es"}  # fmt: skip
ID_MAX = 300
# Each neutral field in words, for messages a person reads (an OperationOutcome's
# diagnostics, an HL7 ERR segment): see :func:`in_words`.
FIELD_WORDS = {
    "patient": "Patient", "patient.source_id": "Patient id", "patient.mrn": "MRN",
    "patient.given_name": "First name", "patient.family_name": "Last name",
    "patient.phone": "Mobile phone", "patient.email": "Email",
    "patient.language": "Language", "patient.timezone": "Patient's time zone",
    "patient.conditions": "Conditions", "procedure": "Procedure",
    "procedure.source_id": "Procedure identifier", "procedure.status": "Procedure status",
    "procedure.performed_at": "Injection time", "procedure.injectate": "Injectate",
    "procedure.side": "Side", "procedure.site": "Injection site",
    "procedure.baseline_pain": "Pain before the injection", "appointment": "Follow-up visit",
    "appointment.source_id": "Appointment identifier", "appointment.start": "Follow-up visit time",
    "appointment.status": "Appointment status", "enrollment": "Enrolment",
}  # fmt: skip


@dataclass(frozen=True)
class PatientIn:
    source: str  # "fhir" | "hl7" (where it came from)
    source_id: str | None  # the sender's patient id (FHIR Patient.id / PID-3)
    mrn: str | None  # medical record number (stored as Patient.external_id)
    given_name: str
    family_name: str | None = None
    phone: str | None = None  # any format; intake normalises with phonenumbers
    email: str | None = None
    language: str | None = None  # "en" / "es" (BCP-47 "es-MX" accepted, reduced)
    timezone: str | None = None  # IANA; None -> the clinic's zone
    conditions: tuple[str, ...] = ()  # our vocabulary, e.g. ("diabetes",)


@dataclass(frozen=True)
class ProcedureIn:
    source_id: str  # the sender's procedure identifier (idempotency key)
    status: str  # "completed" | "cancelled" (entered-in-error/not-done)
    performed_at: datetime | None  # aware
    injectate: str | None  # our vocabulary (see reminders/protocols/spec INJECTATES)
    side: str | None = None  # "left" | "right" | None
    site: str | None = None
    diagnostic: bool | None = None
    baseline_pain: int | None = None  # 0-10 before the injection (diagnostic diary)


@dataclass(frozen=True)
class AppointmentIn:
    source_id: str
    start: datetime | None
    status: str  # "booked" | "cancelled" | "noshow"


@dataclass
class IntakeResult:
    action: str  # "enrolled" | "unchanged" | "rescheduled" | "updated" | "cancelled"
    patient_id: int
    enrollment_id: int | None


class IntakeError(InputError):
    """Bad input: ``errors`` is every problem as (neutral field path such as
    "procedure.performed_at", message in words). Nothing was stored."""


def in_words(field_path: str, message: str) -> str:
    """'procedure.performed_at', 'is required' → 'Injection time is required'."""
    name = FIELD_WORDS.get(field_path) or field_path.replace("_", " ").replace(".", " ")
    return f"{name} {message}"


# -- the three entry points --------------------------------------------------------------


def intake(*, session: Session, clinic: Clinic, now: datetime, actor: str, patient: PatientIn,
           procedure: ProcedureIn | None = None,
           appointment: AppointmentIn | None = None) -> IntakeResult:  # fmt: skip
    """Enrol the patient for the procedure, or bring an earlier enrolment of the same
    procedure in line with what is sent now. IntakeError when the input is bad."""
    return _atomic(session, lambda: _intake(session, clinic, now, actor, patient, procedure,
                                            appointment))  # fmt: skip


def update_patient(*, session: Session, clinic: Clinic, now: datetime, actor: str,
                   patient: PatientIn) -> int:  # fmt: skip
    """A patient's details changed (ADT A08): update what is sent; her id. IntakeError
    when she is not known here."""

    def run() -> int:
        cleaned = _clean_patient(patient)
        row = _known_patient(session, clinic, cleaned)
        _update_details(session, clinic, now, actor, row, cleaned)
        return row.id

    return _atomic(session, run)


def update_appointment(*, session: Session, clinic: Clinic, now: datetime, actor: str,
                       patient: PatientIn, appointment: AppointmentIn) -> IntakeResult:  # fmt: skip
    """A follow-up visit booked, moved, cancelled or missed (SIU), for the procedure it was
    booked with, else the patient's latest active enrolment."""

    def run() -> IntakeResult:
        cleaned = _clean_patient(patient)
        _check(_appointment_errors(appointment))
        row = _known_patient(session, clinic, cleaned)
        updated = _update_details(session, clinic, now, actor, row, cleaned)
        link = _link(session, clinic, APPOINTMENT, cleaned.source, appointment.source_id)
        if link is not None and link.patient_id != row.id:
            raise IntakeError([("appointment.source_id", "belongs to another patient")])
        enrollment = (session.get(Enrollment, link.enrollment_id)
                      if link is not None and link.enrollment_id else None)  # fmt: skip
        if enrollment is None:
            enrollment = session.scalar(
                select(Enrollment).where(Enrollment.clinic_id == clinic.id,
                                         Enrollment.patient_id == row.id,
                                         Enrollment.status == "active")
                .order_by(Enrollment.created_at.desc(), Enrollment.id.desc()).limit(1))  # fmt: skip
        if enrollment is None:
            raise IntakeError([("appointment", "has no active follow-up to belong to: the "
                                "patient is not enrolled after a procedure")])  # fmt: skip
        action = _follow(session, clinic, now, actor, enrollment, cleaned.source,
                         performed_at=None, appointment=appointment)  # fmt: skip
        return IntakeResult(_combine(action, updated), row.id, enrollment.id)

    return _atomic(session, run)


def _atomic(session: Session, run: Any) -> Any:
    """``run()`` in a savepoint: all of it or none; retried once after a unique-index
    conflict (the same message, sent twice at once, was stored by the other copy)."""
    for attempt in (1, 2):
        try:
            with session.begin_nested():
                return run()
        except IntegrityError:
            if attempt == 2:
                raise
            session.expire_all()
    raise AssertionError("unreachable")


# -- enrolment -------------------------------------------------------------------------


def _intake(session: Session, clinic: Clinic, now: datetime, actor: str, patient: PatientIn,
            procedure: ProcedureIn | None,
            appointment: AppointmentIn | None) -> IntakeResult:  # fmt: skip
    cleaned = _clean_patient(patient)
    errors = _procedure_errors(procedure) if procedure else []
    if (
        procedure is not None
        and procedure.performed_at
        and not errors
        and procedure.performed_at > now + enrollments.MAX_FUTURE
    ):
        errors.append(("procedure.performed_at", "is more than a day in the future"))  # fmt: skip
    if appointment is not None:
        errors += _appointment_errors(appointment)
        if (
            procedure is not None
            and procedure.performed_at
            and appointment.start
            and appointment.status == BOOKED
            and appointment.start <= procedure.performed_at
        ):
            errors.append(("appointment.start", "must be after the injection"))  # fmt: skip
    _check(errors)
    if procedure is None:
        if appointment is not None:
            return update_appointment(session=session, clinic=clinic, now=now, actor=actor,
                                      patient=patient, appointment=appointment)  # fmt: skip
        row = _known_patient(session, clinic, cleaned)
        updated = _update_details(session, clinic, now, actor, row, cleaned)
        return IntakeResult("updated" if updated else "unchanged", row.id, None)
    link = _link(session, clinic, PROCEDURE, cleaned.source, procedure.source_id)
    if link is not None:
        return _known_procedure(session, clinic, now, actor, link, cleaned, procedure,
                                appointment)  # fmt: skip
    if procedure.status == CANCELLED:
        raise IntakeError([("procedure.status", "says the procedure was not done or was "
                            "entered in error, but it was never enrolled here: there is "
                            "nothing to cancel")])  # fmt: skip
    return _enrol(session, clinic, now, actor, cleaned, procedure, appointment)


def _enrol(session: Session, clinic: Clinic, now: datetime, actor: str, patient: PatientIn,
           procedure: ProcedureIn, appointment: AppointmentIn | None) -> IntakeResult:  # fmt: skip
    row = _find_patient(session, clinic, patient)
    if row is not None:
        _update_details(session, clinic, now, actor, row, patient)
        if row.external_id is None:
            row.external_id = patient.mrn or patient.source_id
    phone = row.phone if row is not None and patient.phone is None else patient.phone
    email = row.email if row is not None and patient.email is None else patient.email
    if not phone and not email:
        raise IntakeError([("patient.phone", "is required: the patient has no mobile phone "
                            "or email address to send her check-ins to")])  # fmt: skip
    channel = (row.channel_preference if row is not None
               else ("sms" if phone else "email"))  # fmt: skip
    booked = appointment is not None and appointment.status == BOOKED
    data = {
        "patient": {
            # Without an MRN the sender's own patient id stands in for it, so her next
            # procedure finds her again.
            "external_id": row.external_id if row is not None else
            (patient.mrn or patient.source_id),
            "given_name": patient.given_name,
            "family_name": patient.family_name if patient.family_name is not None
            else (row.family_name if row is not None else None),
            "phone": phone, "email": email,
            "timezone": patient.timezone or (row.timezone if row is not None
                                             else clinic.timezone),
            "language": patient.language or (row.language if row is not None else "en"),
            "conditions": sorted({*patient.conditions, *(row.conditions if row else [])}),
        },
        "procedure": {
            "performed_at": procedure.performed_at, "injectate": procedure.injectate,
            "site": procedure.site or "hip joint", "side": procedure.side,
            "diagnostic": bool(procedure.diagnostic),
        },
        "follow_up_at": appointment.start if booked and appointment else None,
        "channel": channel,
    }  # fmt: skip
    try:
        result = enrollments.enroll(parse_enrollment(data), session=session, clinic=clinic,
                                    now=now, actor=actor)  # fmt: skip
    except InputError as exc:
        raise IntakeError([(_neutral(f), m) for f, m in exc.errors]) from None
    except protocols.NotFound as exc:
        raise IntakeError([("procedure.injectate", f"has no protocol here ({exc})")]) from None
    enrollment = result.enrollment
    _remember_patient(session, clinic, patient, enrollment.patient_id)
    link = ExternalId(
        clinic_id=clinic.id, kind=PROCEDURE, source=patient.source, value=procedure.source_id,
        patient_id=enrollment.patient_id, procedure_id=enrollment.procedure_id,
        enrollment_id=enrollment.id,
    )  # fmt: skip
    session.add(link)
    session.flush()
    if not result.created:
        # Enrolled before through another door (the REST API, a CSV): from now on this
        # identifier finds it, and the rest is an update like any repeat.
        return _known_procedure(session, clinic, now, actor, link, patient, procedure,
                                appointment)  # fmt: skip
    if appointment is not None:
        _remember_appointment(session, clinic, patient.source, appointment, enrollment)
    return IntakeResult("enrolled", enrollment.patient_id, enrollment.id)


def _known_procedure(session: Session, clinic: Clinic, now: datetime, actor: str,
                     link: ExternalId, patient: PatientIn, procedure: ProcedureIn,
                     appointment: AppointmentIn | None) -> IntakeResult:  # fmt: skip
    enrollment = session.get_one(Enrollment, link.enrollment_id)
    if procedure.status == CANCELLED:
        if enrollment.status == "cancelled":
            return IntakeResult("unchanged", enrollment.patient_id, enrollment.id)
        enrollments.cancel(
            session=session, enrollment=enrollment, now=now, actor=actor,
            reason="the EHR says the procedure was not done or entered in error",
        )  # fmt: skip
        return IntakeResult("cancelled", enrollment.patient_id, enrollment.id)
    row = session.get_one(Patient, enrollment.patient_id)
    updated = _update_details(session, clinic, now, actor, row, patient)
    _remember_patient(session, clinic, patient, row.id)
    if enrollment.status != "active":
        # A cancelled (or finished) follow-up is not restarted by a repeat.
        return IntakeResult(_combine("unchanged", updated), row.id, enrollment.id)
    stored = session.get_one(Procedure, enrollment.procedure_id)
    if procedure.injectate and procedure.injectate != stored.injectate:
        raise IntakeError([("procedure.injectate", f"differs from the enrolled procedure's "
                            f"({stored.injectate}); a different injection is a procedure of "
                            "its own: mark this one entered in error and send that one "
                            "with a new identifier")])  # fmt: skip
    # Steps can depend on the side or a diagnostic injection: re-plan after a change.
    # Either one not sent stays as it is.
    edited = [name for name in ("side", "diagnostic")
              if getattr(procedure, name) is not None
              and getattr(procedure, name) != getattr(stored, name)]  # fmt: skip
    if edited:
        for name in edited:
            setattr(stored, name, getattr(procedure, name))
        session.flush()
        enrollments.replan(session=session, clinic=clinic, enrollment=enrollment, now=now)
        audit.record(session=session, clinic_id=clinic.id, actor=actor,
                     action="enrollment.procedure-edit", subject_type="enrollment",
                     subject_id=enrollment.id, fields=edited)  # fmt: skip
        updated = True
    moved = procedure.performed_at if procedure.performed_at != stored.performed_at else None
    action = _follow(session, clinic, now, actor, enrollment, patient.source,
                     performed_at=moved, appointment=appointment)  # fmt: skip
    return IntakeResult(_combine(action, updated), row.id, enrollment.id)


def _follow(session: Session, clinic: Clinic, now: datetime, actor: str,
            enrollment: Enrollment, source: str, *, performed_at: datetime | None,
            appointment: AppointmentIn | None) -> str:  # fmt: skip
    """Move the procedure and/or set the follow-up visit from an appointment; the action."""
    if enrollment.status != "active":
        return "unchanged"
    stored = session.get_one(Procedure, enrollment.procedure_id)
    visit: Any = enrollments.UNSET
    link = None
    if appointment is not None:
        link = _link(session, clinic, APPOINTMENT, source, appointment.source_id)
        if link is not None and link.enrollment_id not in (None, enrollment.id):
            raise IntakeError([("appointment.source_id", "is already the follow-up of "
                                "another procedure")])  # fmt: skip
        if appointment.status == BOOKED:
            if appointment.start != stored.follow_up_at:
                visit = appointment.start
        else:
            # Only the visit this appointment booked goes; a newer one booked since stays.
            booked_at = link.start if link is not None else appointment.start
            if stored.follow_up_at is not None and stored.follow_up_at == booked_at:
                visit = None
    if performed_at is None and visit is enrollments.UNSET:
        changed = _remember_appointment(session, clinic, source, appointment, enrollment)
        return "updated" if changed else "unchanged"
    try:
        enrollments.reschedule(
            session=session, clinic=clinic, enrollment=enrollment, now=now, actor=actor,
            performed_at=performed_at, follow_up_at=visit,
        )  # fmt: skip
    except InputError as exc:
        raise IntakeError([(_neutral(f), m) for f, m in exc.errors]) from None
    _remember_appointment(session, clinic, source, appointment, enrollment)
    if performed_at is None and visit is None:
        return "updated"  # the visit was cancelled or missed: the follow-up steps changed
    return "rescheduled"


def _combine(action: str, details_changed: bool) -> str:
    return "updated" if action == "unchanged" and details_changed else action


def _neutral(path: str) -> str:
    """The enrolment service's field names as intake's."""
    return {"follow_up_at": "appointment.start", "performed_at": "procedure.performed_at",
            "body": "patient"}.get(path, path)  # fmt: skip


# -- patients ----------------------------------------------------------------------------


def _clean_patient(patient: PatientIn) -> PatientIn:
    """``patient`` with its values normalised, or IntakeError naming every bad one."""
    errors: list[tuple[str, str]] = []
    values: dict[str, Any] = {}
    if patient.source not in SOURCES:
        errors.append(("patient", f"comes from an unknown source {patient.source!r}"))
    for name in ("source_id", "mrn"):
        value = _text(getattr(patient, name))
        if value is not None and len(value) > 100 and name == "mrn":
            errors.append(("patient.mrn", "must be at most 100 characters"))
        elif value is not None and len(value) > ID_MAX:
            errors.append((f"patient.{name}", f"must be at most {ID_MAX} characters"))
        values[name] = value
    given = _text(patient.given_name)
    if not given:
        errors.append(("patient.given_name", "is required"))
    for name, value in (("given_name", given), ("family_name", _text(patient.family_name))):
        if value is not None and len(value) > 100:
            errors.append((f"patient.{name}", "must be at most 100 characters"))
        values[name] = value
    for name, normalize in (("phone", normalize_phone), ("email", normalize_email)):
        value = _text(getattr(patient, name))
        try:
            values[name] = normalize(value) if value else None
        except ValueError as exc:
            errors.append((f"patient.{name}", str(exc)))
    values["language"] = reduce_language(patient.language)
    zone = _text(patient.timezone)
    if zone:
        try:
            validate_zone(zone)
        except ValueError as exc:
            errors.append(("patient.timezone", str(exc)))
    values["timezone"] = zone
    try:
        values["conditions"] = tuple(normalize_conditions(list(patient.conditions)))
    except ValueError as exc:
        errors.append(("patient.conditions", str(exc)))
    _check(errors)
    return PatientIn(source=patient.source, **values)


def reduce_language(value: str | None) -> str | None:
    """'es-MX' → 'es', 'SPA' → 'es'; None for a language we have no messages in (the
    patient's own is kept, a new patient gets English)."""
    text = (_text(value) or "").lower().replace("_", "-")
    if not text:
        return None
    return LANGUAGES.get(text) or LANGUAGES.get(text.split("-")[0])


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    text = " ".join(str(value).replace("\x00", "").split())
    return text or None


def _find_patient(session: Session, clinic: Clinic, patient: PatientIn) -> Patient | None:
    """By MRN, else by the sender's patient id; always within the clinic."""
    if patient.mrn:
        row = session.scalar(select(Patient).where(Patient.clinic_id == clinic.id,
                                                   Patient.external_id == patient.mrn))  # fmt: skip
        if row is not None:
            return row
    if patient.source_id:
        link = _link(session, clinic, PATIENT, patient.source, patient.source_id)
        if link is not None:
            return session.get_one(Patient, link.patient_id)
        # A patient first sent without an MRN has her sender id as one (see _enrol).
        return session.scalar(select(Patient).where(
            Patient.clinic_id == clinic.id, Patient.external_id == patient.source_id))  # fmt: skip
    return None


def _known_patient(session: Session, clinic: Clinic, patient: PatientIn) -> Patient:
    row = _find_patient(session, clinic, patient)
    if row is None:
        where = "patient.mrn" if patient.mrn else "patient.source_id"
        raise IntakeError([(where, "matches no patient here: she is enrolled by a "
                            "completed procedure first")])  # fmt: skip
    return row


def _update_details(session: Session, clinic: Clinic, now: datetime, actor: str,
                    row: Patient, patient: PatientIn) -> bool:  # fmt: skip
    """Bring ``row`` in line with what is sent (what is not sent stays); whether it changed.
    Contact details, zone, language and conditions go through patients.edits, which
    re-plans her active enrolments and audits field names only."""
    patch: dict[str, Any] = {}
    for name in ("phone", "email", "timezone", "language"):
        value = getattr(patient, name)
        if value is not None and value != getattr(row, name):
            patch[name] = value
    added = set(patient.conditions) - set(row.conditions or [])
    if added:
        patch["conditions"] = sorted({*row.conditions, *added})
    changed = False
    if patch:
        try:
            result = edits.edit_patient(
                edits.parse_patch(patch), session=session, clinic=clinic, patient=row,
                now=now, actor=actor,
            )  # fmt: skip
        except InputError as exc:
            raise IntakeError([(f"patient.{f}", m) for f, m in exc.errors]) from None
        changed = bool(result.changed)
    names = [n for n in ("given_name", "family_name")
             if getattr(patient, n) is not None
             and getattr(patient, n) != getattr(row, n)]  # fmt: skip
    if names:
        for name in names:
            setattr(row, name, getattr(patient, name))
        audit.record(
            session=session, clinic_id=clinic.id, actor=actor, action="patient.edit",
            subject_type="patient", subject_id=row.id, fields=names, replanned=0,
        )  # fmt: skip
        session.flush()
        changed = True
    return changed


def _remember_patient(session: Session, clinic: Clinic, patient: PatientIn,
                      patient_id: int) -> None:  # fmt: skip
    if not patient.source_id:
        return
    link = _link(session, clinic, PATIENT, patient.source, patient.source_id)
    if link is None:
        session.add(ExternalId(clinic_id=clinic.id, kind=PATIENT, source=patient.source,
                               value=patient.source_id, patient_id=patient_id))  # fmt: skip
        session.flush()


# -- appointments and identifiers --------------------------------------------------------


def _remember_appointment(session: Session, clinic: Clinic, source: str,
                          appointment: AppointmentIn | None,
                          enrollment: Enrollment) -> bool:  # fmt: skip
    """Store the appointment's latest status and time; whether either changed."""
    if appointment is None:
        return False
    link = _link(session, clinic, APPOINTMENT, source, appointment.source_id)
    start = appointment.start if appointment.start is not None else (link.start if link else None)
    if link is None:
        session.add(ExternalId(clinic_id=clinic.id, kind=APPOINTMENT, source=source,
                               value=appointment.source_id, patient_id=enrollment.patient_id,
                               procedure_id=enrollment.procedure_id,
                               enrollment_id=enrollment.id, status=appointment.status,
                               start=start))  # fmt: skip
        session.flush()
        return True
    if (link.status, link.start) == (appointment.status, start):
        return False
    link.status, link.start = appointment.status, start
    session.flush()
    return True


def _link(session: Session, clinic: Clinic, kind: str, source: str,
          value: str | None) -> ExternalId | None:  # fmt: skip
    if not value:
        return None
    return session.scalar(select(ExternalId).where(
        ExternalId.clinic_id == clinic.id, ExternalId.kind == kind,
        ExternalId.source == source, ExternalId.value == value))  # fmt: skip


def _procedure_errors(procedure: ProcedureIn) -> list[tuple[str, str]]:
    errors: list[tuple[str, str]] = []
    if not _text(procedure.source_id):
        errors.append(("procedure.source_id", "is required: the sender's identifier for "
                       "the procedure is what makes sending it again safe"))  # fmt: skip
    elif len(procedure.source_id) > ID_MAX:
        errors.append(("procedure.source_id", f"must be at most {ID_MAX} characters"))
    if procedure.status not in (COMPLETED, CANCELLED):
        errors.append(("procedure.status", "must be completed, or cancelled (not done, "
                       "entered in error)"))  # fmt: skip
    if procedure.status != COMPLETED:
        return errors
    errors += _time_errors("procedure.performed_at", procedure.performed_at)
    if procedure.injectate is None:
        errors.append(("procedure.injectate", "is required: no code on the procedure or its "
                       "medication maps to an injectate (add it to the clinic's code "
                       "mappings)"))  # fmt: skip
    elif procedure.injectate not in INJECTATES:
        errors.append(("procedure.injectate", f"must be one of {', '.join(INJECTATES)}"))
    if procedure.side is not None and procedure.side not in SIDES:
        errors.append(("procedure.side", "must be left, right or bilateral"))
    if procedure.site is not None and len(procedure.site) > 60:
        errors.append(("procedure.site", "must be at most 60 characters"))
    if procedure.baseline_pain is not None and not 0 <= procedure.baseline_pain <= 10:
        errors.append(("procedure.baseline_pain", "must be from 0 to 10"))
    return errors


def _appointment_errors(appointment: AppointmentIn) -> list[tuple[str, str]]:
    errors: list[tuple[str, str]] = []
    if not _text(appointment.source_id):
        errors.append(("appointment.source_id", "is required"))
    elif len(appointment.source_id) > ID_MAX:
        errors.append(("appointment.source_id", f"must be at most {ID_MAX} characters"))
    if appointment.status not in APPOINTMENT_STATUSES:
        errors.append(("appointment.status", "must be booked, cancelled or noshow"))
    if appointment.status == BOOKED or appointment.start is not None:
        errors += _time_errors("appointment.start", appointment.start)
    return errors


def _time_errors(path: str, value: datetime | None) -> list[tuple[str, str]]:
    if value is None:
        return [(path, "is required")]
    if value.tzinfo is None or value.utcoffset() is None:
        return [(path, "needs a UTC offset, e.g. 2026-11-20T14:10:00-06:00")]
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        return [(path, f"must be between the years {EARLIEST_YEAR} and {LATEST_YEAR}")]
    return []


def _check(errors: list[tuple[str, str]]) -> None:
    if errors:
        raise IntakeError(errors)


__all__ = [
    "AppointmentIn", "IntakeError", "IntakeResult", "PatientIn", "ProcedureIn", "in_words",
    "intake", "reduce_language", "update_appointment", "update_patient",
]  # fmt: skip
