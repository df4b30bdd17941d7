"""Office hours: when "call us now" reaches a person, as opposed to the quiet-hours window.

Riverside Ortho (Chicago) answers its phone 08:00-17:00, Monday to Friday, unless the
date is one of its closed dates. Alice's injection was on Friday 20 November 2026 at
14:10; on Sunday she texts about a fever.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from reminders.clinics.models import DEFAULT_OFFICE_HOURS, Clinic
from reminders.clinics.office_hours import is_open, office_open, validate
from reminders.conversations.service import Handled, receive_sms
from reminders.enrollments.models import Enrollment
from reminders.enrollments.schemas import InputError
from reminders.oncall.models import ClinicHoliday
from tests.conversations.conftest import ALICE_PHONE, RIVERSIDE_NUMBER

CHICAGO = ZoneInfo("America/Chicago")
EVERY_DAY = {day: ["08:00", "17:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
_sid = iter(range(10_000))


def chicago(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=CHICAGO).astimezone(UTC)


def text(session: Session, at: datetime, body: str) -> Handled:
    return receive_sms(session=session, now=at, message_sid=f"SMo{next(_sid):031d}",
                       sender=ALICE_PHONE, to=RIVERSIDE_NUMBER, body=body)  # fmt: skip


# -- the pure rule -------------------------------------------------------------------------


def test_weekdays_nine_to_five_opening_included_closing_excluded() -> None:
    assert is_open(DEFAULT_OFFICE_HOURS, (), CHICAGO, chicago(2026, 11, 23, 8, 0))  # Monday
    assert is_open(DEFAULT_OFFICE_HOURS, (), CHICAGO, chicago(2026, 11, 23, 16, 59))
    assert not is_open(DEFAULT_OFFICE_HOURS, (), CHICAGO, chicago(2026, 11, 23, 17, 0))
    assert not is_open(DEFAULT_OFFICE_HOURS, (), CHICAGO, chicago(2026, 11, 23, 7, 59))
    assert not is_open(DEFAULT_OFFICE_HOURS, (), CHICAGO, chicago(2026, 11, 22, 10, 0))  # Sunday


def test_a_closed_date_is_read_on_the_clinics_calendar_not_utcs() -> None:
    late_hours = {"mon": ["06:00", "23:00"], "tue": ["06:00", "23:00"]}
    monday_night = chicago(2026, 11, 23, 21, 30)  # already Tuesday 03:30 in UTC
    assert monday_night.date() == date(2026, 11, 24)
    assert not is_open(late_hours, {date(2026, 11, 23)}, CHICAGO, monday_night)
    assert is_open(late_hours, {date(2026, 11, 24)}, CHICAGO, monday_night)


def test_the_wall_clock_holds_across_daylight_saving_changes() -> None:
    # 13:30 UTC is 07:30 in Chicago on the Saturday before the spring change (CST) and
    # 08:30 on the Sunday it happens (CDT); the other way round in the autumn.
    assert not is_open(EVERY_DAY, (), CHICAGO, datetime(2026, 3, 7, 13, 30, tzinfo=UTC))
    assert is_open(EVERY_DAY, (), CHICAGO, datetime(2026, 3, 8, 13, 30, tzinfo=UTC))
    assert is_open(EVERY_DAY, (), CHICAGO, datetime(2026, 10, 31, 13, 30, tzinfo=UTC))
    assert not is_open(EVERY_DAY, (), CHICAGO, datetime(2026, 11, 1, 13, 30, tzinfo=UTC))


def test_a_day_we_cannot_read_counts_as_closed() -> None:
    broken = {"mon": ["nine", "five"], "tue": ["17:00", "08:00"]}
    assert not is_open(broken, (), CHICAGO, chicago(2026, 11, 23, 10))
    assert not is_open(broken, (), CHICAGO, chicago(2026, 11, 24, 10))


def test_validate_normalises_and_leaves_closed_days_out() -> None:
    assert validate({"mon": ["8:00", "17:30"], "sat": None, "sun": []}) == {
        "mon": ["08:00", "17:30"]
    }


@pytest.mark.parametrize(
    ("hours", "field", "message"),
    [
        ({"mon": ["17:00", "08:00"]}, "office_hours.mon", "close must be after open"),
        ({"tue": ["09:00", "09:00"]}, "office_hours.tue", "close must be after open"),
        ({"wed": ["9am", "5pm"]}, "office_hours.wed", "must be HH:MM"),
        ({"thu": ["24:00", "25:00"]}, "office_hours.thu", "must be HH:MM"),
        ({"fri": "08:00-17:00"}, "office_hours.fri", "must be [open, close]"),
        ({"funday": ["08:00", "17:00"]}, "office_hours.funday", "is not a weekday"),
    ],
)
def test_validate_names_the_field_that_is_wrong(
    hours: dict[str, object], field: str, message: str
) -> None:
    with pytest.raises(InputError) as caught:
        validate(hours)
    [(named, said)] = caught.value.errors
    assert named == field and said.startswith(message)


def test_office_open_reads_the_clinics_own_hours_and_closed_dates(
    session: Session, riverside: Clinic, lakeside: Clinic
) -> None:
    thanksgiving = chicago(2026, 11, 26, 10)
    assert office_open(session=session, clinic=riverside, at=thanksgiving)
    session.add(ClinicHoliday(clinic_id=riverside.id, day=date(2026, 11, 26), name="Thanksgiving"))
    session.flush()
    assert not office_open(session=session, clinic=riverside, at=thanksgiving)
    # Lakeside's calendar is its own: Riverside's holiday does not close it.
    assert office_open(session=session, clinic=lakeside, at=thanksgiving)
    riverside.office_hours = {"sat": ["09:00", "12:00"]}
    assert office_open(session=session, clinic=riverside, at=chicago(2026, 11, 28, 9, 30))


# -- the wording Alice gets ----------------------------------------------------------------


def test_a_sunday_fever_gets_the_after_hours_wording_not_call_us_now(
    session: Session, alice: Enrollment
) -> None:
    sunday = chicago(2026, 11, 22, 10, 0)  # inside the send window, but the office is closed
    [reply] = text(session, sunday, "I have a fever of 101").replies
    assert "closed" in reply and "on-call clinician has been paged" in reply
    assert "call us" not in reply.lower() and "312-555-0100" not in reply
    assert "911" in reply


def test_a_weekday_morning_fever_is_told_to_call_the_clinic_now(
    session: Session, alice: Enrollment
) -> None:
    monday = chicago(2026, 11, 23, 10, 0)
    [reply] = text(session, monday, "I have a fever of 101").replies
    assert "312-555-0100 now" in reply and "closed" not in reply


def test_a_closed_date_and_the_evening_after_five_are_after_hours_too(
    session: Session, riverside: Clinic, alice: Enrollment
) -> None:
    session.add(ClinicHoliday(clinic_id=riverside.id, day=date(2026, 11, 26), name="Thanksgiving"))
    session.flush()
    [holiday] = text(session, chicago(2026, 11, 26, 10), "I have a fever of 101").replies
    assert "on-call clinician has been paged" in holiday
    # 18:00 on a Friday: still inside the send window (08:00-20:00), after office hours.
    evening = chicago(2026, 11, 27, 18) + timedelta(minutes=5)
    [after_five] = text(session, evening, "my wound is bleeding a lot").replies
    assert "on-call clinician has been paged" in after_five


def test_lucia_gets_the_after_hours_wording_in_spanish(
    session: Session, riverside: Clinic, now: datetime
) -> None:
    from tests.conversations.conftest import BOB_PHONE, enroll

    enroll(session, riverside, now, patient={
        "external_id": "R-4004", "given_name": "Lucía", "phone": BOB_PHONE,
        "timezone": "America/Chicago", "language": "es"})  # fmt: skip
    sunday = chicago(2026, 11, 22, 10, 0)
    [reply] = receive_sms(session=session, now=sunday, message_sid=f"SMo{next(_sid):031d}",
                          sender=BOB_PHONE, to=RIVERSIDE_NUMBER,
                          body="tengo fiebre y la herida está roja").replies  # fmt: skip
    assert "cerrada" in reply and "guardia" in reply and "911" in reply
