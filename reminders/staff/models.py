from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from reminders.db import Base, utcnow


class StaffSession(Base):
    """A signed-in browser. The cookie carries a random token; only its hash is stored.

    Server-side rows (rather than a self-contained cookie) make sign-out and
    deactivation take effect at once, and a client can never choose its session id.
    """

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_members.id"), index=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class StaffTotp(Base):
    """A staff member's authenticator (RFC 6238 TOTP): one per member.

    ``confirmed_at`` is None while enrolling (the secret is shown, no code typed yet); only
    a confirmed one is asked for at sign-in. ``last_step`` is the time step of the last
    code accepted: a code is good once, even inside its 30-second window (RFC 6238 §5.2).
    """

    __tablename__ = "staff_totp"

    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_members.id"), primary_key=True)
    secret: Mapped[str] = mapped_column(String(64))
    confirmed_at: Mapped[datetime | None]
    last_step: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PasswordReset(Base):
    """An emailed reset link. Only the SHA-256 of its token is kept; it works once, until
    ``expires_at``. ``message_id`` is the mail that carried it, whose text is removed once
    the link is dead (cleanup job)."""

    __tablename__ = "password_resets"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_members.id"), index=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("scheduled_messages.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
