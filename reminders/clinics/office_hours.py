"""Office hours: when someone answers the clinic phone, as opposed to quiet hours.

A clinic keeps a weekly pattern, ``{"mon": ["08:00", "17:00"], ...}`` in its own time
zone (a weekday that is absent is closed), plus its closed dates (ClinicHoliday rows).
The rule: the office is open at an instant when, read on the clinic's wall clock, that
day is not a closed date and the time falls in that weekday's span, opening time
included, closing time excluded. Spans never cross midnight (validate refuses a close
at or before the open), so a night is simply "closed".

This is not the send window (reminders.clinics.service.send_window): that one says when
a non-urgent text may go out; this one says whether "call us now" reaches a person.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Mapping
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders.clinics.models import Clinic
from reminders.enrollments.schemas import InputError
from reminders.oncall.models import WEEKDAYS, ClinicHoliday

log = logging.getLogger(__name__)
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def _clock(value: object) -> time | None:
    match = _HHMM.match(value.strip()) if isinstance(value, str) else None
    return time(int(match[1]), int(match[2])) if match else None


def _span(value: object) -> tuple[time, time] | None:
    """A weekday's [open, close] as times; None for a closed day or a span we cannot read."""
    if not isinstance(value, list | tuple) or len(value) != 2:
        return None
    opens, closes = _clock(value[0]), _clock(value[1])
    if opens is None or closes is None or closes <= opens:
        return None
    return opens, closes


def local(at: datetime, tz: ZoneInfo) -> datetime:
    """``at`` on the clinic's wall clock; a naive instant is read as UTC (as stored)."""
    return (at if at.tzinfo is not None else at.replace(tzinfo=UTC)).astimezone(tz)


def is_open(hours: Mapping[str, Any], closed: Collection[date], tz: ZoneInfo, at: datetime) -> bool:
    """Whether the office is open at ``at``: not a closed date (the clinic's local date)
    and inside that weekday's span. Converting the instant to the zone first makes it
    DST-safe: 08:30 is 08:30 on the wall clock whatever the UTC offset that day.

    A day whose stored span cannot be read counts as closed: the after-hours wording
    ("the on-call clinician has been paged") is the safe one to fall back on.
    """
    wall = local(at, tz)
    if wall.date() in closed:
        return False
    value = hours.get(WEEKDAYS[wall.weekday()])
    span = _span(value)
    if span is None:
        if value:
            log.warning("unreadable office hours for %s; treating the day as closed",
                        WEEKDAYS[wall.weekday()])  # fmt: skip
        return False
    opens, closes = span
    return opens <= wall.time() < closes


def validate(hours: Mapping[str, Any]) -> dict[str, list[str]]:
    """The weekly pattern, checked and normalised (weekday order, "HH:MM"; closed days
    left out), or InputError naming each bad field, like ``office_hours.mon``.

    A day may be given as ``[open, close]`` or as null / an empty list (closed).
    """
    if not isinstance(hours, Mapping):
        raise InputError([("office_hours", "must map weekdays to [open, close]")])
    errors: list[tuple[str, str]] = []
    clean: dict[str, list[str]] = {}
    for key in hours:
        if key not in WEEKDAYS:
            errors.append((f"office_hours.{key}",
                           f"is not a weekday (use {', '.join(WEEKDAYS)})"))  # fmt: skip
    for day in WEEKDAYS:
        value = hours.get(day)
        if value is None or value == [] or value == ():
            continue  # closed that day
        field = f"office_hours.{day}"
        if not isinstance(value, list | tuple) or len(value) != 2:
            errors.append((field, "must be [open, close], like [\"08:00\", \"17:00\"]"))
            continue
        opens, closes = _clock(value[0]), _clock(value[1])
        if opens is None or closes is None:
            errors.append((field, "must be HH:MM"))
        elif closes <= opens:
            errors.append((field, "close must be after open"))
        else:
            clean[day] = [opens.strftime("%H:%M"), closes.strftime("%H:%M")]
    if errors:
        raise InputError(errors)
    return clean


def office_open(*, session: Session, clinic: Clinic, at: datetime) -> bool:
    """Whether ``clinic``'s office is open at ``at``: its weekly pattern and closed dates."""
    tz = ZoneInfo(clinic.timezone)
    today = local(at, tz).date()
    closed = set(
        session.scalars(
            select(ClinicHoliday.day).where(
                ClinicHoliday.clinic_id == clinic.id, ClinicHoliday.day == today
            )
        )
    )
    return is_open(clinic.office_hours or {}, closed, tz, at)
