"""Cora (coordinator) edits Alice's details and records her consent; what is still to be
sent follows. Alice's injection was three hours ago in Chicago; her numbness check is due
in an hour, her first blood sugar check tomorrow at 09:00 her time."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders.audit.models import AuditEvent
from reminders.channels import ConsoleChannel
from reminders.clock import SimulatedClock
from reminders.conversations.models import InboundMessage
from reminders.delivery.dispatch import claim_due
from reminders.delivery.ratelimit import NoLimit
from reminders.delivery.send import Outcome, Sender
from reminders.enrollments.models import STEP, ScheduledMessage
from reminders.patients import consent
from reminders.patients.ledger import ledger
from reminders.patients.models import Patient
from tests.conversations.conftest import make_settings
from tests.web.conftest import LAKESIDE_KEY, NOW, RIVERSIDE_KEY, Cast, bearer, csrf_of, sign_in

NEW_PHONE = "+13125550188"
NEW_YORK = ZoneInfo("America/New_York")


def pending(session: Session, cast: Cast, step: str) -> list[ScheduledMessage]:
    return list(session.scalars(
        select(ScheduledMessage).where(ScheduledMessage.enrollment_id == cast.alice_enrollment_id,
                                       ScheduledMessage.step_key == step,
                                       ScheduledMessage.kind == STEP)
        .order_by(ScheduledMessage.occurrence)))  # fmt: skip


def send_due(session: Session, at: datetime) -> tuple[list[Outcome], ConsoleChannel]:
    """Claim and send everything due at ``at`` through the real send path, in process."""

    @contextmanager
    def same_session() -> Iterator[Session]:
        yield session
        session.flush()

    console = ConsoleChannel("sms")
    sender = Sender(channels={"sms": console, "email": ConsoleChannel("email")},
                    clock=SimulatedClock(at), settings=make_settings(), sessions=same_session,
                    rate_limiter=NoLimit())  # fmt: skip
    outcomes: list[Outcome] = []
    while claims := claim_due(session=session, now=at, limit=50, lease=timedelta(hours=1)):
        outcomes += [sender.send(claim) for claim in claims]
    return outcomes, console


def edit_form(client: TestClient, cast: Cast, token: str, **changes: object) -> dict[str, object]:
    form: dict[str, object] = {"csrf_token": token, "phone": "+13125550123",
                               "email": "alice@example.org", "timezone": "America/Chicago",
                               "language": "en", "conditions": ["diabetes"],
                               "channel_preference": "sms"}  # fmt: skip
    return form | changes


def test_cora_moves_alice_to_a_new_phone_and_time_zone_and_her_check_ins_follow(
    client: TestClient, cast: Cast, session: Session
) -> None:
    token = sign_in(client, "cora@riverside.test")
    page = client.get(f"/patients/{cast.alice_id}/edit")
    assert page.status_code == 200 and 'value="+13125550123"' in page.text

    saved = client.post(f"/patients/{cast.alice_id}/edit",
                        data=edit_form(client, cast, token, phone="(312) 555-0188",
                                       timezone="America/New_York"))  # fmt: skip
    assert saved.status_code == 303 and saved.headers["location"] == (
        f"/patients/{cast.alice_id}?notice=saved")
    alice = session.get_one(Patient, cast.alice_id)
    assert (alice.phone, alice.timezone) == (NEW_PHONE, "America/New_York")
    # Her blood sugar checks stay at 09:00, now on New York's clock.
    glucose = pending(session, cast, "glucose_check")
    assert [m.due_at.astimezone(NEW_YORK).strftime("%d %H:%M") for m in glucose] == [
        "21 09:00", "22 09:00", "23 09:00"]  # fmt: skip
    [edit] = session.scalars(select(AuditEvent).where(AuditEvent.action == "patient.edit"))
    assert (edit.subject_id, edit.staff_id) == (cast.alice_id, cast.cora.id)
    assert edit.details["fields"] == ["phone", "timezone"] and edit.details["replanned"] >= 3
    assert "0188" not in str(edit.details)  # field names only, never the number

    # The numbness check (and whatever else is due) goes to the new number.
    outcomes, console = send_due(session, NOW + timedelta(hours=1))
    numbness = pending(session, cast, "numbness_check")[0]
    assert numbness.status == "sent" and {o.result for o in outcomes} == {"sent"}
    assert console.outbox and {m.to for m in console.outbox} == {NEW_PHONE}


def test_the_api_patches_only_what_it_is_given(client: TestClient, cast: Cast,
                                               session: Session) -> None:  # fmt: skip
    answer = client.patch(f"/api/v1/patients/{cast.alice_id}", headers=bearer(RIVERSIDE_KEY),
                          json={"language": "es", "conditions": []})  # fmt: skip
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["changed"] == ["language", "conditions"] and body["language"] == "es"
    assert body["phone"] == "+13125550123" and body["timezone"] == "America/Chicago"
    # Without diabetes her blood sugar checks no longer apply.
    assert {m.status for m in pending(session, cast, "glucose_check")} == {"cancelled"}
    assert body["replanned_messages"] == 3


def test_bob_at_lakeside_cannot_see_or_change_alice(client: TestClient, cast: Cast) -> None:
    sign_in(client, "bob@lakeside.test")
    assert client.get(f"/patients/{cast.alice_id}/edit").status_code == 404
    assert client.patch(f"/api/v1/patients/{cast.alice_id}", headers=bearer(LAKESIDE_KEY),
                        json={"phone": NEW_PHONE}).status_code == 404  # fmt: skip
    assert client.get(f"/api/v1/patients/{cast.alice_id}/consent",
                      headers=bearer(LAKESIDE_KEY)).status_code == 404  # fmt: skip


def test_a_bad_phone_is_named_in_words_and_nothing_is_saved(
    client: TestClient, cast: Cast, session: Session
) -> None:
    token = sign_in(client, "cora@riverside.test")
    page = client.post(f"/patients/{cast.alice_id}/edit",
                       data=edit_form(client, cast, token, phone="12", timezone="Europe/London"))
    assert page.status_code == 422
    assert "Mobile phone is not a" in page.text and "Nothing was saved" in page.text
    answer = client.patch(f"/api/v1/patients/{cast.alice_id}", headers=bearer(RIVERSIDE_KEY),
                          json={"phone": "12", "timezone": "Mars/Olympus", "given_name": "Al"})
    assert answer.status_code == 422
    messages = {tuple(d["loc"]): d["msg"] for d in answer.json()["detail"]}
    assert messages[("body", "phone")].startswith("Mobile phone")
    assert "is not a" in messages[("body", "phone")]
    assert "time zone" in messages[("body", "timezone")].lower()
    assert "cannot be changed here" in messages[("body", "given_name")]
    # SMS needs a number: removing it without choosing email is refused.
    answer = client.patch(f"/api/v1/patients/{cast.alice_id}", headers=bearer(RIVERSIDE_KEY),
                          json={"phone": None})  # fmt: skip
    assert answer.json()["detail"][0]["msg"].startswith("Mobile phone")
    assert "is required while messages go by SMS" in answer.json()["detail"][0]["msg"]
    alice = session.get_one(Patient, cast.alice_id)
    assert (alice.phone, alice.timezone) == ("+13125550123", "America/Chicago")


def test_carl_the_clinician_may_not_edit(client: TestClient, cast: Cast) -> None:
    token = sign_in(client, "carl@riverside.test")
    assert client.get(f"/patients/{cast.alice_id}/edit").status_code == 403
    posted = client.post(f"/patients/{cast.alice_id}/edit", data=edit_form(client, cast, token))
    assert posted.status_code == 403
    consent_post = client.post(f"/patients/{cast.alice_id}/consent",
                               data={"csrf_token": token, "channel": "sms", "action": "opt_out",
                                     "source": "patient phoned"})  # fmt: skip
    assert consent_post.status_code == 403


def test_alice_phones_to_stop_texts_and_no_text_goes_until_she_opts_back_in(
    client: TestClient, cast: Cast, session: Session
) -> None:
    token = sign_in(client, "cora@riverside.test")
    send_due(session, NOW)  # what was due at enrolment went out
    phoned = client.post(f"/patients/{cast.alice_id}/consent", data={
        "csrf_token": token, "channel": "sms", "action": "opt_out", "source": "patient phoned",
        "at": "2026-11-20T14:05"})  # fmt: skip
    assert phoned.status_code == 303
    alice = session.get_one(Patient, cast.alice_id)
    assert alice.sms_opted_out_at == datetime(2026, 11, 20, 20, 5, tzinfo=ZoneInfo("UTC"))

    outcomes, console = send_due(session, NOW + timedelta(hours=1))
    numbness = pending(session, cast, "numbness_check")[0]
    assert (numbness.status, numbness.status_reason) == ("skipped", "opted_out")
    assert console.outbox == [] and [o.result for o in outcomes] == ["skipped"]

    page = client.get(f"/patients/{cast.alice_id}/edit")
    assert "Opted out" in page.text and "patient phoned" in page.text
    assert "Cora Coordinator" in page.text
    # A second opt-out changes nothing and says so beside the field.
    again = client.post(f"/patients/{cast.alice_id}/consent", data={
        "csrf_token": csrf_of(page.text), "channel": "sms", "action": "opt_out",
        "source": "other", "source_other": "paper form in the post"})  # fmt: skip
    assert again.status_code == 422 and "SMS is already opted out" in again.text

    back = client.post(f"/api/v1/patients/{cast.alice_id}/consent",
                       headers=bearer(RIVERSIDE_KEY),
                       json={"channel": "sms", "action": "opt_in", "source": "paper form"})
    assert back.status_code == 201, back.text
    ledger_json = client.get(f"/api/v1/patients/{cast.alice_id}/consent",
                             headers=bearer(RIVERSIDE_KEY)).json()  # fmt: skip
    assert [(r["action"], r["source"], r["by"]) for r in ledger_json] == [
        ("opt_in", "paper form", "staff"), ("opt_out", "patient phoned", "Cora Coordinator")]
    # Opted back in: tomorrow's blood sugar and flare checks go out.
    outcomes, console = send_due(session, NOW + timedelta(hours=21))
    assert [m.to for m in console.outbox] == ["+13125550123"] * 2
    assert pending(session, cast, "flare_check")[0].status == "sent"
    actions = session.scalars(select(AuditEvent.action).where(
        AuditEvent.action.in_(("patient.opt-out", "patient.opt-in")))).all()  # fmt: skip
    assert sorted(actions) == ["patient.opt-in", "patient.opt-out"]


def test_an_opt_out_by_text_keeps_her_exact_words(session: Session, cast: Cast) -> None:
    alice = session.get_one(Patient, cast.alice_id)
    words = "Please stop texting me, thank you"
    inbound = InboundMessage(clinic_id=cast.riverside.id, patient_id=alice.id, channel="sms",
                             provider_id="SMexact0001", sender=alice.phone or "", body=words,
                             severity="none", categories=[], parsed={}, received_at=NOW)
    session.add(inbound)
    session.flush()
    consent.revoke(session=session, patient=alice, channel="sms", now=NOW,
                   via="patient_keyword", keyword="stop", inbound_message_id=inbound.id)
    [row] = ledger(session=session, clinic_id=cast.riverside.id, patient_id=alice.id)
    assert (row.action, row.by, row.exact_text) == ("opt_out", "patient", words)
