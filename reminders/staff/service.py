"""Staff members: create, hash and check passwords, lock an account after repeated failures.

Passwords are hashed with argon2id (argon2-cffi's defaults follow RFC 9106's low-memory
profile). Lockout lives on the row (``failed_logins``/``locked_until``) so it holds
across web processes; per-IP throttling is in :mod:`reminders.staff.throttle`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reminders import audit
from reminders.clinics.models import Clinic, StaffMember
from reminders.enrollments.schemas import InputError, normalize_phone

ROLES = ("admin", "coordinator", "clinician")
MAX_FAILURES = 5
LOCK_FOR = timedelta(minutes=15)
MIN_PASSWORD = 12
_EMAIL = re.compile(r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s\x00]+$")
_hasher = PasswordHasher()  # argon2id
# Verified when the email is unknown, so a miss costs as long as a wrong password and
# response time does not reveal which addresses have accounts.
_DUMMY_HASH = _hasher.hash("not-a-real-password-000")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def check_password_rules(password: str) -> str | None:
    """Why a new password is refused, or None. Length beats composition rules (NIST 800-63B)."""
    if len(password) < MIN_PASSWORD:
        return f"must be at least {MIN_PASSWORD} characters"
    if len(password) > 256:
        return "must be at most 256 characters"
    return None


def create_staff(
    *,
    session: Session,
    clinic_id: int,
    email: str,
    role: str,
    password: str,
    name: str = "",
    phone: str | None = None,
    actor: str = "cli",
    staff_id: int | None = None,
) -> StaffMember:
    errors: list[tuple[str, str]] = []
    email = email.strip().lower()
    if not _EMAIL.match(email) or len(email) > 200:
        errors.append(("email", "is not an email address"))
    elif session.scalar(select(StaffMember.id).where(func.lower(StaffMember.email) == email)):
        errors.append(("email", "already has an account"))
    if role not in ROLES:
        errors.append(("role", f"must be one of {', '.join(ROLES)}"))
    if (problem := check_password_rules(password)) is not None:
        errors.append(("password", problem))
    if session.get(Clinic, clinic_id) is None:
        errors.append(("clinic", f"no clinic with id {clinic_id}"))
    try:
        phone = normalize_phone(phone) if phone else None
    except ValueError as exc:
        errors.append(("phone", str(exc)))
    if len(name) > 200:
        errors.append(("name", "must be at most 200 characters"))
    if errors:
        raise InputError(errors)
    member = StaffMember(
        clinic_id=clinic_id, email=email, name=name.strip(), role=role, phone=phone,
        password_hash=hash_password(password),
    )  # fmt: skip
    session.add(member)
    session.flush()
    audit.record(
        session=session, clinic_id=clinic_id, actor=actor, staff_id=staff_id,
        action="staff.create", subject_type="staff", subject_id=member.id, role=role,
    )  # fmt: skip
    return member


@dataclass(frozen=True)
class SignIn:
    staff: StaffMember | None
    locked: bool = False


def authenticate(*, session: Session, email: str, password: str, now: datetime) -> SignIn:
    """Check credentials; count failures and lock the account after ``MAX_FAILURES``.

    A locked account refuses even the right password until ``locked_until``; attempts
    during the lock do not extend it (otherwise anyone could keep a nurse locked out).
    """
    email = email.replace("\x00", "").strip().lower()[:200]
    member = session.scalar(select(StaffMember).where(func.lower(StaffMember.email) == email))
    if member is None or not member.is_active:
        verify_password(None, password)
        return SignIn(None)
    if member.locked_until is not None and member.locked_until > now:
        return SignIn(None, locked=True)
    if not verify_password(member.password_hash, password):
        member.failed_logins += 1
        locked = member.failed_logins >= MAX_FAILURES
        if locked:
            member.locked_until = now + LOCK_FOR
            member.failed_logins = 0
        audit.record(
            session=session, clinic_id=member.clinic_id, actor="anonymous",
            action="auth.locked" if locked else "auth.failed", subject_type="staff",
            subject_id=member.id,
        )  # fmt: skip
        return SignIn(None, locked=locked)
    member.failed_logins = 0
    member.locked_until = None
    if member.password_hash and _hasher.check_needs_rehash(member.password_hash):
        member.password_hash = hash_password(password)
    return SignIn(member)


def list_staff(*, session: Session, clinic_id: int) -> list[StaffMember]:
    query = select(StaffMember).where(StaffMember.clinic_id == clinic_id)
    return list(session.scalars(query.order_by(StaffMember.email)))


def get_staff(*, session: Session, clinic_id: int, staff_id: int) -> StaffMember | None:
    member = session.get(StaffMember, staff_id)
    return member if member is not None and member.clinic_id == clinic_id else None


def update_staff(
    *,
    session: Session,
    member: StaffMember,
    actor: StaffMember,
    role: str | None = None,
    active: bool | None = None,
    unlock: bool = False,
) -> StaffMember:
    """Change a colleague's role or access. Admins cannot demote or deactivate themselves,
    so a clinic is never left without anyone who can manage staff by accident."""
    changes: dict[str, object] = {}
    if role is not None and role != member.role:
        if role not in ROLES:
            raise InputError([("role", f"must be one of {', '.join(ROLES)}")])
        if member.id == actor.id:
            raise InputError([("role", "you cannot change your own role")])
        changes["role"] = role
        member.role = role
    if active is not None and active != member.is_active:
        if member.id == actor.id:
            raise InputError([("active", "you cannot deactivate yourself")])
        changes["active"] = active
        member.is_active = active
    if unlock and member.locked_until is not None:
        changes["unlocked"] = True
        member.locked_until = None
        member.failed_logins = 0
    if changes:
        audit.record(
            session=session, clinic_id=member.clinic_id, actor=f"staff:{actor.id}",
            staff_id=actor.id, action="staff.update", subject_type="staff",
            subject_id=member.id, **changes,
        )  # fmt: skip
    return member
