"""Staff members: create, hash and check passwords, lock an account after repeated failures.

Passwords are hashed with argon2id (argon2-cffi's defaults follow RFC 9106's low-memory
profile). Lockout lives on the row (``failed_logins``/``locked_until``) so it holds
across web processes; per-IP throttling is in :mod:`reminders.staff.throttle`.
"""

from __future__ import annotations

import hmac
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
from reminders.staff import sessions, totp

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
    needs_code: bool = False  # the password was right; the authenticator code comes next


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
    if is_locked(member, now):
        return SignIn(None, locked=True)
    if not verify_password(member.password_hash, password):
        return SignIn(None, locked=record_failure(session=session, member=member, now=now))
    if member.password_hash and _hasher.check_needs_rehash(member.password_hash):
        member.password_hash = hash_password(password)
    if totp.enabled(session=session, staff_id=member.id):
        # Half-way: the count of failures goes on until the code is right too, so guessing
        # codes cannot be reset by typing the (known) password again.
        return SignIn(member, needs_code=True)
    signed_in(member)
    return SignIn(member)


def is_locked(member: StaffMember, now: datetime) -> bool:
    return member.locked_until is not None and member.locked_until > now


def signed_in(member: StaffMember) -> None:
    """Every factor was right: the failure count starts again."""
    member.failed_logins = 0
    member.locked_until = None


def record_failure(
    *, session: Session, member: StaffMember, now: datetime, action: str = "auth.failed"
) -> bool:
    """Count a wrong password or code; lock the account at ``MAX_FAILURES``. Audited;
    True when this failure locked it."""
    member.failed_logins += 1
    locked = member.failed_logins >= MAX_FAILURES
    if locked:
        member.locked_until = now + LOCK_FOR
        member.failed_logins = 0
    audit.record(
        session=session, clinic_id=member.clinic_id, actor="anonymous",
        action="auth.locked" if locked else action, subject_type="staff",
        subject_id=member.id,
    )  # fmt: skip
    return locked


def check_code(*, session: Session, member: StaffMember, code: str, now: datetime) -> SignIn:
    """The second step of a sign-in: the authenticator code, counted like a password."""
    if not member.is_active:
        return SignIn(None)
    if is_locked(member, now):
        return SignIn(None, locked=True)
    if not totp.check(session=session, staff=member, code=code, now=now):
        locked = record_failure(session=session, member=member, now=now,
                                action="auth.totp_failed")  # fmt: skip
        return SignIn(None, locked=locked)
    signed_in(member)
    return SignIn(member)


def confirm_password(*, session: Session, member: StaffMember, password: str, now: datetime,
                     action: str) -> bool:  # fmt: skip
    """A signed-in member retypes their password before a sensitive change; a wrong one
    counts towards the lockout like a failed sign-in (``action`` names it in the audit)."""
    if verify_password(member.password_hash, password):
        return True
    record_failure(session=session, member=member, now=now, action=action)
    return False


def change_password(
    *, session: Session, member: StaffMember, current: str, new: str, confirm: str,
    now: datetime, keep_session: int | None = None,
) -> int:  # fmt: skip
    """A signed-in member changes their own password; the current one is required. Every
    other session of theirs is signed out (``keep_session``: the one asking). Audited;
    how many sessions ended."""
    errors: list[tuple[str, str]] = []
    if not confirm_password(session=session, member=member, password=current, now=now,
                            action="account.password_change_failed"):  # fmt: skip
        errors.append(("current_password", "is not your current password"))
    errors.extend(new_password_errors(new, confirm))
    if errors:
        raise InputError(errors)
    member.password_hash = hash_password(new)
    ended = sessions.end_all_for(session=session, staff_id=member.id, now=now, keep=keep_session)
    audit.record(
        session=session, clinic_id=member.clinic_id, actor=f"staff:{member.id}",
        staff_id=member.id, action="account.password_changed", subject_type="staff",
        subject_id=member.id, sessions_ended=ended,
    )  # fmt: skip
    return ended


def new_password_errors(new: str, confirm: str) -> list[tuple[str, str]]:
    """The rules for a new password (as at account creation), and the retyped copy."""
    if (problem := check_password_rules(new)) is not None:
        return [("new_password", problem)]
    if not hmac.compare_digest(new.encode(), confirm.encode()):
        return [("confirm_password", "does not match the new password")]
    return []


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
