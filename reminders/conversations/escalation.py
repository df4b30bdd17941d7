"""Escalate concerns nobody acknowledged in time: on-call → backup → clinic admins.

Safe to run from several processes at once (Celery beat and the embedded runner):
due concerns are locked with FOR UPDATE SKIP LOCKED on PostgreSQL, and SQLite's
BEGIN IMMEDIATE serialises writers, so each concern moves up one level exactly once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders.clinics.models import Clinic
from reminders.conversations.alerts import LAST_LEVEL, page
from reminders.conversations.models import Concern


def escalate_due(*, session: Session, now: datetime, limit: int = 100) -> list[int]:
    """Move every overdue open concern up one level; returns the new alerts' ids."""
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
        if concern.escalation_level >= LAST_LEVEL:
            concern.next_escalation_at = None
            continue
        clinic = session.get_one(Clinic, concern.clinic_id)
        alerts = page(session=session, concern=concern, clinic=clinic, now=now,
                      start_level=concern.escalation_level + 1)  # fmt: skip
        alert_ids.extend(a.id for a in alerts)
    session.flush()
    return alert_ids
