"""Twilio status callbacks: signature checks, and statuses that only move forward."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
import uvicorn
from fastapi.testclient import TestClient
from twilio.request_validator import RequestValidator

from reminders.clock import SimulatedClock
from reminders.delivery.engine import EmbeddedRunner
from reminders.delivery.models import SendAttempt
from reminders.web.app import create_app
from tests.delivery.helpers import (
    PUBLIC_URL,
    Db,
    add_patients,
    channels,
    make_clinic,
    make_sender,
    settings_for,
)
from tests.fakes import AUTH_TOKEN, FakeTwilio, sign

PATH = "/webhooks/twilio/status"
URL = PUBLIC_URL + PATH
SID = "SM" + "ab" * 16


@pytest.fixture
def attempt_id(db: Db) -> int:
    clinic = make_clinic(db)
    [mid] = add_patients(db, clinic)
    with db.sessions() as session:
        attempt = SendAttempt(
            clinic_id=clinic.id,
            message_id=mid,
            channel="sms",
            provider="twilio",
            recipient="+13125551000",
            provider_id=SID,
            status="accepted",
        )
        session.add(attempt)
        session.flush()
        return attempt.id


@pytest.fixture
def client(db: Db) -> Iterator[TestClient]:
    app = create_app(settings_for(str(db.engine.url)))
    with TestClient(app) as test_client:
        yield test_client
    app.state.engine.dispose()


def callback(status: str, sid: str = SID, **extra: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "AccountSid": "AC" + "0" * 32,
        "To": "+13125551000",
        **extra,
    }


def post(client: TestClient, form: dict[str, str], signature: str | None) -> int:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    response = client.post(PATH, content=urlencode(form), headers=headers)
    return response.status_code


def status_of(db: Db, attempt_id: int) -> tuple[str, str | None]:
    with db.sessions() as session:
        attempt = session.get_one(SendAttempt, attempt_id)
        return attempt.status, attempt.error_code


def test_a_signed_callback_updates_the_attempt(db: Db, client: TestClient, attempt_id: int) -> None:
    form = callback("sent")
    assert post(client, form, sign(URL, form)) == 200
    assert status_of(db, attempt_id) == ("sent", None)


@pytest.mark.parametrize(
    "signature",
    [
        None,  # no header at all
        "",
        "bm90IGEgc2lnbmF0dXJl",
        sign("http://testserver" + PATH, callback("delivered")),  # the URL seen, not the public
        sign(URL, callback("delivered"), token="another-token"),
        sign(URL, callback("sent")),  # signed for other fields
    ],
    ids=["missing", "empty", "garbage", "internal-url", "wrong-token", "other-fields"],
)
def test_a_callback_without_a_valid_signature_is_refused_and_changes_nothing(
    db: Db, client: TestClient, attempt_id: int, signature: str | None
) -> None:
    assert post(client, callback("delivered"), signature) == 403
    assert status_of(db, attempt_id) == ("accepted", None)


class _Multi(dict[str, list[str]]):
    def getlist(self, key: str) -> list[str]:
        return self[key]


def test_every_value_of_a_repeated_field_is_signed(
    db: Db, client: TestClient, attempt_id: int
) -> None:
    fields = [*callback("delivered").items(), ("Extra", "a"), ("Extra", "b")]
    multi = _Multi()
    for key, value in fields:
        multi.setdefault(key, []).append(value)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    signed_first_only = sign(URL, dict(fields[:-1]))
    response = client.post(
        PATH, content=urlencode(fields), headers=headers | {"X-Twilio-Signature": signed_first_only}
    )
    assert response.status_code == 403

    signed_all = str(RequestValidator(AUTH_TOKEN).compute_signature(URL, multi))
    response = client.post(
        PATH, content=urlencode(fields), headers=headers | {"X-Twilio-Signature": signed_all}
    )
    assert response.status_code == 200
    assert status_of(db, attempt_id) == ("delivered", None)


def test_without_an_auth_token_every_callback_is_refused(db: Db, attempt_id: int) -> None:
    app = create_app(
        settings_for(str(db.engine.url), twilio_auth_token=None, sms_provider="console")
    )
    with TestClient(app) as client:
        form = callback("delivered")
        assert post(client, form, sign(URL, form)) == 403
    app.state.engine.dispose()
    assert status_of(db, attempt_id) == ("accepted", None)


def test_late_and_repeated_callbacks_never_move_a_status_backwards(
    db: Db, client: TestClient, attempt_id: int
) -> None:
    seen = []
    for status in ["queued", "delivered", "sent", "queued", "sending", "delivered"]:
        form = callback(status)
        assert post(client, form, sign(URL, form)) == 200
        seen.append(status_of(db, attempt_id)[0])
    assert seen == ["queued", "delivered", "delivered", "delivered", "delivered", "delivered"]


def test_a_failure_keeps_its_error_code_and_is_final(
    db: Db, client: TestClient, attempt_id: int
) -> None:
    for status, extra in [("undelivered", {"ErrorCode": "30006"}), ("delivered", {})]:
        form = callback(status, **extra)
        assert post(client, form, sign(URL, form)) == 200
    assert status_of(db, attempt_id) == ("undelivered", "30006")
    with db.sessions() as session:
        attempt = session.get_one(SendAttempt, attempt_id)
        assert attempt.permanent is True and "landline" in (attempt.error_message or "")


def test_an_unknown_message_sid_is_answered_200_and_logged(
    client: TestClient, attempt_id: int, caplog: pytest.LogCaptureFixture
) -> None:
    form = callback("delivered", sid="SM" + "cd" * 16)
    assert post(client, form, sign(URL, form)) == 200
    assert "unknown message SM" + "cd" * 16 in caplog.text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_twilios_signed_callbacks_reach_the_attempt_end_to_end(
    db: Db, clock: SimulatedClock, twilio: FakeTwilio
) -> None:
    public = f"http://127.0.0.1:{_free_port()}"
    app = create_app(settings_for(str(db.engine.url), public_url=public))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=int(public.rsplit(":")[-1]), log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        twilio.auto_callbacks = ["sent", "delivered"]
        clinic = make_clinic(db)
        [mid] = add_patients(db, clinic)
        runner = EmbeddedRunner(
            sender=make_sender(db, clock, channels(twilio), public_url=public), threads=1
        )
        assert [o.result for o in runner.dispatch_once()] == ["sent"]
        runner.shutdown()
        deadline = time.monotonic() + 10
        while len(twilio.callbacks) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        app.state.engine.dispose()
    assert [(c["status"], c.get("http")) for c in twilio.callbacks] == [
        ("sent", 200),
        ("delivered", 200),
    ]
    [attempt] = db.attempts(mid)
    assert attempt.status == "delivered"
