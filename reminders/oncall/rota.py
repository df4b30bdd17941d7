"""Who is on call at an instant, worked out from the rota alone (no database here).

The rules:

- An ``override`` (``starts_at`` ≤ t < ``ends_at``, UTC; no end = open-ended; removed =
  gone) wins over the rota while it runs; among overlapping overrides the newest
  (created last) wins.
- Otherwise a ``rota`` shift applies on each clinic-local day named in ``days``, from
  ``starts`` to ``ends`` on the clinic's wall clock; an end at or before the start runs
  past midnight into the next day, and the shift belongs to the day it starts on. On a
  closed date (a ClinicHoliday) only ``holiday`` shifts apply, weekday shifts do not.
- When two rota shifts cover the same instant, the one that started last wins: a day
  shift laid over a round-the-clock line takes over for its hours, then hands back.

Wall-clock times become instants through zoneinfo with ``fold=0``: a time that does not
exist (the spring-forward gap) is read with the offset before the change, a time that
happens twice (fall back) as its first occurrence. Neither ever raises, and a night
shift across a change simply lasts an hour more or less.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from reminders.oncall.models import HOLIDAY, WEEKDAYS

ROTA, OVERRIDE = "rota", "override"
# Rota shifts last at most a day (25 hours on a fall-back day), so an instant can only be
# inside a shift that started today or yesterday; two days back is a safe margin.
_LOOKBACK_DAYS = 2


class ShiftLike(Protocol):
    """What the rota reads of a shift (an OnCallShift row, or any look-alike)."""

    id: int
    kind: str
    days: list[str]
    starts: time | None
    ends: time | None
    starts_at: datetime | None
    ends_at: datetime | None
    primary_staff_id: int
    backup_staff_id: int | None
    created_at: datetime
    removed_at: datetime | None


@dataclass(frozen=True)
class Active:
    """The shift running at an instant and the span it runs for (``until`` None: open)."""

    shift: ShiftLike
    starts_at: datetime
    ends_at: datetime | None


def wall_to_utc(day: date, at: time, tz: ZoneInfo) -> datetime:
    """``day`` at ``at`` on the clinic's wall clock, as a UTC instant (never raises)."""
    return datetime.combine(day, at, tzinfo=tz).replace(fold=0).astimezone(UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def occurrence(shift: ShiftLike, day: date, tz: ZoneInfo) -> tuple[datetime, datetime] | None:
    """The instants a rota shift starting on local ``day`` runs between, or None when the
    shift has no times."""
    if shift.starts is None or shift.ends is None:
        return None
    end_day = day + timedelta(days=1) if shift.ends <= shift.starts else day
    return wall_to_utc(day, shift.starts, tz), wall_to_utc(end_day, shift.ends, tz)


def applies_on(shift: ShiftLike, day: date, closed: Collection[date]) -> bool:
    """Whether a rota shift runs on local ``day``: holiday shifts on closed dates only,
    weekday shifts on their weekdays except closed dates."""
    days = shift.days or []
    if day in closed:
        return HOLIDAY in days
    return WEEKDAYS[day.weekday()] in days


def _live(shift: ShiftLike) -> bool:
    return shift.removed_at is None


def _override_at(shifts: Iterable[ShiftLike], at: datetime) -> ShiftLike | None:
    running = [
        s for s in shifts
        if s.kind == OVERRIDE and _live(s) and s.starts_at is not None
        and _aware(s.starts_at) <= at and (s.ends_at is None or at < _aware(s.ends_at))
    ]  # fmt: skip
    return max(running, key=lambda s: (_aware(s.created_at), s.id), default=None)


def _rota_at(
    shifts: Iterable[ShiftLike], closed: Collection[date], tz: ZoneInfo, at: datetime
) -> Active | None:
    today = at.astimezone(tz).date()
    best: Active | None = None
    for shift in shifts:
        if shift.kind != ROTA or not _live(shift):
            continue
        for back in range(_LOOKBACK_DAYS, -1, -1):
            day = today - timedelta(days=back)
            span = occurrence(shift, day, tz) if applies_on(shift, day, closed) else None
            if span is None or not span[0] <= at < span[1]:
                continue
            if best is None or (span[0], shift.id) > (best.starts_at, best.shift.id):
                best = Active(shift, span[0], span[1])
    return best


def resolve(
    shifts: Sequence[ShiftLike], closed: Collection[date], tz: ZoneInfo, at: datetime
) -> Active | None:
    """The shift on call at ``at`` with the span it covers, or None when nobody is.

    ``ends_at`` is cut short where another shift will take over first (an override
    starting during a rota shift, a newer override starting during an older one).
    """
    at = _aware(at).astimezone(UTC)
    found = _pick(shifts, closed, tz, at)
    if found is None:
        return None
    until = found.ends_at
    # The rota never beats an override, so only other overrides can cut one short.
    rota_too = found.shift.kind == ROTA
    for boundary in _boundaries(shifts, closed, tz, at, until, rota_too=rota_too):
        winner = _pick(shifts, closed, tz, boundary)
        if winner is None or winner.shift.id != found.shift.id:
            until = boundary
            break
    return Active(found.shift, found.starts_at, until)


def _pick(
    shifts: Sequence[ShiftLike], closed: Collection[date], tz: ZoneInfo, at: datetime
) -> Active | None:
    override = _override_at(shifts, at)
    if override is not None and override.starts_at is not None:
        ends = _aware(override.ends_at) if override.ends_at is not None else None
        return Active(override, _aware(override.starts_at), ends)
    return _rota_at(shifts, closed, tz, at)


def _boundaries(
    shifts: Sequence[ShiftLike], closed: Collection[date], tz: ZoneInfo, after: datetime,
    before: datetime | None, *, rota_too: bool = True,
) -> list[datetime]:  # fmt: skip
    """Every instant in (after, before) where a shift starts or ends (overrides only,
    without ``rota_too``)."""
    horizon = before or after + timedelta(days=366)
    found: set[datetime] = set()
    for shift in shifts:
        if not _live(shift):
            continue
        if shift.kind == OVERRIDE:
            for edge in (shift.starts_at, shift.ends_at):
                if edge is not None and after < _aware(edge) < horizon:
                    found.add(_aware(edge))
            continue
        if not rota_too or before is None:
            continue
        first = after.astimezone(tz).date() - timedelta(days=1)
        last = horizon.astimezone(tz).date()
        day = first
        while day <= last:
            span = occurrence(shift, day, tz) if applies_on(shift, day, closed) else None
            if span is not None:
                for edge in span:
                    if after < edge < horizon:
                        found.add(edge)
            day += timedelta(days=1)
    return sorted(found)


def next_handover(
    shifts: Sequence[ShiftLike], closed: Collection[date], tz: ZoneInfo, at: datetime,
    horizon: timedelta = timedelta(days=14),
) -> tuple[datetime, Active | None] | None:  # fmt: skip
    """When the people on call next change after ``at`` (within ``horizon``), and who
    takes over (None: nobody); None when nothing changes in that time.

    A change of shift that keeps the same primary and backup is not a handover.
    """
    at = _aware(at).astimezone(UTC)
    current = _pick(shifts, closed, tz, at)
    people = _people(current)
    for boundary in _boundaries(shifts, closed, tz, at, at + horizon):
        taking = _pick(shifts, closed, tz, boundary)
        if _people(taking) != people:
            return boundary, taking
    return None


def _people(active: Active | None) -> tuple[int, int | None] | None:
    if active is None:
        return None
    return active.shift.primary_staff_id, active.shift.backup_staff_id
