"""Which of our records a sending system's identifiers stand for (EHR intake)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from reminders.db import Base, utcnow


class ExternalId(Base):
    """One identifier a sender uses for a patient, a procedure or a follow-up appointment,
    and the rows it stands for here. The unique index is the idempotency key: the same
    procedure sent again finds its enrolment instead of making a second one, even when
    two copies arrive at once (the second insert fails and is retried as a lookup).

    ``source`` is the front door ("fhir", "hl7"): each system numbers its own records.
    ``value`` is the sender's identifier, with its namespace when it has one
    ("urn:oid:1.2.3|P-77"). An appointment keeps the ``status`` and ``start`` it last
    had, so a cancellation clears only the visit that appointment booked.
    """

    __tablename__ = "external_ids"
    __table_args__ = (
        UniqueConstraint("clinic_id", "kind", "source", "value", name="uq_external_id"),
        Index("ix_external_ids_patient", "patient_id"),
        Index("ix_external_ids_enrollment", "enrollment_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    kind: Mapped[str] = mapped_column(String(20))  # patient | procedure | appointment
    source: Mapped[str] = mapped_column(String(20))  # fhir | hl7
    value: Mapped[str] = mapped_column(String(300))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    procedure_id: Mapped[int | None] = mapped_column(ForeignKey("procedures.id"))
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id"))
    status: Mapped[str | None] = mapped_column(String(20))  # appointment: booked|cancelled|noshow
    start: Mapped[datetime | None]  # appointment: the visit's time as last received
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
