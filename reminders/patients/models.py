from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
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


class ConsentEvent(Base):
    """When and how a patient's consent to messages on one channel was revoked or restored:
    the consent ledger (ledger.py reads it for people).

    The opt-out stamp on ``patients`` says where things stand and always equals the
    ledger's latest event per channel (consent.py changes both together); this is the
    record behind it (a carrier or a regulator asks *when* and *how*). ``keyword`` is the
    matched keyword or phrase, folded; ``exact_text`` the patient's own words when a text
    or an email changed it. Staff entries carry who (``staff_id``), the ``source`` they
    gave ("patient phoned", "paper form", …) and, as ``at``, when the patient said so;
    ``recorded_at`` is when it was entered.
    """

    __tablename__ = "consent_events"
    __table_args__ = (Index("ix_consent_events_patient", "patient_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    channel: Mapped[str] = mapped_column(String(10))  # sms | email
    action: Mapped[str] = mapped_column(String(10))  # revoked | restored
    at: Mapped[datetime]
    # patient_keyword | carrier_opt_out (Twilio OptOutType) | provider_error (21610) | staff
    via: Mapped[str] = mapped_column(String(20))
    keyword: Mapped[str | None] = mapped_column(String(100))
    inbound_message_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))
    exact_text: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(200))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id"))
    recorded_at: Mapped[datetime | None]
