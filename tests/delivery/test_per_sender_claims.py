"""Claims sized to what each number can send: Riverside's toll-free number (3 a second)
may hold three times the claims of Lakeside's long code (the deployment's 1 a second),
and neither ever holds more than half a lease's worth at its own rate."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from reminders.clinics.models import Clinic as ClinicRow
from reminders.clock import SimulatedClock
from reminders.delivery.dispatch import Claim, Limits, claim_due
from reminders.delivery.engine import dispatch_round, limits
from reminders.enrollments.models import CLAIMED, SENT, ScheduledMessage
from tests.delivery.helpers import Db, add_patients, make_clinic, settings_for

LEASE = 60  # seconds: at 1/s half a lease is 30 claims, at 3/s 90


def claimed_by_clinic(db: Db) -> Counter[int]:
    with db.sessions() as session:
        query = select(ScheduledMessage.clinic_id).where(ScheduledMessage.status == CLAIMED)
        return Counter(session.scalars(query))


def set_rate(db: Db, clinic_id: int, rate: float | None) -> None:
    with db.sessions() as session:
        session.get_one(ClinicRow, clinic_id).sms_rate_per_second = rate


def test_a_toll_free_clinic_gets_a_larger_cap_than_a_long_code(
    db: Db, clock: SimulatedClock
) -> None:
    riverside = make_clinic(db, sms_from="+18005550100")
    lakeside = make_clinic(db, sms_from="+12125550100", name="Lakeside Spine")
    set_rate(db, riverside.id, 3.0)  # toll-free; Lakeside keeps the deployment's 1/s
    settings = settings_for(str(db.engine.url), sms_rate_per_second=1,
                            claim_lease_seconds=LEASE, dispatch_batch_size=500)  # fmt: skip

    with db.sessions() as session:
        caps = limits(settings, session=session)
    assert caps.cap_for(riverside.id) == 90 and caps.cap_for(lakeside.id) == 30
    assert caps.per_clinic == {riverside.id: 90}  # one small query: only clinics with a rate

    add_patients(db, riverside, 120)
    add_patients(db, lakeside, 120, phone_start=2125552000)
    claims: list[Claim] = []
    assert dispatch_round(sessions=db.sessions, clock=clock, settings=settings,
                          submit=claims.extend) == 120  # fmt: skip
    assert claimed_by_clinic(db) == {riverside.id: 90, lakeside.id: 30}

    # Both are at their caps: the next round claims nothing more of either.
    assert dispatch_round(sessions=db.sessions, clock=clock, settings=settings,
                          submit=claims.extend) == 0  # fmt: skip

    # Ten of Riverside's go out: ten more of Riverside's may be claimed, none of Lakeside's.
    with db.sessions() as session:
        query = select(ScheduledMessage).where(
            ScheduledMessage.clinic_id == riverside.id, ScheduledMessage.status == CLAIMED
        )
        for message in session.scalars(query.limit(10)):
            message.status = SENT
    assert dispatch_round(sessions=db.sessions, clock=clock, settings=settings,
                          submit=claims.extend) == 10  # fmt: skip
    assert claimed_by_clinic(db) == {riverside.id: 90, lakeside.id: 30}


def test_claims_never_exceed_a_clinics_cap_whatever_the_batch(
    db: Db, clock: SimulatedClock
) -> None:
    riverside = make_clinic(db, sms_from="+18005550100")
    lakeside = make_clinic(db, sms_from="+12125550100", name="Lakeside Spine")
    add_patients(db, riverside, 40)
    add_patients(db, lakeside, 40, phone_start=2125552000)
    caps = Limits(per_sender=6, per_clinic={riverside.id: 15})
    lease = timedelta(seconds=LEASE)

    # Small slices, as several dispatchers would take them: the caps hold across rounds.
    for _ in range(10):
        with db.sessions() as session:
            claim_due(session=session, now=clock.now(), limit=4, lease=lease, limits=caps)
        by_clinic = claimed_by_clinic(db)
        assert by_clinic[riverside.id] <= 15 and by_clinic[lakeside.id] <= 6
    assert claimed_by_clinic(db) == {riverside.id: 15, lakeside.id: 6}


def test_a_clinic_back_on_the_default_rate_gets_the_default_cap(
    db: Db, clock: SimulatedClock
) -> None:
    riverside = make_clinic(db, sms_from="+18005550100")
    settings = settings_for(str(db.engine.url), sms_rate_per_second=1, claim_lease_seconds=LEASE)
    set_rate(db, riverside.id, 100.0)  # a short code
    with db.sessions() as session:
        assert limits(settings, session=session).cap_for(riverside.id) == 3000
    set_rate(db, riverside.id, None)
    with db.sessions() as session:
        assert limits(settings, session=session).cap_for(riverside.id) == 30
    # A deployment that sends without a limiter caps no one, whatever the clinic says.
    unlimited = settings_for(str(db.engine.url), sms_rate_per_second=0)
    set_rate(db, riverside.id, 3.0)
    with db.sessions() as session:
        found = limits(unlimited, session=session)
    assert found.cap_for(riverside.id) is None and not found.capped
