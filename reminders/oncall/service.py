"""The on-call rota as the rest of the app uses it: who is on call now, and changing the
rota (shifts, overrides, closed dates), every change audited.

Pages go to staff members, never to free-text numbers: a shift names its primary and
backup by account, and only active members of the shift's own clinic are paged. When the
primary's account is inactive the backup stands in as primary; with neither left the
clinic has nobody on call (coverage.py turns that into a concern).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reminders import audit
from reminders.clinics.models import Clinic, StaffMember
from reminders.enrollments.schemas import InputError
from reminders.enrollments.service import NotFound
from reminders.oncall import rota
from reminders.oncall.models import HOLIDAY, WEEKDAYS, ClinicHoliday, OnCallShift

__all__ = ["OnCall", "add_holiday", "add_shift", "list_holidays", "list_shifts", "on_call",
           "on_call_many", "remove_holiday", "remove_shift", "set_override"]  # fmt: skip
from reminders.oncall.holidays import add_holiday, list_holidays, remove_holiday
from reminders.protocols.spec import SpecError, parse_time

# Closed dates are read this far around the instant asked about (rota.resolve looks two
# days back; next_handover two weeks ahead).
_HOLIDAYS_BEFORE, _HOLIDAYS_AFTER = timedelta(days=3), timedelta(days=16)


@dataclass(frozen=True)
class OnCall:
    primary: StaffMember
    backup: StaffMember | None
    starts_at: datetime
    ends_at: datetime | None
    shift_id: int


def on_call(*, session: Session, clinic: Clinic, at: datetime) -> OnCall | None:
    """Who is on call for ``clinic`` at ``at`` (see rota.py for the rules), or None."""
    return on_call_many(session=session, clinics=[clinic], at=at)[clinic.id]


def on_call_many(
    *, session: Session, clinics: Sequence[Clinic], at: datetime
) -> dict[int, OnCall | None]:
    """``on_call`` for several clinics with a handful of queries (for /healthz and the
    coverage job)."""
    ids = [c.id for c in clinics]
    shifts = _live_shifts(session, ids)
    closed = _closed_dates(session, ids, at)
    out: dict[int, OnCall | None] = {}
    staff_ids = {s.primary_staff_id for s in shifts} | {s.backup_staff_id for s in shifts}
    members = {
        m.id: m for m in session.scalars(
            select(StaffMember).where(StaffMember.id.in_([i for i in staff_ids if i]))
        )
    }  # fmt: skip
    for clinic in clinics:
        mine = [s for s in shifts if s.clinic_id == clinic.id]
        found = rota.resolve(mine, closed.get(clinic.id, set()), ZoneInfo(clinic.timezone), at)
        out[clinic.id] = _staffed(found, clinic, members) if found else None
    return out


def _staffed(found: rota.Active, clinic: Clinic, members: dict[int, StaffMember]) -> OnCall | None:
    def usable(staff_id: int | None) -> StaffMember | None:
        member = members.get(staff_id) if staff_id else None
        # A shift naming another clinic's member cannot happen through this module; if a
        # row says so anyway, that person is not paged about this clinic's patients.
        ok = member is not None and member.is_active and member.clinic_id == clinic.id
        return member if ok else None

    people = [p for p in (usable(found.shift.primary_staff_id),
                          usable(found.shift.backup_staff_id)) if p is not None]  # fmt: skip
    if not people:
        return None
    return OnCall(primary=people[0], backup=people[1] if len(people) > 1 else None,
                  starts_at=found.starts_at, ends_at=found.ends_at,
                  shift_id=found.shift.id)  # fmt: skip


def next_handover(
    *, session: Session, clinic: Clinic, at: datetime
) -> tuple[datetime, OnCall | None] | None:
    """When the people on call next change (within two weeks) and who takes over."""
    shifts = _live_shifts(session, [clinic.id])
    closed = _closed_dates(session, [clinic.id], at).get(clinic.id, set())
    found = rota.next_handover(shifts, closed, ZoneInfo(clinic.timezone), at)
    if found is None:
        return None
    when, taking = found
    if taking is None:
        return when, None
    ids = [i for i in (taking.shift.primary_staff_id, taking.shift.backup_staff_id) if i]
    members = {m.id: m for m in session.scalars(select(StaffMember).where(StaffMember.id.in_(ids)))}
    return when, _staffed(taking, clinic, members)


def _live_shifts(session: Session, clinic_ids: list[int]) -> list[OnCallShift]:
    return list(
        session.scalars(
            select(OnCallShift)
            .where(OnCallShift.clinic_id.in_(clinic_ids), OnCallShift.removed_at.is_(None))
            .order_by(OnCallShift.id)
        )
    )


def _closed_dates(session: Session, clinic_ids: list[int], at: datetime) -> dict[int, set[date]]:
    day = at.astimezone(UTC).date()
    rows = session.execute(
        select(ClinicHoliday.clinic_id, ClinicHoliday.day).where(
            ClinicHoliday.clinic_id.in_(clinic_ids),
            ClinicHoliday.day >= day - _HOLIDAYS_BEFORE, ClinicHoliday.day <= day + _HOLIDAYS_AFTER,
        )
    )  # fmt: skip
    out: dict[int, set[date]] = {}
    for clinic_id, closed in rows:
        out.setdefault(clinic_id, set()).add(closed)
    return out


# -- changing the rota ----------------------------------------------------------------


def list_shifts(*, session: Session, clinic: Clinic, now: datetime) -> list[OnCallShift]:
    """The rota lines, then overrides still running or to come (earliest first)."""
    shifts = _live_shifts(session, [clinic.id])
    lines = [s for s in shifts if s.kind == rota.ROTA]
    overrides = [s for s in shifts if s.kind == rota.OVERRIDE
                 and (s.ends_at is None or s.ends_at > now)]  # fmt: skip
    overrides.sort(key=lambda s: (s.starts_at or now, s.id))
    return lines + overrides


def _member(session: Session, clinic: Clinic, email: str, field: str,
            errors: list[tuple[str, str]]) -> StaffMember | None:  # fmt: skip
    wanted = email.strip().lower()
    if not wanted:
        errors.append((field, "is required"))
        return None
    member = session.scalars(
        select(StaffMember).where(
            StaffMember.clinic_id == clinic.id, func.lower(StaffMember.email) == wanted,
            StaffMember.is_active.is_(True),
        )
    ).first()  # fmt: skip
    if member is None:
        # The same words whether the address is unknown or another clinic's: accounts
        # elsewhere are not disclosed.
        errors.append((field, "is not an active staff member of this clinic"))
    return member


def _people(
    session: Session, clinic: Clinic, primary_email: str, backup_email: str | None,
    errors: list[tuple[str, str]],
) -> tuple[StaffMember | None, StaffMember | None]:  # fmt: skip
    primary = _member(session, clinic, primary_email, "primary", errors)
    backup = None
    if backup_email and backup_email.strip():
        backup = _member(session, clinic, backup_email, "backup", errors)
        if primary is not None and backup is not None and primary.id == backup.id:
            errors.append(("backup", "must be someone other than the primary"))
    return primary, backup


def set_override(
    *, session: Session, clinic: Clinic, primary_email: str, backup_email: str | None = None,
    starts_at: datetime, ends_at: datetime | None, actor: str, staff_id: int | None = None,
) -> OnCallShift:  # fmt: skip
    """A temporary shift that wins over the rota from ``starts_at`` until ``ends_at``
    (None: until removed). Both people must be active staff of this clinic."""
    errors: list[tuple[str, str]] = []
    primary, backup = _people(session, clinic, primary_email, backup_email, errors)
    if starts_at.tzinfo is None:
        errors.append(("from", "needs a time zone offset"))
    if ends_at is not None and ends_at.tzinfo is None:
        errors.append(("until", "needs a time zone offset"))
    elif ends_at is not None and starts_at.tzinfo is not None and ends_at <= starts_at:
        errors.append(("until", "must be after the start"))
    if errors or primary is None:
        raise InputError(errors)
    shift = OnCallShift(
        clinic_id=clinic.id, kind=rota.OVERRIDE, days=[], starts_at=starts_at.astimezone(UTC),
        ends_at=ends_at.astimezone(UTC) if ends_at else None, primary_staff_id=primary.id,
        backup_staff_id=backup.id if backup else None, created_by=staff_id,
        created_at=datetime.now(UTC),
    )  # fmt: skip
    session.add(shift)
    session.flush()
    _audit(session, clinic, actor, staff_id, "oncall.override", shift.id,
           starts_at=shift.starts_at.isoformat() if shift.starts_at else None,
           ends_at=shift.ends_at.isoformat() if shift.ends_at else None)  # fmt: skip
    return shift


def _clock(value: time | str, field: str, errors: list[tuple[str, str]]) -> time | None:
    if isinstance(value, time):
        return value
    try:
        return parse_time(value)
    except SpecError:
        errors.append((field, "use a 24-hour time like 08:00"))
        return None


def add_shift(
    *, session: Session, clinic: Clinic, days: Iterable[str], starts: time | str,
    ends: time | str, primary_email: str, backup_email: str | None = None, actor: str,
    staff_id: int | None = None,
) -> OnCallShift:  # fmt: skip
    """A repeating rota line: on each of ``days`` (weekday names or "holiday"), from
    ``starts`` to ``ends`` clinic time; an end at or before the start is a night shift."""
    errors: list[tuple[str, str]] = []
    picked = {d.strip().lower() for d in days if d.strip()}
    unknown = picked - {*WEEKDAYS, HOLIDAY}
    if not picked:
        errors.append(("days", "pick at least one day"))
    elif unknown:
        errors.append(("days", f"unknown day {sorted(unknown)[0]!r}; use mon..sun or holiday"))
    start, end = _clock(starts, "starts", errors), _clock(ends, "ends", errors)
    primary, backup = _people(session, clinic, primary_email, backup_email, errors)
    if errors or primary is None or start is None or end is None:
        raise InputError(errors)
    ordered = [d for d in (*WEEKDAYS, HOLIDAY) if d in picked]
    shift = OnCallShift(
        clinic_id=clinic.id, kind=rota.ROTA, days=ordered, starts=start, ends=end,
        primary_staff_id=primary.id, backup_staff_id=backup.id if backup else None,
        created_by=staff_id, created_at=datetime.now(UTC),
    )  # fmt: skip
    session.add(shift)
    session.flush()
    _audit(session, clinic, actor, staff_id, "oncall.shift_add", shift.id, days=ordered,
           starts=f"{start:%H:%M}", ends=f"{end:%H:%M}")  # fmt: skip
    return shift


def remove_shift(
    *, session: Session, clinic: Clinic, shift_id: int, now: datetime, actor: str,
    staff_id: int | None = None,
) -> OnCallShift:  # fmt: skip
    """Take a rota line or an override off the rota (kept, marked removed, for the record).
    NotFound for a shift of another clinic or one already removed."""
    shift = session.get(OnCallShift, shift_id)
    if shift is None or shift.clinic_id != clinic.id or shift.removed_at is not None:
        raise NotFound("no such shift")
    shift.removed_at = now
    session.flush()
    _audit(session, clinic, actor, staff_id, "oncall.shift_remove", shift.id, kind=shift.kind)
    return shift


def _audit(session: Session, clinic: Clinic, actor: str, staff_id: int | None, action: str,
           subject_id: int, **details: object) -> None:  # fmt: skip
    audit.record(session=session, clinic_id=clinic.id, actor=actor, staff_id=staff_id,
                 action=action, subject_type="oncall", subject_id=subject_id,
                 **details)  # fmt: skip


def person_json(member: StaffMember | None) -> dict[str, str | None] | None:
    """A staff member as the API and the CLI show them (no account details)."""
    if member is None:
        return None
    return {"email": member.email, "name": member.name, "phone": member.phone}


def on_call_json(found: OnCall | None) -> dict[str, object]:
    """``{"primary", "backup", "shift": {"from", "until"}}``; all null when nobody is."""
    if found is None:
        return {"primary": None, "backup": None, "shift": None}
    return {
        "primary": person_json(found.primary), "backup": person_json(found.backup),
        "shift": {"from": found.starts_at.isoformat(),
                  "until": found.ends_at.isoformat() if found.ends_at else None},
    }  # fmt: skip
