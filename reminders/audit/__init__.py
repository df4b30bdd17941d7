"""Audit trail: every staff action on a patient, concern, protocol or setting."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from reminders.audit.models import AuditEvent


def record(
    *,
    session: Session,
    clinic_id: int,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: int | None,
    staff_id: int | None = None,
    **details: Any,
) -> AuditEvent:
    event = AuditEvent(
        clinic_id=clinic_id,
        staff_id=staff_id,
        actor=actor,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        details=details,
    )
    session.add(event)
    return event
