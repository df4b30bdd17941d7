"""Turning a worrying message into a concern, and paging staff when it is urgent.

Routine concerns wait in the clinic's queue and page no one; urgent and emergency ones
alert the on-call contacts at once. A patient who texts three times about the same
fever gets one open concern, not three pages: a new concern is opened only when
nothing at least as severe is still open (unacknowledged) for them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders.clinics.models import Clinic
from reminders.conversations.alerts import page
from reminders.conversations.concerns import open_concern
from reminders.conversations.models import Concern, InboundMessage, StaffAlert
from reminders.conversations.reading import rank

PAGING = ("urgent", "emergency")


def raise_concern(
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
    inbound: InboundMessage | None = None,
    dedupe: bool = True,
) -> tuple[Concern | None, list[StaffAlert]]:
    """Open a concern (and page for urgent+) unless an open one already covers it."""
    if dedupe and _covered(session, clinic.id, severity, patient_id, inbound):
        return None, []
    concern = open_concern(
        session=session, clinic=clinic, severity=severity, kind=kind, summary=summary,
        now=now, categories=categories, patient_id=patient_id, enrollment_id=enrollment_id,
        inbound_id=inbound.id if inbound is not None else None,
    )  # fmt: skip
    alerts = []
    if severity in PAGING:
        alerts = page(session=session, concern=concern, clinic=clinic, now=now)
    return concern, alerts


def _covered(
    session: Session, clinic_id: int, severity: str, patient_id: int | None,
    inbound: InboundMessage | None,
) -> bool:  # fmt: skip
    query = select(Concern.severity).where(Concern.clinic_id == clinic_id,
                                           Concern.status == "open")  # fmt: skip
    if patient_id is not None:
        query = query.where(Concern.patient_id == patient_id)
    elif inbound is not None:  # an unknown sender: the same number
        query = query.join(InboundMessage, InboundMessage.id == Concern.inbound_id).where(
            Concern.patient_id.is_(None), InboundMessage.sender == inbound.sender
        )
    else:
        return False
    return any(rank(open_severity) >= rank(severity) for open_severity in session.scalars(query))
