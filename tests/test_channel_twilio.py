"""TwilioSms against the loopback FakeTwilio, through the real twilio-python client."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import pytest
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from reminders.channels import (
    ChannelError,
    ConsoleChannel,
    Outbound,
    TwilioSms,
    build_sms_channel,
    error_for_code,
)
from reminders.channels.twilio_sms import _PrivateHttpClient
from reminders.config import Settings
from tests.fakes import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from tests.fakes.smtp_server import free_port

ALICE = "+12025550100"
CLINIC = "+15005550006"


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio() as server:
        yield server


@pytest.fixture
def sms(fake: FakeTwilio) -> Iterator[TwilioSms]:
    channel = TwilioSms(ACCOUNT_SID, AUTH_TOKEN, api_url=fake.url, timeout=2.0)
    yield channel
    channel.close()


def hello(**overrides: Any) -> Outbound:
    fields: dict[str, Any] = {
        "to": ALICE,
        "body": "Hi Alice, how is your hip today?",
        "sender": CLINIC,
        "reference": "attempt-1",
    }
    return Outbound(**(fields | overrides))


def failure(sms: TwilioSms, msg: Outbound | None = None) -> ChannelError:
    with pytest.raises(ChannelError) as caught:
        sms.send(msg or hello())
    return caught.value


def test_it_sends_body_sender_callback_and_validity(sms: TwilioSms, fake: FakeTwilio) -> None:
    result = sms.send(
        hello(status_callback="https://care.example/twilio/status/abc", validity_seconds=3600)
    )

    assert result.provider_id.startswith("SM") and len(result.provider_id) == 34
    assert result.status == "queued"
    form = fake.requests[-1]["params"]
    assert form == {
        "To": ALICE,
        "From": CLINIC,
        "Body": "Hi Alice, how is your hip today?",
        "StatusCallback": "https://care.example/twilio/status/abc",
        "ValidityPeriod": "3600",
    }


@pytest.mark.parametrize(("asked", "sent"), [(0, "1"), (-5, "1"), (99_999, "36000"), (None, None)])
def test_it_clamps_validity_to_twilios_range(
    sms: TwilioSms, fake: FakeTwilio, asked: int | None, sent: str | None
) -> None:
    sms.send(hello(validity_seconds=asked))

    assert fake.requests[-1]["params"].get("ValidityPeriod") == sent


def test_it_uses_the_messaging_service_when_configured(fake: FakeTwilio) -> None:
    sms = TwilioSms(ACCOUNT_SID, AUTH_TOKEN, api_url=fake.url, messaging_service_sid="MG123")

    result = sms.send(hello())

    form = fake.requests[-1]["params"]
    assert form["MessagingServiceSid"] == "MG123" and "From" not in form
    assert result.status == "accepted"


def test_it_refuses_without_any_sender(sms: TwilioSms, fake: FakeTwilio) -> None:
    error = failure(sms, hello(sender=""))

    assert error.permanent and not fake.requests


@pytest.mark.parametrize("code", [21211, 21614, 21612, 21617, 21408, 21606, 30004, 30005, 30006])
def test_bad_numbers_and_content_are_permanent(sms: TwilioSms, fake: FakeTwilio, code: int) -> None:
    fake.fail_next(code=code)

    error = failure(sms)

    assert error.permanent and error.code == str(code)
    assert not error.opts_out and not error.in_doubt


def test_unsubscribed_recipient_opts_the_patient_out(sms: TwilioSms, fake: FakeTwilio) -> None:
    fake.fail_for(ALICE, code=21610, message="Attempt to send to unsubscribed recipient")

    error = failure(sms)

    assert error.permanent and error.opts_out and error.code == "21610"


def test_twilio_magic_test_numbers_fail_like_the_test_api(sms: TwilioSms) -> None:
    assert failure(sms, hello(to="+15005550001")).code == "21211"
    assert failure(sms, hello(to="+15005550004")).opts_out
    assert failure(sms, hello(sender="+15005550007")).code == "21606"


@pytest.mark.parametrize("code", [30003, 30008])
def test_unreachable_handset_gets_a_few_retries(
    sms: TwilioSms, fake: FakeTwilio, code: int
) -> None:
    fake.fail_next(code=code)

    error = failure(sms)

    assert not error.permanent and error.limited_retries == 3


def test_throttling_is_transient_and_carries_retry_after(sms: TwilioSms, fake: FakeTwilio) -> None:
    fake.respond_429(1, retry_after=2.5)
    fake.respond_429(1)

    first, second = failure(sms), failure(sms)

    assert not first.permanent and first.retry_after == 2.5 and first.code == "20429"
    assert not first.in_doubt  # refused up front, so resending cannot duplicate
    assert second.retry_after is None
    assert sms.send(hello()).status == "queued"


def test_server_errors_are_transient_and_in_doubt(sms: TwilioSms, fake: FakeTwilio) -> None:
    fake.respond_500(1)

    error = failure(sms)

    assert not error.permanent and error.in_doubt and error.limited_retries is None


def test_a_timeout_is_in_doubt_and_find_sent_settles_it(fake: FakeTwilio) -> None:
    sms = TwilioSms(ACCOUNT_SID, AUTH_TOKEN, api_url=fake.url, timeout=0.2)
    since = datetime.now(UTC)
    fake.hang_next(1, seconds=0.6)

    error = failure(sms)

    assert not error.permanent and error.in_doubt and error.code == "timeout"
    fake.wait_for_messages(1)  # Twilio accepted it after we stopped waiting
    found = sms.find_sent(ALICE, since, "Hi Alice,  how is your\nhip today?")
    assert found is not None and found.provider_id == next(iter(fake.messages))


def test_connection_refused_is_transient_and_certainly_unsent() -> None:
    sms = TwilioSms(ACCOUNT_SID, AUTH_TOKEN, api_url=f"http://127.0.0.1:{free_port()}")

    error = failure(sms)

    assert not error.permanent and not error.in_doubt and error.code == "connection"


def test_wrong_credentials_are_permanent(fake: FakeTwilio) -> None:
    sms = TwilioSms(ACCOUNT_SID, "not-the-token", api_url=fake.url)

    error = failure(sms)

    assert error.permanent and error.code == "20003"
    assert fake.requests[-1]["status"] == 401 and not fake.messages


def test_errors_and_logs_never_show_the_number_or_body(
    sms: TwilioSms, fake: FakeTwilio, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # Twilio's own messages quote the number; none of it may leak through.
    fake.fail_next(code=21211, message=f"The 'To' number {ALICE} is not a valid phone number.")

    error = failure(sms)
    sms.send(hello())
    sms.find_sent(ALICE, datetime.now(UTC) - timedelta(minutes=1), "Hi")

    assert ALICE not in str(error) and "hip" not in str(error)
    assert ALICE not in caplog.text and "2025550100" not in caplog.text
    assert "hip" not in caplog.text
    assert "+1******0100" in caplog.text and "attempt-1" in caplog.text


def test_find_sent_matches_on_number_and_normalised_body(sms: TwilioSms, fake: FakeTwilio) -> None:
    since = datetime.now(UTC) - timedelta(seconds=5)
    sent = sms.send(hello())
    sms.send(hello(to="+12025550199"))

    found = sms.find_sent(ALICE, since, "  Hi Alice, how is\tyour hip today? ")

    assert found is not None and found.provider_id == sent.provider_id
    assert found.status == "queued"  # still queued: no date_sent yet
    assert sms.find_sent(ALICE, since, "Something else") is None
    assert sms.find_sent("+12025550111", since, "Hi Alice, how is your hip today?") is None


def test_find_sent_ignores_messages_older_than_the_attempt(sms: TwilioSms) -> None:
    sms.send(hello())

    later = datetime.now(UTC) + timedelta(hours=1)

    assert sms.find_sent(ALICE, later, "Hi Alice, how is your hip today?") is None


def test_the_fake_lists_with_the_params_twilio_python_really_sends(
    sms: TwilioSms, fake: FakeTwilio
) -> None:
    client = Client(
        ACCOUNT_SID, AUTH_TOKEN, http_client=_PrivateHttpClient(api_url=fake.url, timeout=2.0)
    )
    sid = sms.send(hello()).provider_id
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)

    queued = client.messages.list(to=ALICE, date_sent_after=an_hour_ago, limit=20)
    query = fake.requests[-1]["params"]
    fake.auto_callbacks = []
    fake.messages[sid]["_status_callback"] = None
    fake.messages[sid]["date_sent"] = fake.messages[sid]["date_created"]
    sent = client.messages.list(to=ALICE, date_sent_after=an_hour_ago, limit=20)

    assert set(query) == {"To", "DateSent>", "PageSize"}  # the operator lives in the key
    assert query["DateSent>"] == an_hour_ago.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert query["PageSize"] == "20"
    assert queued == []  # unsent messages have no date_sent, so the filter hides them
    assert [m.sid for m in sent] == [sid]


class _Receiver:
    """A loopback webhook endpoint standing in for our app's status-callback route."""

    def __init__(self) -> None:
        self.hits: list[tuple[str, dict[str, str], str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers["Content-Length"])).decode()
                signature = self.headers.get("X-Twilio-Signature", "")
                receiver.hits.append((self.path, dict(parse_qsl(raw)), signature))
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/twilio/status?d=42"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    endpoint = _Receiver()
    yield endpoint
    endpoint.close()


def test_status_callbacks_are_signed_so_request_validator_accepts_them(
    sms: TwilioSms, fake: FakeTwilio, receiver: _Receiver
) -> None:
    sid = sms.send(hello(status_callback=receiver.url)).provider_id

    assert fake.send_status_callback(sid, "undelivered", error_code=30003) == 204

    path, params, signature = receiver.hits[-1]
    assert path == "/twilio/status?d=42"
    assert params["MessageSid"] == sid and params["MessageStatus"] == "undelivered"
    assert params["ErrorCode"] == "30003" and params["AccountSid"] == ACCOUNT_SID
    validator = RequestValidator(AUTH_TOKEN)
    assert validator.validate(receiver.url, params, signature)
    assert not validator.validate(receiver.url, params | {"MessageStatus": "delivered"}, signature)
    assert error_for_code(params["ErrorCode"]).limited_retries == 3


def test_auto_callbacks_follow_each_accept_in_order(
    sms: TwilioSms, fake: FakeTwilio, receiver: _Receiver
) -> None:
    fake.auto_callbacks = ["sent", "delivered"]

    sid = sms.send(hello(status_callback=receiver.url)).provider_id

    deadline = datetime.now(UTC) + timedelta(seconds=5)
    while len(receiver.hits) < 2 and datetime.now(UTC) < deadline:
        threading.Event().wait(0.01)
    assert [(h[1]["MessageSid"], h[1]["MessageStatus"]) for h in receiver.hits] == [
        (sid, "sent"),
        (sid, "delivered"),
    ]
    assert fake.messages[sid]["status"] == "delivered"


@pytest.mark.parametrize(
    ("code", "permanent", "limited"),
    [
        (30005, True, None),
        (30006, True, None),
        (30007, True, None),
        (30003, False, 3),
        (30001, False, None),
        ("30008", False, 3),
        (99999, True, None),
        (None, True, None),
    ],
)
def test_async_error_codes_from_callbacks_classify_like_sync_ones(
    code: int | str | None, permanent: bool, limited: int | None
) -> None:
    error = error_for_code(code)

    assert error.permanent is permanent and error.limited_retries == limited


def test_settings_choose_the_sms_channel(fake: FakeTwilio) -> None:
    twilio = build_sms_channel(
        Settings(
            sms_provider="twilio",
            twilio_account_sid=ACCOUNT_SID,
            twilio_auth_token=AUTH_TOKEN,
            twilio_api_url=fake.url,
            twilio_messaging_service_sid="MG9",
        )
    )

    assert isinstance(twilio, TwilioSms)
    assert twilio.send(hello()).status == "accepted"
    assert isinstance(build_sms_channel(Settings(sms_provider="console")), ConsoleChannel)
