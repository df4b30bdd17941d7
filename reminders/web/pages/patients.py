"""Patients: the timeline (every view is audited), reschedule and cancel.

The timeline lists what happened oldest first, then what is planned. ``?order=newest``
reverses what happened; on a phone with no order asked for, static/timeline.js does the
same in the page, so a clinician opening it from a page sees the latest event first.
"""

from __future__ import annotations

from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from reminders.clinics.models import DEFAULT_THRESHOLDS
from reminders.enrollments import service as enrollments
from reminders.enrollments.schemas import InputError
from reminders.enrollments.service import UNSET, NotFound
from reminders.outcomes import hoos
from reminders.outcomes.diary import relief_for
from reminders.patients import service as patients
from reminders.web.auth import CsrfForm
from reminders.web.pages.chart import Band, line_chart
from reminders.web.pages.common import (
    AnyPage,
    CoordinatorPage,
    Page,
    RowId,
    field_errors,
    parse_local,
    redirect,
)

router = APIRouter()
Order = Literal["newest", "oldest"]


def _timeline(page: Page, patient_id: int, status_code: int = 200,
              errors: dict[int, dict[str, str]] | None = None,
              order: Order | None = None) -> Response:  # fmt: skip
    try:
        data = patients.timeline(session=page.session, clinic_id=page.clinic_id,
                                 patient_id=patient_id, now=page.now)  # fmt: skip
    except NotFound:
        return page.not_found("That patient")
    page.audit("patient.view", "patient", patient_id)
    tz = ZoneInfo(data.patient.timezone)
    limits = {**DEFAULT_THRESHOLDS, **(page.viewer.clinic.thresholds or {})}
    pain_chart = line_chart(data.pain, title="Pain scores (0-10)", unit="/10", low=0, high=10,
                            tz=tz, bands=[Band(limits["pain_urgent"], "urgent")])  # fmt: skip
    glucose_chart = line_chart(
        data.glucose, title="Glucose (mg/dL)", unit="mg/dL", low=60, high=320, tz=tz,
        bands=[Band(limits["glucose_high_mg_dl"], "high"),
               Band(limits["glucose_low_mg_dl"], "low")],
    )  # fmt: skip
    # What happened, and what is planned after now (which may still change or not send).
    past = [e for e in data.events if e.at <= page.now]
    upcoming = [e for e in data.events if e.at > page.now]
    # The diagnostic pain diary's result per enrolment that has one (templates/_relief.html).
    found = {v.enrollment.id: relief_for(session=page.session, enrollment_id=v.enrollment.id)
             for v in data.enrollments}  # fmt: skip
    reliefs = {k: r for k, r in found.items() if r is not None}
    return page.render(
        "patient.html", status_code=status_code, t=data, order=order or "oldest",
        chosen=order is not None, past=past[::-1] if order == "newest" else past,
        upcoming=upcoming,
        pain_chart=pain_chart, glucose_chart=glucose_chart, errors=errors or {},
        reliefs=reliefs,
        proms=hoos.responses(session=page.session, clinic_id=page.clinic_id,
                             patient_id=patient_id),
    )  # fmt: skip


@router.get("/patients/{patient_id}", response_class=HTMLResponse)
def patient_timeline(patient_id: RowId, page: AnyPage,
                     order: Annotated[Order | None, Query()] = None) -> Response:  # fmt: skip
    return _timeline(page, patient_id, order=order)


@router.post("/enrollments/{enrollment_id}/reschedule")
def reschedule(enrollment_id: RowId, page: CoordinatorPage, form: CsrfForm) -> Response:
    try:
        enrollment = enrollments.get_enrollment(session=page.session, clinic_id=page.clinic_id,
                                                enrollment_id=enrollment_id)  # fmt: skip
    except NotFound:
        return page.not_found("That enrolment")
    zone = page.viewer.clinic.timezone
    savepoint = page.session.begin_nested()
    try:
        performed_at = parse_local(str(form.get("performed_at") or ""), zone, "performed_at")
        follow_up = parse_local(str(form.get("follow_up_at") or ""), zone, "follow_up_at")
        enrollments.reschedule(
            session=page.session, clinic=page.viewer.clinic, enrollment=enrollment,
            now=page.now, actor=page.viewer.actor, performed_at=performed_at,
            follow_up_at=follow_up if "follow_up_at" in form else UNSET,
        )  # fmt: skip
    except InputError as exc:
        savepoint.rollback()
        return _timeline(page, enrollment.patient_id, status_code=422,
                         errors={enrollment.id: field_errors(exc.errors)})  # fmt: skip
    savepoint.commit()
    return redirect(f"/patients/{enrollment.patient_id}", "rescheduled")


@router.post("/enrollments/{enrollment_id}/cancel")
def cancel(enrollment_id: RowId, page: CoordinatorPage, form: CsrfForm) -> Response:
    try:
        enrollment = enrollments.get_enrollment(session=page.session, clinic_id=page.clinic_id,
                                                enrollment_id=enrollment_id)  # fmt: skip
    except NotFound:
        return page.not_found("That enrolment")
    reason = " ".join(str(form.get("reason") or "").replace("\x00", "").split())
    enrollments.cancel(session=page.session, enrollment=enrollment, now=page.now,
                       actor=page.viewer.actor, reason=reason or "cancelled by staff")  # fmt: skip
    return redirect(f"/patients/{enrollment.patient_id}", "cancelled")
