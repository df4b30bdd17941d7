"""A clinic's closed dates: office hours do not apply on them, holiday shifts do (and
weekday shifts do not). Adding and removing one is audited."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders import audit
from reminders.clinics.models import Clinic
from reminders.enrollments.schemas import InputError
from reminders.enrollments.service import NotFound
from reminders.oncall.models import ClinicHoliday


def list_holidays(
    *, session: Session, clinic: Clinic, since: date | None = None
) -> list[ClinicHoliday]:
    query = select(ClinicHoliday).where(ClinicHoliday.clinic_id == clinic.id)
    if since is not None:
        query = query.where(ClinicHoliday.day >= since)
    return list(session.scalars(query.order_by(ClinicHoliday.day)))


def add_holiday(
    *, session: Session, clinic: Clinic, day: date | str, name: str = "", actor: str,
    staff_id: int | None = None,
) -> ClinicHoliday:  # fmt: skip
    """Mark a date closed: office hours do not apply, holiday shifts do."""
    errors: list[tuple[str, str]] = []
    if isinstance(day, str):
        try:
            day = date.fromisoformat(day.strip())
        except ValueError:
            errors.append(("day", "is not a date like 2026-12-25"))
    if len(name.strip()) > 100:
        errors.append(("name", "must be at most 100 characters"))
    if not errors and isinstance(day, date) and session.scalar(
        select(ClinicHoliday.id).where(ClinicHoliday.clinic_id == clinic.id,
                                       ClinicHoliday.day == day)
    ):  # fmt: skip
        errors.append(("day", "is already a closed date"))
    if errors or not isinstance(day, date):
        raise InputError(errors)
    holiday = ClinicHoliday(clinic_id=clinic.id, day=day, name=name.strip())
    session.add(holiday)
    session.flush()
    _audit(session, clinic, actor, staff_id, "oncall.holiday_add", holiday.id, day=day.isoformat())
    return holiday


def remove_holiday(
    *, session: Session, clinic: Clinic, holiday_id: int, actor: str, staff_id: int | None = None
) -> None:
    holiday = session.get(ClinicHoliday, holiday_id)
    if holiday is None or holiday.clinic_id != clinic.id:
        raise NotFound("no such closed date")
    day = holiday.day.isoformat()
    session.delete(holiday)
    session.flush()
    _audit(session, clinic, actor, staff_id, "oncall.holiday_remove", holiday_id, day=day)


def _audit(session: Session, clinic: Clinic, actor: str, staff_id: int | None, action: str,
           subject_id: int, **details: object) -> None:  # fmt: skip
    audit.record(session=session, clinic_id=clinic.id, actor=actor, staff_id=staff_id,
                 action=action, subject_type="clinic_holiday", subject_id=subject_id,
                 **details)  # fmt: skip
