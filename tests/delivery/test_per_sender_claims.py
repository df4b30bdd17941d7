"""Claims sized to what each number can send: Riverside's toll-free number (3 a second)
may hold three times the claims of Lakeside's long code (the deployment's 1 a second),
and neither holds more than two dispatch ticks' worth at its own rate (engine._lease_worth)."""

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

LEASE = 60  # seconds; with the 5 s dispatch tick: 10 claims at 1/s, 30 at 3/s


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
    assert caps.cap_for(riverside.id) == 30 and caps.cap_for(lakeside.id) == 10
    assert caps.per_clinic == {riverside.id: 30}  # one small query: only clinics with a rate

    add_patients(db, riverside, 120)
    add_patients(db, lakeside, 120, phone_start=2125552000)
    claims: list[Claim] = []
    assert dispatch_round(sessions=db.sessions, clock=clock, settings=settings,
                          submit=claims.extend) == 40  # fmt: skip
    assert claimed_by_clinic(db) == {riverside.id: 30, lakeside.id: 10}

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
    assert claimed_by_clinic(db) == {riverside.id: 30, lakeside.id: 10}


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
        assert limits(settings, session=session).cap_for(riverside.id) == 1000
    set_rate(db, riverside.id, None)
    with db.sessions() as session:
        assert limits(settings, session=session).cap_for(riverside.id) == 10
    # A deployment that sends without a limiter caps no one, whatever the clinic says.
    unlimited = settings_for(str(db.engine.url), sms_rate_per_second=0)
    set_rate(db, riverside.id, 3.0)
    with db.sessions() as session:
        found = limits(unlimited, session=session)
    assert found.cap_for(riverside.id) is None and not found.capped


def test_a_claim_mixes_numbers_so_no_batch_is_one_rate_limited_sender(
    db: Db, clock: SimulatedClock
) -> None:
    """Riverside's ten are due before Lakeside's ten; the claim hands them out alternately,
    so any batch cut from it keeps both numbers busy."""
    riverside = make_clinic(db, sms_from="+18005550100")
    lakeside = make_clinic(db, sms_from="+12125550100", name="Lakeside Spine")
    add_patients(db, riverside, 10)
    add_patients(db, lakeside, 10, phone_start=2125552000,
                 due_at=clock.now() - timedelta(seconds=1))  # fmt: skip
    with db.sessions() as session:
        claims = claim_due(session=session, now=clock.now(), limit=20,
                           lease=timedelta(seconds=LEASE))  # fmt: skip
        clinic = {m.id: m.clinic_id for m in session.scalars(select(ScheduledMessage))}
    order = [clinic[c.message_id] for c in claims]
    assert order == [lakeside.id, riverside.id] * 10
