"""REST API v1, on SQLite and PostgreSQL: enrol (idempotent), timeline, reschedule, cancel,
concerns, protocols; errors with field paths; other clinics' records are 404."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders.audit.models import AuditEvent
from reminders.enrollments.models import Enrollment
from tests.conftest import NOW, alice_payload
from tests.web.conftest import LAKESIDE_KEY, RIVERSIDE_KEY, Cast, bearer

RIVER = bearer(RIVERSIDE_KEY)
LAKE = bearer(LAKESIDE_KEY)


def _payload(**overrides: object) -> dict[str, object]:
    payload = alice_payload(**overrides)
    payload["patient"] = {**payload["patient"], "external_id": "MRN-2002",  # type: ignore[dict-item]
                          "given_name": "Ana", "phone": "+13125550188"}
    return payload


def test_enrol_answers_201_with_messages_then_200_for_the_same_procedure(
    client: TestClient, session: Session
) -> None:
    first = client.post("/api/v1/enrollments", json=_payload(), headers=RIVER)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["created"] is True and body["status"] == "active"
    assert first.headers["location"] == f"/api/v1/enrollments/{body['id']}"
    steps = {m["step"] for m in body["messages"]}
    assert {"discharge_summary", "numbness_check", "glucose_check", "flare_check"} <= steps
    assert all({"step", "due_at", "channel", "status"} <= m.keys() for m in body["messages"])

    again = client.post("/api/v1/enrollments", json=_payload(), headers=RIVER)
    assert again.status_code == 200
    assert again.json()["id"] == body["id"] and again.json()["created"] is False
    count = session.scalars(select(Enrollment).where(Enrollment.id == body["id"])).all()
    assert len(count) == 1


def test_bad_fields_answer_422_with_their_paths(client: TestClient) -> None:
    bad = _payload(channel="pigeon")
    bad["patient"]["phone"] = "12"  # type: ignore[index]
    bad["procedure"]["injectate"] = "saline"  # type: ignore[index]
    response = client.post("/api/v1/enrollments", json=bad, headers=RIVER)
    assert response.status_code == 422
    fields = {".".join(d["loc"]) for d in response.json()["detail"]}
    assert {"body.patient.phone", "body.procedure.injectate", "body.channel"} <= fields
    assert all(d["msg"] for d in response.json()["detail"])


def test_naive_times_nul_bytes_and_absurd_years_are_input_errors(client: TestClient) -> None:
    naive = _payload()
    naive["procedure"]["performed_at"] = "2026-11-20T14:10:00"  # type: ignore[index]
    response = client.post("/api/v1/enrollments", json=naive, headers=RIVER)
    assert response.status_code == 422 and "offset" in response.text
    nul = _payload()
    nul["patient"]["given_name"] = "An\x00a"  # type: ignore[index]
    response = client.post("/api/v1/enrollments", json=nul, headers=RIVER)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "patient", "given_name"]
    ancient = _payload(follow_up_at="9999-12-31T23:59:59+00:00")
    response = client.post("/api/v1/enrollments", json=ancient, headers=RIVER)
    assert response.status_code == 422 and "follow_up_at" in response.text


def test_get_shows_the_timeline_with_replies_and_is_audited(
    client: TestClient, cast: Cast, session: Session
) -> None:
    response = client.get(f"/api/v1/enrollments/{cast.alice_enrollment_id}", headers=RIVER)
    assert response.status_code == 200
    body = response.json()
    assert body["patient"]["given_name"] == "Alice" and body["protocol"]["key"] == "corticosteroid"
    assert any("breathe" in r["body"] for r in body["replies"])
    views = session.scalars(select(AuditEvent).where(AuditEvent.action == "enrollment.view")).all()
    assert [v.subject_id for v in views] == [cast.alice_enrollment_id]


def test_patch_moves_pending_messages_and_null_removes_the_visit(
    client: TestClient, cast: Cast
) -> None:
    url = f"/api/v1/enrollments/{cast.alice_enrollment_id}"
    before = client.get(url, headers=RIVER).json()
    assert "follow_up_reminder" in {m["step"] for m in before["messages"]
                                    if m["status"] == "pending"}  # fmt: skip
    response = client.patch(url, json={"follow_up_at": None}, headers=RIVER)
    assert response.status_code == 200, response.text
    after = response.json()
    assert after["procedure"]["follow_up_at"] is None
    statuses = {m["step"]: m["status"] for m in after["messages"]}
    assert statuses["follow_up_reminder"] == "cancelled"
    assert statuses["follow_up_booking"] == "pending"
    new_time = (NOW - timedelta(hours=2)).isoformat()
    moved = client.patch(url, json={"performed_at": new_time}, headers=RIVER)
    assert moved.status_code == 200
    assert client.patch(url, json={}, headers=RIVER).status_code == 422
    assert client.patch(url, json={"performed_at": "2026-11-20T10:00:00"},
                        headers=RIVER).status_code == 422  # fmt: skip


def test_delete_cancels_pending_messages_and_repeating_is_harmless(
    client: TestClient, cast: Cast
) -> None:
    url = f"/api/v1/enrollments/{cast.alice_enrollment_id}"
    first = client.delete(url, headers=RIVER)
    assert first.status_code == 200
    assert first.json()["status"] == "cancelled" and first.json()["cancelled_messages"] > 0
    assert all(m["status"] != "pending" for m in first.json()["messages"])
    assert client.delete(url, headers=RIVER).json()["cancelled_messages"] == 0


def test_another_clinics_enrollment_is_404_and_unknown_keys_401(
    client: TestClient, cast: Cast
) -> None:
    url = f"/api/v1/enrollments/{cast.alice_enrollment_id}"
    for method in ("get", "delete"):
        response = client.request(method, url, headers=LAKE)
        assert response.status_code == 404
        assert "Alice" not in response.text
    assert client.patch(url, json={"follow_up_at": None}, headers=LAKE).status_code == 404
    missing = client.get("/api/v1/enrollments/99999999", headers=RIVER)
    assert missing.status_code == 404 and missing.json() == client.request(
        "get", url, headers=LAKE).json()  # fmt: skip
    assert client.get(url).status_code == 401
    assert client.get(url, headers=bearer("ak_wrong")).status_code == 401
    assert client.get(url, headers={"Authorization": "Basic abc"}).status_code == 401


def test_concerns_list_most_severe_first_acknowledge_and_resolve(
    client: TestClient, cast: Cast, session: Session
) -> None:
    listed = client.get("/api/v1/concerns", params={"status": "open"}, headers=RIVER)
    assert listed.status_code == 200
    ids = [c["id"] for c in listed.json()]
    assert ids == [cast.emergency.id, cast.urgent.id]
    assert listed.json()[0]["patient_first_name"] == "Alice"
    assert listed.json()[0]["reply"]["body"].startswith("my throat")
    assert client.get("/api/v1/concerns", headers=LAKE).json() == []

    ack = client.post(f"/api/v1/concerns/{cast.emergency.id}/acknowledge", headers=RIVER)
    assert ack.status_code == 200 and ack.json()["status"] == "acknowledged"
    assert [c["id"] for c in client.get("/api/v1/concerns", headers=RIVER).json()] == [
        cast.urgent.id]  # fmt: skip

    url = f"/api/v1/concerns/{cast.urgent.id}/resolve"
    assert client.post(url, json={"note": ""}, headers=RIVER).status_code == 422
    assert client.post(url, json={"note": "called"}, headers=LAKE).status_code == 404
    done = client.post(url, json={"note": "called, advised ice"}, headers=RIVER)
    assert done.status_code == 200 and done.json()["resolution_note"] == "called, advised ice"
    assert client.post(url, json={"note": "again"}, headers=RIVER).status_code == 409
    actions = {e.action for e in session.scalars(select(AuditEvent))}
    assert {"concern.acknowledge", "concern.resolve"} <= actions


def test_protocols_lists_the_clinics_versions(client: TestClient) -> None:
    response = client.get("/api/v1/protocols", headers=RIVER)
    assert response.status_code == 200
    keys = {p["key"] for p in response.json()}
    assert keys == {"corticosteroid", "hyaluronic_acid", "prp", "anesthetic_only"}
    cortico = next(p for p in response.json() if p["key"] == "corticosteroid")
    assert cortico["status"] == "published" and "numbness_check" in cortico["steps"]


def test_openapi_documents_the_api_but_not_the_pages(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = set(spec["paths"])
    assert {"/api/v1/enrollments", "/api/v1/enrollments/{enrollment_id}", "/api/v1/concerns",
            "/api/v1/concerns/{concern_id}/acknowledge", "/api/v1/concerns/{concern_id}/resolve",
            "/api/v1/protocols"} <= paths  # fmt: skip
    assert not any(p.startswith(("/signin", "/concerns", "/patients")) for p in paths)
    assert client.get("/docs").status_code == 200
