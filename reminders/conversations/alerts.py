"""Paging staff about a concern: who is told at each escalation level, and delivery.

Alerts are rows written in the concern's own transaction (an outbox). They are sent
right after commit by whoever created them, and the escalation job sends whatever is
still pending (a crash, a provider hiccup), so a committed concern is always paged.
Alerts carry minimal PHI: first name, severity, a link and the acknowledgement code.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from reminders import audit
from reminders.channels.base import ChannelError, Outbound
from reminders.clinics.models import Clinic, StaffMember
from reminders.clock import Clock
from reminders.config import Settings
from reminders.conversations import texts
from reminders.conversations.concerns import escalation_window
from reminders.conversations.models import Concern, StaffAlert
from reminders.conversations.outbound import Channels, send
from reminders.delivery.send import SessionFactory
from reminders.patients.models import Patient

log = logging.getLogger(__name__)
ROLES = ("on_call", "backup", "admin")  # escalation level = index
LAST_LEVEL = len(ROLES) - 1
MAX_ATTEMPTS = 5
LEASE = timedelta(seconds=60)


@dataclass(frozen=True)
class Contact:
    role: str
    channel: str
    address: str
    staff_id: int | None = None


def contacts(*, session: Session, clinic: Clinic, level: int) -> list[Contact]:
    role = ROLES[level]
    if role == "admin":
        admins = session.scalars(
            select(StaffMember).where(
                StaffMember.clinic_id == clinic.id, StaffMember.role == "admin",
                StaffMember.is_active.is_(True),
            ).order_by(StaffMember.id)
        )  # fmt: skip
        found = []
        for admin in admins:
            if admin.phone:
                found.append(Contact(role, "sms", admin.phone, admin.id))
            found.append(Contact(role, "email", admin.email, admin.id))
        return found
    phone, email = (
        (clinic.on_call_phone, clinic.on_call_email) if role == "on_call"
        else (clinic.backup_phone, clinic.backup_email)
    )  # fmt: skip
    return [Contact(role, ch, addr) for ch, addr in (("sms", phone), ("email", email)) if addr]


def page(
    *, session: Session, concern: Concern, clinic: Clinic, now: datetime, start_level: int = 0
) -> list[StaffAlert]:
    """Queue alerts at the first level from ``start_level`` that has anyone to tell.

    Sets the concern's level and when it escalates next (never past the admins).
    """
    for level in range(start_level, LAST_LEVEL + 1):
        found = contacts(session=session, clinic=clinic, level=level)
        if not found:
            continue
        alerts = [
            StaffAlert(clinic_id=clinic.id, concern_id=concern.id, level=level, role=c.role,
                       staff_id=c.staff_id, channel=c.channel, recipient=c.address,
                       created_at=now)
            for c in found
        ]  # fmt: skip
        session.add_all(alerts)
        window = escalation_window(clinic, concern.severity)
        concern.escalation_level = level
        concern.next_escalation_at = now + window if window and level < LAST_LEVEL else None
        audit.record(
            session=session, clinic_id=clinic.id, actor="system",
            action="concern.alert" if level == 0 else "concern.escalate",
            subject_type="concern", subject_id=concern.id, level=level, role=ROLES[level],
            recipients=len(found),
        )  # fmt: skip
        session.flush()
        return alerts
    concern.next_escalation_at = None
    log.warning("concern %s: clinic %s has no staff contact left to page", concern.id, clinic.id)
    return []


def deliver_pending(
    *, sessions: SessionFactory, channels: Channels, settings: Settings, clock: Clock,
    only: Sequence[int] | None = None, limit: int = 50,
) -> int:  # fmt: skip
    """Send alerts that are due (all, or just ``only``); returns how many went out."""
    with sessions() as session:
        claimed = _claim(session, clock.now(), only, limit)
    return sum(_deliver(alert_id, sessions, channels, settings, clock) for alert_id in claimed)


def _claim(session: Session, now: datetime, only: Sequence[int] | None, limit: int) -> list[int]:
    a = StaffAlert
    query = (
        select(a.id)
        .where(
            a.status.in_(("pending", "sending")),
            or_(a.lease_until.is_(None), a.lease_until <= now),
            a.attempts < MAX_ATTEMPTS,
        )
        .order_by(a.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if only is not None:
        query = query.where(a.id.in_(list(only)))
    ids = list(session.scalars(query))
    if ids:
        session.execute(
            update(a)
            .where(a.id.in_(ids))
            .values(status="sending", lease_until=now + LEASE, attempts=a.attempts + 1)
            .execution_options(synchronize_session=False)
        )
    return ids


def _deliver(
    alert_id: int, sessions: SessionFactory, channels: Channels, settings: Settings, clock: Clock
) -> int:
    with sessions() as session:
        alert = session.get_one(StaffAlert, alert_id)
        concern = session.get_one(Concern, alert.concern_id)
        if concern.status != "open":
            alert.status, alert.lease_until = "cancelled", None  # acknowledged meanwhile
            return 0
        outbound = _outbound(session, alert, concern, settings)
        attempts = alert.attempts
    result = send(channels, alert.channel, outbound)
    now = clock.now()
    with sessions() as session:
        alert = session.get_one(StaffAlert, alert_id)
        if isinstance(result, ChannelError):
            retry = not result.permanent and attempts < MAX_ATTEMPTS
            alert.status = "pending" if retry else "failed"
            alert.error_code = (result.code or "error")[:20]
            alert.lease_until = now + timedelta(seconds=15 * 2**attempts) if retry else None
            return 0
        alert.status, alert.provider_id = "sent", result.provider_id
        alert.sent_at, alert.lease_until = now, None
    log.info("alert %s (concern %s, level %s) sent by %s", alert_id, concern.id, alert.level,
             alert.channel)  # fmt: skip
    return 1


def _outbound(
    session: Session, alert: StaffAlert, concern: Concern, settings: Settings
) -> Outbound:
    clinic = session.get_one(Clinic, concern.clinic_id)
    patient = session.get(Patient, concern.patient_id) if concern.patient_id else None
    context = texts.clinic_context(clinic, patient.given_name if patient else "Unknown sender")
    context |= {
        "severity": concern.severity,
        "link": f"{settings.public_url.rstrip('/')}/concerns/{concern.id}",
        "ack_code": concern.ack_code,
    }
    body = texts.render("staff_alert", "en", context) or (  # staff read English
        f"Aftercare {concern.severity.upper()}: {context['first_name']} needs review. "
        f"{context['link']} Reply ACK {concern.ack_code} to acknowledge."
    )
    reference = f"alert-{alert.id}"
    if alert.channel == "sms":
        return Outbound(to=alert.recipient, body=body, sender=clinic.sms_from, reference=reference)
    subject = f"Aftercare {concern.severity.upper()}: a patient needs review ({concern.ack_code})"
    return Outbound(to=alert.recipient, body=body, subject=subject, reference=reference,
                    sender=clinic.email_from or settings.email_from)  # fmt: skip
