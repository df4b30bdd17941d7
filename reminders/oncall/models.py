"""Who is paged: the clinic's on-call rota, its closed dates and its escalation policies."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from reminders.db import Base, utcnow

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HOLIDAY = "holiday"


class OnCallShift(Base):
    """One line of the rota, or a temporary override on top of it.

    A ``rota`` shift repeats: on each of ``days`` (weekday names, or ``holiday`` for the
    clinic's closed dates) from ``starts`` to ``ends`` in the clinic's time zone; an end
    at or before the start runs past midnight into the next day (a night shift). An
    ``override`` runs from ``starts_at`` to ``ends_at`` (UTC; open-ended when null) and
    wins over the rota while it runs.
    """

    __tablename__ = "oncall_shifts"
    __table_args__ = (Index("ix_oncall_shifts_clinic", "clinic_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    kind: Mapped[str] = mapped_column(String(10), default="rota")  # rota | override
    days: Mapped[list[str]] = mapped_column(JSON, default=list)
    starts: Mapped[time | None] = mapped_column(Time)
    ends: Mapped[time | None] = mapped_column(Time)
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    primary_staff_id: Mapped[int] = mapped_column(ForeignKey("staff_members.id"))
    backup_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[datetime | None]


class ClinicHoliday(Base):
    """A date the clinic is closed: office hours do not apply, holiday shifts do."""

    __tablename__ = "clinic_holidays"
    __table_args__ = (UniqueConstraint("clinic_id", "day", name="uq_clinic_holiday"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    day: Mapped[date] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(100), default="")


class EscalationPolicy(Base):
    """Who is paged, in what order and how long each step waits, for one severity.

    ``steps`` is a list of ``{"target": primary|backup|clinicians|admins,
    "wait_minutes": N}``. With ``repeat`` the policy starts again after its last step
    until someone acknowledges.
    """

    __tablename__ = "escalation_policies"
    __table_args__ = (UniqueConstraint("clinic_id", "severity", name="uq_escalation_policy"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    severity: Mapped[str] = mapped_column(String(12))
    steps: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    repeat: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
