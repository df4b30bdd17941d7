"""Password reset by an emailed link: single use, 30 minutes, only its hash stored.

The mail is a ``scheduled_messages`` row (kind ``staff_text``, ``step_key`` ``password_reset``)
written in the same transaction as the reset, so it goes out through the one delivery
pipeline: claimed, an attempt row before the SMTP call, retried, reconciled. It expires
with its link, so a mail held up past 30 minutes is skipped, not sent dead.

Asking never says whether an address has an account: the page answers the same either
way, and the mail itself is the only sign. At most ``PER_ACCOUNT`` links per account per
``LIFETIME``; more asks are answered the same and send nothing. The link's text is the
only copy of the token outside the inbox, so it is removed from the message row once the
link is used or has expired (``scrub_dead``, run by the cleanup job).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from reminders import audit
from reminders.clinics.models import Clinic, StaffMember
from reminders.conversations.outbound import queue
from reminders.enrollments.models import (
    CANCELLED,
    OPEN_STATUSES,
    PENDING,
    STAFF_TEXT,
    ScheduledMessage,
)
from reminders.staff import service, sessions
from reminders.staff.models import PasswordReset

LIFETIME = timedelta(minutes=30)
PER_ACCOUNT = 3
STEP_KEY = "password_reset"
SUBJECT = "Reset your Aftercare password"
SCRUBBED = "(A password reset link was here; it has been used or has expired.)"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def mail_body(clinic: Clinic, link: str) -> str:
    minutes = int(LIFETIME.total_seconds() // 60)
    return (
        f"Someone asked to reset the password of your Aftercare account at {clinic.name}.\n\n"
        f"To choose a new password, open this link within {minutes} minutes:\n{link}\n\n"
        "The link works once. If you did not ask for it, ignore this email: your password "
        "stays as it is.\n"
    )


def request(*, session: Session, email: str, now: datetime, public_url: str) -> bool:
    """Queue a reset mail to ``email`` if it is an active account not already sent
    ``PER_ACCOUNT`` links lately. True when a mail was queued (never shown to the asker)."""
    address = email.replace("\x00", "").strip().lower()[:200]
    member = session.scalar(select(StaffMember).where(func.lower(StaffMember.email) == address))
    if member is None or not member.is_active or not address:
        return False
    recent = session.scalar(
        select(func.count())
        .select_from(PasswordReset)
        .where(PasswordReset.staff_id == member.id, PasswordReset.created_at > now - LIFETIME)
    )
    if (recent or 0) >= PER_ACCOUNT:
        return False
    token = secrets.token_urlsafe(32)
    reset = PasswordReset(token_hash=_digest(token), staff_id=member.id,
                          clinic_id=member.clinic_id, created_at=now,
                          expires_at=now + LIFETIME)  # fmt: skip
    session.add(reset)
    session.flush()
    clinic = session.get_one(Clinic, member.clinic_id)
    link = f"{public_url.rstrip('/')}/reset?token={token}"
    message = queue(
        session=session, clinic_id=member.clinic_id, kind=STAFF_TEXT, channel="email",
        body=mail_body(clinic, link), subject=SUBJECT, now=now,
        key=f"reset:{reset.token_hash[:40]}", recipient=member.email, staff_id=member.id,
        expires_at=reset.expires_at, step_key=STEP_KEY,
    )  # fmt: skip
    reset.message_id = message.id  # (keyed by the token's hash: SQLite reuses deleted ids)
    audit.record(
        session=session, clinic_id=member.clinic_id, actor="anonymous",
        action="account.password_reset_requested", subject_type="staff", subject_id=member.id,
        message=message.id,
    )  # fmt: skip
    return True


def find(*, session: Session, token: str, now: datetime) -> PasswordReset | None:
    """The live reset for ``token``: unknown, used and expired links all answer None."""
    if not token or len(token) > 200:
        return None
    reset = session.scalar(select(PasswordReset).where(PasswordReset.token_hash == _digest(token)))
    if reset is None or reset.used_at is not None or reset.expires_at <= now:
        return None
    member = session.get(StaffMember, reset.staff_id)
    return reset if member is not None and member.is_active else None


def complete(
    *, session: Session, token: str, new: str, confirm: str, now: datetime
) -> StaffMember | None:
    """Set the new password through a live link; None when the link is dead. The link is
    spent in a conditional UPDATE (two tabs submitting at once: one wins), the member's
    other links die with it, every session is signed out and the lockout is lifted.
    Bad passwords raise ``InputError`` and spend nothing."""
    reset = find(session=session, token=token, now=now)
    if reset is None:
        return None
    if errors := service.new_password_errors(new, confirm):
        raise service.InputError(errors)
    p = PasswordReset
    spent = session.execute(
        update(p)
        .where(p.id == reset.id, p.used_at.is_(None), p.expires_at > now)
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        return None
    session.execute(
        update(p)
        .where(p.staff_id == reset.staff_id, p.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    session.expire(reset)
    member = session.get_one(StaffMember, reset.staff_id)
    member.password_hash = service.hash_password(new)
    service.signed_in(member)  # the lockout was about the old password
    ended = sessions.end_all_for(session=session, staff_id=member.id, now=now)
    audit.record(
        session=session, clinic_id=member.clinic_id, actor=f"staff:{member.id}",
        staff_id=member.id, action="account.password_reset", subject_type="staff",
        subject_id=member.id, sessions_ended=ended,
    )  # fmt: skip
    scrub_dead(session=session, now=now, staff_id=member.id)
    return member


def scrub_dead(*, session: Session, now: datetime, staff_id: int | None = None) -> int:
    """Remove used and expired links (``staff_id``: only that member's), and the token
    from the text of their mails. A mail not yet sent is cancelled (its link is dead); one
    in a worker's hands is left to finish, and its link to the next run. How many links
    were removed."""
    p, m = PasswordReset, ScheduledMessage
    dead = or_(p.used_at.is_not(None), p.expires_at <= now)
    if staff_id is not None:
        dead = and_(dead, p.staff_id == staff_id)
    of_dead = m.id.in_(select(p.message_id).where(dead, p.message_id.is_not(None)))
    session.execute(
        update(m)
        .where(of_dead, m.status == PENDING)
        .values(status=CANCELLED, status_reason="reset_link_dead", updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(m)
        .where(of_dead, m.status.not_in(OPEN_STATUSES), m.body != SCRUBBED)
        .values(body=SCRUBBED, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    in_flight = select(m.id).where(m.id == p.message_id, m.status.in_(OPEN_STATUSES)).exists()
    removed = session.execute(
        delete(p).where(dead, ~in_flight).execution_options(synchronize_session=False)
    )
    return int(removed.rowcount)  # type: ignore[attr-defined]
