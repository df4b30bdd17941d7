"""The timeline maths, zone by zone, across every kind of DST transition."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reminders.protocols.spec import Facts, parse_step
from reminders.scheduling import (
    Anchors,
    SendWindow,
    defer_to_window,
    local_instant,
    occurrence_instants,
    plan,
)

NY, LONDON = ZoneInfo("America/New_York"), ZoneInfo("Europe/London")
LORD_HOWE, KOLKATA = ZoneInfo("Australia/Lord_Howe"), ZoneInfo("Asia/Kolkata")
CHICAGO = ZoneInfo("America/Chicago")
WINDOW = SendWindow(time(8, 0), time(20, 0))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def step(**fields: object):
    return parse_step({"key": "check", "expires": "12h", **fields})


class TestLocalInstant:
    @pytest.mark.parametrize(
        ("zone", "day", "at", "expected_utc", "expected_local"),
        [
            # Spring-forward gaps: the missing time moves forward by the gap's length.
            (NY, (2026, 3, 8), time(2, 30), utc(2026, 3, 8, 7, 30), time(3, 30)),
            (LONDON, (2026, 3, 29), time(1, 30), utc(2026, 3, 29, 1, 30), time(2, 30)),
            # Lord Howe springs forward by only 30 minutes (02:00 → 02:30).
            (LORD_HOWE, (2026, 10, 4), time(2, 15), utc(2026, 10, 3, 15, 45), time(2, 45)),
            # Fall-back overlaps: the first (earlier, summer-time) occurrence.
            (NY, (2026, 11, 1), time(1, 30), utc(2026, 11, 1, 5, 30), time(1, 30)),
            (LONDON, (2026, 10, 25), time(1, 30), utc(2026, 10, 25, 0, 30), time(1, 30)),
            (LORD_HOWE, (2026, 4, 5), time(1, 45), utc(2026, 4, 4, 14, 45), time(1, 45)),
            # No DST at all.
            (KOLKATA, (2026, 3, 8), time(9, 0), utc(2026, 3, 8, 3, 30), time(9, 0)),
        ],
    )
    def test_transitions(self, zone, day, at, expected_utc, expected_local) -> None:
        from datetime import date

        instant = local_instant(date(*day), at, zone)
        assert instant == expected_utc
        assert instant.astimezone(zone).time() == expected_local

    def test_overlap_picks_the_earlier_of_the_two_instants(self) -> None:
        from datetime import date

        first = local_instant(date(2026, 11, 1), time(1, 30), NY)
        second = datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=NY).astimezone(UTC)
        assert second - first == timedelta(hours=1)


class TestOccurrences:
    def test_elapsed_offsets_are_real_hours_across_spring_forward(self) -> None:
        performed = datetime(2026, 3, 7, 23, 30, tzinfo=NY)  # EST, 2.5 h before the gap
        [numbness] = occurrence_instants(step(when="4h"), Anchors(performed.astimezone(UTC), NY))
        assert numbness - performed == timedelta(hours=4)
        assert numbness.astimezone(NY).time() == time(4, 30)  # 04:30 EDT: the clock jumped

    def test_elapsed_offsets_are_real_hours_across_fall_back(self) -> None:
        performed = datetime(2026, 10, 31, 23, 0, tzinfo=NY)
        [at] = occurrence_instants(step(when="4h"), Anchors(performed.astimezone(UTC), NY))
        assert at - performed == timedelta(hours=4)
        assert at.astimezone(NY).time() == time(2, 0)  # 02:00 EST, clock went back an hour

    def test_daily_wall_clock_keeps_local_time_across_dst(self) -> None:
        performed = datetime(2026, 3, 6, 14, 0, tzinfo=NY).astimezone(UTC)
        glucose = step(when="day 1 at 09:00", repeat="daily for 3 days")
        instants = occurrence_instants(glucose, Anchors(performed, NY))
        assert [i.astimezone(NY).strftime("%m-%d %H:%M %Z") for i in instants] == [
            "03-07 09:00 EST",
            "03-08 09:00 EDT",
            "03-09 09:00 EDT",
        ]
        assert instants[1] - instants[0] == timedelta(hours=23)

    def test_daily_elapsed_adds_whole_days_of_24_hours(self) -> None:
        performed = datetime(2026, 3, 7, 12, 0, tzinfo=NY).astimezone(UTC)
        flare = step(when="24h", repeat="every 24h for 2 times")
        first, second = occurrence_instants(flare, Anchors(performed, NY))
        assert first - performed == timedelta(hours=24)
        assert second - first == timedelta(hours=24)
        assert second.astimezone(NY).time() == time(13, 0)  # one hour "later" after DST

    def test_day_zero_is_the_local_date_not_the_utc_date(self) -> None:
        # 19:00 in Chicago is already tomorrow in UTC; "day 1" is still tomorrow locally.
        performed = datetime(2026, 11, 20, 19, 0, tzinfo=CHICAGO).astimezone(UTC)
        [at] = occurrence_instants(step(when="day 1 at 09:00"), Anchors(performed, CHICAGO))
        assert at.astimezone(CHICAGO) == datetime(2026, 11, 21, 9, 0, tzinfo=CHICAGO)

    def test_visit_relative_steps(self) -> None:
        performed = datetime(2026, 11, 20, 14, 10, tzinfo=CHICAGO).astimezone(UTC)
        visit = datetime(2026, 12, 4, 10, 30, tzinfo=CHICAGO).astimezone(UTC)
        anchors = Anchors(performed, CHICAGO, follow_up_at=visit)
        [evening] = occurrence_instants(step(when="visit -1 day at 18:00"), anchors)
        [shortly] = occurrence_instants(step(when="visit -2h"), anchors)
        assert evening.astimezone(CHICAGO) == datetime(2026, 12, 3, 18, 0, tzinfo=CHICAGO)
        assert visit - shortly == timedelta(hours=2)

    def test_visit_relative_steps_vanish_without_a_visit(self) -> None:
        performed = datetime(2026, 11, 20, 20, 10, tzinfo=UTC)
        assert occurrence_instants(step(when="visit -1 day at 18:00"), Anchors(performed, NY)) == []


class TestSendWindow:
    def test_evening_message_moves_to_next_morning(self) -> None:
        late = datetime(2026, 11, 20, 21, 30, tzinfo=NY).astimezone(UTC)
        assert defer_to_window(late, NY, WINDOW).astimezone(NY) == datetime(
            2026, 11, 21, 8, 0, tzinfo=NY
        )

    def test_early_message_moves_to_the_same_morning(self) -> None:
        early = datetime(2026, 11, 20, 6, 0, tzinfo=NY).astimezone(UTC)
        assert defer_to_window(early, NY, WINDOW).astimezone(NY) == datetime(
            2026, 11, 20, 8, 0, tzinfo=NY
        )

    def test_day_and_hour_come_from_one_local_clock(self) -> None:
        # 23:30 New York is 04:30 UTC the next day: the next opening is 08:00 local
        # on the 21st, not on the 22nd (which mixing the UTC date in would give).
        late = datetime(2026, 11, 20, 23, 30, tzinfo=NY).astimezone(UTC)
        assert late.date().day == 21
        assert defer_to_window(late, NY, WINDOW).astimezone(NY).date().day == 21

    def test_instant_inside_window_is_unchanged(self) -> None:
        noon = datetime(2026, 11, 20, 12, 0, tzinfo=KOLKATA).astimezone(UTC)
        assert defer_to_window(noon, KOLKATA, WINDOW) == noon

    def test_window_closing_edge_is_quiet(self) -> None:
        closing = datetime(2026, 11, 20, 20, 0, tzinfo=LONDON).astimezone(UTC)
        assert defer_to_window(closing, LONDON, WINDOW).astimezone(LONDON).hour == 8

    def test_window_over_midnight(self) -> None:
        night_shift = SendWindow(time(20, 0), time(6, 0))
        assert night_shift.allows(time(23, 0)) and night_shift.allows(time(5, 59))
        assert not night_shift.allows(time(12, 0))

    def test_opening_inside_a_dst_gap(self) -> None:
        odd = SendWindow(time(2, 30), time(20, 0))
        night = datetime(2026, 3, 8, 1, 0, tzinfo=NY).astimezone(UTC)
        opened = defer_to_window(night, NY, odd)
        assert opened.astimezone(NY).time() == time(3, 30)


def _plan(
    steps,
    *,
    performed: datetime,
    now: datetime,
    tz=CHICAGO,
    facts=None,
    visit=None,
    channels=frozenset({"sms"}),
):
    return plan(
        steps,
        facts=facts or Facts(),
        anchors=Anchors(performed, tz, visit),
        window=WINDOW,
        preferred_channel="sms",
        available_channels=channels,
        now=now,
    )


class TestPlan:
    performed = datetime(2026, 11, 20, 14, 10, tzinfo=CHICAGO).astimezone(UTC)

    def test_late_enrollment_skips_expired_steps_but_sends_time_critical_ones_late(self) -> None:
        steps = [
            step(key="discharge", when="0m", expires="6h", time_critical=True),
            step(key="numbness", when="4h", expires="4h"),
            step(key="infection", when="day 3 at 10:00"),
        ]
        now = self.performed + timedelta(days=2)
        discharge, numbness, infection = _plan(steps, performed=self.performed, now=now)
        assert (discharge.status, discharge.reason) == ("pending", "late_time_critical")
        assert (discharge.due_at, discharge.expires_at) == (now, now + timedelta(hours=6))
        assert (numbness.status, numbness.reason) == ("skipped", "expired_before_enrollment")
        assert infection.status == "pending"

    def test_a_late_time_critical_step_is_not_sent_by_a_re_plan_days_later(self) -> None:
        steps = [step(key="discharge", when="0m", expires="6h", time_critical=True)]
        enrolled = self.performed + timedelta(days=2)
        [discharge] = plan(steps, facts=Facts(), anchors=Anchors(self.performed, CHICAGO),
                           window=WINDOW, preferred_channel="sms",
                           available_channels=frozenset({"sms"}),
                           now=enrolled + timedelta(days=1), enrolled_at=enrolled)  # fmt: skip
        assert (discharge.status, discharge.reason) == ("skipped", "expired_before_enrollment")

    def test_late_but_not_expired_is_due_now(self) -> None:
        steps = [step(key="numbness", when="4h", expires="4h")]
        now = self.performed + timedelta(hours=5)  # 19:10 local, inside the window
        [numbness] = _plan(steps, performed=self.performed, now=now)
        assert numbness.due_at == now and numbness.status == "pending"

    def test_quiet_hours_defer_non_critical_but_not_critical(self) -> None:
        steps = [
            step(key="numbness", when="7h", expires="18h"),
            step(key="urgent_info", when="7h", time_critical=True),
        ]
        numbness, urgent = sorted(
            _plan(steps, performed=self.performed, now=self.performed), key=lambda p: p.step_key
        )
        assert urgent.due_at.astimezone(CHICAGO).time() == time(21, 10)
        assert numbness.due_at.astimezone(CHICAGO) == datetime(2026, 11, 21, 8, tzinfo=CHICAGO)

    def test_deferral_past_expiry_is_skipped(self) -> None:
        steps = [step(key="numbness", when="7h", expires="4h")]
        [numbness] = _plan(steps, performed=self.performed, now=self.performed)
        assert (numbness.status, numbness.reason) == ("skipped", "quiet_hours_past_expiry")

    def test_conditions_pick_steps_for_the_patient(self) -> None:
        glucose = step(
            key="glucose",
            when="day 1 at 09:00",
            condition="has:diabetes",
            repeat="daily for 3 days",
        )
        diabetic = Facts(conditions=frozenset({"diabetes"}))
        assert (
            len(_plan([glucose], performed=self.performed, now=self.performed, facts=diabetic)) == 3
        )
        assert _plan([glucose], performed=self.performed, now=self.performed) == []

    def test_channel_falls_back_when_preferred_has_no_address(self) -> None:
        [item] = _plan(
            [step(when="day 1 at 10:00")],
            performed=self.performed,
            now=self.performed,
            channels=frozenset({"email"}),
        )
        assert item.channel == "email"

    def test_no_channel_at_all_is_skipped(self) -> None:
        [item] = _plan(
            [step(when="day 1 at 10:00")],
            performed=self.performed,
            now=self.performed,
            channels=frozenset(),
        )
        assert item.reason == "no_contact_for_channel"

    def test_plan_is_sorted_by_due_time(self) -> None:
        steps = [step(key="bb", when="day 2 at 10:00"), step(key="aa", when="1h")]
        assert [p.step_key for p in _plan(steps, performed=self.performed, now=self.performed)] == [
            "aa",
            "bb",
        ]


ZONES = [NY, LONDON, LORD_HOWE, KOLKATA, CHICAGO, ZoneInfo("Pacific/Auckland")]


@settings(max_examples=300, deadline=None)
@given(
    performed=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
    ),
    zone=st.sampled_from(ZONES),
    hour=st.integers(0, 23),
    day=st.integers(0, 14),
    offset_hours=st.integers(0, 72),
)
def test_plan_invariants_hold_in_every_zone(performed, zone, hour, day, offset_hours) -> None:
    steps = [
        step(key="wall", when=f"day {day} at {hour:02d}:00", expires="2d"),
        step(key="elapsed", when=f"{offset_hours}h", expires="2d"),
        step(key="critical", when=f"{offset_hours}h", expires="2d", time_critical=True),
    ]
    for item in _plan(steps, performed=performed, now=performed, tz=zone):
        assert item.due_at >= item.planned_at
        if item.status == "pending" and not item.time_critical:
            assert WINDOW.allows(item.due_at.astimezone(zone).time())
        if item.step_key == "critical":
            assert item.due_at == item.planned_at == performed + timedelta(hours=offset_hours)
        if item.step_key == "wall":
            local = item.planned_at.astimezone(zone)
            # The wall-clock hour holds unless it fell into a DST gap (then it is later).
            assert local.hour == hour or local.replace(tzinfo=None) > local.replace(
                hour=hour, minute=0, tzinfo=None
            )
