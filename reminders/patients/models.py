from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from reminders.db import Base, utcnow


class Patient(Base):
    __tablename__ = "patients"
    __table_args__ = (
        UniqueConstraint("clinic_id", "external_id", name="uq_patient_external_id"),
        Index("ix_patients_phone", "phone"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    external_id: Mapped[str | None] = mapped_column(String(100))
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(20))  # E.164
    email: Mapped[str | None] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(5), default="en")
    conditions: Mapped[list[str]] = mapped_column(default=list)
    channel_preference: Mapped[str] = mapped_column(String(10), default="sms")
    sms_opted_out_at: Mapped[datetime | None]
    email_opted_out_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Procedure(Base):
    __tablename__ = "procedures"

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    performed_at: Mapped[datetime]
    performed_tz: Mapped[str] = mapped_column(String(64))  # zone the clinic recorded it in
    injectate: Mapped[str] = mapped_column(String(30))
    site: Mapped[str] = mapped_column(String(60), default="hip joint")
    side: Mapped[str | None] = mapped_column(String(10))  # left | right | bilateral
    diagnostic: Mapped[bool] = mapped_column(default=False)
    follow_up_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
