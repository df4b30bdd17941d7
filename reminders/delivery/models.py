from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from reminders.db import Base, utcnow


class SendAttempt(Base):
    """One try at handing a message to a provider, written *before* the provider call.

    An attempt left in "sending" after a crash is the signal to reconcile with the
    provider before trying again, so a message the provider already took is not resent.
    """

    __tablename__ = "send_attempts"
    __table_args__ = (
        Index("ix_attempts_message", "message_id"),
        Index("ix_attempts_provider_id", "provider_id", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("scheduled_messages.id"))
    channel: Mapped[str] = mapped_column(String(10))
    provider: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(String(200))
    provider_id: Mapped[str | None] = mapped_column(String(100))
    # sending -> accepted (queued) -> sent -> delivered | undelivered | failed ; or error
    status: Mapped[str] = mapped_column(String(16), default="sending")
    error_code: Mapped[str | None] = mapped_column(String(20))
    error_message: Mapped[str | None] = mapped_column(String(300))
    permanent: Mapped[bool] = mapped_column(default=False)
    segments: Mapped[int | None]
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    accepted_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
