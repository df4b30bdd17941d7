"""The rota in the database: Olive is on call round the clock at Riverside (the shared
fixture); overrides, inactive staff, another clinic's staff, closed dates."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders.audit.models import AuditEvent
from reminders.clinics.models import Clinic, StaffMember
from reminders.enrollments.schemas import InputError
from reminders.enrollments.service import NotFound
from reminders.oncall import service
from reminders.oncall.models import OnCallShift


def member(session: Session, clinic: Clinic, name: str, email: str,
           phone: str | None = None, active: bool = True) -> StaffMember:  # fmt: skip
    person = StaffMember(clinic_id=clinic.id, name=name, email=email, phone=phone,
                         role="clinician", is_active=active)  # fmt: skip
    session.add(person)
    session.flush()
    return person


def errors_of(exc: pytest.ExceptionInfo[InputError]) -> dict[str, str]:
    return dict(exc.value.errors)


def test_olive_is_on_call_round_the_clock(
    session: Session, riverside: Clinic, now: datetime
) -> None:
    found = service.on_call(session=session, clinic=riverside, at=now)
    assert found is not None and found.primary.name == "Olive" and found.backup is None
    assert found.starts_at <= now < (found.ends_at or now)


def test_an_override_puts_sam_on_call_and_is_audited(
    session: Session, riverside: Clinic, now: datetime
) -> None:
    member(session, riverside, "Sam", "sam@riverside.test", "+13125550150")
    member(session, riverside, "Ben", "ben@riverside.test")
    shift = service.set_override(
        session=session, clinic=riverside, primary_email="SAM@riverside.test",
        backup_email="ben@riverside.test", starts_at=now, ends_at=now + timedelta(hours=4),
        actor="test",
    )  # fmt: skip
    found = service.on_call(session=session, clinic=riverside, at=now + timedelta(hours=1))
    assert found is not None and found.shift_id == shift.id
    assert found.primary.name == "Sam" and found.backup is not None and found.backup.name == "Ben"
    assert found.ends_at == now + timedelta(hours=4)
    after = service.on_call(session=session, clinic=riverside, at=now + timedelta(hours=5))
    assert after is not None and after.primary.name == "Olive"
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "oncall.override")).one()
    assert event.subject_id == shift.id and event.clinic_id == riverside.id


def test_an_inactive_primary_hands_over_to_the_backup_and_nobody_is_none(
    session: Session, riverside: Clinic, now: datetime
) -> None:
    shift = session.scalars(select(OnCallShift).where(OnCallShift.clinic_id == riverside.id)).one()
    ben = member(session, riverside, "Ben", "ben@riverside.test")
    shift.backup_staff_id = ben.id
    olive = session.get_one(StaffMember, shift.primary_staff_id)
    olive.is_active = False
    session.flush()
    found = service.on_call(session=session, clinic=riverside, at=now)
    assert found is not None and found.primary.name == "Ben" and found.backup is None
    ben.is_active = False
    session.flush()
    assert service.on_call(session=session, clinic=riverside, at=now) is None


def test_lakeside_staff_cannot_be_put_on_call_at_riverside(
    session: Session, riverside: Clinic, lakeside: Clinic, now: datetime
) -> None:
    member(session, lakeside, "Bob", "bob@lakeside.test")
    member(session, riverside, "Gone", "gone@riverside.test", active=False)
    with pytest.raises(InputError) as refused:
        service.set_override(session=session, clinic=riverside, primary_email="bob@lakeside.test",
                             backup_email="gone@riverside.test", starts_at=now,
                             ends_at=now - timedelta(hours=1), actor="test")  # fmt: skip
    errors = errors_of(refused)
    assert errors["primary"] == "is not an active staff member of this clinic"
    assert errors["backup"] == "is not an active staff member of this clinic"
    assert errors["until"] == "must be after the start"
    assert session.scalars(select(OnCallShift).where(OnCallShift.kind == "override")).all() == []


def test_shifts_are_added_validated_and_removed(
    session: Session, riverside: Clinic, lakeside: Clinic, now: datetime
) -> None:
    with pytest.raises(InputError) as refused:
        service.add_shift(session=session, clinic=riverside, days=["funday"], starts="25:00",
                          ends="08:00", primary_email="oncall@riverside.test",
                          actor="test")  # fmt: skip
    assert set(errors_of(refused)) == {"days", "starts"}
    line = service.add_shift(session=session, clinic=riverside, days=["sat", "mon"],
                             starts="20:00", ends="06:00", primary_email="oncall@riverside.test",
                             actor="test")  # fmt: skip
    assert line.days == ["mon", "sat"] and line.starts == time(20) and line.ends == time(6)
    with pytest.raises(NotFound):
        service.remove_shift(session=session, clinic=lakeside, shift_id=line.id, now=now,
                             actor="test")  # fmt: skip
    service.remove_shift(session=session, clinic=riverside, shift_id=line.id, now=now, actor="test")
    assert line.removed_at == now
    assert line not in service.list_shifts(session=session, clinic=riverside, now=now)


def test_a_closed_date_hands_the_day_to_the_holiday_shift(
    session: Session, riverside: Clinic, now: datetime
) -> None:
    hal = member(session, riverside, "Hal", "hal@riverside.test")
    service.add_shift(session=session, clinic=riverside, days=["holiday"], starts="00:00",
                      ends="00:00", primary_email=hal.email, actor="test")  # fmt: skip
    today = date(2026, 11, 20)  # NOW is 14:10 in Chicago on the 20th
    holiday = service.add_holiday(session=session, clinic=riverside, day=today.isoformat(),
                                  name="Staff day", actor="test")  # fmt: skip
    found = service.on_call(session=session, clinic=riverside, at=now)
    assert found is not None and found.primary.name == "Hal"
    with pytest.raises(InputError) as twice:
        service.add_holiday(session=session, clinic=riverside, day=today, actor="test")
    assert errors_of(twice) == {"day": "is already a closed date"}
    service.remove_holiday(session=session, clinic=riverside, holiday_id=holiday.id, actor="test")
    found = service.on_call(session=session, clinic=riverside, at=now)
    assert found is not None and found.primary.name == "Olive"


def test_a_clinic_without_a_rota_has_nobody(
    session: Session, lakeside: Clinic, now: datetime
) -> None:
    assert service.on_call(session=session, clinic=lakeside, at=now) is None
    assert service.on_call_json(None) == {"primary": None, "backup": None, "shift": None}
