"""A sending process keeps many provider requests in flight, and loses none of its care.

Riverside and Lakeside each send from their own number; the fake Twilio answers every
create after 150 ms (Twilio's own latency). Exactly once, the claim fencing and each
number's rate limit hold with 8 requests in flight.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from itertools import pairwise

import pytest

from reminders.clock import SimulatedClock
from reminders.delivery.ratelimit import LocalRateLimiter
from tests.delivery.helpers import (
    T0,
    Db,
    add_patients,
    channels,
    creates,
    make_clinic,
    make_sender,
    send_all,
    sent_to,
)
from tests.fakes import FakeTwilio

LAKESIDE_NUMBER = "+12125550100"


@pytest.fixture
def slow_twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio(latency=0.15, jitter=0.03) as fake:
        yield fake


def test_forty_messages_go_out_once_each_with_eight_requests_in_flight(
    db: Db, slow_twilio: FakeTwilio
) -> None:
    riverside = make_clinic(db)
    lakeside = make_clinic(db, sms_from=LAKESIDE_NUMBER, name="Lakeside Spine")
    ids = add_patients(db, riverside, 20) + add_patients(db, lakeside, 20, phone_start=2125551000)
    sender = make_sender(db, SimulatedClock(T0), channels(slow_twilio), provider_concurrency=8)
    try:
        outcomes = send_all(sender)
    finally:
        sender.close()
    assert sorted(o.message_id for o in outcomes if o.result == "sent") == sorted(ids)
    assert len(sent_to(slow_twilio)) == len(set(sent_to(slow_twilio))) == 40
    assert slow_twilio.max_in_flight == 8
    attempts = db.attempts()
    assert len(attempts) == 40 and {a.status for a in attempts} == {"accepted"}
    assert {a.provider_id for a in attempts} == set(slow_twilio.messages)


def test_each_number_keeps_its_spacing_with_many_requests_in_flight(
    db: Db, slow_twilio: FakeTwilio
) -> None:
    """At 10 a second per number, no two creates from one number arrive closer than
    100 ms (less 5 ms of clock slack), while the two numbers interleave."""
    riverside = make_clinic(db)
    lakeside = make_clinic(db, sms_from=LAKESIDE_NUMBER, name="Lakeside Spine")
    add_patients(db, riverside, 12)
    add_patients(db, lakeside, 12, phone_start=2125551000)
    sender = make_sender(db, SimulatedClock(T0), channels(slow_twilio),
                         rate_limiter=LocalRateLimiter(10), provider_concurrency=8)  # fmt: skip
    try:
        send_all(sender)
    finally:
        sender.close()
    arrivals: dict[str, list[float]] = defaultdict(list)
    for request in creates(slow_twilio):
        arrivals[str(request["params"]["From"])].append(float(request["t"]))  # type: ignore[index]
    assert {k: len(v) for k, v in arrivals.items()} == {riverside.sms_from: 12,
                                                         LAKESIDE_NUMBER: 12}  # fmt: skip
    for stamps in arrivals.values():
        stamps.sort()
        assert min(b - a for a, b in pairwise(stamps)) >= 0.095
    # Interleaved: both numbers were sending during the same second.
    first_done = min(max(stamps) for stamps in arrivals.values())
    assert all(min(stamps) < first_done for stamps in arrivals.values())
