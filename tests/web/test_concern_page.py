"""The concern page (/concerns/{id}), in-process on both backends: the link a paged nurse
taps. Dana sees Alice's words, the number to call, who was paged and whether it arrived;
Bob at Lakeside Spine gets the not-found page; a signed-out tap goes through sign-in and
back; acknowledging, resolving and texting Alice back all happen on the page."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders.audit.models import AuditEvent
from reminders.clinics.models import StaffMember
from reminders.conversations.models import Concern, StaffAlert
from reminders.delivery.models import SendAttempt
from reminders.enrollments.models import ScheduledMessage
from reminders.patients.models import Patient
from reminders.web.pages.concern import delivery_kick
from tests.web.conftest import NOW, PASSWORD, Cast, csrf_of, sign_in


@pytest.fixture(autouse=True)
def kicks(client: TestClient) -> list[str]:
    """Delivery asked for after a commit. These tests' writes are never committed (the
    rolled-back session), so the dispatcher's side is left out here; the browser test
    runs the real one over a committed database."""
    asked: list[str] = []

    def kick() -> Callable[[], None]:
        return lambda: asked.append("deliver")

    client.app.dependency_overrides[delivery_kick] = kick  # type: ignore[attr-defined]
    return asked


def _page(
    session: Session, cast: Cast, *, staff: StaffMember | None, recipient: str, level: int,
    attempt: str | None, error_code: str | None = None, message_status: str = "sent",
) -> StaffAlert:  # fmt: skip
    """A page about the emergency as the pipeline leaves it: the alert, its message and
    (once handed to the provider) the provider's latest word on it."""
    sent_at = NOW - timedelta(minutes=3 - level)
    message = ScheduledMessage(
        clinic_id=cast.riverside.id, kind="page", channel="sms", recipient=recipient,
        concern_id=cast.emergency.id, staff_id=staff.id if staff else None,
        patient_id=cast.alice_id, step_key="page", template="staff_alert",
        idempotency_key=f"page:test:{level}:{recipient}", planned_at=sent_at, due_at=sent_at,
        expires_at=sent_at + timedelta(hours=1), status=message_status,
        sent_at=sent_at if attempt else None,
    )  # fmt: skip
    session.add(message)
    session.flush()
    alert = StaffAlert(
        clinic_id=cast.riverside.id, concern_id=cast.emergency.id, level=level, round=0,
        role="primary" if level == 0 else "backup", message_id=message.id,
        staff_id=staff.id if staff else None, channel="sms", recipient=recipient,
        status="sent" if attempt else message_status, created_at=sent_at,
    )  # fmt: skip
    session.add(alert)
    if attempt:
        session.add(SendAttempt(clinic_id=cast.riverside.id, message_id=message.id,
                                channel="sms", provider="twilio", recipient=recipient,
                                status=attempt, error_code=error_code,
                                started_at=sent_at))  # fmt: skip
    session.flush()
    return alert


def _paged(session: Session, cast: Cast) -> None:
    _page(session, cast, staff=cast.carl, recipient="+13125550177", level=0,
          attempt="undelivered", error_code="30003")  # fmt: skip
    _page(session, cast, staff=cast.dana, recipient="+13125550166", level=1, attempt="delivered")
    _page(session, cast, staff=None, recipient="+13125550155", level=2, attempt=None,
          message_status="cancelled")  # fmt: skip
    session.commit()


def test_dana_sees_alices_words_the_number_to_call_and_who_was_paged(
    client: TestClient, cast: Cast, session: Session
) -> None:
    _paged(session, cast)
    sign_in(client, "dana@riverside.test")
    response = client.get(f"/concerns/{cast.emergency.id}")
    assert response.status_code == 200, response.text
    page = response.text
    assert "my throat feels tight and I can&#39;t breathe well" in page
    assert "⚠ EMERGENCY" in page and "breathing difficulty, allergic reaction" in page
    assert "breathing difficulty" in page  # why it was flagged
    assert 'href="tel:+13125550123"' in page  # Alice's phone, one tap to call
    # Who was paged, in escalation order, with what the carrier said.
    carl, dana, nobody = (page.index("Carl Clinician"), page.index("Dana Admin</strong>"),
                          page.index("+1******0155"))  # fmt: skip
    assert carl < dana < nobody
    assert "undelivered" in page and "error 30003" in page
    assert "delivered</span>" in page and "cancelled</span>" in page
    assert "+13125550177" not in page  # a staff member is named, never their number
    assert "pain 6" in page  # her earlier reply, on the recent timeline
    assert f'action="/concerns/{cast.emergency.id}/acknowledge"' in page
    session.expire_all()
    viewed = session.scalars(select(AuditEvent).where(AuditEvent.action == "concern.view")).one()
    assert viewed.subject_id == cast.emergency.id and viewed.staff_id == cast.dana.id


def test_bob_at_lakeside_gets_the_not_found_page(client: TestClient, cast: Cast) -> None:
    sign_in(client, "bob@lakeside.test")
    response = client.get(f"/concerns/{cast.emergency.id}")
    assert response.status_code == 404
    assert "does not exist" in response.text and "my throat" not in response.text
    assert client.get("/concerns/999999").status_code == 404
    token = csrf_of(client.get("/patients").text)
    text = client.post(f"/concerns/{cast.emergency.id}/text",
                       data={"csrf_token": token, "body": "hello"})  # fmt: skip
    assert text.status_code == 404


def test_signed_out_the_link_goes_through_sign_in_and_back_to_the_concern(
    client: TestClient, cast: Cast
) -> None:
    url = f"/concerns/{cast.emergency.id}"
    response = client.get(url)
    assert response.status_code == 303
    assert response.headers["location"] == f"/signin?next=%2Fconcerns%2F{cast.emergency.id}"
    form = client.get(response.headers["location"]).text
    assert f'value="{url}"' in form
    signed = client.post("/signin", data={"email": "carl@riverside.test", "password": PASSWORD,
                                          "csrf_token": csrf_of(form), "next": url})  # fmt: skip
    assert signed.status_code == 303 and signed.headers["location"] == url
    assert "my throat feels tight" in client.get(url).text


def test_sign_in_never_sends_anyone_off_site(client: TestClient, cast: Cast) -> None:
    for evil in ("//evil.example/x", "https://evil.example", "/\\evil.example",
                 "/\t/evil.example", "evil.example"):  # fmt: skip
        client.cookies.clear()
        form = client.get("/signin").text
        data = {"email": "carl@riverside.test", "password": PASSWORD,
                "csrf_token": csrf_of(form), "next": evil}  # fmt: skip
        signed = client.post("/signin", data=data)
        assert signed.status_code == 303 and signed.headers["location"] == "/", evil


def test_acknowledge_then_resolving_without_a_note_shows_the_error_and_saves_nothing(
    client: TestClient, cast: Cast, session: Session
) -> None:
    token = sign_in(client, "carl@riverside.test")
    url = f"/concerns/{cast.emergency.id}"
    ack = client.post(f"{url}/acknowledge", data={"csrf_token": token, "next": url})
    assert ack.status_code == 303 and ack.headers["location"] == f"{url}?notice=acknowledged"
    page = client.get(ack.headers["location"]).text
    assert "Concern acknowledged." in page and "Acknowledged by Carl Clinician" in page
    assert f'action="{url}/acknowledge"' not in page  # nothing left to acknowledge

    empty = client.post(f"{url}/resolve", data={"csrf_token": token, "next": url, "note": "  "})
    assert empty.status_code == 422 and "resolution note is required" in empty.text
    assert "my throat feels tight" in empty.text  # still the concern page, not the inbox
    session.expire_all()
    concern = session.get_one(Concern, cast.emergency.id)
    assert concern.status == "acknowledged" and concern.resolution_note is None

    done = client.post(f"{url}/resolve", data={"csrf_token": token, "next": url,
                                                "note": "Called; sent to the ED."})  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == f"{url}?notice=resolved"
    page = client.get(done.headers["location"]).text
    assert "Resolved by Carl Clinician" in page and "Called; sent to the ED." in page
    assert f'action="{url}/resolve"' not in page


def test_only_this_concerns_page_is_a_way_back(client: TestClient, cast: Cast) -> None:
    token = sign_in(client, "carl@riverside.test")
    for elsewhere in ("https://evil.example", f"/concerns/{cast.urgent.id}", "/patients"):
        ack = client.post(f"/concerns/{cast.emergency.id}/acknowledge",
                          data={"csrf_token": token, "next": elsewhere})  # fmt: skip
        assert ack.headers["location"].startswith("/concerns?notice=acknowledged#"), elsewhere


def test_two_acknowledging_at_once_both_see_who_took_it(
    client: TestClient, cast: Cast, session: Session
) -> None:
    url = f"/concerns/{cast.emergency.id}"
    carl_token = sign_in(client, "carl@riverside.test")
    with TestClient(client.app, base_url="http://testserver",
                    follow_redirects=False) as dana:  # fmt: skip
        dana_token = sign_in(dana, "dana@riverside.test")
        dana_form = dana.get(url).text  # both have the page open, both tap Acknowledge
        assert f'action="{url}/acknowledge"' in dana_form
        won = client.post(f"{url}/acknowledge", data={"csrf_token": carl_token, "next": url})
        lost = dana.post(f"{url}/acknowledge", data={"csrf_token": dana_token, "next": url})
        assert won.headers["location"] == f"{url}?notice=acknowledged"
        assert lost.headers["location"] == f"{url}?notice=taken"
        dana_page = dana.get(lost.headers["location"]).text
        assert "Carl Clinician acknowledged this concern first" in dana_page
        assert "Acknowledged by Carl Clinician" in dana_page
    assert "acknowledged this concern first" not in client.get(won.headers["location"]).text
    session.expire_all()
    assert session.get_one(Concern, cast.emergency.id).acknowledged_by == cast.carl.id
    acks = session.scalars(select(AuditEvent).where(AuditEvent.action == "concern.acknowledge"))
    assert [a.staff_id for a in acks] == [cast.carl.id]


def test_texting_alice_back_queues_a_staff_text_audited_and_on_the_page(
    client: TestClient, cast: Cast, session: Session, kicks: list[str]
) -> None:
    token = sign_in(client, "carl@riverside.test")
    url = f"/concerns/{cast.emergency.id}"
    empty = client.post(f"{url}/text", data={"csrf_token": token, "body": "   "})
    assert empty.status_code == 422 and "Write a message first." in empty.text
    assert kicks == []
    body = "Alice, this is Carl at Riverside. Please call 911 now; we are calling you too."
    sent = client.post(f"{url}/text", data={"csrf_token": token, "body": body})
    assert sent.status_code == 303 and sent.headers["location"].startswith(f"{url}?notice=texted")
    session.expire_all()
    message = session.scalars(select(ScheduledMessage)
                              .where(ScheduledMessage.kind == "staff_text")).one()  # fmt: skip
    assert (message.staff_id, message.concern_id, message.patient_id, message.body) == (
        cast.carl.id, cast.emergency.id, cast.alice_id, body)  # fmt: skip
    assert message.channel == "sms" and kicks == ["deliver"]  # sent right after the commit
    audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "patient.text")).one()
    assert audit.staff_id == cast.carl.id and audit.subject_id == cast.alice_id
    page = client.get(sent.headers["location"]).text
    assert "Text queued for Alice" in page
    recent = page[page.index('id="recent"'):]
    assert "Carl Clinician:</strong> Alice, this is Carl at Riverside." in recent


def test_no_text_box_for_a_patient_who_opted_out(
    client: TestClient, cast: Cast, session: Session
) -> None:
    alice = session.get_one(Patient, cast.alice_id)
    alice.sms_opted_out_at = alice.email_opted_out_at = NOW - timedelta(days=1)
    session.commit()
    token = sign_in(client, "carl@riverside.test")
    url = f"/concerns/{cast.emergency.id}"
    page = client.get(url).text
    assert "Alice has opted out of messages; call instead." in page
    assert f'action="{url}/text"' not in page
    refused = client.post(f"{url}/text", data={"csrf_token": token, "body": "Call us"})
    assert refused.status_code == 422 and "opted out" in refused.text
    texts = select(ScheduledMessage).where(ScheduledMessage.kind == "staff_text")
    assert session.scalars(texts).first() is None


def test_resolving_twice_says_so_on_the_page(
    client: TestClient, cast: Cast, session: Session
) -> None:
    token = sign_in(client, "carl@riverside.test")
    url = f"/concerns/{cast.urgent.id}"
    data = {"csrf_token": token, "next": url, "note": "Called; ice and rest."}
    assert client.post(f"{url}/resolve", data=data).status_code == 303
    again = client.post(f"{url}/resolve", data=data | {"note": "Second note"})
    assert again.status_code == 422 and "concern is already resolved" in again.text
    session.expire_all()
    assert session.get_one(Concern, cast.urgent.id).resolution_note == "Called; ice and rest."
