"""PROM tables: a clinic's instrument settings, form links and the answers they brought."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from reminders.db import Base, utcnow

DEFAULT_FOLLOW_UP_DAYS = 42  # 6 weeks


class ClinicInstrument(Base):
    """A clinic's use of one instrument: on or off, when the follow-up goes, and (when the
    clinic loaded its own file) the checked definition. No row: the instrument is off."""

    __tablename__ = "clinic_instruments"
    __table_args__ = (UniqueConstraint("clinic_id", "key", name="uq_clinic_instrument"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    key: Mapped[str] = mapped_column(String(40))
    enabled: Mapped[bool] = mapped_column(default=False)
    follow_up_days: Mapped[int] = mapped_column(default=DEFAULT_FOLLOW_UP_DAYS)
    definition: Mapped[dict[str, Any] | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class FormToken(Base):
    """One form link: only its SHA-256 is kept; it works until ``expires_at``, once."""

    __tablename__ = "form_tokens"
    __table_args__ = (Index("ix_form_tokens_patient", "patient_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("scheduled_messages.id"))
    instrument: Mapped[str] = mapped_column(String(40))
    timepoint: Mapped[str] = mapped_column(String(40))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class PromResponse(Base):
    """A completed form: the answers as given, and the score worked out when submitted
    (with the instrument version and whether its table was verified)."""

    __tablename__ = "prom_responses"
    __table_args__ = (
        UniqueConstraint("token_id", name="uq_prom_response_token"),
        Index("ix_prom_responses_patient", "patient_id", "completed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id"))
    token_id: Mapped[int] = mapped_column(ForeignKey("form_tokens.id"))
    instrument: Mapped[str] = mapped_column(String(40))
    instrument_version: Mapped[str] = mapped_column(String(40))
    timepoint: Mapped[str] = mapped_column(String(40))
    answers: Mapped[dict[str, Any]]
    raw: Mapped[int | None]
    interval: Mapped[float | None]
    verified: Mapped[bool] = mapped_column(default=False)
    completed_at: Mapped[datetime]
