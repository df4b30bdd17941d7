"""Staff change a patient's contact details and preferences, and record her consent.

What follows an edit, for messages not yet sent:

- **time zone, conditions, channel, addresses**: every active enrolment is re-planned
  (enrollments.service.replan): local-time steps ("day 2 at 09:00") move to the new
  zone's clock, steps that now apply (a new diabetic's glucose checks) are added and
  ones that no longer do are cancelled. Sent messages stay as history.
- **language**: nothing to do. A check-in's text is rendered when it is sent
  (delivery/prepare.py), in the patient's language at that moment. (A re-ask is
  written when it is queued, due at once, so it keeps the words it was queued with.)
- **phone, email**: nothing to do either. A check-in is addressed when it is sent, from
  the patient's row, so pending messages go to the new number or address.

Consent is recorded as a ledger entry (consent.py): opting out or in on one channel,
with the source the patient used ("patient phoned", "paper form", …) and when she said
so. The send re-check reads the opt-out stamp the ledger keeps, so an opted-out channel
never sends. Every change is audited with field names only, never a number or address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders import audit
from reminders.clinics.models import Clinic
from reminders.enrollments import service as enrollments
from reminders.enrollments.models import Enrollment
from reminders.enrollments.schemas import (
    InputError,
    errors_of,
    normalize_conditions,
    normalize_email,
    normalize_phone,
)
from reminders.patients import consent
from reminders.patients.models import ConsentEvent, Patient
from reminders.scheduling import validate_zone

EDITABLE = ("phone", "email", "timezone", "language", "conditions", "channel_preference")
# Each field's name in words, for error messages and the audit trail's readers.
FIELD_NAMES = {
    "phone": "Mobile phone", "email": "Email", "timezone": "Time zone",
    "language": "Language", "conditions": "Conditions", "channel_preference": "Messages by",
    "channel": "Channel", "action": "Opt out or in", "source": "Source", "at": "When",
}  # fmt: skip
_EDITABLE_WORDS = ", ".join(FIELD_NAMES[n].lower() for n in EDITABLE)
# Fields whose change can move, add or cancel pending messages.
REPLANS = frozenset({"phone", "email", "timezone", "conditions", "channel_preference"})
SOURCES = ("patient phoned", "paper form", "in person", "patient emailed")
SOURCE_MAX = consent.SOURCE_MAX
FUTURE_SLACK = timedelta(minutes=5)  # clocks differ; a few minutes ahead is "now"


class PatientPatch(BaseModel):
    """A partial update: only the fields given change. ``phone``/``email`` null or empty
    removes the address (the channel messages go by must keep one)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    phone: str | None = None
    email: str | None = None
    timezone: str | None = None
    language: Literal["en", "es"] | None = None
    conditions: list[str] | None = None
    channel_preference: Literal["sms", "email"] | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _reject_nul(cls, value: object) -> object:
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(v, str) and "\x00" in v for v in texts):
            raise ValueError("must not contain NUL characters")
        return value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return normalize_phone(value) if value else None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return normalize_email(value) if value else None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            raise ValueError("is required")
        validate_zone(value)
        return value

    @field_validator("conditions")
    @classmethod
    def _conditions(cls, value: list[str] | None) -> list[str]:
        return normalize_conditions(value or [])


def parse_patch(data: object) -> PatientPatch:
    """The patch, or InputError with one (field, message) per bad field."""
    if not isinstance(data, dict):
        raise InputError([("body", "must be a JSON object of the fields to change")])
    try:
        patch = PatientPatch.model_validate(data)
    except ValidationError as exc:
        errors = []
        for field, message in errors_of(exc):
            if field not in FIELD_NAMES:
                message = f"cannot be changed here; only {_EDITABLE_WORDS} can"
            errors.append((field, message))
        raise InputError(errors) from None
    for name in ("language", "channel_preference"):
        if name in patch.model_fields_set and getattr(patch, name) is None:
            raise InputError([(name, "is required")])
    if not patch.model_fields_set:
        raise InputError([("body", f"nothing to change: give any of {_EDITABLE_WORDS}")])
    return patch


@dataclass(frozen=True)
class EditResult:
    changed: tuple[str, ...]  # field names, in EDITABLE order
    replanned: int  # pending messages moved, added or cancelled


def edit_patient(
    patch: PatientPatch, *, session: Session, clinic: Clinic, patient: Patient, now: datetime,
    actor: str, staff_id: int | None = None,
) -> EditResult:  # fmt: skip
    """Apply ``patch`` and re-plan what it moves; InputError (nothing changed) when the
    channel messages go by would be left without an address."""
    assert patient.clinic_id == clinic.id, "the caller scopes the patient to its clinic"
    wanted = {name: getattr(patch, name) for name in EDITABLE if name in patch.model_fields_set}
    if "conditions" in wanted:
        wanted["conditions"] = list(wanted["conditions"] or [])
    changed = tuple(n for n in EDITABLE if n in wanted and wanted[n] != getattr(patient, n))
    after = {n: wanted.get(n, getattr(patient, n)) for n in EDITABLE}
    problems = []
    if after["channel_preference"] == "sms" and not after["phone"]:
        problems.append(("phone", "is required while messages go by SMS (or choose email)"))
    if after["channel_preference"] == "email" and not after["email"]:
        problems.append(("email", "is required while messages go by email (or choose SMS)"))
    if problems:
        raise InputError(problems)
    if not changed:
        return EditResult((), 0)
    for name in changed:
        setattr(patient, name, after[name])
    active = list(session.scalars(
        select(Enrollment).where(Enrollment.clinic_id == clinic.id,
                                 Enrollment.patient_id == patient.id,
                                 Enrollment.status == "active")
        .order_by(Enrollment.id)))  # fmt: skip
    if "channel_preference" in changed:
        for enrollment in active:  # "preferred" steps follow the patient's new choice
            enrollment.channel = patient.channel_preference
    session.flush()
    replanned = 0
    if REPLANS.intersection(changed):
        for enrollment in active:
            replanned += enrollments.replan(session=session, clinic=clinic,
                                            enrollment=enrollment, now=now)  # fmt: skip
    audit.record(session=session, clinic_id=clinic.id, actor=actor, staff_id=staff_id,
                 action="patient.edit", subject_type="patient", subject_id=patient.id,
                 fields=list(changed), replanned=replanned)  # fmt: skip
    session.flush()
    session.expire_all()  # replan updated rows behind the identity map
    return EditResult(changed, replanned)


def record_consent(
    *, session: Session, patient: Patient, channel: str, action: str, source: str,
    at: datetime | None, now: datetime, actor: str, staff_id: int | None = None,
) -> ConsentEvent:  # fmt: skip
    """A staff member records that the patient opted out of (or back in to) ``channel``,
    how she told us (``source``) and when (``at``, default now). InputError naming the
    field for anything a person must correct; nothing is stored then."""
    errors: list[tuple[str, str]] = []
    if channel not in consent.CHANNELS:
        errors.append(("channel", "must be SMS or email"))
    if action not in ("opt_out", "opt_in"):
        errors.append(("action", "must be opt out or opt in"))
    source = " ".join((source or "").replace("\x00", "").split())
    if not source:
        errors.append(("source", "is required: how did the patient tell us?"))
    elif len(source) > SOURCE_MAX:
        errors.append(("source", f"must be at most {SOURCE_MAX} characters"))
    when = at or now
    if when.tzinfo is None or when.utcoffset() is None:
        errors.append(("at", "needs a time zone"))
    elif when > now + FUTURE_SLACK:
        errors.append(("at", "is in the future"))
    if errors:
        raise InputError(errors)
    last = consent.latest(session=session, patient_id=patient.id, channel=channel)
    if last is not None and when < last.at:
        # The stamp is the ledger's latest word: a change dated before it would not be.
        stamp = f"{last.at:%Y-%m-%d %H:%M} UTC"
        raise InputError([("at", f"is before this channel's last change ({stamp})")])
    change = consent.revoke if action == "opt_out" else consent.restore
    event = change(session=session, patient=patient, channel=channel, now=when, via="staff",
                   source=source, staff_id=staff_id, recorded_at=now)  # fmt: skip
    if event is None:
        state = "opted out" if action == "opt_out" else "opted in"
        name = "SMS" if channel == "sms" else "Email"
        raise InputError([("action", f"changes nothing: {name} is already {state}")])
    audit.record(session=session, clinic_id=patient.clinic_id, actor=actor, staff_id=staff_id,
                 action=f"patient.{action.replace('_', '-')}", subject_type="patient",
                 subject_id=patient.id, channel=channel, via="staff")  # fmt: skip
    session.flush()
    return event


def patient_values(patient: Patient) -> dict[str, Any]:
    """The editable fields as they stand (for a form or an API answer)."""
    return {name: getattr(patient, name) for name in EDITABLE}
