"""What the concern page shows besides the concern: who was paged (when, how, and whether
it arrived) and the patient's last messages both ways.

Reads only. Every query is scoped to the concern's clinic; addresses of people who are not
staff members are masked (the page shows a name or ``***0123``, never a raw number).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from reminders.channels.base import mask_address
from reminders.clinics.models import StaffMember
from reminders.conversations.models import Concern, InboundMessage, StaffAlert
from reminders.enrollments.models import (
    OPEN_STATUSES,
    PAGE,
    SENT,
    STAFF_TEXT,
    Enrollment,
    ScheduledMessage,
)
from reminders.patients.service import latest_attempts


@dataclass(frozen=True)
class PageView:
    """One page (StaffAlert) as staff read it."""

    id: int
    recipient: str  # the staff member's name, else the masked address
    channel: str
    level: int  # the escalation policy's step
    round: int
    role: str
    # The provider's newest word on the page's message (delivered, undelivered, failed…),
    # else the page's own status (pending, sent, cancelled).
    status: str
    error_code: str | None
    sent_at: datetime | None


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    direction: str  # "out" (we sent it) | "in" (the patient wrote it)
    kind: str  # the outbound kind (step, reply, staff_text…) or the inbound kind
    text: str
    channel: str
    staff: str | None = None  # who texted, for a staff_text
    severity: str | None = None  # how an inbound message was triaged
    delivery: str | None = None  # the newest provider status of an outbound message


def _staff_names(session: Session, clinic_id: int, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = session.execute(
        select(StaffMember.id, StaffMember.name, StaffMember.email)
        .where(StaffMember.clinic_id == clinic_id, StaffMember.id.in_(ids))
    ).all()  # fmt: skip
    return {row.id: row.name or row.email for row in rows}


def staff_name(*, session: Session, clinic_id: int, staff_id: int | None) -> str | None:
    """A staff member's display name (their clinic only), for "acknowledged by"."""
    if staff_id is None:
        return None
    return _staff_names(session, clinic_id, {staff_id}).get(staff_id)


def pages_of(*, session: Session, concern: Concern) -> list[PageView]:
    """Every page of the concern in escalation order (round, level, id)."""
    alerts = list(session.scalars(
        select(StaffAlert)
        .where(StaffAlert.clinic_id == concern.clinic_id, StaffAlert.concern_id == concern.id)
        .order_by(StaffAlert.round, StaffAlert.level, StaffAlert.id)))  # fmt: skip
    names = _staff_names(session, concern.clinic_id,
                         {a.staff_id for a in alerts if a.staff_id is not None})  # fmt: skip
    message_ids = [a.message_id for a in alerts if a.message_id is not None]
    attempts = latest_attempts(session, message_ids)
    query = select(ScheduledMessage).where(ScheduledMessage.id.in_(message_ids))
    messages = {m.id: m for m in session.scalars(query)} if message_ids else {}
    out = []
    for alert in alerts:
        attempt = attempts.get(alert.message_id) if alert.message_id else None
        message = messages.get(alert.message_id) if alert.message_id else None
        # A message that never reached a provider (pending, cancelled) speaks for itself.
        status = attempt.status if attempt else (message.status if message else alert.status)
        recipient = names.get(alert.staff_id) if alert.staff_id else None
        out.append(PageView(
            id=alert.id, recipient=recipient or mask_address(alert.recipient),
            channel=alert.channel, level=alert.level, round=alert.round, role=alert.role,
            status=status,
            error_code=(attempt.error_code if attempt else None) or alert.error_code,
            sent_at=(message.sent_at if message else None) or alert.sent_at,
        ))  # fmt: skip
    return out


def recent_timeline(
    *, session: Session, concern: Concern, limit: int = 10
) -> list[TimelineEntry]:
    """The patient's last ``limit`` messages, sent and received, newest first.

    Sent messages only (a planned check-in is not something the patient has seen), except
    the clinicians' texts about this concern: those show at once, marked queued, so
    whoever typed one sees it went in. Staff pages are left out (they are on the pages list).
    """
    if concern.patient_id is None:
        return []
    clinic_id, patient_id, m = concern.clinic_id, concern.patient_id, ScheduledMessage
    enrollments = select(Enrollment.id).where(Enrollment.clinic_id == clinic_id,
                                              Enrollment.patient_id == patient_id)  # fmt: skip
    shown = or_(m.status == SENT, (m.kind == STAFF_TEXT) & (m.concern_id == concern.id))
    # Pages and "taken by" notices about the patient went to staff, not to the patient.
    to_patient = (m.kind != PAGE) & or_(m.staff_id.is_(None), m.kind == STAFF_TEXT)
    sent = list(session.scalars(
        select(m)
        .where(m.clinic_id == clinic_id, to_patient, shown,
               or_(m.patient_id == patient_id, m.enrollment_id.in_(enrollments)))
        .order_by(func.coalesce(m.sent_at, m.created_at).desc(), m.id.desc())
        .limit(limit)))  # fmt: skip
    attempts = latest_attempts(session, [x.id for x in sent])
    names = _staff_names(session, clinic_id, {x.staff_id for x in sent if x.staff_id})
    entries = [
        TimelineEntry(
            at=x.sent_at or x.created_at, direction="out", kind=x.kind,
            text=x.body or x.step_key.replace("_", " "), channel=x.channel,
            staff=names.get(x.staff_id) if x.staff_id else None,
            delivery=attempts[x.id].status if x.id in attempts else
            (None if x.status == SENT else "queued" if x.status in OPEN_STATUSES else x.status),
        )
        for x in sent
    ]  # fmt: skip
    i = InboundMessage
    received = session.scalars(
        select(i).where(i.clinic_id == clinic_id, i.patient_id == patient_id)
        .order_by(i.received_at.desc(), i.id.desc()).limit(limit))  # fmt: skip
    entries += [TimelineEntry(at=r.received_at, direction="in", kind=r.kind, text=r.body,
                              channel=r.channel, severity=r.severity)
                for r in received]  # fmt: skip
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]


def words_of(*, session: Session, concern: Concern) -> list[InboundMessage]:
    """The patient's words behind the concern: the message that opened it and every one
    that joined it, oldest first."""
    condition = InboundMessage.concern_id == concern.id
    if concern.inbound_id is not None:
        condition = or_(condition, InboundMessage.id == concern.inbound_id)
    return list(session.scalars(
        select(InboundMessage).where(InboundMessage.clinic_id == concern.clinic_id, condition)
        .order_by(InboundMessage.received_at, InboundMessage.id)))  # fmt: skip
