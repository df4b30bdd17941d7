"""GET /api/v1/concerns/{id}: the concern with its pages, for a pager bridge or an EHR task
(both backends). Lakeside's key cannot read Riverside's concern."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from reminders.conversations.models import StaffAlert
from reminders.delivery.models import SendAttempt
from reminders.enrollments.models import ScheduledMessage
from tests.web.conftest import LAKESIDE_KEY, NOW, RIVERSIDE_KEY, Cast, bearer

RIVER = bearer(RIVERSIDE_KEY)
LAKE = bearer(LAKESIDE_KEY)


def _page(session: Session, cast: Cast, *, staff_id: int | None, recipient: str, level: int,
          attempt: str | None) -> None:  # fmt: skip
    sent_at = NOW - timedelta(minutes=2)
    message = ScheduledMessage(
        clinic_id=cast.riverside.id, kind="page", channel="sms", recipient=recipient,
        concern_id=cast.emergency.id, staff_id=staff_id, step_key="page",
        template="staff_alert", idempotency_key=f"page:api:{level}", planned_at=sent_at,
        due_at=sent_at, expires_at=sent_at + timedelta(hours=1),
        status="sent" if attempt else "pending", sent_at=sent_at if attempt else None,
    )  # fmt: skip
    session.add(message)
    session.flush()
    session.add(StaffAlert(clinic_id=cast.riverside.id, concern_id=cast.emergency.id,
                           level=level, role="primary", message_id=message.id,
                           staff_id=staff_id, channel="sms", recipient=recipient,
                           status="sent" if attempt else "pending"))  # fmt: skip
    if attempt:
        session.add(SendAttempt(clinic_id=cast.riverside.id, message_id=message.id,
                                channel="sms", provider="twilio", recipient=recipient,
                                status=attempt))  # fmt: skip
    session.flush()


def test_the_concern_comes_with_its_pages_and_their_delivery(
    client: TestClient, cast: Cast, session: Session
) -> None:
    _page(session, cast, staff_id=cast.carl.id, recipient="+13125550177", level=0,
          attempt="delivered")  # fmt: skip
    _page(session, cast, staff_id=None, recipient="+13125550155", level=1, attempt=None)
    session.commit()
    response = client.get(f"/api/v1/concerns/{cast.emergency.id}", headers=RIVER)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == cast.emergency.id and body["severity"] == "emergency"
    assert body["reply"]["body"].startswith("my throat feels tight")
    first, second = body["pages"]
    assert first["recipient"] == "Carl Clinician" and first["status"] == "delivered"
    assert first["channel"] == "sms" and first["level"] == 0 and first["sent_at"]
    assert second == {"recipient": "+1******0155", "channel": "sms", "level": 1,
                      "status": "pending", "sent_at": None}  # fmt: skip
    assert "+13125550155" not in response.text


def test_a_concern_without_pages_has_an_empty_list(client: TestClient, cast: Cast) -> None:
    body = client.get(f"/api/v1/concerns/{cast.urgent.id}", headers=RIVER).json()
    assert body["pages"] == [] and body["summary"] == "pain 9/10"


def test_another_clinics_concern_is_404_and_a_bad_id_is_422(
    client: TestClient, cast: Cast
) -> None:
    assert client.get(f"/api/v1/concerns/{cast.emergency.id}", headers=LAKE).status_code == 404
    assert client.get("/api/v1/concerns/999999", headers=RIVER).status_code == 404
    assert client.get("/api/v1/concerns/0", headers=RIVER).status_code == 422
    assert client.get(f"/api/v1/concerns/{cast.emergency.id}").status_code == 401
