"""Paging, end to end with real services: a Celery worker with beat and a web server
(separate processes) on Redis and PostgreSQL, the fake Twilio and the fake SMTP.

Alice at Riverside texts; Olive (on call), Ben (her backup) and Ada (the admin) are
paged through the one delivery pipeline. Twilio's delivery reports are signed callbacks
from the fake to the live web server. A step's wait running out is what
``next_escalation_at`` reaching now means, so the tests set it instead of waiting.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from sqlalchemy import select

from reminders.audit.models import AuditEvent
from reminders.conversations.models import Concern, StaffAlert
from reminders.db import make_engine
from reminders.enrollments.models import (
    CANCELLED,
    CLAIMED,
    FAILED,
    PAGE,
    SENDING,
    SENT,
    ScheduledMessage,
)
from tests.conftest import REDIS_URL, _service_missing, fresh_pg_database, truncate_all
from tests.conversations.conftest import ADMIN, ALICE_PHONE, BACKUP, ON_CALL
from tests.conversations.live_stack import (
    ALICE_EMAIL,
    Cast,
    LiveStack,
    due_now,
    messages,
    riverside_with_alice,
    set_policy,
    stack_env,
    the_concern,
    wait_is_over,
    wait_until,
    web_address,
)
from tests.delivery.helpers import Db
from tests.fakes import FakeSmtp, FakeTwilio

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]
FEVER = "fever 102 and the spot is red and oozing"
HANG = 4.0  # seconds a page stays inside the provider call in the ACK race


@pytest.fixture(scope="module")
def paging_db() -> Iterator[tuple[str, Db]]:
    """A database of this module's own: the worker and web processes commit to it."""
    with fresh_pg_database("aftercare_paging") as url:
        engine = make_engine(url)
        try:
            yield url, Db(engine)
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def broker_url() -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        _service_missing("Redis", exc)
    finally:
        client.close()
    # Not flushed: other runs share this Redis; our queue and rate-limit keys are our own.
    return REDIS_URL


@pytest.fixture
def db(paging_db: tuple[str, Db]) -> Db:
    truncate_all(paging_db[1].engine)
    return paging_db[1]


@pytest.fixture
def cast(db: Db) -> Cast:
    return riverside_with_alice(db, now=datetime.now(UTC))


@pytest.fixture
def live(
    paging_db: tuple[str, Db], db: Db, cast: Cast, broker_url: str, tmp_path: Path
) -> Iterator[LiveStack]:
    with FakeTwilio() as twilio, FakeSmtp() as smtp:
        public_url = web_address()
        env = stack_env(db_url=paging_db[0], broker_url=broker_url, twilio=twilio, smtp=smtp,
                        public_url=public_url)  # fmt: skip
        stack = LiveStack(env=env, logs=tmp_path, db=db, twilio=twilio, smtp=smtp,
                          web_url=public_url)  # fmt: skip
        try:
            stack.start()
            yield stack
        finally:
            stack.stop()


def sent_to(live: LiveStack, number: str, n: int, what: str, timeout: float = 15) -> list[str]:
    """Wait until ``number`` has had ``n`` texts; their bodies."""
    return wait_until(lambda: (t := live.texts_to(number)) and len(t) >= n and t, timeout, what)


def escalated(live: LiveStack, concern_id: int, number: str, n: int, what: str) -> list[str]:
    """The step's wait runs out; the escalation job runs (queued now, as beat would queue
    it on its next tick) until ``number`` has had ``n`` texts; their bodies."""
    wait_is_over(live.db, concern_id)
    return wait_until(lambda: (t := live.texts_to(number)) and len(t) >= n and t, 15, what,
                      every=lambda: live.run_job("escalate_concerns"))  # fmt: skip


def settled(db: Db) -> None:
    """Wait until no message is claimed or in the middle of being sent (a provider accepts
    a moment before the worker records it)."""
    busy = (CLAIMED, SENDING)
    wait_until(lambda: not [m for m in messages(db) if m.status in busy], 10, "sends to settle")


def page_rows(db: Db) -> list[ScheduledMessage]:
    return messages(db, kind=PAGE)


def recorded_sent(db: Db, message_id: int) -> bool:
    return messages(db, id=message_id)[0].status == SENT


def alerts(db: Db) -> list[tuple[int, int, str, str | None, str]]:
    """(round, level, role, recipient, status) of every page, in order."""
    with db.sessions() as session:
        rows = session.execute(select(StaffAlert.round, StaffAlert.level, StaffAlert.role,
                                      StaffAlert.recipient, StaffAlert.status)
                               .order_by(StaffAlert.id))  # fmt: skip
        return [tuple(r) for r in rows]  # type: ignore[misc]


def concern_actions(db: Db) -> list[str]:
    with db.sessions() as session:
        return list(session.scalars(select(AuditEvent.action).where(
            AuditEvent.subject_type == "concern").order_by(AuditEvent.id)))  # fmt: skip


# -- 1. a page reported undelivered ----------------------------------------------------


def test_a_page_reported_undelivered_pages_the_backup_within_a_dispatch_tick(
    live: LiveStack, cast: Cast
) -> None:
    assert live.answer(FEVER)  # Alice is told what to do
    [page] = sent_to(live, ON_CALL, 1, "Olive's page")
    concern = the_concern(live.db)
    assert concern.ack_code in page and "URGENT" in page and "fever" not in page.lower()
    [olive_page] = page_rows(live.db)
    wait_until(lambda: recorded_sent(live.db, olive_page.id), 10, "the page to be recorded")

    # Olive's carrier gives up on it: Twilio reports it undelivered a little later.
    [sid] = live.sids_to(ON_CALL)
    reported = time.monotonic()
    assert live.twilio.send_status_callback(sid, "undelivered", 30006) == 200
    [backup_page] = sent_to(live, BACKUP, 1, "Ben's page")
    # At once, not after the step's 30-minute wait: one dispatch tick (0.5 s) and a kick.
    assert time.monotonic() - reported < 5
    assert concern.ack_code in backup_page

    settled(live.db)
    assert [(m.recipient, m.status, m.status_reason) for m in page_rows(live.db)] == [
        (ON_CALL, FAILED, "page_failed_30006"), (BACKUP, SENT, None)]  # fmt: skip
    assert alerts(live.db) == [(0, 0, "primary", ON_CALL, "failed"),
                               (0, 1, "backup", BACKUP, "sent")]  # fmt: skip
    concern = the_concern(live.db)
    assert (concern.status, concern.escalation_round, concern.escalation_level) == ("open", 0, 1)
    assert concern.next_escalation_at is not None
    assert concern.next_escalation_at > datetime.now(UTC) + timedelta(minutes=25)
    assert concern_actions(live.db) == ["concern.alert", "concern.escalate"]


# -- 2. nobody acknowledges --------------------------------------------------------------


def test_unacknowledged_every_step_is_paged_then_the_policy_starts_again(
    live: LiveStack, cast: Cast
) -> None:
    set_policy(live.db, cast, [("primary", 5), ("backup", 5), ("clinicians", 5), ("admins", 5)])
    live.text(FEVER)
    sent_to(live, ON_CALL, 1, "Olive's page")
    concern = the_concern(live.db)

    # The first wait runs out and beat's own escalate_concerns tick (every 15 s) finds it.
    wait_is_over(live.db, concern.id)
    sent_to(live, BACKUP, 1, "beat to page Ben", timeout=25)

    # The other steps without waiting for beat's tick.
    escalated(live, concern.id, BACKUP, 2, "every clinician")
    escalated(live, concern.id, ADMIN, 1, "Ada")
    before = datetime.now(UTC)
    escalated(live, concern.id, ON_CALL, 3, "Olive again")

    time.sleep(1.5)  # three more dispatch ticks: nothing goes out twice
    settled(live.db)
    assert Counter(m["to"] for m in live.twilio.messages.values()) == {
        ON_CALL: 3, BACKUP: 2, ADMIN: 1, ALICE_PHONE: 1}  # six pages, and Alice's one reply
    assert all(concern.ack_code in body for number in (ON_CALL, BACKUP, ADMIN)
               for body in live.texts_to(number))  # fmt: skip
    assert alerts(live.db) == [
        (0, 0, "primary", ON_CALL, "sent"), (0, 1, "backup", BACKUP, "sent"),
        (0, 2, "clinician", ON_CALL, "sent"), (0, 2, "clinician", BACKUP, "sent"),
        (0, 3, "admin", ADMIN, "sent"), (1, 0, "primary", ON_CALL, "sent")]  # fmt: skip
    concern = the_concern(live.db)
    assert (concern.status, concern.escalation_round, concern.escalation_level) == ("open", 1, 0)
    assert concern.next_escalation_at is not None
    assert before + timedelta(minutes=5) <= concern.next_escalation_at
    assert concern.next_escalation_at <= datetime.now(UTC) + timedelta(minutes=5)
    assert concern_actions(live.db) == ["concern.alert"] + ["concern.escalate"] * 4


# -- 3. an acknowledgement while a page is on its way -------------------------------------


def test_an_ack_during_a_step_cancels_its_claimed_pages_and_nothing_follows_it(
    live: LiveStack, cast: Cast
) -> None:
    live.text(FEVER)
    sent_to(live, ON_CALL, 1, "Olive's page")
    concern = the_concern(live.db)
    escalated(live, concern.id, BACKUP, 1, "Ben's page")

    # The clinicians' step pages Olive and Ben; the first of the two hangs at the provider.
    live.twilio.hang_next(1, seconds=HANG)
    wait_is_over(live.db, concern.id)
    wait_until(lambda: not live.twilio._script, 15, "a page to be inside the provider call",
               every=lambda: live.run_job("escalate_concerns"))  # fmt: skip
    in_flight = time.monotonic()

    answer = live.answer(f"ACK {concern.ack_code}", sender=ON_CALL)
    answered = time.monotonic()  # read by a worker, its answer queued
    at_the_ack = dict(live.twilio.messages)
    assert answer == [f"Acknowledged {concern.ack_code}. Escalation stopped. "
                      "Please follow up with the patient."]  # fmt: skip
    # The acknowledgement waited for the page already in flight (it holds a share lock
    # on the concern), so that page was accepted before the ACK committed ...
    assert answered - in_flight > HANG - 1.0
    # Olive's and Ben's first pages, and the one in flight (Alice's reply and the ACK's
    # answer go through the pipeline too, but are not pages).
    assert len([m for m in at_the_ack.values() if "URGENT" in m["body"]]) == 3

    # ... and the other page of the step, claimed with it, never goes out.
    wait_until(lambda: all(m.status in (SENT, CANCELLED) for m in page_rows(live.db)), 10,
               "the step's pages to settle")  # fmt: skip
    step = page_rows(live.db)[2:]
    assert sorted((m.status, m.status_reason or "") for m in step) == [
        (CANCELLED, "acknowledged"), (SENT, "")]  # fmt: skip
    [unsent] = [m for m in step if m.status == CANCELLED]
    [alert] = [a for a in alerts(live.db)[2:] if a[3] == unsent.recipient]
    assert alert[4] == "cancelled"

    # Afterwards: no escalation, no page to anyone; only Ben (paged earlier) is told who
    # took it.
    wait_is_over(live.db, concern.id)  # a stale wait changes nothing for an ACKed concern
    live.run_job("escalate_concerns")
    wait_until(lambda: live.texts_to(BACKUP)[-1].endswith("No action needed."), 10,
               "the notice to Ben")  # fmt: skip
    time.sleep(2.0)  # four dispatch ticks and the escalation job: nothing more
    after = [m for sid, m in live.twilio.messages.items()
             if sid not in at_the_ack and m["body"] not in answer and m["to"] != ALICE_PHONE]
    assert [(m["to"], m["body"]) for m in after] == [
        (BACKUP, f"Aftercare: {concern.ack_code} was acknowledged by Olive. No action needed.")]
    assert len(page_rows(live.db)) == 4
    concern = the_concern(live.db)
    assert (concern.status, concern.acknowledged_by) == ("acknowledged", cast.olive_id)


# -- 4. two acknowledgements at once -----------------------------------------------------


def test_two_simultaneous_acks_have_one_winner_whom_both_replies_name(
    live: LiveStack, cast: Cast
) -> None:
    live.text(FEVER)
    sent_to(live, ON_CALL, 1, "Olive's page")
    concern = the_concern(live.db)
    escalated(live, concern.id, BACKUP, 1, "Ben's page")
    code = concern.ack_code

    start = threading.Barrier(2)

    def ack(phone: str) -> list[str]:
        start.wait()
        return live.answer(f"ACK {code}", sender=phone)

    with ThreadPoolExecutor(2) as pool:
        futures = {phone: pool.submit(ack, phone) for phone in (ON_CALL, BACKUP)}
    replies = {phone: future.result(timeout=30) for phone, future in futures.items()}

    won = f"Acknowledged {code}. Escalation stopped. Please follow up with the patient."
    [winner] = [phone for phone, reply in replies.items() if reply == [won]]
    [loser] = [phone for phone in replies if phone != winner]
    name, staff_id = {ON_CALL: ("Olive", cast.olive_id), BACKUP: ("Ben", cast.ben_id)}[winner]
    assert replies[loser] == [f"{code} was already acknowledged by {name}."]
    concern = the_concern(live.db)
    assert (concern.status, concern.acknowledged_by) == ("acknowledged", staff_id)
    assert concern_actions(live.db).count("concern.acknowledge") == 1
    # The loser had been paged, so the notice tells him (or her) the same name.
    notice = f"Aftercare: {code} was acknowledged by {name}. No action needed."
    wait_until(lambda: notice in live.texts_to(loser), 10, "the notice to the other one")
    time.sleep(1.0)
    # (Each also got the answer to their ACK.)
    assert [t for t in live.texts_to(winner)[1:] if t not in replies[winner]] == []
    assert [t for t in live.texts_to(loser)[1:] if t not in replies[loser]] == [notice]


# -- 5. a check-in the carrier could not deliver -----------------------------------------


def test_a_check_in_reported_undelivered_30006_goes_by_email_and_opens_a_delivery_concern(
    live: LiveStack, cast: Cast
) -> None:
    summary = due_now(live.db, cast.enrollment_id, "discharge_summary")
    [sms] = sent_to(live, ALICE_PHONE, 1, "Alice's discharge summary")
    assert sms.startswith("Hi Alice")
    wait_until(lambda: recorded_sent(live.db, summary), 10, "the SMS to be recorded")
    [sid] = live.sids_to(ALICE_PHONE)

    assert live.twilio.send_status_callback(sid, "undelivered", 30006) == 200
    [email] = wait_until(lambda: live.emails_to(ALICE_EMAIL), 10, "the email fallback")
    assert "Riverside Ortho" in email.get_body(("plain",)).get_content()
    wait_until(lambda: recorded_sent(live.db, summary), 10, "the email to be recorded")
    assert messages(live.db, id=summary)[0].channel == "email"

    concern = the_concern(live.db)
    assert (concern.kind, concern.severity, concern.status) == ("delivery", "routine", "open")
    assert concern.patient_id == cast.alice_id
    assert "30006" in concern.summary and "email" in concern.summary
    time.sleep(1.0)
    # Routine: it waits in the clinic's queue and pages nobody; Alice is not texted again.
    assert page_rows(live.db) == [] and list(live.twilio.messages) == [sid]


# -- 6. loop protection never silences an emergency ---------------------------------------


def test_a_fourth_routine_text_in_the_hour_gets_no_reply_but_an_emergency_still_does(
    live: LiveStack, cast: Cast
) -> None:
    for body in ["is the swelling normal?", "can I go for a walk today?", "when can I shower?"]:
        assert len(live.answer(body)) == 1
    assert live.answer("does it usually bruise like this?") == []

    [reply] = live.answer("blood everywhere I am going to pass out")
    assert "911" in reply
    sent_to(live, ALICE_PHONE, 4, "the three routine replies and the emergency one")
    with live.db.sessions() as session:
        severity = session.scalars(select(Concern.severity).order_by(Concern.id.desc())).first()
    assert severity == "emergency"
    sent_to(live, ON_CALL, 1, "Olive's page about the emergency")
