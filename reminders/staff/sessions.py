"""Server-side sign-in sessions: start one, find it from its token, end it.

The browser holds a random token (inside a signed cookie); the table holds its SHA-256,
so a database leak does not hand out live sessions. A new session, with a new token and
a new CSRF token, is created at every sign-in: a token planted before sign-in (session
fixation) never becomes an authenticated one.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from reminders import audit
from reminders.clinics.models import Clinic, StaffMember
from reminders.staff.models import StaffSession

ABSOLUTE_LIFETIME = timedelta(hours=12)  # one long clinic shift
IDLE_TIMEOUT = timedelta(hours=2)
TOUCH_EVERY = timedelta(minutes=1)  # avoid a write on every page view


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Viewer:
    """Who is asking: the staff member, their clinic, and the session's CSRF token."""

    staff: StaffMember
    clinic: Clinic
    session_row: StaffSession

    @property
    def csrf_token(self) -> str:
        return self.session_row.csrf_token

    @property
    def actor(self) -> str:
        return f"staff:{self.staff.id}"


def start(
    *,
    session: Session,
    staff: StaffMember,
    now: datetime,
    ip: str | None,
    user_agent: str | None,
    replaces: str | None = None,
) -> str:
    """Create a session and return its token. ``replaces`` (an earlier token) is revoked."""
    if replaces:
        end(session=session, token=replaces, now=now)
    token = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            token_hash=_digest(token), staff_id=staff.id, clinic_id=staff.clinic_id,
            csrf_token=secrets.token_urlsafe(32), ip=(ip or "")[:64] or None,
            user_agent=(user_agent or "")[:200] or None, created_at=now, last_seen_at=now,
            expires_at=now + ABSOLUTE_LIFETIME,
        )
    )  # fmt: skip
    audit.record(
        session=session, clinic_id=staff.clinic_id, actor=f"staff:{staff.id}", staff_id=staff.id,
        action="auth.sign_in", subject_type="staff", subject_id=staff.id,
    )  # fmt: skip
    session.flush()
    return token


def resolve(*, session: Session, token: str, now: datetime) -> Viewer | None:
    """The live session for ``token``; None when unknown, revoked, expired or idle too long."""
    row = session.scalar(select(StaffSession).where(StaffSession.token_hash == _digest(token)))
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    if now - row.last_seen_at > IDLE_TIMEOUT:
        return None
    staff = session.get(StaffMember, row.staff_id)
    clinic = session.get(Clinic, row.clinic_id)
    # A deactivated account, or one moved to another clinic, loses its sessions at once.
    if staff is None or clinic is None or not staff.is_active or staff.clinic_id != row.clinic_id:
        return None
    if now - row.last_seen_at > TOUCH_EVERY:
        row.last_seen_at = now
    return Viewer(staff=staff, clinic=clinic, session_row=row)


def end(*, session: Session, token: str, now: datetime) -> None:
    session.execute(
        update(StaffSession)
        .where(StaffSession.token_hash == _digest(token), StaffSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def end_all_for(*, session: Session, staff_id: int, now: datetime) -> None:
    session.execute(
        update(StaffSession)
        .where(StaffSession.staff_id == staff_id, StaffSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )
