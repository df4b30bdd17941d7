"""Concerns: something a person at the clinic has to look at."""

from __future__ import annotations

import secrets
import string
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from reminders import audit
from reminders.clinics.models import Clinic
from reminders.conversations import alerts, notices
from reminders.conversations.models import Concern
from reminders.interop import push as fhir_push

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
        next_escalation_at=None,  # paging (alerts.page) sets it for urgent and emergency
        created_at=now,
    )
    session.add(concern)
    session.flush()
    fhir_push.concern_changed(session=session, concern=concern, now=now)  # the chart's Flag/Task
    return concern


class ConcernStateError(ValueError):
    pass


def acknowledge(
    *, session: Session, concern: Concern, staff_id: int | None, now: datetime, via: str
) -> Concern:
    """Open → acknowledged, by whoever gets there first; returns the concern as it stands.

    One conditional UPDATE decides the winner: two people acknowledging at the same
    moment both get the concern back naming the one who took it. The winner's
    transaction also cancels every page not yet handed to a provider (a page already in
    flight holds a share lock on the concern, so this waits for it: see
    delivery/pages.py) and tells everyone already paged who took it.
    """
    won = session.execute(
        update(Concern)
        .where(Concern.id == concern.id, Concern.status == "open")
        .values(status="acknowledged", acknowledged_by=staff_id, acknowledged_at=now,
                acknowledged_via=via[:40], next_escalation_at=None)
        .execution_options(synchronize_session=False)
    ).rowcount == 1  # type: ignore[attr-defined]
    session.refresh(concern)
    if won:
        alerts.cancel_pages(session=session, concern_id=concern.id)
        notices.taken(session=session, concern=concern, now=now)
        fhir_push.concern_changed(session=session, concern=concern, now=now)
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
    fhir_push.concern_changed(session=session, concern=concern, now=now)
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
