"""Sending claimed messages in-process: the real Sender, FakeTwilio, FakeSmtp, both backends."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from reminders import segments
from reminders.channels import TwilioSms
from reminders.channels.base import Channel, Outbound, SendResult
from reminders.clock import SimulatedClock
from reminders.conversations.models import Concern
from reminders.delivery.dispatch import Claim
from reminders.delivery.engine import EmbeddedRunner, dispatch_round, send_batch
from reminders.delivery.replyto import parse_reply_address
from reminders.delivery.send import Outcome, Sender
from reminders.enrollments.models import PENDING, SENDING, SENT, SKIPPED
from reminders.patients.models import Patient
from tests.delivery.helpers import (
    CLINIC_NUMBER,
    PUBLIC_URL,
    Db,
    add_patients,
    channels,
    make_clinic,
    make_sender,
    sent_to,
    settings_for,
)
from tests.fakes import ACCOUNT_SID, AUTH_TOKEN, FakeSmtp, FakeTwilio


@pytest.fixture
def runner(
    db: Db, clock: SimulatedClock, twilio: FakeTwilio, smtp: FakeSmtp
) -> Iterator[EmbeddedRunner]:
    sender = make_sender(db, clock, channels(twilio, smtp))
    runner = EmbeddedRunner(sender=sender, threads=2)
    yield runner
    runner.shutdown()


def results(runner: EmbeddedRunner) -> list[str]:
    return sorted(o.result for o in runner.dispatch_once())


def creates(twilio: FakeTwilio) -> list[dict[str, object]]:
    return [r for r in twilio.requests if r["method"] == "POST"]


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


def test_a_server_error_is_reconciled_with_the_provider_before_the_retry(
    db: Db, runner: EmbeddedRunner, twilio: FakeTwilio, clock: SimulatedClock
) -> None:
    clinic = make_clinic(db)
    [mid] = add_patients(db, clinic)
    twilio.respond_500(1)

    assert results(runner) == ["retry"]
    assert db.attempts(mid)[0].status == "in_doubt"

    clock.advance(timedelta(seconds=31))  # the first back-off is 15-30 s
    assert results(runner) == ["sent"]
    methods = [r["method"] for r in twilio.requests]
    assert methods == ["POST", "GET", "POST"]  # asked Twilio before sending again
    assert len(twilio.messages) == 1
    assert [a.status for a in db.attempts(mid)] == ["error", "accepted"]


def test_a_timeout_after_twilio_accepted_is_reconciled_not_resent(
    db: Db, clock: SimulatedClock, twilio: FakeTwilio
) -> None:
    clinic = make_clinic(db)
    [mid] = add_patients(db, clinic)
    impatient = TwilioSms(ACCOUNT_SID, AUTH_TOKEN, api_url=twilio.url, timeout=0.3)
    sender = make_sender(db, clock, {"sms": impatient})
    twilio.hang_next(1, seconds=0.6)  # accepted, but only after the client gave up

    assert [o.result for o in send_all(sender)] == ["retry"]
    assert twilio.wait_for_messages(1, timeout=5)
    clock.advance(timedelta(seconds=31))
    assert [o.result for o in send_all(sender)] == ["reconciled"]

    assert len(twilio.messages) == 1
    [sms] = twilio.messages.values()
    message = db.message(mid)
    assert (message.status, message.status_reason) == (SENT, "reconciled")
    assert db.attempts(mid)[0].provider_id == sms["sid"]


def send_all(sender: Sender) -> list[Outcome]:
    claimed: list[Claim] = []
    dispatch_round(
        sessions=sender.sessions,
        clock=sender.clock,
        settings=sender.settings,
        submit=claimed.extend,
    )
    return list(send_batch(sender, claimed))


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


class Crash(BaseException):
    """The process dying: not an Exception, so nothing on the way catches it."""


class CrashingChannel(Channel):
    name = "twilio"

    def __init__(self, inner: Channel, *, after_provider: bool) -> None:
        self.inner, self.after_provider = inner, after_provider

    def send(self, msg: Outbound) -> SendResult:
        if self.after_provider:
            self.inner.send(msg)
        raise Crash


@pytest.mark.parametrize("after_provider", [True, False], ids=["after-accept", "before-call"])
def test_a_crash_around_the_provider_call_never_sends_twice(
    db: Db, clock: SimulatedClock, twilio: FakeTwilio, after_provider: bool
) -> None:
    clinic = make_clinic(db)
    [mid] = add_patients(db, clinic)
    real = channels(twilio)
    crashing_channel = CrashingChannel(real["sms"], after_provider=after_provider)
    crashing = make_sender(db, clock, {"sms": crashing_channel})
    with pytest.raises(Crash):
        send_all(crashing)
    assert db.message(mid).status == SENDING
    assert [a.status for a in db.attempts(mid)] == ["sending"]

    recovering = make_sender(db, clock, real)
    assert send_all(recovering) == []  # the lease still runs
    clock.advance(timedelta(seconds=61))
    outcome = [o.result for o in send_all(recovering)]

    assert outcome == (["reconciled"] if after_provider else ["sent"])
    assert len(twilio.messages) == 1
    [sms] = twilio.messages.values()
    assert sms["sid"] in {a.provider_id for a in db.attempts(mid)}
    assert db.message(mid).status == SENT


def test_claims_are_committed_before_anyone_is_handed_them(
    db: Db, clock: SimulatedClock, twilio: FakeTwilio
) -> None:
    clinic = make_clinic(db)
    add_patients(db, clinic, 3)
    sender = make_sender(db, clock, channels(twilio))
    seen: list[str] = []

    def submit(claims: list[Claim]) -> None:
        # What a worker would read, in its own session, the moment the task arrives.
        seen.extend(db.message(claim.message_id).status for claim in claims)

    assert (
        dispatch_round(sessions=db.sessions, clock=clock, settings=sender.settings, submit=submit)
        == 3
    )
    assert seen == ["claimed"] * 3


def test_a_worker_whose_lease_was_taken_over_changes_nothing(
    db: Db, clock: SimulatedClock, twilio: FakeTwilio
) -> None:
    clinic = make_clinic(db)
    [mid] = add_patients(db, clinic)
    sender = make_sender(db, clock, channels(twilio))
    slow: list[Claim] = []
    dispatch_round(sessions=db.sessions, clock=clock, settings=sender.settings, submit=slow.extend)
    clock.advance(timedelta(seconds=61))  # the first worker stalled past its lease
    assert [o.result for o in send_all(sender)] == ["sent"]

    assert [o.result for o in send_batch(sender, slow)] == ["stale"]
    assert len(twilio.messages) == 1
    assert db.message(mid).claims == 2
