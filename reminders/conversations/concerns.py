"""Concerns: something a person at the clinic has to look at."""

from __future__ import annotations

import secrets
import string
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders import audit
from reminders.clinics.models import Clinic
from reminders.conversations.models import Concern

_ACK_ALPHABET = string.ascii_uppercase.replace("O", "").replace("I", "") + "23456789"


def new_ack_code() -> str:
    # Short enough to type on a phone ("ACK K7QF"), unambiguous (no O/0, I/1).
    return "".join(secrets.choice(_ACK_ALPHABET) for _ in range(4))


def unused_ack_code(*, session: Session, clinic_id: int) -> str:
    """A code no other open concern of this clinic holds, so "ACK K7QF" names one concern."""
    for _ in range(20):
        code = new_ack_code()
        clash = session.scalar(
            select(Concern.id).where(
                Concern.clinic_id == clinic_id, Concern.ack_code == code,
                Concern.status != "resolved",
            ).limit(1)
        )  # fmt: skip
        if clash is None:
            return code
    raise RuntimeError("could not find a free acknowledgement code")  # 30^4 codes; never


def by_ack_code(*, session: Session, clinic_ids: list[int], code: str) -> Concern | None:
    """The unresolved concern of one of these clinics with this code, open ones first."""
    return session.scalars(
        select(Concern)
        .where(
            Concern.clinic_id.in_(clinic_ids),
            Concern.ack_code == code.upper(),
            Concern.status != "resolved",
        )
        .order_by((Concern.status == "open").desc(), Concern.id.desc())
        .limit(1)
    ).first()


def escalation_window(clinic: Clinic, severity: str) -> timedelta | None:
    if severity == "emergency":
        return timedelta(minutes=clinic.emergency_ack_minutes)
    if severity == "urgent":
        return timedelta(minutes=clinic.urgent_ack_minutes)
    return None


def open_concern(
    *,
    session: Session,
    clinic: Clinic,
    severity: str,
    kind: str,
    summary: str,
    now: datetime,
    categories: list[str] | None = None,
    patient_id: int | None = None,
    enrollment_id: int | None = None,
    inbound_id: int | None = None,
) -> Concern:
    window = escalation_window(clinic, severity)
    concern = Concern(
        clinic_id=clinic.id,
        patient_id=patient_id,
        enrollment_id=enrollment_id,
        inbound_id=inbound_id,
        kind=kind,
        severity=severity,
        categories=categories or [],
        summary=summary[:300],
        ack_code=unused_ack_code(session=session, clinic_id=clinic.id),
        next_escalation_at=now + window if window else None,
        created_at=now,
    )
    session.add(concern)
    session.flush()
    return concern


class ConcernStateError(ValueError):
    pass


def acknowledge(
    *, session: Session, concern: Concern, staff_id: int | None, now: datetime, via: str
) -> Concern:
    """Open → acknowledged; stops escalation. Acknowledging twice is harmless."""
    if concern.status == "open":
        concern.status = "acknowledged"
        concern.acknowledged_by = staff_id
        concern.acknowledged_at = now
        concern.next_escalation_at = None
        _audit(session, concern, staff_id, via, "concern.acknowledge")
    return concern


def resolve(
    *, session: Session, concern: Concern, staff_id: int | None, now: datetime, note: str, via: str
) -> Concern:
    """Resolve with a note (acknowledging first if nobody had)."""
    if concern.status == "resolved":
        raise ConcernStateError("concern is already resolved")
    if not note.strip():
        raise ConcernStateError("a resolution note is required")
    acknowledge(session=session, concern=concern, staff_id=staff_id, now=now, via=via)
    concern.status = "resolved"
    concern.resolved_by = staff_id
    concern.resolved_at = now
    concern.resolution_note = note.strip()[:2000]
    _audit(session, concern, staff_id, via, "concern.resolve")
    return concern


def _audit(session: Session, concern: Concern, staff_id: int | None, via: str, action: str) -> None:
    audit.record(
        session=session,
        clinic_id=concern.clinic_id,
        staff_id=staff_id,
        actor=f"staff:{staff_id}" if staff_id else via,
        action=action,
        subject_type="concern",
        subject_id=concern.id,
        via=via,
    )
