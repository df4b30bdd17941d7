"""The console channel, the shared value types and the masking helpers."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from reminders.channels import (
    ChannelError,
    ConsoleChannel,
    Outbound,
    mask_address,
    mask_email,
    mask_phone,
)


def test_it_prints_the_masked_recipient_and_the_body() -> None:
    out = io.StringIO()
    console = ConsoleChannel("sms", stream=out)

    first = console.send(
        Outbound(to="+12025550100", body="Hi Alice,\nhow is your hip?", sender="+15005550006")
    )
    second = console.send(Outbound(to="+12025550101", body="Hi Bob", sender="+15005550006"))

    assert out.getvalue().splitlines() == [
        "[sms → +1******0100] Hi Alice, ↵ how is your hip?",
        "[sms → +1******0101] Hi Bob",
    ]
    assert first.provider_id.startswith("console-1-") and second.provider_id.startswith(
        "console-2-"
    )
    again = ConsoleChannel(stream=io.StringIO()).send(
        Outbound(to="+12025550100", body="x", sender="+1")
    )
    assert again.provider_id != first.provider_id  # unique across instances too
    assert [m.to for m in console.outbox] == ["+12025550100", "+12025550101"]


def test_email_lines_show_the_subject(capsys: pytest.CaptureFixture[str]) -> None:
    console = ConsoleChannel("email")

    console.send(
        Outbound(
            to="alice@example.org",
            body="Please reply 0-10",
            sender="aftercare@localhost",
            subject="Day 3 check-in",
        )
    )

    assert capsys.readouterr().out == (
        "[email → a***@example.org] Day 3 check-in — Please reply 0-10\n"
    )


def test_bodies_can_be_hidden() -> None:
    out = io.StringIO()

    ConsoleChannel(stream=out, show_body=False).send(
        Outbound(to="+12025550100", body="private", sender="x")
    )

    assert out.getvalue() == "[sms → +1******0100] (7 characters)\n"


def test_console_cannot_reconcile() -> None:
    assert ConsoleChannel().find_sent("+12025550100", datetime.now(UTC), "x") is None


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("+12025550123", "+1******0123"),
        ("+447700900123", "+4*******0123"),
        ("2025550123", "2*****0123"),
        ("+123", "***"),
        ("", "***"),
    ],
)
def test_mask_phone(raw: str, masked: str) -> None:
    assert mask_phone(raw) == masked


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("alice@example.org", "a***@example.org"),
        ("a@b.c", "a***@b.c"),
        ("not-an-address", "***"),
        ("@example.org", "***"),
    ],
)
def test_mask_email(raw: str, masked: str) -> None:
    assert mask_email(raw) == masked


def test_outbound_repr_keeps_the_patient_out_of_tracebacks() -> None:
    msg = Outbound(to="alice@example.org", body="knee pain 7/10", sender="x", reference="a-1")

    assert "alice" not in repr(msg) and "knee" not in repr(msg)
    assert mask_address("+12025550100") == "+1******0100"


def test_channel_error_defaults_to_a_plain_transient_failure() -> None:
    error = ChannelError("twilio: connect timeout")

    assert error.transient and not error.permanent and not error.opts_out
    assert (error.code, error.retry_after, error.limited_retries, error.in_doubt) == (
        None,
        None,
        None,
        False,
    )
    assert str(error) == "twilio: connect timeout"
