"""The concern inbox: what needs a person, most serious and oldest first.

Reads only; acknowledging and resolving go through reminders.conversations.concerns so
the rules (and their audit records) live in one place for the web, the API and SMS ACKs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from reminders.conversations.models import Concern, InboundMessage
from reminders.enrollments.service import NotFound
from reminders.patients.models import Patient

SEVERITIES = ("emergency", "urgent", "routine", "none")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
UNRESOLVED = ("open", "acknowledged")
STATUSES = ("open", "acknowledged", "resolved")


@dataclass(frozen=True)
class InboxItem:
    concern: Concern
    patient: Patient | None
    reply: InboundMessage | None

    @property
    def first_name(self) -> str:
        return self.patient.given_name if self.patient else "Unknown sender"


def concerns(
    *,
    session: Session,
    clinic_id: int,
    statuses: tuple[str, ...] = ("open",),
    limit: int = 200,
) -> list[InboxItem]:
    """Concerns in ``statuses``: severity (emergency first), then oldest first; resolved
    ones (history) newest first."""
    rank = case(SEVERITY_RANK, value=Concern.severity, else_=len(SEVERITIES))
    status_rank = case({s: i for i, s in enumerate(STATUSES)}, value=Concern.status, else_=9)
    query = (
        select(Concern, Patient, InboundMessage)
        .outerjoin(Patient, (Patient.id == Concern.patient_id) & (Patient.clinic_id == clinic_id))
        .outerjoin(InboundMessage, InboundMessage.id == Concern.inbound_id)
        .where(Concern.clinic_id == clinic_id, Concern.status.in_(statuses))
    )
    if statuses == ("resolved",):
        query = query.order_by(Concern.resolved_at.desc(), Concern.id.desc())
    else:
        query = query.order_by(status_rank, rank, Concern.created_at, Concern.id)
    rows = session.execute(query.limit(limit)).all()
    return [InboxItem(concern, patient, reply) for concern, patient, reply in rows]


def get_concern(*, session: Session, clinic_id: int, concern_id: int) -> Concern:
    concern = session.get(Concern, concern_id)
    if concern is None or concern.clinic_id != clinic_id:
        raise NotFound(f"no concern {concern_id}")  # the same answer for another clinic's
    return concern


def item(*, session: Session, concern: Concern) -> InboxItem:
    patient = session.get(Patient, concern.patient_id) if concern.patient_id else None
    reply = session.get(InboundMessage, concern.inbound_id) if concern.inbound_id else None
    return InboxItem(concern, patient, reply)


def counts(*, session: Session, clinic_id: int) -> dict[str, int]:
    """Open (unacknowledged) concerns per severity, for the banner on every page."""
    out = dict.fromkeys(SEVERITIES, 0)
    rows = session.execute(
        select(Concern.severity).where(Concern.clinic_id == clinic_id, Concern.status == "open")
    ).scalars()
    for severity in rows:
        out[severity] = out.get(severity, 0) + 1
    return out


def age_text(since: datetime, now: datetime) -> str:
    """'4 min', '2 h 5 min', '3 d 4 h': how long a concern has waited."""
    minutes = max(0, int((now - since).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"
