"""Enrol one patient through a form, or many from a CSV file.

The form goes through the same parse_enrollment and enroll as the API and the CLI; a bad
field is shown beside its input and nothing is stored (the attempt runs in a savepoint).
An enrolment some of whose steps were too late already lands on ``/enrol?enrolled=<id>``,
which says which of them go out late and which were skipped, and why; any other goes
straight to the patient's timeline.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData, UploadFile

from reminders.enrollments import service as enrollments
from reminders.enrollments.importer import COLUMNS, REQUIRED, import_csv
from reminders.enrollments.late import past_steps
from reminders.enrollments.schemas import InputError, parse_enrollment
from reminders.patients.models import Patient
from reminders.protocols import service as protocols
from reminders.protocols.spec import CONDITION_VOCABULARY, INJECTATES
from reminders.web.auth import CsrfForm
from reminders.web.pages.common import (
    CoordinatorPage,
    Page,
    field_errors,
    input_time,
    parse_local,
    redirect,
)

router = APIRouter()
MAX_CSV_BYTES = 2_000_000
TEXT_FIELDS = (
    "given_name", "family_name", "external_id", "phone", "email", "timezone", "language",
    "injectate", "side", "channel", "performed_at", "follow_up_at", "baseline_pain",
)  # fmt: skip
# The model-level checks name their field in the message ("patient.phone is required…").
_NAMED_IN_MESSAGE = ("patient.phone", "patient.email", "follow_up_at")


def _render(
    page: Page,
    values: dict[str, Any],
    errors: dict[str, str] | None = None,
    report: dict[str, Any] | None = None,
    status_code: int = 200,
    enrolled: dict[str, Any] | None = None,
) -> HTMLResponse:
    return page.render(
        "enrol.html", status_code=status_code, values=values, errors=errors or {},
        report=report, injectates=INJECTATES, conditions=sorted(CONDITION_VOCABULARY),
        columns=COLUMNS, required=REQUIRED, enrolled=enrolled,
    )  # fmt: skip


def _defaults(page: Page) -> dict[str, Any]:
    zone = page.viewer.clinic.timezone
    return {"timezone": zone, "language": "en", "channel": "sms", "injectate": "corticosteroid",
            "conditions": [], "performed_at": input_time(page.now, zone)}  # fmt: skip


EnrolledId = Annotated[int | None, Query(ge=1, le=2**31 - 1)]


@router.get("/enrol", response_class=HTMLResponse)
def enrol_form(page: CoordinatorPage, enrolled: EnrolledId = None) -> Response:
    return _render(page, _defaults(page), enrolled=_enrolled(page, enrolled))


def _enrolled(page: Page, enrollment_id: int | None) -> dict[str, Any] | None:
    """The just-enrolled patient and what happened to her already-due steps; None for
    another clinic's enrolment (nothing is shown, as for a missing one)."""
    if enrollment_id is None:
        return None
    try:
        enrollment = enrollments.get_enrollment(session=page.session, clinic_id=page.clinic_id,
                                                enrollment_id=enrollment_id)  # fmt: skip
    except enrollments.NotFound:
        return None
    page.audit("enrollment.view", "enrollment", enrollment.id)
    patient = page.session.get_one(Patient, enrollment.patient_id)
    past = past_steps(session=page.session, enrollment=enrollment)
    return {"patient": patient, "late": [p for p in past if p.outcome == "sent_late"],
            "skipped": [p for p in past if p.outcome != "sent_late"]}  # fmt: skip


def _values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {
        name: str(form.get(name) or "").replace("\x00", "").strip()[:300] for name in TEXT_FIELDS
    }
    values["conditions"] = [str(c) for c in form.getlist("conditions")][:20]
    values["diagnostic"] = form.get("diagnostic") == "on"
    return values


def _form_errors(errors: list[tuple[str, str]]) -> dict[str, str]:
    fixed = []
    for field, message in errors:
        if field == "body":
            named = next((n for n in _NAMED_IN_MESSAGE if message.startswith(n + " ")), None)
            if named:
                field, message = named, message.removeprefix(named + " ")
        fixed.append((field, message))
    return field_errors(fixed, strip=("patient.", "procedure."))


@router.post("/enrol", response_class=HTMLResponse)
def enrol(page: CoordinatorPage, form: CsrfForm) -> Response:
    values = _values(form)
    zone = page.viewer.clinic.timezone
    errors: list[tuple[str, str]] = []
    dates: dict[str, Any] = {}
    for name in ("performed_at", "follow_up_at"):
        try:
            dates[name] = parse_local(values[name], zone, name)
        except InputError as exc:
            errors.extend(exc.errors)
    if dates.get("performed_at") is None and not errors:
        errors.append(("performed_at", "is required"))
    patient = {k: values[k] or None for k in ("given_name", "family_name", "external_id",
                                                "phone", "email", "timezone")}  # fmt: skip
    payload = {
        "patient": {**patient, "given_name": values["given_name"], "language": values["language"]
                    or "en", "conditions": values["conditions"]},
        "procedure": {"performed_at": dates.get("performed_at") or "", "injectate":
                      values["injectate"], "side": values["side"] or None,
                      "diagnostic": values["diagnostic"],
                      "baseline_pain": values["baseline_pain"] or None},
        "follow_up_at": dates.get("follow_up_at"),
        "channel": values["channel"] or "sms",
    }  # fmt: skip
    savepoint = page.session.begin_nested()
    try:
        try:
            data = parse_enrollment(payload)
        except InputError as exc:
            seen = {field for field, _ in errors}
            raise InputError(errors + [e for e in exc.errors if e[0] not in seen]) from None
        if errors:
            raise InputError(errors)
        result = enrollments.enroll(data, session=page.session, clinic=page.viewer.clinic,
                                    now=page.now, actor=page.viewer.actor)  # fmt: skip
    except (InputError, protocols.NotFound) as exc:
        savepoint.rollback()
        found = exc.errors if isinstance(exc, InputError) else [("procedure.injectate", str(exc))]
        return _render(page, values, _form_errors(found), status_code=422)
    savepoint.commit()
    if result.created and past_steps(session=page.session, enrollment=result.enrollment):
        return redirect(f"/enrol?enrolled={result.enrollment.id}")
    notice = "enrolled" if result.created else "already"
    return redirect(f"/patients/{result.enrollment.patient_id}", notice)


@router.post("/enrol/csv", response_class=HTMLResponse)
async def enrol_csv(page: CoordinatorPage, form: CsrfForm) -> Response:
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        return _render(page, _defaults(page), {"file": "choose a CSV file"}, status_code=422)
    raw = await upload.read(MAX_CSV_BYTES + 1)
    if len(raw) > MAX_CSV_BYTES:
        return _render(page, _defaults(page), {"file": "is larger than 2 MB; split it"},
                       status_code=422)  # fmt: skip
    try:
        text = raw.decode("utf-8-sig").replace("\x00", "")
    except UnicodeDecodeError:
        return _render(page, _defaults(page), {"file": "is not UTF-8 text; save it as CSV UTF-8"},
                       status_code=422)  # fmt: skip
    report = import_csv(text, session=page.session, clinic=page.viewer.clinic, now=page.now,
                        actor=page.viewer.actor,
                        all_or_nothing=form.get("all_or_nothing") == "on")  # fmt: skip
    summary = report.as_dict() | {"filename": (upload.filename or "upload.csv")[:100]}
    return _render(page, _defaults(page), report=summary,
                   status_code=200 if not report.errors else 422)  # fmt: skip
