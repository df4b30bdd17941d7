"""Dispatchers racing over the same due messages never hand one out twice."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select

from reminders.clock import SimulatedClock
from reminders.delivery.dispatch import Claim, Limits, claim_due
from reminders.delivery.engine import dispatch_round, send_batch
from reminders.enrollments.models import SENT, ScheduledMessage
from tests.delivery.helpers import Db, add_patients, channels, make_clinic, make_sender, sent_to
from tests.fakes import FakeTwilio

N = 1000


def test_two_dispatchers_racing_on_1000_due_messages_send_each_once(
    db: Db, clock: SimulatedClock, twilio: FakeTwilio
) -> None:
    clinic = make_clinic(db, all_day=True)
    add_patients(db, clinic, N)
    claimed: dict[str, list[int]] = {"a": [], "b": []}
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def dispatcher(name: str) -> None:
        sender = make_sender(db, clock, channels(twilio), dispatch_batch_size=50)

        def submit(claims: list[Claim]) -> None:
            claimed[name].extend(c.message_id for c in claims)
            send_batch(sender, claims)

        try:
            start.wait()
            while dispatch_round(
                sessions=db.sessions, clock=clock, settings=sender.settings, submit=submit
            ):
                pass
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=dispatcher, args=(n,)) for n in claimed]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert claimed["a"] and claimed["b"], "both dispatchers should have claimed some"
    assert not set(claimed["a"]) & set(claimed["b"])
    assert len(claimed["a"]) + len(claimed["b"]) == N
    numbers = Counter(sent_to(twilio))
    assert len(numbers) == N and set(numbers.values()) == {1}
    with db.sessions() as session:
        statuses = dict(
            session.execute(
                select(ScheduledMessage.status, func.count()).group_by(ScheduledMessage.status)
            ).all()
        )
    assert statuses == {SENT: N}
    assert len(db.attempts()) == N


def test_claims_stop_at_the_in_flight_cap_and_per_sender_cap(db: Db, clock: SimulatedClock) -> None:
    busy = make_clinic(db)
    quiet = make_clinic(db, sms_from="+13125550200", name="Lakeside")
    add_patients(db, busy, 30)
    add_patients(db, quiet, 5, phone_start=3125552000)
    lease = timedelta(seconds=60)
    now = clock.now()

    with db.sessions() as session:
        first = claim_due(
            session=session, now=now, limit=100, lease=lease, limits=Limits(max_in_flight=12)
        )
    with db.sessions() as session:
        capped = claim_due(
            session=session, now=now, limit=100, lease=lease, limits=Limits(max_in_flight=12)
        )
    assert (len(first), capped) == (12, [])

    # 12 of the busy clinic are in flight: a cap of 15 per sender lets 3 more of it
    # through, and the same claim looks again and fills up with the other clinic's.
    with db.sessions() as session:
        more = claim_due(
            session=session, now=now, limit=8, lease=lease, limits=Limits(per_sender=15)
        )
        again = claim_due(
            session=session, now=now, limit=100, lease=lease, limits=Limits(per_sender=15)
        )
    with db.sessions() as session:
        by_clinic = Counter(
            session.scalars(
                select(ScheduledMessage.clinic_id).where(ScheduledMessage.status == "claimed")
            )
        )
    assert (len(more), len(again)) == (8, 0)
    assert by_clinic == {busy.id: 15, quiet.id: 5}

    # Leases that ran out (their worker died) come back first, ahead of pending ones.
    with db.sessions() as session:
        expired = claim_due(session=session, now=now + lease * 2, limit=20, lease=lease)
    held = {c.message_id for c in [*first, *more, *again]}
    assert {c.message_id for c in expired} == held
