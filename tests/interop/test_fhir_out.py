# ruff: noqa: F811 - the fixtures below come from tests/web and tests/delivery
"""FHIR out: Riverside's chart reads Alice's follow-up as FHIR R4B, and gets it pushed.

Alice had a hip injection at Riverside Ortho; she texted a pain score and a glucose
reading, and two concerns are open about her. Riverside's EHR searches her
Communications, Observations, Flags and Tasks with the clinic's key, and every resource
it gets validates against the R4B models. Bob, at Lakeside Spine, searches with his
clinic's key and finds nothing of hers. When Carl acknowledges and resolves her concern
the Task follows. With an endpoint registered, the same changes are pushed to a FHIR
server on 127.0.0.1 through the delivery pipeline: a 503 is retried and the resource
is stored once; a 400 is not retried and shows on the endpoint's status.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.communication import Communication
from fhir.resources.R4B.flag import Flag
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from fhir.resources.R4B.task import Task
from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders.audit.models import AuditEvent
from reminders.clinics.models import Clinic
from reminders.clinics.service import create_clinic, hash_api_key
from reminders.clock import SimulatedClock
from reminders.config import Settings
from reminders.conversations import concerns
from reminders.conversations.models import Concern, InboundMessage
from reminders.delivery.engine import EmbeddedRunner
from reminders.delivery.models import SendAttempt
from reminders.delivery.ratelimit import NoLimit
from reminders.delivery.send import Sender
from reminders.enrollments.models import SENT, ScheduledMessage
from reminders.interop import push
from reminders.interop.endpoint import EndpointIn, set_endpoint
from reminders.patients.models import Patient
from reminders.web.app import create_app
from tests.delivery.conftest import db  # noqa: F401 - committed data on both backends
from tests.delivery.helpers import T0, Db
from tests.web.conftest import (  # noqa: F401 - the web cast
    LAKESIDE_KEY,
    RIVERSIDE_KEY,
    SECRET,
    Cast,
    bearer,
    cast,
    client,
    clock,
    fast_hashes,
)

MODELS: dict[str, Any] = {
    "Communication": Communication, "Observation": Observation, "Flag": Flag, "Task": Task,
    "QuestionnaireResponse": QuestionnaireResponse,
}  # fmt: skip
TYPES = tuple(MODELS)


def search(client: TestClient, kind: str, patient: int | str, key: str = RIVERSIDE_KEY,
           **params: str) -> dict[str, Any]:  # fmt: skip
    response = client.get(f"/fhir/{kind}", params={"patient": f"Patient/{patient}", **params},
                          headers=bearer(key))  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    bundle = response.json()
    Bundle.model_validate(bundle)
    for entry in bundle.get("entry", []):
        resource = entry["resource"]
        assert resource["resourceType"] == kind
        MODELS[kind].model_validate(resource)
    return bundle


def resources(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle.get("entry", [])]


@pytest.fixture
def alice_said_more(session: Session, cast: Cast, clock: SimulatedClock) -> InboundMessage:
    """Alice's first check-in went out, she answered it with her glucose in mg/dL."""
    question = session.scalars(select(ScheduledMessage).where(
        ScheduledMessage.enrollment_id == cast.alice_enrollment_id
    ).order_by(ScheduledMessage.due_at)).first()  # fmt: skip
    assert question is not None
    question.status, question.sent_at = SENT, clock.now() - timedelta(hours=1)
    question.body = "How is your pain today, 0-10?"
    glucose = InboundMessage(
        clinic_id=cast.riverside.id, patient_id=cast.alice_id,
        enrollment_id=cast.alice_enrollment_id, answers_message_id=question.id, channel="sms",
        provider_id=f"SM{uuid.uuid4().hex}", sender="+13125550123", body="sugar 245 mg/dl",
        parsed={"glucose_mg_dl": 245, "glucose_mmol_l": 13.6, "unit": "mg/dL"},
        received_at=clock.now() - timedelta(minutes=50),
    )  # fmt: skip
    session.add(glucose)
    session.commit()
    return glucose


def test_riverside_reads_alice_as_valid_fhir(
    client: TestClient, cast: Cast, alice_said_more: InboundMessage
) -> None:
    bundles = {kind: search(client, kind, cast.alice_id) for kind in TYPES}
    for bundle in bundles.values():
        assert bundle["type"] == "searchset"

    comms = {c["id"]: c for c in resources(bundles["Communication"])}
    reply = comms[f"in-{alice_said_more.id}"]
    assert reply["received"] and reply["payload"] == [{"contentString": "sugar 245 mg/dl"}]
    question_id = alice_said_more.answers_message_id
    assert reply["inResponseTo"] == [{"reference": f"Communication/msg-{question_id}"}]
    assert comms[f"msg-{question_id}"]["sent"] and comms[f"msg-{question_id}"]["status"] == (
        "completed")  # fmt: skip
    assert reply["sender"] == {"reference": f"Patient/{cast.alice_id}"}

    observations = resources(bundles["Observation"])
    codes = {(o["code"]["coding"][0]["code"], json.dumps(o.get("valueInteger",
              o.get("valueQuantity")))) for o in observations}  # fmt: skip
    assert ("72514-3", "9") in codes and ("72514-3", "6") in codes  # pain 0-10, LOINC
    glucose = next(o for o in observations if o["code"]["coding"][0]["code"] == "2339-0")
    assert glucose["valueQuantity"] == {"value": 245, "unit": "mg/dL",
                                        "system": "http://unitsofmeasure.org", "code": "mg/dL"}

    flags = resources(bundles["Flag"])
    assert {f["status"] for f in flags} == {"active"} and len(flags) == 2
    tasks = {t["id"]: t for t in resources(bundles["Task"])}
    emergency = tasks[f"concern-{cast.emergency.id}"]
    assert (emergency["status"], emergency["priority"]) == ("requested", "stat")
    assert emergency["businessStatus"]["text"] == "open"
    assert emergency["focus"] == {"reference": f"Flag/concern-{cast.emergency.id}"}
    assert tasks[f"concern-{cast.urgent.id}"]["priority"] == "urgent"


def test_bob_sees_nothing_of_alice(client: TestClient, cast: Cast,
                                   alice_said_more: InboundMessage) -> None:  # fmt: skip
    for kind in TYPES:
        found = search(client, kind, cast.alice_id, key=LAKESIDE_KEY)
        # A search matching nothing is an empty searchset, the same as for nobody at all.
        assert found["total"] == 0 and "entry" not in found
        assert search(client, kind, 999999)["total"] == 0
    no_key = client.get(f"/fhir/Task?patient={cast.alice_id}")
    assert no_key.status_code == 401 and no_key.json()["resourceType"] == "OperationOutcome"
    wrong = client.get("/fhir/Task?patient=Patient/alice", headers=bearer(RIVERSIDE_KEY))
    assert wrong.status_code == 400
    assert "patient parameter" in wrong.json()["issue"][0]["diagnostics"]
    missing = client.get("/fhir/Flag", headers=bearer(RIVERSIDE_KEY))
    assert missing.status_code == 400 and "required" in missing.json()["issue"][0]["diagnostics"]


def test_pages_of_a_search(client: TestClient, cast: Cast) -> None:
    first = search(client, "Flag", cast.alice_id, _count="1")
    assert first["total"] == 2 and len(first["entry"]) == 1
    following = next(link["url"] for link in first["link"] if link["relation"] == "next")
    query = parse_qs(urlsplit(following).query)
    second = search(client, "Flag", cast.alice_id, _count="1", _offset=query["_offset"][0])
    assert second["entry"][0]["resource"]["id"] != first["entry"][0]["resource"]["id"]
    assert not any(link["relation"] == "next" for link in second["link"])
    bad = client.get(f"/fhir/Flag?patient={cast.alice_id}&_count=lots",
                     headers=bearer(RIVERSIDE_KEY))  # fmt: skip
    assert bad.status_code == 400 and "_count" in bad.json()["issue"][0]["diagnostics"]


def test_task_follows_acknowledge_and_resolve(
    client: TestClient, session: Session, cast: Cast, clock: SimulatedClock
) -> None:
    concern = session.get_one(Concern, cast.urgent.id)
    concerns.acknowledge(session=session, concern=concern, staff_id=cast.carl.id,
                         now=clock.now(), via="web")  # fmt: skip
    session.commit()
    task = next(t for t in resources(search(client, "Task", cast.alice_id))
                if t["id"] == f"concern-{concern.id}")  # fmt: skip
    assert (task["status"], task["businessStatus"]["text"]) == ("in-progress", "acknowledged")
    assert task["owner"] == {"display": "Carl Clinician"}

    clock.advance(timedelta(minutes=20))
    resolved = client.post(f"/api/v1/concerns/{concern.id}/resolve", headers=bearer(RIVERSIDE_KEY),
                           json={"note": "Called her back; ice and rest."})  # fmt: skip
    assert resolved.status_code == 200, resolved.text
    task = next(t for t in resources(search(client, "Task", cast.alice_id))
                if t["id"] == f"concern-{concern.id}")  # fmt: skip
    assert (task["status"], task["businessStatus"]["text"]) == ("completed", "resolved")
    assert task["note"][0]["text"] == "Called her back; ice and rest."
    assert task["executionPeriod"]["end"]
    flag = next(f for f in resources(search(client, "Flag", cast.alice_id))
                if f["id"] == f"concern-{concern.id}")  # fmt: skip
    assert flag["status"] == "inactive" and flag["period"]["end"]


def test_metadata_lists_exactly_what_is_served(client: TestClient) -> None:
    response = client.get("/fhir/metadata")
    assert response.status_code == 200
    statement = response.json()
    CapabilityStatement.model_validate(statement)
    assert statement["fhirVersion"] == "4.3.0"
    served = {r["type"]: [i["code"] for i in r["interaction"]]
              for r in statement["rest"][0]["resource"]}  # fmt: skip
    expected = {kind: ["search-type"] for kind in TYPES}
    # POST /fhir/Bundle (FHIR in) is listed exactly when the app serves it.
    intake = client.post("/fhir/Bundle", json={"resourceType": "Bundle"})
    if intake.status_code not in (404, 405):
        expected["Bundle"] = ["create"]
    assert served == expected
    for kind in TYPES:  # every listed search answers (a search needs the key)
        assert client.get(f"/fhir/{kind}?patient=1").status_code == 401
    assert client.get("/fhir/Patient?patient=1").status_code == 404  # nothing unlisted


# -- push -------------------------------------------------------------------------------


class FhirServer:
    """A tiny FHIR server on 127.0.0.1: conditional create and update by identifier,
    every request recorded, and answers scripted ahead (``fail``) per resource type."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.stored: dict[tuple[str, str], dict[str, Any]] = {}
        self.fail: dict[str, list[int]] = {}
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                status, location = outer.handle(self.command, self.path, dict(self.headers), body)
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                payload = b"{}" if status < 400 else json.dumps({
                    "resourceType": "OperationOutcome",
                    "issue": [{"severity": "error", "code": "invalid",
                               "diagnostics": "rejected"}]}).encode()  # fmt: skip
                self.send_header("Content-Type", "application/fhir+json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_POST = do_PUT = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_port}/fhir"

    def handle(self, method: str, path: str, headers: dict[str, str],
               body: dict[str, Any]) -> tuple[int, str | None]:  # fmt: skip
        parts = urlsplit(path)
        kind = parts.path.rsplit("/", 1)[-1]
        with self.lock:
            self.requests.append({"method": method, "path": path, "headers": headers,
                                  "body": body})  # fmt: skip
            script = self.fail.get(kind) or []
            if script:
                return script.pop(0), None
            if method == "POST":
                ident = headers.get("If-None-Exist", "").removeprefix("identifier=")
                ident = ident.replace("%7C", "|").replace("%3A", ":").replace("%2F", "/")
            else:
                ident = parse_qs(parts.query)["identifier"][0]
            created = (kind, ident) not in self.stored
            self.stored[(kind, ident)] = body
            return (201 if created else 200), f"{kind}/{len(self.stored)}/_history/1"

    def __enter__(self) -> FhirServer:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


TOKEN = "chart-token-" + "x" * 20
KEY = "ak_test_push_key_000000000000000000000000"


@pytest.fixture
def fhir_server() -> Iterator[FhirServer]:
    with FhirServer() as server:
        yield server


def _url(db: Db) -> str:
    return db.engine.url.render_as_string(hide_password=False)


def _settings(db: Db) -> Settings:
    return Settings(database_url=_url(db), secret_key=SECRET, environment="test",
                    public_url="https://care.example")  # fmt: skip


def _riverside_with_alice(db: Db, server: FhirServer) -> tuple[int, int, int]:
    """Riverside with its chart registered, and Alice (MRN A-100); (clinic, patient, reply)."""
    with db.sessions() as session:
        clinic = create_clinic(session=session, name="Riverside Ortho", timezone="America/Chicago",
                               sms_from="+13125550100").clinic  # fmt: skip
        clinic.api_key_hash = hash_api_key(KEY)
        set_endpoint(session=session, clinic=clinic, data=EndpointIn(server.base, TOKEN), now=T0,
                     actor="test", production=False)  # fmt: skip
        alice = Patient(clinic_id=clinic.id, external_id="A-100", given_name="Alice",
                        phone="+13125550123", timezone="America/Chicago")  # fmt: skip
        session.add(alice)
        session.flush()
        reply = InboundMessage(clinic_id=clinic.id, patient_id=alice.id, channel="sms",
                               provider_id=f"SM{uuid.uuid4().hex}", sender="+13125550123",
                               body="pain 8", parsed={"pain": 8}, received_at=T0)  # fmt: skip
        session.add(reply)
        session.flush()
        return clinic.id, alice.id, reply.id


def _runner(db: Db, clock: SimulatedClock) -> EmbeddedRunner:
    settings = _settings(db)
    sender = Sender(channels={"fhir": push.build_channel(settings, sessions=db.sessions)},
                    clock=clock, settings=settings, sessions=db.sessions,
                    rate_limiter=NoLimit())  # fmt: skip
    return EmbeddedRunner(sender=sender, threads=1)


def _pushes(db: Db) -> list[ScheduledMessage]:
    with db.sessions() as session:
        return list(session.scalars(select(ScheduledMessage).where(ScheduledMessage.kind == "fhir")
                                    .order_by(ScheduledMessage.id)))  # fmt: skip


def test_a_503_is_retried_and_the_chart_gets_each_resource_once(
    db: Db, fhir_server: FhirServer
) -> None:  # fmt: skip
    clock = SimulatedClock(T0)
    clinic_id, alice_id, reply_id = _riverside_with_alice(db, fhir_server)
    with db.sessions() as session:
        clinic = session.get_one(Clinic, clinic_id)
        concern = concerns.open_concern(
            session=session, clinic=clinic, severity="urgent", kind="reply", summary="pain 8/10",
            now=T0, categories=["severe_pain"], patient_id=alice_id, inbound_id=reply_id,
        )  # fmt: skip
        push.reply_read(session=session, inbound=session.get_one(InboundMessage, reply_id), now=T0)
        concern_id = concern.id
    assert [m.body for m in _pushes(db)] == [
        f"Flag/concern-{concern_id}", f"Task/concern-{concern_id}",
        f"Observation/reply-{reply_id}-pain",
    ]  # fmt: skip
    fhir_server.fail["Task"] = [503]
    runner = _runner(db, clock)
    try:
        runner.dispatch_once()
        flag, task, observation = _pushes(db)
        assert (flag.status, task.status, observation.status) == ("sent", "pending", "sent")
        assert task.status_reason == "retry_503" and task.next_attempt_at is not None

        clock.advance(timedelta(minutes=5))  # past the back-off
        runner.dispatch_once()
        assert _pushes(db)[1].status == SENT

        # Carl acknowledges: the Task update goes the same way, as a conditional update.
        with db.sessions() as session:
            concerns.acknowledge(session=session, concern=session.get_one(Concern, concern_id),
                                 staff_id=None, now=clock.now(), via="api")  # fmt: skip
        runner.dispatch_once()
        runner.dispatch_once()  # nothing more is due: nothing is sent again
    finally:
        runner.shutdown()

    methods = [(r["method"], urlsplit(r["path"]).path.rsplit("/", 1)[-1])
               for r in fhir_server.requests]  # fmt: skip
    assert sorted(methods) == sorted([("PUT", "Flag"), ("PUT", "Task"), ("PUT", "Task"),
                                      ("PUT", "Task"), ("POST", "Observation"),
                                      ("PUT", "Flag")])  # fmt: skip
    # Stored once each, whatever was resent; the Task now says acknowledged.
    kinds = sorted(kind for kind, _ident in fhir_server.stored)
    assert kinds == ["Flag", "Observation", "Task"]
    stored = {kind: body for (kind, _i), body in fhir_server.stored.items()}
    assert stored["Task"]["status"] == "in-progress"
    assert stored["Observation"]["code"]["coding"][0]["code"] == "72514-3"
    assert stored["Observation"]["subject"]["identifier"]["value"] == "A-100"  # the MRN
    for request in fhir_server.requests:
        assert request["headers"]["Authorization"] == f"Bearer {TOKEN}"
        body = request["body"]
        MODELS[body["resourceType"]].model_validate(body)
        assert "id" not in body  # the chart assigns its own
    post = next(r for r in fhir_server.requests if r["method"] == "POST")
    assert post["headers"]["If-None-Exist"].startswith("identifier=")
    with db.sessions() as session:
        attempts = session.scalars(select(SendAttempt.status).where(
            SendAttempt.message_id == task.id).order_by(SendAttempt.id)).all()  # fmt: skip
    assert list(attempts) == ["error", "accepted"]  # the 503, then the one that took


def test_a_400_is_not_retried_and_shows_on_the_endpoint(
    db: Db, fhir_server: FhirServer
) -> None:  # fmt: skip
    clock = SimulatedClock(T0)
    _clinic_id, _alice_id, reply_id = _riverside_with_alice(db, fhir_server)
    with db.sessions() as session:
        push.reply_read(session=session, inbound=session.get_one(InboundMessage, reply_id), now=T0)
        push.reply_read(session=session, inbound=session.get_one(InboundMessage, reply_id), now=T0)
    fhir_server.fail["Observation"] = [400]
    runner = _runner(db, clock)
    try:
        runner.dispatch_once()
        clock.advance(timedelta(hours=2))
        runner.dispatch_once()
    finally:
        runner.shutdown()
    [observation] = _pushes(db)  # read twice, queued once
    assert (observation.status, observation.status_reason) == ("failed", "fhir_failed_400")
    assert len(fhir_server.requests) == 1 and not fhir_server.stored

    app = create_app(_settings(db), clock=clock)
    with TestClient(app) as api:
        status = api.get("/api/v1/clinic/fhir-endpoint", headers=bearer(KEY))
    assert status.status_code == 200
    shown = status.json()
    assert (shown["failed"], shown["sent"], shown["token_set"]) == (1, 0, True)
    assert shown["last_failure"]["resource"] == f"Observation/reply-{reply_id}-pain"
    assert shown["last_failure"]["error"] == "FHIR server answered 400 (invalid)"
    assert TOKEN not in status.text


def test_the_endpoint_is_set_by_the_clinic_key_and_the_token_never_comes_back(
    client: TestClient, session: Session, cast: Cast
) -> None:
    url = "/api/v1/clinic/fhir-endpoint"
    assert client.get(url, headers=bearer(RIVERSIDE_KEY)).status_code == 404
    key = bearer(RIVERSIDE_KEY)
    refused = client.put(url, headers=key,
                         json={"base_url": "http://ehr.example.org/fhir", "token": "t0k"})
    assert refused.status_code == 422
    assert "must start with https://" in refused.text
    no_token = client.put(url, headers=bearer(RIVERSIDE_KEY),
                          json={"base_url": "https://ehr.example.org/fhir"})  # fmt: skip
    assert no_token.status_code == 422 and "token is required" in no_token.text
    saved = client.put(url, headers=key,
                       json={"base_url": "https://ehr.example.org/fhir/", "token": "s3cr3t-tok"})
    assert saved.status_code == 200, saved.text
    assert saved.json()["base_url"] == "https://ehr.example.org/fhir"
    assert saved.json()["token_set"] is True and "s3cr3t-tok" not in saved.text
    assert client.get(url, headers=bearer(LAKESIDE_KEY)).status_code == 404  # Bob's clinic
    audit = session.scalars(select(AuditEvent).where(
        AuditEvent.action == "clinic.fhir_endpoint")).all()  # fmt: skip
    assert len(audit) == 1 and "s3cr3t" not in json.dumps(audit[0].details, default=str)

    # From now on a change to Alice's concern is queued for the chart...
    concern = session.get_one(Concern, cast.urgent.id)
    concerns.acknowledge(session=session, concern=concern, staff_id=cast.carl.id,
                         now=concern.created_at + timedelta(minutes=5), via="web")  # fmt: skip
    session.commit()
    riverside_pushes = (ScheduledMessage.kind == "fhir",
                        ScheduledMessage.clinic_id == cast.riverside.id)  # fmt: skip
    queued = session.scalars(select(ScheduledMessage.status).where(*riverside_pushes)).all()
    assert list(queued) == ["pending", "pending"]
    # ...and removing the endpoint cancels what waits.
    assert client.delete(url, headers=bearer(RIVERSIDE_KEY)).status_code == 204
    session.expire_all()
    cancelled = session.scalars(
        select(ScheduledMessage.status_reason).where(*riverside_pushes)
    ).all()
    assert set(cancelled) == {"fhir_endpoint_removed"}
