"""/fhir: the FHIR R4 face of the app, over the same bearer API key as /api/v1 (the key's
clinic scopes every call).

``POST /fhir/Bundle`` takes a transaction or collection Bundle (a Patient, the injection
as a Procedure, its MedicationAdministration, Conditions, a follow-up Appointment) and
enrols the patient through the EHR intake core (reminders.interop.intake); sending it
again changes nothing. The answer is a transaction-response Bundle, or an
OperationOutcome naming the FHIRPath of every problem (400 unreadable, 415 not JSON,
422 not acceptable), and then nothing is stored. FHIR types stay in reminders.interop.fhir_in.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from reminders.clinics.models import Clinic
from reminders.clock import Clock
from reminders.enrollments.models import Enrollment
from reminders.interop import fhir_in, intake
from reminders.web.deps import ApiClinic, ClockDep, SessionDep

router = APIRouter(prefix="/fhir", tags=["fhir"])
ACTOR = "fhir"
FHIR_JSON = "application/fhir+json"
ACCEPTED = ("application/fhir+json", "application/json")
MAX_BODY = 2_000_000  # bytes; a Bundle for one injection is a few kilobytes
_OUTCOME = {"description": "An OperationOutcome: each issue's expression is the FHIRPath "
            "of the problem", "content": {FHIR_JSON: {}}}  # fmt: skip


def _answer(body: dict[str, Any], status: int = 200) -> Response:
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON)


def _problem(issues: list[tuple[str | None, str, str]], status: int) -> Response:
    return _answer(fhir_in.outcome(issues), status)


@router.post(
    "/Bundle",
    response_class=JSONResponse,
    responses={200: {"description": "A transaction-response Bundle: one entry per entry "
                     "sent, with its status, location and what was done",
                     "content": {FHIR_JSON: {}}},
               400: _OUTCOME, 415: _OUTCOME, 422: _OUTCOME},
    openapi_extra={"requestBody": {"required": True, "content": {
        FHIR_JSON: {"schema": {"type": "object", "description": "A FHIR R4 Bundle"}},
        "application/json": {"schema": {"type": "object"}}}}},
)  # fmt: skip
async def post_bundle(request: Request, clinic: ApiClinic, session: SessionDep,
                      clock: ClockDep) -> Response:  # fmt: skip
    """Enrol a patient from a FHIR R4 Bundle (`transaction` or `collection`). The same
    Procedure again (by identifier, else id) changes nothing; a new `performedDateTime`
    or Appointment `start` reschedules; Appointment `cancelled`/`noshow` removes the
    visit; Procedure `entered-in-error`/`not-done` cancels the follow-up."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in ACCEPTED:
        return _problem([(None, "Send the Bundle as application/fhir+json (or "
                          "application/json)", "not-supported")], 415)  # fmt: skip
    raw = await request.body()
    if len(raw) > MAX_BODY:
        return _problem([(None, f"The Bundle is larger than {MAX_BODY // 1000} kB",
                          "too-costly")], 413)  # fmt: skip
    return await run_in_threadpool(_take, raw, clinic, session, clock)


def _take(raw: bytes, clinic: Clinic, session: Session, clock: Clock) -> Response:
    try:
        parsed = fhir_in.parse_bundle(fhir_in.read_json(raw), clinic=clinic)
    except fhir_in.FhirError as exc:
        return _problem(exc.issues, exc.status)
    try:
        result = intake.intake(session=session, clinic=clinic, now=clock.now(), actor=ACTOR,
                               patient=parsed.patient, procedure=parsed.procedure,
                               appointment=parsed.appointment)  # fmt: skip
    except intake.IntakeError as exc:
        return _problem(fhir_in.intake_issues(parsed, exc.errors), 422)
    enrollment = session.get(Enrollment, result.enrollment_id) if result.enrollment_id else None
    procedure_id = enrollment.procedure_id if enrollment is not None else None
    return _answer(fhir_in.transaction_response(parsed, result, procedure_id))
