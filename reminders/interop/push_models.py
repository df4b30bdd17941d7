"""A clinic's FHIR endpoint, and the ledger of resources pushed to it (FHIR out, push)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from reminders.db import Base, utcnow


class FhirEndpoint(Base):
    """Where a clinic's chart takes our Observations, Flags and Tasks: a FHIR base URL and
    the bearer token we present. The token is stored as given (the database is the trust
    boundary, as for TOTP secrets) and never shown again: the API answers ``token_set``.
    """

    __tablename__ = "clinic_fhir_endpoints"
    __table_args__ = (UniqueConstraint("clinic_id", name="uq_fhir_endpoint_clinic"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    base_url: Mapped[str] = mapped_column(String(500))
    token: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class FhirPush(Base):
    """One resource queued for a clinic's endpoint: the outbox ledger.

    The delivery itself is the ``scheduled_messages`` row (kind ``fhir``, channel
    ``fhir``) it names: claimed, an attempt row before the HTTP call, retried with
    back-off, reconciled — the one pipeline every message takes. This row says which
    resource (``resource_key``, e.g. ``Task/concern-12``) that message carries, so a
    second change of the same resource while one push is still waiting joins it instead
    of queueing another (the body is built when sent, so the waiting one carries it).
    """

    __tablename__ = "fhir_pushes"
    __table_args__ = (Index("ix_fhir_pushes_resource", "clinic_id", "resource_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    resource_key: Mapped[str] = mapped_column(String(120))
    message_id: Mapped[int] = mapped_column(ForeignKey("scheduled_messages.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
