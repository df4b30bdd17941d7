from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from reminders.db import Base, utcnow


class AuditEvent(Base):
    """Who did what to which record, and when. Written in the same transaction as the change."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_clinic_at", "clinic_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id"))
    actor: Mapped[str] = mapped_column(String(80))  # "staff:12", "api-key", "cli", "system"
    action: Mapped[str] = mapped_column(String(60))  # "enrollment.create", "concern.acknowledge"…
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[int | None]
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)
