"""/api/v1/patients: change a patient's contact details and preferences, read and add to
her consent ledger. Thin over reminders.patients.edits; the API key's clinic scopes every
call (another clinic's patient is a 404, like a missing one)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, HTTPException, Path, status
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.orm import Session

from reminders.enrollments.schemas import InputError, errors_of
from reminders.enrollments.service import NotFound
from reminders.patients import edits
from reminders.patients.ledger import LedgerRow, ledger
from reminders.patients.models import Patient
from reminders.patients.service import get_patient
from reminders.web.api.schemas import plausible
from reminders.web.deps import ApiClinic, ClockDep, SessionDep

router = APIRouter(prefix="/patients", tags=["patients"])
ACTOR = "api-key"
PatientId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Patient id")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such patient in this clinic"}
}


class PatientDetailOut(BaseModel):
    id: int
    external_id: str | None
    given_name: str
    phone: str | None = Field(description="E.164")
    email: str | None
    timezone: str
    language: str
    conditions: list[str]
    channel_preference: str
    sms_opted_out: bool
    email_opted_out: bool
    changed: list[str] = Field(default_factory=list, description="PATCH: the fields that changed")
    replanned_messages: int = Field(0, description="PATCH: pending messages moved, added or "
                                    "cancelled because of the change")  # fmt: skip


class ConsentOut(BaseModel):
    id: int
    at: datetime = Field(description="When the patient opted out or in (or it reached us)")
    channel: Literal["sms", "email"] | str
    action: Literal["opt_out", "opt_in"] | str
    via: str = Field(description="patient_keyword, carrier_opt_out, provider_error or staff")
    source: str = Field(description="How it came, in words: 'patient phoned', 'paper form'…")
    by: str = Field(description="The staff member who entered it, else 'patient' or 'carrier'")
    exact_text: str | None = Field(None, description="The patient's words, when her own "
                                   "message made the change")  # fmt: skip
    recorded_at: datetime | None


class ConsentIn(BaseModel):
    """Record an opt-out or opt-in the patient gave outside a text (a phone call, a form)."""

    model_config = ConfigDict(extra="forbid")

    channel: Literal["sms", "email"]
    action: Literal["opt_out", "opt_in"]
    source: str = Field(
        min_length=1,
        max_length=edits.SOURCE_MAX,
        description="How the patient told us: 'patient phoned', 'paper form'…",
    )
    at: datetime | None = Field(None, description="When she did (with a UTC offset); "
                                "default now")  # fmt: skip


def _patient(session: Session, clinic_id: int, patient_id: int) -> Patient:
    try:
        return get_patient(session=session, clinic_id=clinic_id, patient_id=patient_id)
    except NotFound:
        raise HTTPException(404, "patient not found") from None


def _out(patient: Patient, **extra: Any) -> PatientDetailOut:
    return PatientDetailOut(
        id=patient.id, external_id=patient.external_id, given_name=patient.given_name,
        **edits.patient_values(patient), sms_opted_out=patient.sms_opted_out_at is not None,
        email_opted_out=patient.email_opted_out_at is not None, **extra,
    )  # fmt: skip


def _consent_out(row: LedgerRow) -> ConsentOut:
    return ConsentOut(id=row.id, at=row.at, channel=row.channel, action=row.action, via=row.via,
                      source=row.source, by=row.by, exact_text=row.exact_text,
                      recorded_at=row.recorded_at)  # fmt: skip


def _api_errors(errors: list[tuple[str, str]]) -> InputError:
    # The error handler (web/errors.py) puts each field's name in words before its message.
    return InputError([(f"body.{field}" if field != "body" else field, message)
                       for field, message in errors])  # fmt: skip


@router.patch(
    "/{patient_id}", response_model=PatientDetailOut, responses=NOT_FOUND,
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": edits.PatientPatch.model_json_schema()}}}},
)  # fmt: skip
def patch_patient(
    patient_id: PatientId, body: Annotated[dict[str, Any], Body()], clinic: ApiClinic,
    session: SessionDep, clock: ClockDep,
) -> PatientDetailOut:  # fmt: skip
    """Change any of `phone`, `email`, `timezone`, `language`, `conditions`,
    `channel_preference`; the others stay. Pending messages follow: local-time steps move
    to the new time zone, steps that now apply (or no longer do) are added (cancelled),
    and every pending message goes to the new number or address and in the new language.
    A 422 names each bad field in words."""
    patient = _patient(session, clinic.id, patient_id)
    try:
        patch = edits.parse_patch(body)
        result = edits.edit_patient(patch, session=session, clinic=clinic, patient=patient,
                                    now=clock.now(), actor=ACTOR)  # fmt: skip
    except InputError as exc:
        raise _api_errors(exc.errors) from None
    patient = session.get_one(Patient, patient_id)
    return _out(patient, changed=list(result.changed), replanned_messages=result.replanned)


@router.get("/{patient_id}/consent", response_model=list[ConsentOut], responses=NOT_FOUND)
def consent_ledger(patient_id: PatientId, clinic: ApiClinic,
                   session: SessionDep) -> list[ConsentOut]:  # fmt: skip
    """The patient's consent ledger, newest first: every opt-out and opt-in per channel,
    how it came (her text, the carrier, a staff entry with its source), when, and who."""
    _patient(session, clinic.id, patient_id)
    return [_consent_out(row) for row in ledger(session=session, clinic_id=clinic.id,
                                                patient_id=patient_id)]  # fmt: skip


@router.post(
    "/{patient_id}/consent", status_code=status.HTTP_201_CREATED, response_model=ConsentOut,
    responses=NOT_FOUND,
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": ConsentIn.model_json_schema()}}}},
)  # fmt: skip
def record_consent(
    patient_id: PatientId, body: Annotated[dict[str, Any], Body()], clinic: ApiClinic,
    session: SessionDep, clock: ClockDep,
) -> ConsentOut:  # fmt: skip
    """Record an opt-out or opt-in the patient gave another way (a phone call, a paper
    form). An opted-out channel sends nothing from then on. 422 when it changes nothing."""
    patient = _patient(session, clinic.id, patient_id)
    try:
        try:
            data = ConsentIn.model_validate(body)
        except ValidationError as exc:
            raise InputError(errors_of(exc)) from None
        if data.at is not None:
            try:
                plausible(data.at, "at")
            except ValueError as exc:
                raise InputError([("at", str(exc).removeprefix("at "))]) from None
        event = edits.record_consent(
            session=session, patient=patient, channel=data.channel, action=data.action,
            source=data.source, at=data.at, now=clock.now(), actor=ACTOR,
        )  # fmt: skip
    except InputError as exc:
        raise _api_errors(exc.errors) from None
    [row] = [r for r in ledger(session=session, clinic_id=clinic.id, patient_id=patient.id)
             if r.id == event.id]  # fmt: skip
    return _consent_out(row)
