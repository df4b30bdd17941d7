from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from reminders.db import Base, utcnow


class InboundMessage(Base):
    """A reply from a patient (or an unknown sender), with how it was read."""

    __tablename__ = "inbound_messages"
    __table_args__ = (
        UniqueConstraint("provider_id", name="uq_inbound_provider_id"),
        Index("ix_inbound_patient", "patient_id", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinics.id"))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id"))
    answers_message_id: Mapped[int | None] = mapped_column(ForeignKey("scheduled_messages.id"))
    channel: Mapped[str] = mapped_column(String(10))
    provider_id: Mapped[str | None] = mapped_column(String(100))  # MessageSid / Message-ID
    sender: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(12), default="none")
    categories: Mapped[list[str]] = mapped_column(default=list)
    parsed: Mapped[dict[str, Any]] = mapped_column(default=dict)
    auto_reply: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class Concern(Base):
    __tablename__ = "concerns"
    __table_args__ = (Index("ix_concerns_open", "clinic_id", "status", "severity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id"))
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))
    kind: Mapped[str] = mapped_column(String(20), default="reply")  # reply|no_response|delivery
    severity: Mapped[str] = mapped_column(String(12))
    categories: Mapped[list[str]] = mapped_column(default=list)
    summary: Mapped[str] = mapped_column(String(300), default="")
    ack_code: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(14), default="open")  # open|acknowledged|resolved
    escalation_level: Mapped[int] = mapped_column(default=0)  # 0 on-call, 1 backup, 2 admin
    next_escalation_at: Mapped[datetime | None]
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id"))
    acknowledged_at: Mapped[datetime | None]
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id"))
    resolved_at: Mapped[datetime | None]
    resolution_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
