"""FHIR R4B read API: ``GET /fhir/{type}?patient=…`` searches and ``GET /fhir/metadata``.

Same bearer API key as the REST API, every search scoped to the key's clinic. A search
for another clinic's patient (or one that does not exist) answers an empty searchset
Bundle (``total: 0``), not 404: in FHIR a search that matches nothing is a successful
search, and 404 belongs to reading one resource by id. Either way nothing tells the two
apart. Errors are OperationOutcome resources (401 bad key, 400 bad parameter, naming it).

Paging: ``_count`` (default 50, at most 200) and ``_offset``; the Bundle's ``next`` link
carries them.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from sqlalchemy.orm import Session

from reminders.clinics.models import Clinic
from reminders.clinics.service import clinic_for_api_key
from reminders.interop import fhir_out
from reminders.patients.models import Patient
from reminders.web.api import fhir as intake
from reminders.web.deps import ClockDep, SessionDep, SettingsDep

router = APIRouter(prefix="/fhir", tags=["fhir"])
FHIR_JSON = "application/fhir+json"
DEFAULT_COUNT, MAX_COUNT = 50, 200
_bearer = HTTPBearer(auto_error=False, description="The clinic's API key")


class FhirProblem(Exception):
    def __init__(self, status: int, code: str, text: str) -> None:
        super().__init__(text)
        self.status, self.code, self.text = status, code, text


def outcome(status: int, code: str, text: str) -> JSONResponse:
    body = {"resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": text}]}  # fmt: skip
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON, headers=headers)


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def fhir_clinic(session: Session, credentials: HTTPAuthorizationCredentials | None) -> Clinic:
    """The key's clinic, or the 401 OperationOutcome (the same for a missing and a wrong key)."""
    clinic = None
    if credentials is not None and credentials.scheme.lower() == "bearer":
        clinic = clinic_for_api_key(session=session, api_key=credentials.credentials)
    if clinic is None:
        raise FhirProblem(401, "login", "A valid API key is required (Authorization: Bearer ak_…)")
    return clinic


PatientParam = Annotated[str | None, Query(
    alias="patient", max_length=100, description="Patient/{id} or {id}")]  # fmt: skip
CountParam = Annotated[str | None, Query(alias="_count", max_length=10)]
OffsetParam = Annotated[str | None, Query(alias="_offset", max_length=10)]


def _number(value: str | None, name: str, default: int, low: int, high: int) -> int:
    if value is None or value == "":
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise FhirProblem(400, "invalid", f"{name} must be a whole number from {low} to {high}")
    return int(value)


def _patient(session: Session, clinic: Clinic, value: str | None) -> Patient | None:
    if value is None or not value.strip():
        raise FhirProblem(400, "required", "The patient parameter is required "
                                           "(patient=Patient/123 or patient=123)")  # fmt: skip
    ident = value.strip().removeprefix("Patient/")
    if not ident.isdigit() or len(ident) > 10:
        raise FhirProblem(400, "invalid", "The patient parameter must be Patient/{id} "
                                          "with a number as the id")  # fmt: skip
    patient = session.get(Patient, int(ident))
    return patient if patient is not None and patient.clinic_id == clinic.id else None


def _search(
    kind: str, request: Request, session: Session, credentials: HTTPAuthorizationCredentials | None,
    settings: Any, patient: str | None, count: str | None, offset: str | None,
) -> JSONResponse:  # fmt: skip
    try:
        clinic = fhir_clinic(session, credentials)
        size = _number(count, "_count", DEFAULT_COUNT, 0, MAX_COUNT)
        start = _number(offset, "_offset", 0, 0, 10**6)
        found = _patient(session, clinic, patient)
    except FhirProblem as problem:
        return outcome(problem.status, problem.code, problem.text)
    urls = fhir_out.Urls.of(settings.public_url)
    matches = (fhir_out.SEARCHES[kind](session=session, clinic=clinic, patient=found, urls=urls)
               if found is not None else [])  # fmt: skip
    page = matches[start : start + size]
    query = request.url.query
    self_url = f"{urls.base}/{kind}" + (f"?{query}" if query else "")
    next_url = None
    if start + size < len(matches) and size > 0:
        next_url = (f"{urls.base}/{kind}?patient=Patient/{found.id if found else ''}"
                    f"&_count={size}&_offset={start + size}")  # fmt: skip
    bundle = fhir_out.searchset(page, urls=urls, total=len(matches), self_url=self_url,
                                next_url=next_url)  # fmt: skip
    return JSONResponse(bundle, media_type=FHIR_JSON)


def _route(kind: str, what: str) -> None:
    def search(
        request: Request, credentials: Credentials, session: SessionDep, settings: SettingsDep,
        patient: PatientParam = None, count: CountParam = None, offset: OffsetParam = None,
    ) -> JSONResponse:  # fmt: skip
        return _search(kind, request, session, credentials, settings, patient, count, offset)

    search.__doc__ = f"Search {what} of one patient: a searchset Bundle of {kind} resources."
    router.add_api_route(f"/{kind}", search, methods=["GET"], name=f"fhir_search_{kind}",
                         response_class=JSONResponse, summary=f"Search {kind}")  # fmt: skip


for _kind, _what in (
    ("Communication", "every message sent to and received from"),
    ("Observation", "pain scores, glucose readings and % relief"),
    ("QuestionnaireResponse", "scored questionnaires (HOOS JR)"),
    ("Flag", "the concerns (as flags)"),
    ("Task", "the concerns (as review tasks)"),
):
    _route(_kind, _what)


@router.get("/metadata", response_class=JSONResponse, summary="CapabilityStatement")
def metadata(settings: SettingsDep, clock: ClockDep) -> JSONResponse:
    """What this server does, exactly: the searches above, and ``POST /fhir/Bundle``
    (intake) when that route is installed. No key needed, as FHIR expects."""
    return JSONResponse(capability_statement(settings.public_url, clock.now()),
                        media_type=FHIR_JSON)  # fmt: skip


def capability_statement(public_url: str, now: Any) -> dict[str, Any]:
    urls = fhir_out.Urls.of(public_url)
    params = [
        {"name": "patient", "type": "reference", "documentation": "Patient/{id} or {id}; required"},
        {"name": "_count", "type": "number", "documentation": f"page size, at most {MAX_COUNT}"},
        {"name": "_offset", "type": "number", "documentation": "where the page starts"},
    ]  # fmt: skip
    resources: list[dict[str, Any]] = [
        {"type": kind, "interaction": [{"code": "search-type"}], "searchParam": params}
        for kind in fhir_out.SEARCHABLE
    ]
    if _intake_installed():
        resources.append({
            "type": "Bundle", "interaction": [{"code": "create"}],
            "documentation": "POST a Bundle of Patient, Procedure and Appointment to enrol "
                             "(intake; see docs/interop.md)",
        })  # fmt: skip
    statement = {
        "resourceType": "CapabilityStatement", "status": "active", "kind": "instance",
        "date": now.isoformat(timespec="seconds"), "fhirVersion": fhir_out.FHIR_VERSION,
        "format": ["json"], "software": {"name": "Aftercare"},
        "implementation": {"description": "Aftercare follow-up after hip injections",
                           "url": urls.base},
        "rest": [{
            "mode": "server",
            "security": {"service": [{"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                "code": "OAuth"}], "text": "Bearer API key of the clinic"}],
                "description": "Authorization: Bearer <the clinic's API key>"},
            "resource": resources,
        }],
    }  # fmt: skip
    model = CapabilityStatement.model_validate(statement)
    return dict(json.loads(model.model_dump_json(exclude_none=True, by_alias=True)))


def _intake_installed() -> bool:
    """``POST /fhir/Bundle`` (FHIR in, reminders/web/api/fhir.py) is served."""
    return any(getattr(r, "path", "").endswith("/Bundle")
               and "POST" in (getattr(r, "methods", None) or ())
               for r in intake.router.routes)  # fmt: skip

