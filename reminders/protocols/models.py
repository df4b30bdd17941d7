from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from reminders.db import Base, utcnow


class ProtocolVersion(Base):
    """One version of a clinic's protocol: its steps and template sources, frozen on publish.

    Enrollments point at a version, so a later edit never changes a patient's messages.
    """

    __tablename__ = "protocol_versions"
    __table_args__ = (UniqueConstraint("clinic_id", "key", "version", name="uq_protocol_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    key: Mapped[str] = mapped_column(String(60))
    version: Mapped[int]
    status: Mapped[str] = mapped_column(String(12), default="draft")  # draft | published | retired
    title: Mapped[str] = mapped_column(String(200), default="")
    injectate: Mapped[str] = mapped_column(String(30))
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    templates: Mapped[dict[str, Any]] = mapped_column(default=dict)  # "name.lang" -> source
    checksum: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]
