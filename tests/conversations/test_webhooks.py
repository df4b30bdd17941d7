"""The two front doors for replies, through the real FastAPI app on a real (SQLite) database.

Twilio's signature is made with the real RequestValidator, over the public URL Twilio was
given; inbound email comes in as an inbound-parse multipart form behind basic auth.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from starlette.datastructures import ImmutableMultiDict
from twilio.request_validator import RequestValidator

from reminders import migrations
from reminders.clinics.service import create_clinic
from reminders.clock import SimulatedClock
from reminders.config import Settings
from reminders.conversations.models import Concern, InboundMessage, StaffAlert
from reminders.db import make_engine
from reminders.delivery.models import SendAttempt
from reminders.delivery.send import reply_address
from reminders.enrollments.models import ScheduledMessage
from reminders.web.app import create_app
from tests.conftest import on_call_rota, truncate_all
from tests.conversations.conftest import (
    ALICE_PHONE,
    ON_CALL,
    PUBLIC_URL,
    RIVERSIDE_NUMBER,
    enroll,
    hours,
    make_settings,
    send_question,
    texts_to,
)
from tests.fakes import AUTH_TOKEN, FakeSmtp, FakeTwilio, sign

SMS_URL = f"{PUBLIC_URL}/webhooks/twilio/sms"
FEVER = "fever 102 and the spot is red and oozing"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path: Path = tmp_path_factory.mktemp("web") / "replies.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    migrations.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def world(engine: Engine, now: datetime) -> Iterator[dict[str, int]]:
    """Riverside and Alice, committed, with her numbness check sent at 18:10 local."""
    with Session(engine) as session, session.begin():
        clinic = create_clinic(session=session, name="Riverside Ortho", timezone="America/Chicago",
                               sms_from=RIVERSIDE_NUMBER).clinic  # fmt: skip
        on_call_rota(session, clinic, primary=("Olive", ON_CALL, "oncall@riverside.test"))
        alice = enroll(session, clinic, now)
        numbness = send_question(session, alice, "numbness_check", now + hours(4))
        ids = {"clinic": clinic.id, "patient": alice.patient_id, "numbness": numbness.id}
    yield ids
    truncate_all(engine)


@pytest.fixture
def app_settings(engine: Engine, fake_twilio: FakeTwilio, fake_smtp: FakeSmtp) -> Settings:
    return make_settings(database_url=str(engine.url), sms_provider="twilio",
                         twilio_api_url=fake_twilio.url, email_provider="smtp",
                         smtp_url=fake_smtp.url)  # fmt: skip


@pytest.fixture
def client(app_settings: Settings, now: datetime) -> Iterator[TestClient]:
    app = create_app(app_settings, clock=SimulatedClock(now + hours(5)))
    with TestClient(app) as client:
        yield client


def count(engine: Engine, model: type) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def twilio_params(body: str, sid: str = "SM" + "a" * 32, **extra: str) -> dict[str, str]:
    return {"MessageSid": sid, "SmsSid": sid, "AccountSid": "AC" + "0" * 32, "From": ALICE_PHONE,
            "To": RIVERSIDE_NUMBER, "Body": body, "NumMedia": "0", "NumSegments": "1",
            "SmsStatus": "received", "ApiVersion": "2010-04-01", **extra}  # fmt: skip


def post_sms(client: TestClient, params: dict[str, str], signature: str | None) -> object:
    headers = {} if signature is None else {"X-Twilio-Signature": signature}
    return client.post("/webhooks/twilio/sms", data=params, headers=headers)


def test_a_signed_text_is_stored_answered_then_read_replied_to_and_paged(
    client: TestClient, world: dict[str, int], engine: Engine, fake_twilio: FakeTwilio,
    fake_smtp: FakeSmtp,
) -> None:  # fmt: skip
    params = twilio_params(FEVER)
    response = client.post("/webhooks/twilio/sms", data=params,
                           headers={"X-Twilio-Signature": sign(SMS_URL, params)})  # fmt: skip
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    # The webhook only stores and answers; the reply follows through the pipeline.
    assert response.text == '<?xml version="1.0" encoding="UTF-8"?><Response />'
    with Session(engine) as session:
        inbound = session.scalars(select(InboundMessage)).one()
        assert inbound.processed_at is not None and "call" in (inbound.auto_reply or "")
        # (Her check-ins due by now went out in the same delivery round.)
        assert texts_to(fake_twilio, ALICE_PHONE).count(inbound.auto_reply) == 1
        [attempt] = session.scalars(select(SendAttempt).join(
            ScheduledMessage, ScheduledMessage.id == SendAttempt.message_id).where(
            ScheduledMessage.kind == "reply")).all()  # fmt: skip
        assert attempt.provider == "twilio" and attempt.status == "accepted"
        concern = session.scalars(select(Concern)).one()
        assert concern.severity == "urgent"
        # Urgent: one SMS page to Olive, through the pipeline, delivered after the answer.
        assert session.scalar(select(func.count()).where(StaffAlert.status == "sent")) == 1
    [page] = texts_to(fake_twilio, ON_CALL)
    assert concern.ack_code in page
    assert fake_smtp.messages == []


@pytest.mark.parametrize(
    "signature",
    [None, "", "bm90IGEgc2lnbmF0dXJl", "wrong-url"],
    ids=["missing", "empty", "invalid", "signed-for-another-url"],
)
def test_an_unsigned_or_badly_signed_text_is_refused_and_not_stored(
    client: TestClient, world: dict[str, int], engine: Engine, signature: str | None
) -> None:
    params = twilio_params(FEVER)
    if signature == "wrong-url":
        # What the app sees behind a TLS-terminating proxy; Twilio signed the public URL.
        signature = sign("http://testserver/webhooks/twilio/sms", params)
    assert post_sms(client, params, signature).status_code == 403
    assert count(engine, InboundMessage) == 0 and count(engine, Concern) == 0


def test_every_posted_field_counts_repeated_keys_included(
    client: TestClient, world: dict[str, int], engine: Engine
) -> None:
    pairs = [*twilio_params("ok thanks").items(), ("MediaUrl0", "https://a.example/1"),
             ("MediaUrl0", "https://a.example/2")]  # fmt: skip
    validator = RequestValidator(AUTH_TOKEN)
    only_first = validator.compute_signature(SMS_URL, dict(pairs))  # drops the second value
    every = validator.compute_signature(SMS_URL, ImmutableMultiDict(pairs))
    headers = {"content-type": "application/x-www-form-urlencoded"}
    from urllib.parse import urlencode

    body = urlencode(pairs)
    refused = client.post("/webhooks/twilio/sms", content=body,
                          headers=headers | {"X-Twilio-Signature": only_first})  # fmt: skip
    assert refused.status_code == 403
    ok = client.post("/webhooks/twilio/sms", content=body,
                     headers=headers | {"X-Twilio-Signature": every})  # fmt: skip
    assert ok.status_code == 200
    # A field Twilio adds tomorrow is signed too, and the app must not choke on it.
    params = twilio_params("ok", sid="SM" + "b" * 32, BrandNewField="x")
    assert post_sms(client, params, sign(SMS_URL, params)).status_code == 200
    assert count(engine, InboundMessage) == 2


def test_the_same_message_sid_twice_gives_one_reply_and_one_concern(
    client: TestClient, world: dict[str, int], engine: Engine, fake_twilio: FakeTwilio
) -> None:
    params = twilio_params(FEVER)
    first = post_sms(client, params, sign(SMS_URL, params))
    again = post_sms(client, params, sign(SMS_URL, params))  # Twilio retrying
    assert first.status_code == again.status_code == 200
    assert again.text == first.text  # the retry only happens when our answer was lost
    assert count(engine, InboundMessage) == 1 and count(engine, Concern) == 1
    assert len(texts_to(fake_twilio, ON_CALL)) == 1
    with Session(engine) as session:
        reply = session.scalars(select(InboundMessage.auto_reply)).one()
    assert texts_to(fake_twilio, ALICE_PHONE).count(reply) == 1


def test_stop_by_text_is_confirmed_once(
    client: TestClient, world: dict[str, int], engine: Engine, fake_twilio: FakeTwilio
) -> None:
    params = twilio_params("STOP")
    assert post_sms(client, params, sign(SMS_URL, params)).status_code == 200
    assert len([t for t in texts_to(fake_twilio, ALICE_PHONE) if "Reply START" in t]) == 1
    from reminders.patients.models import Patient

    with Session(engine) as session:
        assert session.get_one(Patient, world["patient"]).sms_opted_out_at is not None


# -- email ---------------------------------------------------------------------------------

QUOTED = (
    "No, still numb\n\nOn Fri, Nov 20, 2026 at 6:10 PM Riverside Ortho "
    "<aftercare@localhost> wrote:\n> Has the numbness worn off? Reply YES or NO."
)


def email_form(to: str, text: str = QUOTED, **extra: str) -> dict[str, tuple[None, str]]:
    fields = {"from": "Alice <alice@example.org>", "to": to, "subject": "Re: Riverside Ortho",
              "text": text, **extra}  # fmt: skip
    return {name: (None, value) for name, value in fields.items()}  # multipart form fields


def test_an_email_reply_is_matched_by_its_reply_to_token(
    client: TestClient, world: dict[str, int], engine: Engine, app_settings: Settings,
    fake_smtp: FakeSmtp,
) -> None:  # fmt: skip
    token = reply_address(world["numbness"], app_settings)
    response = client.post("/webhooks/email/inbound", files=email_form(f"Aftercare <{token}>"),
                           auth=("parse", "parse-secret"))  # fmt: skip
    assert response.status_code == 200, response.text
    with Session(engine) as session:
        reply = session.scalars(select(InboundMessage)).one()
        assert (reply.channel, reply.body, reply.answers_message_id) == (
            "email", "No, still numb", world["numbness"])
        assert reply.parsed["answer"] == "no"
    [auto] = fake_smtp.messages
    assert auto["To"] == "alice@example.org" and auto["Subject"] == "Re: Riverside Ortho"
    assert auto["Reply-To"] == token


def test_a_forged_token_matches_no_question(
    client: TestClient, world: dict[str, int], engine: Engine
) -> None:
    forged = f"reply+{world['numbness']}.000000000000@reply.localhost"
    assert client.post("/webhooks/email/inbound", files=email_form(forged),
                       auth=("parse", "parse-secret")).status_code == 200  # fmt: skip
    with Session(engine) as session:
        reply = session.scalars(select(InboundMessage)).one()
        # Still Alice (her address), but the token did not name the question for her.
        assert reply.patient_id == world["patient"]


def test_vacation_replies_are_kept_but_never_answered(
    client: TestClient, world: dict[str, int], engine: Engine, app_settings: Settings,
    fake_smtp: FakeSmtp,
) -> None:  # fmt: skip
    token = reply_address(world["numbness"], app_settings)
    form = email_form(token, "I am out of the office until Monday.",
                      headers="Auto-Submitted: auto-replied\nPrecedence: bulk\n")
    assert client.post("/webhooks/email/inbound", files=form,
                       auth=("parse", "parse-secret")).status_code == 200  # fmt: skip
    with Session(engine) as session:
        assert session.scalars(select(InboundMessage.kind)).one() == "ignored"
    assert fake_smtp.messages == []
    assert count(engine, ScheduledMessage) > 0


def test_inbound_email_needs_the_configured_credentials(
    client: TestClient, world: dict[str, int], engine: Engine, now: datetime
) -> None:
    form = email_form("reply+1.abc@reply.localhost")
    assert client.post("/webhooks/email/inbound", files=form).status_code == 401
    assert client.post("/webhooks/email/inbound", files=form,
                       auth=("parse", "wrong")).status_code == 401  # fmt: skip
    unconfigured = create_app(make_settings(database_url=str(engine.url),
                                            inbound_email_user=None, inbound_email_password=None))
    with TestClient(unconfigured) as other:
        assert other.post("/webhooks/email/inbound", files=form,
                          auth=("parse", "parse-secret")).status_code == 503  # fmt: skip
    assert count(engine, InboundMessage) == 0


def test_olive_acknowledges_by_replying_to_the_page_email(
    client: TestClient, world: dict[str, int], engine: Engine, app_settings: Settings,
    fake_smtp: FakeSmtp,
) -> None:  # fmt: skip
    params = twilio_params("I cant breathe and my throat is closing")
    client.post("/webhooks/twilio/sms", data=params,
                headers={"X-Twilio-Signature": sign(SMS_URL, params)})  # fmt: skip
    [page_mail] = [m for m in fake_smtp.messages if m["To"] == "oncall@riverside.test"]
    form = {"from": (None, "Olive <OnCall@riverside.test>"),
            "to": (None, page_mail["Reply-To"]), "subject": (None, "Re: " + page_mail["Subject"]),
            "text": (None, "On it.\n\nOn Thu, Aftercare wrote:\n> ...")}  # fmt: skip
    response = client.post("/webhooks/email/inbound", files=form, auth=("parse", "parse-secret"))
    assert response.status_code == 200, response.text
    with Session(engine) as session:
        concern = session.scalars(select(Concern)).one()
        assert (concern.status, concern.acknowledged_via) == ("acknowledged", "email")
    answer = fake_smtp.messages[-1]
    assert answer["To"].lower() == "oncall@riverside.test"
    body = answer.get_body(("plain",))
    assert body is not None and f"Acknowledged {concern.ack_code}" in body.get_content()
