# ruff: noqa: F811  (pytest fixtures imported from tests.web.conftest are parameters here)
"""FHIR R4 in: Riverside's EHR enrols Rosa by posting a transaction Bundle (shaped like
the published R4 examples) to POST /fhir/Bundle with the clinic's API key.

Sending it again changes nothing; a new injection time or visit time reschedules; a
visit cancelled or missed brings "book a follow-up visit" back; a procedure entered in
error cancels. Every bad Bundle is answered with an OperationOutcome naming the FHIRPath
of each problem, and nothing is stored. Bob's key (Lakeside) never reaches Riverside's
patients. Real HTTP through the app (TestClient), both databases.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reminders.audit.models import AuditEvent
from reminders.enrollments.models import Enrollment, ScheduledMessage
from reminders.interop import codes
from reminders.interop.models import ExternalId
from reminders.patients.models import Patient, Procedure
from tests.web.conftest import LAKESIDE_KEY, RIVERSIDE_KEY, bearer, cast, client, clock, fast_hashes  # noqa: F401  (the web cast)

FIXTURES = Path(__file__).with_name("fixtures")
FHIR_JSON = "application/fhir+json"
PATIENT, PROCEDURE, STEROID, LIDOCAINE, CONDITION, APPOINTMENT = range(6)


def rosa() -> dict[str, Any]:
    return json.loads((FIXTURES / "rosa_transaction.json").read_text())


def post(client, bundle: Any, key: str = RIVERSIDE_KEY, content_type: str = FHIR_JSON):
    body = bundle if isinstance(bundle, bytes) else json.dumps(bundle).encode()
    return client.post("/fhir/Bundle", content=body,
                       headers={**bearer(key), "Content-Type": content_type})  # fmt: skip


def resource(bundle: dict[str, Any], index: int) -> dict[str, Any]:
    return bundle["entry"][index]["resource"]


def said(answer: dict[str, Any], index: int = PROCEDURE) -> str:
    return answer["entry"][index]["response"]["outcome"]["issue"][0]["diagnostics"]


def rosa_row(session: Session, clinic_id: int) -> Patient:
    return session.scalars(select(Patient).where(
        Patient.clinic_id == clinic_id, Patient.external_id == "MRN-2002")).one()  # fmt: skip


def enrolment_of(session: Session, patient: Patient) -> Enrollment:
    return session.scalars(select(Enrollment).where(Enrollment.patient_id == patient.id)).one()


def steps(session: Session, enrollment: Enrollment) -> dict[str, tuple[str, Any]]:
    session.expire_all()
    rows = session.scalars(select(ScheduledMessage).where(
        ScheduledMessage.enrollment_id == enrollment.id))  # fmt: skip
    return {f"{m.step_key}:{m.occurrence}": (m.status, m.due_at) for m in rows}


def counts(session: Session) -> tuple[int, ...]:
    return tuple(session.scalar(select(func.count()).select_from(model)) or 0
                 for model in (Patient, Procedure, Enrollment, ScheduledMessage, ExternalId,
                               AuditEvent))  # fmt: skip


def test_riverside_ehr_enrols_rosa_from_a_transaction_bundle(client, session, cast) -> None:
    response = post(client, rosa())
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(FHIR_JSON)
    answer = response.json()
    assert answer["resourceType"] == "Bundle" and answer["type"] == "transaction-response"
    assert len(answer["entry"]) == 6  # one response per entry sent, in order
    patient = rosa_row(session, cast.riverside.id)
    enrollment = enrolment_of(session, patient)
    procedure = session.get_one(Procedure, enrollment.procedure_id)
    assert answer["entry"][PROCEDURE]["response"]["status"] == "201 Created"
    assert answer["entry"][PROCEDURE]["response"]["location"] == f"Procedure/{procedure.id}"
    assert answer["entry"][PATIENT]["response"]["location"] == f"Patient/{patient.id}"
    assert said(answer) == f"Enrolled (enrolment {enrollment.id})"
    # The mobile number, not the home one; her language reduced from es-MX; her diabetes
    # from SNOMED CT and ICD-10-CM; the steroid decides the protocol over the lidocaine.
    assert (patient.given_name, patient.family_name) == ("Rosa", "Diaz")
    assert (patient.phone, patient.email) == ("+13125550177", "rosa.diaz@example.org")
    assert (patient.language, patient.timezone, patient.conditions) == (
        "es", "America/Chicago", ["diabetes"])
    assert (procedure.injectate, procedure.side) == ("corticosteroid", "right")
    assert procedure.performed_at.isoformat() == "2026-11-20T19:40:00+00:00"
    assert procedure.follow_up_at.isoformat() == "2026-12-04T16:30:00+00:00"
    planned = steps(session, enrollment)
    assert "glucose_check:0" in planned  # diabetic: the steroid's blood sugar checks
    assert planned["follow_up_reminder:0"][0] == "pending"
    actors = set(session.scalars(select(AuditEvent.actor).where(
        AuditEvent.subject_id == enrollment.id, AuditEvent.subject_type == "enrollment")))
    assert actors == {"fhir"}


def test_the_same_bundle_again_changes_nothing(client, session, cast) -> None:
    assert post(client, rosa()).status_code == 200
    before = counts(session)
    enrollment = enrolment_of(session, rosa_row(session, cast.riverside.id))
    planned = steps(session, enrollment)
    again = post(client, rosa())
    assert again.status_code == 200
    assert said(again.json()).startswith("Already up to date")
    assert again.json()["entry"][PROCEDURE]["response"]["status"] == "200 OK"
    assert counts(session) == before
    assert steps(session, enrollment) == planned


def test_a_new_injection_time_reschedules_what_is_not_sent(client, session, cast) -> None:
    assert post(client, rosa()).status_code == 200
    enrollment = enrolment_of(session, rosa_row(session, cast.riverside.id))
    before = steps(session, enrollment)
    bundle = rosa()
    resource(bundle, PROCEDURE)["performedDateTime"] = "2026-11-20T12:40:00-06:00"
    response = post(client, bundle)
    assert response.status_code == 200, response.text
    assert said(response.json()).startswith("Rescheduled")
    after = steps(session, enrollment)
    assert after["numbness_check:0"][1] == before["numbness_check:0"][1].replace(
        hour=before["numbness_check:0"][1].hour - 1)
    procedure = session.get_one(Procedure, enrollment.procedure_id)
    assert procedure.performed_at.isoformat() == "2026-11-20T18:40:00+00:00"


def test_the_visit_moves_then_is_cancelled_then_booked_and_missed(client, session, cast) -> None:
    """A moved visit moves its reminder; cancelled or missed, the reminder goes and "book
    a follow-up visit" comes back."""
    assert post(client, rosa()).status_code == 200
    enrollment = enrolment_of(session, rosa_row(session, cast.riverside.id))
    procedure_id = enrollment.procedure_id
    bundle = rosa()
    appointment = resource(bundle, APPOINTMENT)
    appointment["start"] = "2026-12-07T09:00:00-06:00"
    moved = post(client, bundle)
    assert said(moved.json()).startswith("Rescheduled"), moved.text
    session.expire_all()
    assert session.get_one(Procedure, procedure_id).follow_up_at.isoformat() == \
        "2026-12-07T15:00:00+00:00"
    assert steps(session, enrollment)["follow_up_reminder:0"][0] == "pending"

    appointment["status"] = "cancelled"
    cancelled = post(client, bundle)
    assert said(cancelled.json()).startswith("Updated"), cancelled.text
    session.expire_all()
    assert session.get_one(Procedure, procedure_id).follow_up_at is None
    planned = steps(session, enrollment)
    assert planned["follow_up_reminder:0"][0] == "cancelled"
    assert planned["follow_up_booking:0"][0] == "pending"
    assert said(post(client, bundle).json()).startswith("Already up to date")

    appointment["status"] = "booked"
    assert said(post(client, bundle).json()).startswith("Rescheduled")
    assert steps(session, enrollment)["follow_up_reminder:0"][0] == "pending"
    appointment["status"] = "noshow"
    missed = post(client, bundle)
    assert said(missed.json()).startswith("Updated")
    session.expire_all()
    assert session.get_one(Procedure, procedure_id).follow_up_at is None
    assert steps(session, enrollment)["follow_up_booking:0"][0] == "pending"


@pytest.mark.parametrize("status", ["entered-in-error", "not-done"])
def test_a_procedure_entered_in_error_cancels_the_follow_up(client, session, cast,
                                                             status: str) -> None:  # fmt: skip
    assert post(client, rosa()).status_code == 200
    enrollment = enrolment_of(session, rosa_row(session, cast.riverside.id))
    bundle = rosa()
    resource(bundle, PROCEDURE)["status"] = status
    response = post(client, bundle)
    assert said(response.json()).startswith("The follow-up was cancelled"), response.text
    session.expire_all()
    assert session.get_one(Enrollment, enrollment.id).status == "cancelled"
    assert "pending" not in {s for s, _ in steps(session, enrollment).values()}
    assert said(post(client, bundle).json()).startswith("Already up to date")


def test_a_collection_with_the_injectate_on_the_procedure_code(client, session, cast) -> None:
    """No MedicationAdministration: the procedure's own code (CPT 0232T, PRP) decides.
    No MRN either: the sender's Patient id finds her next time. Plain application/json."""
    bundle = rosa()
    bundle["type"] = "collection"
    del bundle["entry"][STEROID:CONDITION]
    del bundle["entry"][APPOINTMENT - 2]
    patient = resource(bundle, PATIENT)
    patient["id"] = "pat-7"
    del patient["identifier"]
    bundle["entry"][PATIENT]["fullUrl"] = "https://ehr.riverside.example.org/fhir/Patient/pat-7"
    procedure = resource(bundle, PROCEDURE)
    procedure["subject"] = {"reference": "Patient/pat-7"}
    procedure["code"] = {"coding": [{"system": "http://www.ama-assn.org/go/cpt",
                                     "code": "0232T"}], "text": "PRP injection, left hip"}
    procedure["bodySite"] = [{"coding": [{"system": "http://snomed.info/sct",
                                          "code": "7771000", "display": "Left"}]}]
    resource(bundle, PROCEDURE + 1)["subject"] = {"reference": "Patient/pat-7"}  # Condition
    response = post(client, bundle, content_type="application/json")
    assert response.status_code == 200, response.text
    row = session.scalars(select(Patient).where(Patient.external_id == "pat-7")).one()
    stored = session.get_one(Procedure, enrolment_of(session, row).procedure_id)
    assert (stored.injectate, stored.side, stored.follow_up_at) == ("prp", "left", None)
    # Her next injection: the same patient, a second enrolment.
    procedure["identifier"][0]["value"] = "PROC-5002"
    procedure["performedDateTime"] = "2026-11-20T14:00:00-06:00"
    assert post(client, bundle, content_type="application/json").status_code == 200
    assert session.scalar(select(func.count()).select_from(Patient).where(
        Patient.external_id == "pat-7")) == 1
    assert session.scalar(select(func.count()).select_from(Enrollment).where(
        Enrollment.patient_id == row.id)) == 2


def _mutate(path: list[Any], value: Any) -> Any:
    def change(bundle: dict[str, Any]) -> None:
        target: Any = bundle
        for key in path[:-1]:
            target = target[key]
        if value is _DELETE:
            del target[path[-1]]
        else:
            target[path[-1]] = value
    return change


_DELETE = object()
E = "entry"
R = "resource"
BAD = [  # (what is wrong, change, status, FHIRPath of the issue)
    ("no offset", _mutate([E, PROCEDURE, R, "performedDateTime"], "2026-11-20T13:40:00"),
     400, "Bundle.entry[1].resource.performedDateTime"),
    ("a date only", _mutate([E, PROCEDURE, R, "performedDateTime"], "2026-11-20"),
     422, "Bundle.entry[1].resource.performedDateTime"),
    ("no injection time", _mutate([E, PROCEDURE, R, "performedDateTime"], _DELETE),
     422, "Bundle.entry[1].resource.performedDateTime"),
    ("far in the future", _mutate([E, PROCEDURE, R, "performedDateTime"],
                                  "2026-12-20T13:40:00-06:00"),
     422, "Bundle.entry[1].resource.performedDateTime"),
    ("in progress", _mutate([E, PROCEDURE, R, "status"], "in-progress"),
     422, "Bundle.entry[1].resource.status"),
    ("no identifier", _mutate([E, PROCEDURE, R, "identifier"], _DELETE),
     422, "Bundle.entry[1].resource.identifier"),
    ("subject elsewhere", _mutate([E, PROCEDURE, R, "subject"], {"reference": "Patient/x"}),
     422, "Bundle.entry[1].resource.subject"),
    ("unknown element", _mutate([E, PROCEDURE, R, "injectedInto"], "hip"),
     400, "Bundle.entry[1].resource.injectedInto"),
    ("unknown resource", _mutate([E, CONDITION, R, "resourceType"], "Diagnosis"),
     400, "Bundle.entry[4].resource.resourceType"),
    ("unreadable phone", _mutate([E, PATIENT, R, "telecom", 1, "value"], "12"),
     422, "Bundle.entry[0].resource.telecom[1]"),
    ("no address", _mutate([E, PATIENT, R, "telecom"], _DELETE),
     422, "Bundle.entry[0].resource.telecom"),
    ("bad zone", _mutate([E, PATIENT, R, "extension", 0, "valueCode"], "Mars/Olympus"),
     422, "Bundle.entry[0].resource.extension[0].valueCode"),
    ("no first name", _mutate([E, PATIENT, R, "name", 0, "given"], _DELETE),
     422, "Bundle.entry[0].resource.name[0].given"),
    ("not part of it", _mutate([E, STEROID, R, "partOf"], _DELETE),
     422, "Bundle.entry[2].resource.partOf"),
    ("visit before", _mutate([E, APPOINTMENT, R, "start"], "2026-11-20T09:00:00-06:00"),
     422, "Bundle.entry[5].resource.start"),
    ("odd visit status", _mutate([E, APPOINTMENT, R, "status"], "rescheduled"),
     422, "Bundle.entry[5].resource.status"),
    ("batch", _mutate(["type"], "batch"), 422, "Bundle.type"),
    ("no patient", lambda b: b[E].pop(PATIENT), 422, "Bundle.entry"),
    ("two procedures", lambda b: b[E].append(copy.deepcopy(b[E][PROCEDURE])),
     422, "Bundle.entry[6].resource"),
]  # fmt: skip


def test_a_bad_bundle_names_the_fhirpath_and_stores_nothing(client, session, cast) -> None:
    """One cast for all of them (each Bundle is refused, so none sees another's rows)."""
    before = counts(session)
    for what, change, status, expression in BAD:
        bundle = rosa()
        change(bundle)
        response = post(client, bundle)
        assert response.status_code == status, (what, response.text)
        outcome = response.json()
        assert outcome["resourceType"] == "OperationOutcome", what
        expressions = [e for issue in outcome["issue"] for e in issue.get("expression", [])]
        assert expression in expressions, (what, outcome)
        assert all(issue["severity"] == "error" and issue["diagnostics"]
                   for issue in outcome["issue"]), what  # fmt: skip
        assert counts(session) == before, what


def test_every_problem_is_named_at_once_in_words(client, session, cast) -> None:
    bundle = rosa()
    resource(bundle, PATIENT)["telecom"][1]["value"] = "12"
    resource(bundle, PROCEDURE)["performedDateTime"] = "2026-11-20"
    outcome = post(client, bundle).json()
    found = {issue["expression"][0]: issue["diagnostics"] for issue in outcome["issue"]}
    assert "Bundle.entry[1].resource.performedDateTime" in found
    assert found["Bundle.entry[1].resource.performedDateTime"].startswith("needs a time")


def test_an_injection_with_no_known_injectate_is_refused(client, session, cast) -> None:
    bundle = rosa()
    for index in (STEROID, LIDOCAINE):
        resource(bundle, index)["medicationCodeableConcept"] = {
            "coding": [{"system": codes.RXNORM, "code": "999999999"}]}
    resource(bundle, PROCEDURE)["code"] = {"text": "Hip injection"}
    before = counts(session)
    outcome = post(client, bundle).json()
    [issue] = outcome["issue"]
    assert issue["expression"] == ["Bundle.entry[3].resource.medicationCodeableConcept"]
    assert issue["diagnostics"].startswith("Injectate is required")
    assert counts(session) == before
    # The clinic maps its formulary's code: the same Bundle now enrols.
    codes.set_overrides(session=session, clinic=cast.riverside, actor="test", data={
        "injectates": {"RXNORM": {"999999999": "corticosteroid"}}})
    session.commit()
    assert post(client, bundle).status_code == 200


def test_bodies_that_are_not_a_bundle(client, session, cast) -> None:
    not_json = post(client, b"{not json")
    assert not_json.status_code == 400
    assert not_json.json()["issue"][0]["code"] == "structure"
    patient_only = post(client, resource(rosa(), PATIENT))
    assert patient_only.status_code == 400
    assert post(client, rosa(), content_type="text/plain").status_code == 415
    assert client.post("/fhir/Bundle", json=rosa()).status_code == 401


def test_a_cancellation_for_a_procedure_never_enrolled_is_refused(client, session, cast) -> None:
    bundle = rosa()
    resource(bundle, PROCEDURE)["status"] = "entered-in-error"
    before = counts(session)
    response = post(client, bundle)
    assert response.status_code == 422
    assert response.json()["issue"][0]["expression"] == ["Bundle.entry[1].resource.status"]
    assert counts(session) == before


def test_bobs_key_never_reaches_riverside(client, session, cast) -> None:
    """Lakeside's EHR sending the same identifiers makes Lakeside's own records; its
    cancellation of Rosa's procedure finds nothing at Lakeside and leaves Riverside's."""
    assert post(client, rosa()).status_code == 200
    riverside = enrolment_of(session, rosa_row(session, cast.riverside.id))
    bundle = rosa()
    resource(bundle, PROCEDURE)["status"] = "entered-in-error"
    refused = post(client, bundle, key=LAKESIDE_KEY)
    assert refused.status_code == 422
    session.expire_all()
    assert session.get_one(Enrollment, riverside.id).status == "active"
    moved = rosa()
    resource(moved, PROCEDURE)["performedDateTime"] = "2026-11-20T12:00:00-05:00"
    own = post(client, moved, key=LAKESIDE_KEY)
    assert own.status_code == 200, own.text
    assert said(own.json()).startswith("Enrolled")
    lakeside = rosa_row(session, cast.lakeside.id)
    assert lakeside.id != riverside.patient_id
    session.expire_all()
    stored = session.get_one(Procedure, riverside.procedure_id)
    assert stored.performed_at.isoformat() == "2026-11-20T19:40:00+00:00"


def test_alice_enrolled_through_the_rest_api_is_found_not_duplicated(client, session,
                                                                     cast) -> None:  # fmt: skip
    """Alice (MRN-1001) was enrolled through /api/v1; her EHR's Bundle for the same
    injection links to that enrolment instead of making a second one."""
    alice = session.get_one(Patient, cast.alice_id)
    procedure = session.get_one(Procedure, enrolment_of(session, alice).procedure_id)
    bundle = rosa()
    patient = resource(bundle, PATIENT)
    patient["identifier"][0]["value"] = "MRN-1001"
    patient["name"] = [{"use": "official", "given": ["Alice"]}]
    patient["telecom"] = [{"system": "sms", "value": alice.phone}]
    patient["communication"] = []
    del patient["communication"]
    resource(bundle, PROCEDURE)["performedDateTime"] = procedure.performed_at.isoformat()
    appointment = resource(bundle, APPOINTMENT)
    appointment["start"] = procedure.follow_up_at.isoformat()
    before = session.scalar(select(func.count()).select_from(Enrollment))
    response = post(client, bundle)
    assert response.status_code == 200, response.text
    assert session.scalar(select(func.count()).select_from(Enrollment)) == before
    assert f"enrolment {enrolment_of(session, alice).id}" in said(response.json())
