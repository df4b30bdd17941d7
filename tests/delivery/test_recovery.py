"""Recovering from crashes and provider errors without sending anything twice."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from reminders.channels import TwilioSms
from reminders.channels.base import Channel, Outbound, SendResult
from reminders.clock import SimulatedClock
from reminders.delivery.dispatch import Claim
from reminders.delivery.engine import EmbeddedRunner, dispatch_round, send_batch
from reminders.enrollments.models import SENDING, SENT, SKIPPED
from reminders.patients.models import Patient
from tests.delivery.helpers import (
    Db,
    add_patients,
    channels,
    make_clinic,
    make_sender,
    results,
    send_all,
)
from tests.fakes import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio


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


@pytest.mark.parametrize("after_provider", [True, False], ids=["after-accept", "before-call"])
def test_a_message_in_doubt_is_reconciled_before_it_can_be_skipped(
    db: Db, clock: SimulatedClock, twilio: FakeTwilio, after_provider: bool
) -> None:
    clinic = make_clinic(db)
    [mid] = add_patients(db, clinic)
    real = channels(twilio)
    with pytest.raises(Crash):
        crashing = CrashingChannel(real["sms"], after_provider=after_provider)
        send_all(make_sender(db, clock, {"sms": crashing}))
    with db.sessions() as session:  # the patient texts STOP while the worker is down
        session.execute(update(Patient).values(sms_opted_out_at=clock.now()))
    clock.advance(timedelta(seconds=61))

    [outcome] = send_all(make_sender(db, clock, real))

    # Already on the patient's phone: recorded as sent. Never sent: skipped, not sent now.
    expected = ("reconciled", SENT, 1) if after_provider else ("skipped", SKIPPED, 0)
    assert (outcome.result, db.message(mid).status, len(twilio.messages)) == expected
    assert all(a.status != "sending" for a in db.attempts(mid))


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
