"""Edit a patient's contact details and preferences, and record her consent (coordinators
and admins). Both forms go through reminders.patients.edits, like the REST API: a bad
field is shown beside its input and nothing is stored (each attempt runs in a savepoint).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from reminders.enrollments.schemas import InputError
from reminders.enrollments.service import NotFound
from reminders.patients import edits
from reminders.patients.ledger import ledger
from reminders.patients.models import Patient
from reminders.patients.service import get_patient
from reminders.protocols.spec import CONDITION_VOCABULARY
from reminders.web.auth import CsrfForm
from reminders.web.pages.common import (
    CoordinatorPage,
    Page,
    RowId,
    field_errors,
    input_time,
    parse_local,
    redirect,
)

router = APIRouter()
OTHER = "other"


def _render(
    page: Page, patient: Patient, *, values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None, consent_values: dict[str, Any] | None = None,
    consent_errors: dict[str, str] | None = None, status_code: int = 200,
) -> HTMLResponse:  # fmt: skip
    zone = page.viewer.clinic.timezone
    return page.render(
        "patient_edit.html", status_code=status_code, patient=patient,
        values=values or edits.patient_values(patient), errors=errors or {},
        consent_values=consent_values or {"channel": "sms", "action": "opt_out",
                                          "source": edits.SOURCES[0], "source_other": "",
                                          "at": input_time(page.now, zone)},
        consent_errors=consent_errors or {}, conditions=sorted(CONDITION_VOCABULARY),
        sources=edits.SOURCES, other=OTHER,
        ledger=ledger(session=page.session, clinic_id=page.clinic_id, patient_id=patient.id),
    )  # fmt: skip


def _patient(page: Page, patient_id: int) -> Patient | None:
    try:
        return get_patient(session=page.session, clinic_id=page.clinic_id, patient_id=patient_id)
    except NotFound:
        return None


@router.get("/patients/{patient_id}/edit", response_class=HTMLResponse)
def edit_form(patient_id: RowId, page: CoordinatorPage) -> Response:
    patient = _patient(page, patient_id)
    if patient is None:
        return page.not_found("That patient")
    page.audit("patient.view", "patient", patient.id)  # the page shows her number and address
    return _render(page, patient)


def _text(form: FormData, name: str, limit: int = 300) -> str:
    return str(form.get(name) or "").replace("\x00", "").strip()[:limit]


@router.post("/patients/{patient_id}/edit", response_class=HTMLResponse)
def edit(patient_id: RowId, page: CoordinatorPage, form: CsrfForm) -> Response:
    patient = _patient(page, patient_id)
    if patient is None:
        return page.not_found("That patient")
    values: dict[str, Any] = {name: _text(form, name) for name in edits.EDITABLE
                              if name != "conditions"}  # fmt: skip
    values["conditions"] = [str(c) for c in form.getlist("conditions")][:20]
    savepoint = page.session.begin_nested()
    try:
        patch = edits.parse_patch(dict(values))
        result = edits.edit_patient(patch, session=page.session, clinic=page.viewer.clinic,
                                    patient=patient, now=page.now, actor=page.viewer.actor,
                                    staff_id=page.viewer.staff.id)  # fmt: skip
    except InputError as exc:
        savepoint.rollback()
        return _render(page, patient, values=values, errors=field_errors(exc.errors),
                       status_code=422)  # fmt: skip
    savepoint.commit()
    return redirect(f"/patients/{patient_id}", "saved" if result.changed else None)


@router.post("/patients/{patient_id}/consent", response_class=HTMLResponse)
def record_consent(patient_id: RowId, page: CoordinatorPage, form: CsrfForm) -> Response:
    patient = _patient(page, patient_id)
    if patient is None:
        return page.not_found("That patient")
    values = {name: _text(form, name) for name in ("channel", "action", "source", "at")}
    values["source_other"] = _text(form, "source_other", edits.SOURCE_MAX + 1)
    source = values["source_other"] if values["source"] == OTHER else values["source"]
    savepoint = page.session.begin_nested()
    try:
        at = parse_local(values["at"], page.viewer.clinic.timezone, "at")
        edits.record_consent(
            session=page.session, patient=patient, channel=values["channel"],
            action=values["action"], source=source, at=at, now=page.now,
            actor=page.viewer.actor, staff_id=page.viewer.staff.id,
        )  # fmt: skip
    except InputError as exc:
        savepoint.rollback()
        errors = field_errors(exc.errors)
        if "source" in errors and values["source"] == OTHER:
            errors["source_other"] = errors.pop("source")
        return _render(page, patient, consent_values=values, consent_errors=errors,
                       status_code=422)  # fmt: skip
    savepoint.commit()
    return redirect(f"/patients/{patient_id}/edit#consent", "saved")
