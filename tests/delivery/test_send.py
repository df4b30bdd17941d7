"""Sending claimed messages in-process: the real Sender, FakeTwilio, FakeSmtp, both backends."""

from __future__ import annotations

import io
from datetime import timedelta

from sqlalchemy import select

from reminders import segments
from reminders.channels import ConsoleChannel
from reminders.channels.base import Channel, Outbound, SendResult
from reminders.clock import SimulatedClock
from reminders.conversations.models import Concern
from reminders.delivery.engine import EmbeddedRunner
from reminders.delivery.replyto import parse_reply_address
from reminders.enrollments.models import PENDING, SENT, SKIPPED
from reminders.patients.models import Patient
from tests.delivery.helpers import (
    CLINIC_NUMBER,
    PUBLIC_URL,
    Db,
    add_patients,
    creates,
    make_clinic,
    make_sender,
    results,
    send_all,
    sent_to,
    settings_for,
)
from tests.fakes import FakeSmtp, FakeTwilio


def test_a_due_message_goes_out_once_with_its_body_callback_and_validity(
    db: Db, runner: EmbeddedRunner, twilio: FakeTwilio, clock: SimulatedClock
) -> None:
    clinic = make_clinic(db)
    [mid] = add_patients(db, clinic)

    assert results(runner) == ["sent"]

    [sms] = twilio.messages.values()
    assert sms["to"] == "+13125551000"
    assert sms["from"] == CLINIC_NUMBER
    body = str(sms["body"])
    assert body.startswith("Hi Pat0, it's Riverside Ortho.")
    assert "from 0 (none) to 10 (worst)" in body
    assert "+1 312-555-0100" in body  # the clinic's number, formatted for reading
    assert sms["_status_callback"] == f"{PUBLIC_URL}/webhooks/twilio/status"
    assert sms["_validity_period"] == str(6 * 3600)  # until the message expires
    message = db.message(mid)
    assert (message.status, message.sent_at) == (SENT, clock.now())
    [attempt] = db.attempts(mid)
    assert (attempt.status, attempt.provider_id, attempt.provider) == (
        "accepted",
        sms["sid"],
        "twilio",
    )
    assert attempt.recipient == "+13125551000"
    assert attempt.segments == segments.count(body).segments

    assert results(runner) == []
    clock.advance(timedelta(hours=1))
    assert results(runner) == []
    assert len(twilio.messages) == 1


def test_an_email_message_is_multipart_with_a_reply_token(
    db: Db, runner: EmbeddedRunner, smtp: FakeSmtp
) -> None:
    clinic = make_clinic(db)
    [mid] = add_patients(db, clinic, email="pat@example.org", channel="email")

    assert results(runner) == ["sent"]

    [received] = smtp.received
    assert received.rcpt_tos == ["pat+0@example.org"]
    email = received.message
    assert email.get_content_type() == "multipart/alternative"
    assert "Pat0" in email.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    reply_to = str(email["Reply-To"])
    assert parse_reply_address(reply_to, settings_for("sqlite://")) == mid
    assert db.attempts(mid)[0].provider_id == email["Message-ID"]


def test_a_throttled_send_is_retried_after_retry_after_and_then_sent(
    db: Db, runner: EmbeddedRunner, twilio: FakeTwilio, clock: SimulatedClock
) -> None:
    clinic = make_clinic(db)
    [mid] = add_patients(db, clinic)
    twilio.respond_429(1, retry_after=40)

    assert results(runner) == ["retry"]
    message = db.message(mid)
    assert message.status == PENDING and message.status_reason == "retry_20429"
    assert message.next_attempt_at == clock.now() + timedelta(seconds=40)
    assert db.attempts(mid)[0].status == "error"

    clock.advance(timedelta(seconds=39))
    assert results(runner) == []  # still backing off
    clock.advance(timedelta(seconds=2))
    assert results(runner) == ["sent"]
    assert len(creates(twilio)) == 2 and len(twilio.messages) == 1


def test_a_permanent_error_is_not_retried_and_falls_back_to_email_with_a_concern(
    db: Db, runner: EmbeddedRunner, twilio: FakeTwilio, smtp: FakeSmtp
) -> None:
    clinic = make_clinic(db)
    [mid] = add_patients(db, clinic, email="pat@example.org")
    twilio.fail_for("+13125551000", code=21614)  # not a mobile number

    sender = runner.sender
    assert [o.result for o in send_all(sender)] == ["fallback"]
    message = db.message(mid)
    assert (message.status, message.channel) == (PENDING, "email")
    [attempt] = db.attempts(mid)
    assert (attempt.status, attempt.error_code, attempt.permanent) == ("error", "21614", True)
    with db.sessions() as session:
        [concern] = session.scalars(select(Concern))
        assert (concern.severity, concern.kind) == ("routine", "delivery")
        assert "by email instead" in concern.summary

    assert [o.result for o in send_all(sender)] == ["sent"]
    assert [r.rcpt_tos for r in smtp.received] == [["pat+0@example.org"]]
    assert len(creates(twilio)) == 1  # never retried by SMS
    assert db.message(mid).status == SENT


def test_a_dispatch_tick_sends_the_email_fallback_at_once(
    db: Db, runner: EmbeddedRunner, twilio: FakeTwilio, smtp: FakeSmtp
) -> None:
    clinic = make_clinic(db)
    add_patients(db, clinic, email="pat@example.org")
    twilio.fail_for("+13125551000", code=21211)

    assert [o.result for o in runner.dispatch_once()] == ["fallback", "sent"]
    assert len(smtp.received) == 1


def test_unsubscribed_at_twilio_marks_the_patient_opted_out(
    db: Db, runner: EmbeddedRunner, twilio: FakeTwilio
) -> None:
    clinic = make_clinic(db)
    [mid] = add_patients(db, clinic)  # no email: nothing to fall back to
    twilio.fail_for("+13125551000", code=21610)

    assert results(runner) == ["failed"]
    assert db.message(mid).status_reason == "sms_failed_21610"
    with db.sessions() as session:
        [patient] = session.scalars(select(Patient))
        assert patient.sms_opted_out_at is not None
        assert len(list(session.scalars(select(Concern)))) == 1


def test_opted_out_and_expired_messages_are_skipped_without_a_provider_call(
    db: Db, runner: EmbeddedRunner, twilio: FakeTwilio, clock: SimulatedClock
) -> None:
    clinic = make_clinic(db)
    [opted] = add_patients(db, clinic, sms_opted_out=True)
    [stale] = add_patients(
        db, clinic, phone_start=3125552000, due_at=clock.now() - timedelta(hours=7)
    )

    assert results(runner) == ["skipped", "skipped"]
    assert twilio.requests == []
    assert (db.message(opted).status, db.message(opted).status_reason) == (SKIPPED, "opted_out")
    assert db.message(stale).status_reason == "expired"


def test_quiet_hours_defer_at_send_time_unless_time_critical(
    db: Db, runner: EmbeddedRunner, twilio: FakeTwilio, clock: SimulatedClock
) -> None:
    clinic = make_clinic(db)
    night = clock.now().replace(hour=4, minute=30) + timedelta(days=1)  # 22:30 in Chicago
    clock.set(night)
    [routine] = add_patients(db, clinic, due_at=night, expires_in=timedelta(hours=24))
    [critical] = add_patients(db, clinic, phone_start=3125552000, due_at=night, time_critical=True)

    assert results(runner) == ["deferred", "sent"]
    assert sent_to(twilio) == ["+13125552000"]
    morning = night.replace(hour=14, minute=0)  # 08:00 in Chicago
    deferred = db.message(routine)
    assert (deferred.status, deferred.due_at) == (PENDING, morning)
    assert deferred.status_reason == "deferred_quiet_hours"
    assert db.message(critical).status == SENT

    clock.set(morning - timedelta(minutes=1))
    assert results(runner) == []
    clock.set(morning)
    assert results(runner) == ["sent"]
    assert sent_to(twilio) == ["+13125552000", "+13125551000"]


def test_one_patients_messages_go_out_in_order(
    db: Db, runner: EmbeddedRunner, twilio: FakeTwilio
) -> None:
    clinic = make_clinic(db)
    first, second = add_patients(db, clinic, messages_each=2)  # both due now

    assert [o.result for o in send_all(runner.sender)] == ["sent"]
    assert db.message(second).status == PENDING
    assert [o.result for o in send_all(runner.sender)] == ["sent"]
    assert db.message(first).sent_at is not None and db.message(second).sent_at is not None


class RepeatingIds(ConsoleChannel):
    """A provider that hands out the same id twice (the attempts table keeps them unique)."""

    def send(self, msg: Outbound) -> SendResult:
        return SendResult(provider_id="same-id", status=super().send(msg).status)


def test_a_provider_reusing_ids_still_has_every_send_recorded(
    db: Db, clock: SimulatedClock
) -> None:
    # The send must still be recorded, not lost to the unique-index collision.
    clinic = make_clinic(db)
    [sms] = add_patients(db, clinic)
    [email] = add_patients(
        db, clinic, phone_start=3125552000, channel="email", email="pat@example.org"
    )
    quiet = io.StringIO()
    chans: dict[str, Channel] = {
        "sms": RepeatingIds("sms", stream=quiet),
        "email": RepeatingIds("email", stream=quiet),
    }
    sender = make_sender(db, clock, chans)

    assert sorted(o.result for o in send_all(sender)) == ["sent", "sent"]
    assert db.message(sms).status == SENT and db.message(email).status == SENT
    ids = sorted(str(a.provider_id) for a in db.attempts())
    assert ids == ["None", "same-id"]
