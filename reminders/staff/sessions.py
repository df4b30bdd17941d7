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

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from reminders import audit
from reminders.clinics.models import Clinic, StaffMember
from reminders.staff import totp
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
    # An admin whose clinic requires TOTP and who has none: only the set-up page is open.
    must_set_up_totp: bool = False

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
    second_factor: bool = False,
) -> str:
    """Create a session and return its token. ``replaces`` (an earlier token) is revoked;
    ``second_factor``: an authenticator code was checked too (recorded in the audit)."""
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
        **({"totp": True} if second_factor else {}),
    )  # fmt: skip
    session.flush()
    return token


def resolve(
    *, session: Session, token: str, now: datetime, setup_ok: bool = False
) -> Viewer | None:
    """The live session for ``token``; None when unknown, revoked, expired or idle too long.

    Also None for an admin who must set up TOTP first, unless ``setup_ok`` (the set-up
    pages ask for it): every other page, whoever wrote it, is closed to them by default.
    """
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
    setup = totp.must_set_up(session=session, staff=staff, clinic=clinic)
    if setup and not setup_ok:
        return None
    if now - row.last_seen_at > TOUCH_EVERY:
        row.last_seen_at = now
    return Viewer(staff=staff, clinic=clinic, session_row=row, must_set_up_totp=setup)


def end(*, session: Session, token: str, now: datetime) -> None:
    session.execute(
        update(StaffSession)
        .where(StaffSession.token_hash == _digest(token), StaffSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def end_all_for(*, session: Session, staff_id: int, now: datetime, keep: int | None = None) -> int:
    """Revoke every session of a member (``keep``: but this one); how many."""
    query = update(StaffSession).where(
        StaffSession.staff_id == staff_id, StaffSession.revoked_at.is_(None)
    )
    if keep is not None:
        query = query.where(StaffSession.id != keep)
    result = session.execute(query.values(revoked_at=now))
    return int(result.rowcount)  # type: ignore[attr-defined]


def live(*, session: Session, staff_id: int, now: datetime) -> list[StaffSession]:
    """A member's sessions that still work, most recently used first."""
    s = StaffSession
    query = select(s).where(
        s.staff_id == staff_id, s.revoked_at.is_(None), s.expires_at > now,
        s.last_seen_at >= now - IDLE_TIMEOUT,
    )  # fmt: skip
    return list(session.scalars(query.order_by(s.last_seen_at.desc(), s.id.desc())))


def revoke(*, session: Session, viewer: Viewer, session_id: int, now: datetime) -> bool:
    """End one of the viewer's own sessions (by its row id); False if it is not theirs or
    already over. Audited."""
    s = StaffSession
    result = session.execute(
        update(s)
        .where(s.id == session_id, s.staff_id == viewer.staff.id, s.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    audit.record(
        session=session, clinic_id=viewer.clinic.id, actor=viewer.actor, staff_id=viewer.staff.id,
        action="account.session_revoked", subject_type="staff", subject_id=viewer.staff.id,
        session_id=session_id,
    )  # fmt: skip
    return True


def revoke_others(*, session: Session, viewer: Viewer, now: datetime) -> int:
    """End every session of the viewer's but this one; audited; how many."""
    ended = end_all_for(session=session, staff_id=viewer.staff.id, now=now,
                        keep=viewer.session_row.id)  # fmt: skip
    audit.record(
        session=session, clinic_id=viewer.clinic.id, actor=viewer.actor, staff_id=viewer.staff.id,
        action="account.sessions_revoked", subject_type="staff", subject_id=viewer.staff.id,
        count=ended,
    )  # fmt: skip
    return ended


def delete_dead(*, session: Session, now: datetime) -> int:
    """Remove sessions that can never work again (expired, idle too long, revoked)."""
    s = StaffSession
    dead = or_(s.expires_at <= now, s.revoked_at.is_not(None), s.last_seen_at < now - IDLE_TIMEOUT)
    result = session.execute(delete(s).where(dead))
    return int(result.rowcount)  # type: ignore[attr-defined]


_BROWSERS = (("Edg/", "Edge"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"),
             ("Safari/", "Safari"))  # fmt: skip
_SYSTEMS = (("iPhone", "iPhone"), ("iPad", "iPad"), ("Android", "Android"),
            ("Windows", "Windows"), ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"),
            ("Linux", "Linux"))  # fmt: skip


def describe_device(user_agent: str | None) -> str:
    """'Chrome on Windows' from a User-Agent header, for people to recognise a session."""
    agent = user_agent or ""
    browser = next((name for mark, name in _BROWSERS if mark in agent), None)
    system = next((name for mark, name in _SYSTEMS if mark in agent), None)
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or "Unknown browser"
