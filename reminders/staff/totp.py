"""The optional second factor: a TOTP authenticator app (RFC 6238, 30 s steps, 6 digits).

Enrolment shows a fresh secret (and its ``otpauth://`` URI) and keeps it unconfirmed until
a code from the app matches: a secret typed in wrong never locks anyone out. A code from
the step before or after the current one is accepted (phone clocks drift), and each step
is accepted once: ``last_step`` only moves forward, in a conditional UPDATE, so a code
seen over a shoulder, or submitted twice at once, never signs in a second time.

A clinic can require it of its admins (``Clinic.require_admin_totp``); an admin without
one is then held on the set-up page (``must_set_up``, checked in ``sessions.resolve``).
"""

from __future__ import annotations

import hmac
import re
from datetime import datetime

import pyotp
from sqlalchemy import delete, or_, update
from sqlalchemy.orm import Session

from reminders import audit
from reminders.clinics.models import Clinic, StaffMember
from reminders.enrollments.schemas import InputError
from reminders.staff.models import StaffTotp

STEP_SECONDS = 30
DRIFT_STEPS = 1
ISSUER = "Aftercare"
_CODE = re.compile(r"^\d{6}$")


def get(*, session: Session, staff_id: int) -> StaffTotp | None:
    return session.get(StaffTotp, staff_id)


def enabled(*, session: Session, staff_id: int) -> bool:
    row = get(session=session, staff_id=staff_id)
    return row is not None and row.confirmed_at is not None


def required(staff: StaffMember, clinic: Clinic) -> bool:
    return clinic.require_admin_totp and staff.role == "admin"


def must_set_up(*, session: Session, staff: StaffMember, clinic: Clinic) -> bool:
    """An admin of a clinic that requires TOTP, who has none confirmed yet."""
    return required(staff, clinic) and not enabled(session=session, staff_id=staff.id)


def begin(*, session: Session, staff: StaffMember, now: datetime, fresh: bool = False) -> StaffTotp:
    """The unconfirmed enrolment, started now if there is none (``fresh``: a new secret)."""
    row = get(session=session, staff_id=staff.id)
    if row is not None and row.confirmed_at is not None:
        raise InputError([("code", "is already set up; turn it off first to change phones")])
    if row is None:
        row = StaffTotp(staff_id=staff.id, secret=pyotp.random_base32(), created_at=now)
        session.add(row)
    elif fresh:
        row.secret, row.created_at = pyotp.random_base32(), now
    session.flush()
    return row


def provisioning_uri(row: StaffTotp, staff: StaffMember, clinic: Clinic) -> str:
    """The ``otpauth://`` link an authenticator app reads (typed, tapped or scanned)."""
    issuer = f"{ISSUER} {clinic.name}"
    return pyotp.TOTP(row.secret).provisioning_uri(name=staff.email, issuer_name=issuer)


def grouped(secret: str) -> str:
    """The secret in groups of four, as people type it into an app."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _matching_step(secret: str, code: str, now: datetime, after: int | None) -> int | None:
    """The time step ``code`` belongs to (within the allowed drift), if later than ``after``."""
    code = code.replace(" ", "").replace("-", "")
    if not _CODE.match(code):
        return None
    totp, current = pyotp.TOTP(secret), int(now.timestamp()) // STEP_SECONDS
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        # Every candidate is compared (no early exit): timing says nothing about which.
        if hmac.compare_digest(totp.generate_otp(step), code) and (after is None or step > after):
            found = step
    return found


def confirm(*, session: Session, staff: StaffMember, code: str, now: datetime) -> StaffTotp:
    """Turn the enrolment on once the app's code matches; audited."""
    row = get(session=session, staff_id=staff.id)
    if row is None or row.confirmed_at is not None:
        raise InputError([("code", "has no set-up in progress; start again")])
    step = _matching_step(row.secret, code, now, None)
    if step is None:
        raise InputError([("code", "does not match; type the 6 digits your app shows now")])
    row.confirmed_at, row.last_step = now, step
    audit.record(
        session=session, clinic_id=staff.clinic_id, actor=f"staff:{staff.id}", staff_id=staff.id,
        action="account.totp_enabled", subject_type="staff", subject_id=staff.id,
    )  # fmt: skip
    return row


def check(*, session: Session, staff: StaffMember, code: str, now: datetime) -> bool:
    """A sign-in code: right, in time, and never used before (claimed atomically)."""
    row = get(session=session, staff_id=staff.id)
    if row is None or row.confirmed_at is None:
        return False
    step = _matching_step(row.secret, code, now, row.last_step)
    if step is None:
        return False
    t = StaffTotp
    claimed = session.execute(
        update(t)
        .where(t.staff_id == staff.id, or_(t.last_step.is_(None), t.last_step < step))
        .values(last_step=step)
        .execution_options(synchronize_session=False)
    )
    session.expire(row)
    return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]


def disable(*, session: Session, staff: StaffMember, actor: StaffMember) -> bool:
    """Remove the authenticator (the member's own choice, or an admin's for a lost phone).

    Refused for an admin whose clinic requires it: they would only be sent to set it up.
    """
    if actor.id == staff.id and required(staff, session.get_one(Clinic, staff.clinic_id)):
        raise InputError([("code", "is required for admins at this clinic")])
    gone = session.execute(delete(StaffTotp).where(StaffTotp.staff_id == staff.id))
    if not gone.rowcount:  # type: ignore[attr-defined]
        return False
    audit.record(
        session=session, clinic_id=staff.clinic_id, actor=f"staff:{actor.id}", staff_id=actor.id,
        action="account.totp_disabled", subject_type="staff", subject_id=staff.id,
    )  # fmt: skip
    return True
