"""Paging staff about a concern, step by step through the clinic's escalation policy.

Each step names a target (the primary on call, the backup, every clinician, the
admins) and how long to wait for an acknowledgement before the next. After the last
step a repeating policy starts again, so an unacknowledged concern never goes quiet;
a policy step with nobody in it is skipped, and a clinic with nobody to page at all is
tried again every few minutes. Urgent concerns page by SMS (email when a person has no
phone); emergencies by SMS and email at every step.

A page is a StaffAlert (who, which step, which round) and an outbound message of kind
``page`` written in the same transaction: it goes out through the delivery pipeline
like everything else we send, and a page that fails or is reported undelivered moves
the concern to the next step at once. Pages carry minimal PHI: a first name, the
severity, a link and the acknowledgement code.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from reminders import audit
from reminders.clinics.models import Clinic, StaffMember
from reminders.conversations.models import Concern, StaffAlert
from reminders.enrollments.models import CANCELLED, CLAIMED, PAGE, PENDING, ScheduledMessage
from reminders.oncall.policy import policy_for
from reminders.oncall.service import on_call

log = logging.getLogger(__name__)
PAGE_EXPIRY = timedelta(hours=2)  # a page still unsent by then is stale: the policy moved on
NOBODY_RETRY = timedelta(minutes=5)  # nobody to page anywhere: look again this soon
_ROLES = {"primary": "primary", "backup": "backup", "clinicians": "clinician", "admins": "admin"}
ALIVE = ("pending", "sent", "delivered")


@dataclass(frozen=True)
class Recipient:
    staff: StaffMember
    role: str


def recipients(*, session: Session, clinic: Clinic, target: str, now: datetime) -> list[Recipient]:
    """The active staff members a policy step pages right now."""
    role = _ROLES[target]
    if target in ("primary", "backup"):
        shift = on_call(session=session, clinic=clinic, at=now)
        person = None if shift is None else shift.primary if target == "primary" else shift.backup
        return [Recipient(person, role)] if person is not None else []
    members = session.scalars(
        select(StaffMember).where(
            StaffMember.clinic_id == clinic.id, StaffMember.role == role,
            StaffMember.is_active.is_(True),
        ).order_by(StaffMember.id)
    )  # fmt: skip
    return [Recipient(m, role) for m in members]


def page(*, session: Session, concern: Concern, clinic: Clinic, now: datetime) -> list[StaffAlert]:
    """Page from the policy's first step: a new concern, or one whose severity rose (its
    pages still waiting to go out are cancelled first: they named the old severity)."""
    cancel_pages(session=session, concern_id=concern.id)
    return _page_from(session, concern, clinic, now, step=0, round_=concern.escalation_round)


def advance(
    *, session: Session, concern: Concern, clinic: Clinic, now: datetime
) -> list[StaffAlert]:
    """Page the next step now: its wait ran out, or every page of this step failed."""
    return _page_from(session, concern, clinic, now, step=concern.escalation_level + 1,
                      round_=concern.escalation_round)  # fmt: skip


def _page_from(
    session: Session, concern: Concern, clinic: Clinic, now: datetime, *, step: int, round_: int
) -> list[StaffAlert]:
    policy = policy_for(session=session, clinic=clinic, severity=concern.severity)
    for _ in range(len(policy.steps) + 1):  # one full pass looking for somebody to page
        if step >= len(policy.steps):
            if not policy.repeat:
                concern.next_escalation_at = None
                _audit(session, concern, "concern.policy_ended", step=step, round=round_)
                return []
            step, round_ = 0, round_ + 1
        found = recipients(session=session, clinic=clinic, target=policy.steps[step].target,
                           now=now)  # fmt: skip
        if found:
            alerts = _queue(session, concern, clinic, found, now, step, round_)
            concern.escalation_level, concern.escalation_round = step, round_
            concern.next_escalation_at = now + policy.steps[step].wait
            _audit(session, concern, "concern.alert" if step == 0 and round_ == 0 else
                   "concern.escalate", level=step, round=round_, role=found[0].role,
                   recipients=len(found))  # fmt: skip
            return alerts
        step += 1
    concern.next_escalation_at = now + NOBODY_RETRY
    _audit(session, concern, "concern.unpaged", level=step, round=round_)
    log.warning("concern %s: clinic %s has nobody to page", concern.id, clinic.id)
    return []


def _queue(
    session: Session, concern: Concern, clinic: Clinic, found: list[Recipient], now: datetime,
    step: int, round_: int,
) -> list[StaffAlert]:  # fmt: skip
    alerts: list[StaffAlert] = []
    for person in found:
        staff = person.staff
        channels = [("sms", staff.phone)] if staff.phone else []
        if concern.severity == "emergency" or not channels:
            channels.append(("email", staff.email))
        for channel, address in channels:
            alert = StaffAlert(clinic_id=clinic.id, concern_id=concern.id, level=step,
                               round=round_, role=person.role, staff_id=staff.id,
                               channel=channel, recipient=address, created_at=now)  # fmt: skip
            session.add(alert)
            session.flush()
            # The text is rendered when it goes out (delivery/page_text.py).
            message = ScheduledMessage(
                clinic_id=clinic.id, kind=PAGE, channel=channel, recipient=address,
                concern_id=concern.id, staff_id=staff.id, patient_id=concern.patient_id,
                step_key="page", template="staff_alert", idempotency_key=f"page:{alert.id}",
                planned_at=now, due_at=now, expires_at=now + PAGE_EXPIRY,
                time_critical=True, status=PENDING, created_at=now, updated_at=now,
            )  # fmt: skip
            session.add(message)
            session.flush()
            alert.message_id = message.id
            alerts.append(alert)
    return alerts


def cancel_pages(*, session: Session, concern_id: int) -> int:
    """Cancel the concern's pages not yet handed to a provider (one claimed by a sender is
    cancelled too: its conditional moves then match nothing)."""
    m = ScheduledMessage
    result = session.execute(
        update(m)
        .where(m.concern_id == concern_id, m.kind == PAGE, m.status.in_((PENDING, CLAIMED)))
        .values(status=CANCELLED, status_reason="acknowledged", lease_until=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(StaffAlert)
        .where(StaffAlert.concern_id == concern_id, StaffAlert.status == "pending")
        .values(status="cancelled")
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def mark_page(
    *, session: Session, message_id: int, status: str, now: datetime | None = None
) -> None:
    values: dict[str, object] = {"status": status}
    if now is not None:
        values["sent_at"] = now
    session.execute(
        update(StaffAlert).where(StaffAlert.message_id == message_id).values(**values)
        .execution_options(synchronize_session=False)
    )  # fmt: skip


def page_failed(*, session: Session, message_id: int, now: datetime) -> list[StaffAlert]:
    """A page failed for good: when nothing else of the concern's current step can still
    reach anyone, the next step is paged at once."""
    mark_page(session=session, message_id=message_id, status="failed")
    alert = session.scalar(select(StaffAlert).where(StaffAlert.message_id == message_id))
    if alert is None:
        return []
    concern = session.scalars(
        select(Concern).where(Concern.id == alert.concern_id).with_for_update()
    ).one()
    current = (alert.level, alert.round) == (concern.escalation_level, concern.escalation_round)
    if concern.status != "open" or not current:
        return []
    alive = session.scalar(
        select(StaffAlert.id).where(
            StaffAlert.concern_id == concern.id, StaffAlert.level == alert.level,
            StaffAlert.round == alert.round, StaffAlert.status.in_(ALIVE),
        ).limit(1)
    )  # fmt: skip
    if alive is not None:
        return []
    clinic = session.get_one(Clinic, concern.clinic_id)
    log.info("concern %s: every page of step %s failed; escalating now", concern.id, alert.level)
    return advance(session=session, concern=concern, clinic=clinic, now=now)


def _audit(session: Session, concern: Concern, action: str, **details: Any) -> None:
    audit.record(session=session, clinic_id=concern.clinic_id, actor="system", action=action,
                 subject_type="concern", subject_id=concern.id, **details)  # fmt: skip
