"""The rota on its own: which shift is on call at an instant, in Chicago's time zone.

Olive works weekdays 08:00-18:00, Nate the weeknights 18:00-08:00, Wendy the weekends
round the clock, Hal the holidays. Overrides are for the week Olive is away.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import count
from zoneinfo import ZoneInfo

from reminders.oncall.models import OnCallShift
from reminders.oncall.rota import next_handover, resolve

CHICAGO = ZoneInfo("America/Chicago")
OLIVE, NATE, WENDY, HAL, SUB, SUB2 = 1, 2, 3, 4, 5, 6
_ids = count(1)
CREATED = datetime(2026, 1, 1, tzinfo=UTC)


def line(days: list[str], starts: str, ends: str, primary: int) -> OnCallShift:
    return OnCallShift(id=next(_ids), kind="rota", days=days, starts=time.fromisoformat(starts),
                       ends=time.fromisoformat(ends), primary_staff_id=primary,
                       backup_staff_id=None, created_at=CREATED, removed_at=None,
                       starts_at=None, ends_at=None)  # fmt: skip


def override(primary: int, starts: datetime, ends: datetime | None,
             created: datetime = CREATED) -> OnCallShift:  # fmt: skip
    return OnCallShift(id=next(_ids), kind="override", days=[], starts=None, ends=None,
                       starts_at=starts, ends_at=ends, primary_staff_id=primary,
                       backup_staff_id=None, created_at=created, removed_at=None)  # fmt: skip


WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]


def rota() -> list[OnCallShift]:
    return [
        line(WEEKDAYS, "08:00", "18:00", OLIVE),
        line(WEEKDAYS, "18:00", "08:00", NATE),  # Friday night runs into Saturday morning
        line(["sat", "sun"], "08:00", "08:00", WENDY),
        line(["holiday"], "08:00", "08:00", HAL),
    ]


def chicago(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=CHICAGO)


def who(shifts: list[OnCallShift], at: datetime, closed: set[date] | None = None) -> int | None:
    found = resolve(shifts, closed or set(), CHICAGO, at)
    return found.shift.primary_staff_id if found else None


def test_weekday_days_go_to_olive_and_nights_to_nate() -> None:
    shifts = rota()
    assert who(shifts, chicago(2026, 11, 18, 9)) == OLIVE  # a Wednesday morning
    assert who(shifts, chicago(2026, 11, 18, 17, 59)) == OLIVE
    assert who(shifts, chicago(2026, 11, 18, 18)) == NATE
    assert who(shifts, chicago(2026, 11, 19, 3)) == NATE  # Wednesday's night shift


def test_the_night_shift_belongs_to_the_day_it_starts() -> None:
    shifts = rota()
    found = resolve(shifts, set(), CHICAGO, chicago(2026, 11, 21, 6))  # Saturday 06:00
    assert found is not None and found.shift.primary_staff_id == NATE  # Friday night's
    assert found.starts_at == chicago(2026, 11, 20, 18).astimezone(UTC)
    assert found.ends_at == chicago(2026, 11, 21, 8).astimezone(UTC)
    assert who(shifts, chicago(2026, 11, 21, 8)) == WENDY
    assert who(shifts, chicago(2026, 11, 23, 7)) == WENDY  # Sunday's 24 hours, into Monday
    assert who(shifts, chicago(2026, 11, 23, 8)) == OLIVE


def test_on_a_closed_date_only_holiday_shifts_apply() -> None:
    thanksgiving = date(2026, 11, 26)
    shifts = rota()
    assert who(shifts, chicago(2026, 11, 26, 10), {thanksgiving}) == HAL
    assert who(shifts, chicago(2026, 11, 26, 20), {thanksgiving}) == HAL  # not Nate
    # Wednesday night's shift started the day before, so it still runs into the holiday.
    assert who(shifts, chicago(2026, 11, 26, 7), {thanksgiving}) == NATE
    assert who(shifts, chicago(2026, 11, 27, 7), {thanksgiving}) == HAL  # Hal's 24 hours
    assert who(shifts, chicago(2026, 11, 27, 9), {thanksgiving}) == OLIVE


def test_a_gap_in_the_rota_is_nobody() -> None:
    shifts = [line(WEEKDAYS, "08:00", "18:00", OLIVE)]
    assert who(shifts, chicago(2026, 11, 18, 20)) is None
    assert who(shifts, chicago(2026, 11, 21, 10)) is None  # Saturday


def test_spring_forward_and_fall_back_in_chicago_do_not_crash_or_lose_hours() -> None:
    night = [line(["sat"], "22:00", "06:00", NATE)]
    # 2026-03-08: clocks jump from 02:00 to 03:00. Saturday's night shift is 7 hours long.
    found = resolve(night, set(), CHICAGO, chicago(2026, 3, 8, 5))
    assert found is not None and found.shift.primary_staff_id == NATE
    assert found.ends_at is not None
    assert found.ends_at - found.starts_at == timedelta(hours=7)
    # 02:30 does not exist that morning: read with the offset before the change (03:30).
    gap = [line(["sun"], "02:30", "04:00", SUB)]
    assert who(gap, datetime(2026, 3, 8, 8, 15, tzinfo=UTC)) is None  # 03:15 CDT
    assert who(gap, datetime(2026, 3, 8, 8, 45, tzinfo=UTC)) == SUB  # 03:45 CDT
    # 01:30 happens twice on 2026-11-01: the first one counts.
    twice = [line(["sun"], "01:30", "03:00", SUB)]
    assert who(twice, datetime(2026, 11, 1, 6, 30, tzinfo=UTC)) == SUB  # 01:30 CDT
    # 2026-11-01: 01:00-02:00 happens twice. Saturday's night shift is 9 hours long.
    found = resolve(night, set(), CHICAGO, datetime(2026, 11, 1, 7, 30, tzinfo=UTC))
    assert found is not None and found.ends_at is not None
    assert found.ends_at - found.starts_at == timedelta(hours=9)


def test_an_override_wins_while_it_runs_then_the_rota_is_back() -> None:
    shifts = rota()
    away = override(SUB, chicago(2026, 11, 18, 12), chicago(2026, 11, 18, 15))
    shifts.append(away)
    before = resolve(shifts, set(), CHICAGO, chicago(2026, 11, 18, 9))
    assert before is not None and before.shift.primary_staff_id == OLIVE
    assert before.ends_at == chicago(2026, 11, 18, 12).astimezone(UTC)  # cut short
    assert who(shifts, chicago(2026, 11, 18, 13)) == SUB
    assert who(shifts, chicago(2026, 11, 18, 15)) == OLIVE
    away.removed_at = datetime(2026, 11, 18, 0, tzinfo=UTC)
    assert who(shifts, chicago(2026, 11, 18, 13)) == OLIVE  # a removed override is gone


def test_an_open_ended_override_runs_until_removed_and_the_newest_wins() -> None:
    shifts = rota()
    shifts.append(override(SUB, chicago(2026, 11, 18, 12), None))
    found = resolve(shifts, set(), CHICAGO, chicago(2026, 12, 25, 3))
    assert found is not None and found.shift.primary_staff_id == SUB and found.ends_at is None
    shifts.append(override(SUB2, chicago(2026, 11, 19, 0), chicago(2026, 11, 20, 0),
                           created=CREATED + timedelta(days=1)))  # fmt: skip
    assert who(shifts, chicago(2026, 11, 19, 10)) == SUB2
    assert who(shifts, chicago(2026, 11, 20, 10)) == SUB


def test_a_removed_rota_line_no_longer_applies() -> None:
    shifts = rota()
    shifts[0].removed_at = CREATED
    assert who(shifts, chicago(2026, 11, 18, 9)) is None


def test_the_next_handover_is_when_the_people_change() -> None:
    shifts = rota()
    when, taking = next_handover(shifts, set(), CHICAGO, chicago(2026, 11, 18, 9)) or (None, None)
    assert when == chicago(2026, 11, 18, 18).astimezone(UTC)
    assert taking is not None and taking.shift.primary_staff_id == NATE
    # Round the clock with the same person every day: no handover at midnight.
    always = [line([*WEEKDAYS, "sat", "sun"], "00:00", "00:00", OLIVE)]
    assert next_handover(always, set(), CHICAGO, chicago(2026, 11, 18, 9)) is None
