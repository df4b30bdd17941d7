"""SmtpEmail through smtplib against an aiosmtpd server on loopback."""

from __future__ import annotations

import logging
import shutil
import ssl
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from reminders.channels import (
    ChannelError,
    ConsoleChannel,
    Outbound,
    SmtpEmail,
    build_email_channel,
)
from reminders.config import Settings
from tests.fakes import FakeSmtp
from tests.fakes.smtp_server import free_port

ALICE = "alice@example.org"
CLINIC = "Hip Clinic <aftercare@clinic.example>"


@pytest.fixture
def smtp() -> Iterator[FakeSmtp]:
    with FakeSmtp(user="mailer", password="s3cret") as server:
        yield server


@pytest.fixture
def email(smtp: FakeSmtp) -> SmtpEmail:
    return SmtpEmail(smtp.url, timeout=2.0, local_hostname="test.localhost")


def checkin(**overrides: Any) -> Outbound:
    fields: dict[str, Any] = {
        "to": ALICE,
        "sender": CLINIC,
        "subject": "How is your hip?",
        "body": "Hi Alice,\nplease reply with a number from 0 to 10.",
        "reply_to": "reply+tok123@reply.clinic.example",
        "reference": "attempt-7",
    }
    return Outbound(**(fields | overrides))


def failure(email: SmtpEmail, msg: Outbound | None = None) -> ChannelError:
    with pytest.raises(ChannelError) as caught:
        email.send(msg or checkin())
    return caught.value


def test_it_sends_text_and_html_alternatives(email: SmtpEmail, smtp: FakeSmtp) -> None:
    result = email.send(checkin(html="<p>Hi Alice,</p><p>please reply…</p>"))

    received = smtp.received[-1]
    message = received.message
    assert received.mail_from == "aftercare@clinic.example"
    assert received.rcpt_tos == [ALICE]
    assert message.get_content_type() == "multipart/alternative"
    assert message["From"] == CLINIC and message["To"] == ALICE
    assert message["Reply-To"] == "reply+tok123@reply.clinic.example"
    assert message["Subject"] == "How is your hip?"
    assert message["Auto-Submitted"] == "auto-generated"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and "number from 0 to 10" in text.get_content()
    assert html is not None and "<p>Hi Alice,</p>" in html.get_content()
    assert result.provider_id == message["Message-ID"]
    assert result.provider_id.endswith("@clinic.example>") and result.status == "accepted"


def test_plain_text_stays_a_single_part(email: SmtpEmail, smtp: FakeSmtp) -> None:
    email.send(checkin(reply_to=None))

    message = smtp.messages[-1]
    assert message.get_content_type() == "text/plain"
    assert message["Reply-To"] is None


@pytest.mark.parametrize(
    ("stage", "code", "permanent"),
    [
        ("data", 550, True),
        ("data", 554, True),
        ("data", 451, False),
        ("data", 452, False),
        ("rcpt", 550, True),
        ("rcpt", 450, False),
    ],
)
def test_reply_codes_decide_permanence(
    email: SmtpEmail, smtp: FakeSmtp, stage: Any, code: int, permanent: bool
) -> None:
    smtp.reject_next(1, code, f"{code // 100}.0.0 {ALICE} refused", stage=stage)

    error = failure(email)

    assert error.permanent is permanent and error.code == str(code)
    assert ALICE not in str(error)  # servers echo the address; we keep only the code
    assert not smtp.received
    email.send(checkin())
    assert len(smtp.received) == 1


def test_wrong_password_is_permanent(smtp: FakeSmtp) -> None:
    email = SmtpEmail(f"smtp://mailer:wrong@{smtp.host}:{smtp.port}", local_hostname="t")

    error = failure(email)

    assert error.permanent and error.code == "535"


def test_percent_encoded_credentials_are_decoded() -> None:
    with FakeSmtp(user="mailer@clinic", password="p@ss:w/rd") as smtp:
        url = f"smtp://mailer%40clinic:p%40ss%3Aw%2Frd@{smtp.host}:{smtp.port}"
        SmtpEmail(url, local_hostname="t").send(checkin())

        assert len(smtp.received) == 1


def test_connection_refused_is_transient() -> None:
    email = SmtpEmail(f"smtp://127.0.0.1:{free_port()}", timeout=1.0, local_hostname="t")

    error = failure(email)

    assert not error.permanent and not error.in_doubt and error.code == "connection"


def test_header_injection_is_refused_before_connecting(email: SmtpEmail, smtp: FakeSmtp) -> None:
    error = failure(email, checkin(subject="Hello\r\nBcc: everyone@example.org"))

    assert error.permanent and error.code == "header"
    assert not smtp.received


def test_logs_mask_the_address(
    email: SmtpEmail, smtp: FakeSmtp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="reminders")
    smtp.reject_next(1, 451)

    with pytest.raises(ChannelError):
        email.send(checkin())
    email.send(checkin())

    assert ALICE not in caplog.text and "a***@example.org" in caplog.text
    assert "attempt-7" in caplog.text and "number from 0 to 10" not in caplog.text


@pytest.fixture(scope="module")
def tls_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A throwaway self-signed certificate for 127.0.0.1: (server context, client context)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    return server, ssl.create_default_context(cafile=str(cert))


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")
@pytest.mark.parametrize("mode", ["starttls", "implicit"])
def test_it_speaks_starttls_and_implicit_tls(
    tls_pair: tuple[ssl.SSLContext, ssl.SSLContext], mode: Any
) -> None:
    server_ctx, client_ctx = tls_pair
    with FakeSmtp(user="mailer", password="s3cret", tls=mode, ssl_context=server_ctx) as smtp:
        SmtpEmail(smtp.url, local_hostname="t", ssl_context=client_ctx).send(checkin())
        untrusted = SmtpEmail(smtp.url, local_hostname="t", timeout=2.0)

        error = failure(untrusted)

        assert len(smtp.received) == 1
        assert error.permanent and error.code == "tls"  # self-signed: refuse, don't retry


def test_find_sent_cannot_tell_for_smtp(email: SmtpEmail) -> None:
    from datetime import UTC, datetime

    assert email.find_sent(ALICE, datetime.now(UTC), "anything") is None


@pytest.mark.parametrize(
    ("url", "scheme", "port"),
    [
        ("smtp://relay.example", "smtp", 25),
        ("smtp+starttls://u:p@relay.example", "smtp+starttls", 587),
        ("smtps://relay.example", "smtps", 465),
        ("smtps://relay.example:2465", "smtps", 2465),
    ],
)
def test_url_schemes_pick_default_ports(url: str, scheme: str, port: int) -> None:
    email = SmtpEmail(url)

    assert (email._scheme, email._port) == (scheme, port)


@pytest.mark.parametrize("url", ["http://relay.example", "smtp://", "relay.example:25"])
def test_bad_urls_fail_at_construction(url: str) -> None:
    with pytest.raises(ValueError):
        SmtpEmail(url)


def test_settings_choose_the_email_channel(smtp: FakeSmtp) -> None:
    chosen = build_email_channel(Settings(email_provider="smtp", smtp_url=smtp.url))

    assert isinstance(chosen, SmtpEmail)
    assert isinstance(build_email_channel(Settings(email_provider="console")), ConsoleChannel)
