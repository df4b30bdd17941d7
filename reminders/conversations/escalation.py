"""Escalate concerns nobody acknowledged in time: the next step of the clinic's policy.

Safe to run from several processes at once (Celery beat and the embedded runner):
due concerns are locked with FOR UPDATE SKIP LOCKED on PostgreSQL, and SQLite's
BEGIN IMMEDIATE serialises writers, so each concern moves on one step exactly once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders.clinics.models import Clinic
from reminders.conversations.alerts import advance
from reminders.conversations.models import Concern


def escalate_due(*, session: Session, now: datetime, limit: int = 100) -> list[int]:
    """Move every overdue open concern on one step; returns the new alerts' ids."""
    due = session.scalars(
        select(Concern)
        .where(
            Concern.status == "open",
            Concern.next_escalation_at.is_not(None),
            Concern.next_escalation_at <= now,
        )
        .order_by(Concern.next_escalation_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    alert_ids: list[int] = []
    for concern in due:
        clinic = session.get_one(Clinic, concern.clinic_id)
        alert_ids.extend(a.id for a in advance(session=session, concern=concern, clinic=clinic,
                                               now=now))  # fmt: skip
    session.flush()
    return alert_ids
