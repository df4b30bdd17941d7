"""Telling the staff already paged that someone took the concern (no more chasing it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders.clinics.models import StaffMember
from reminders.conversations.models import Concern, StaffAlert
from reminders.enrollments.models import NOTICE


def taken(*, session: Session, concern: Concern, now: datetime) -> int:
    """One notice to each person a page reached, by SMS when any page went by SMS."""
    from reminders.conversations.outbound import queue  # outbound imports delivery

    taker = session.get(StaffMember, concern.acknowledged_by) if concern.acknowledged_by else None
    who = (taker.name or taker.email) if taker else "a colleague"
    reached = session.execute(
        select(StaffAlert.staff_id, StaffAlert.channel, StaffAlert.recipient)
        .where(StaffAlert.concern_id == concern.id, StaffAlert.status.in_(("sent", "delivered")))
        .order_by(StaffAlert.channel.desc())  # "sms" before "email"
    ).all()
    told: set[int] = set()
    body = f"Aftercare: {concern.ack_code} was acknowledged by {who}. No action needed."
    for staff_id, channel, recipient in reached:
        if staff_id is None or staff_id in told or staff_id == concern.acknowledged_by:
            continue
        told.add(staff_id)
        queue(session=session, clinic_id=concern.clinic_id, kind=NOTICE, channel=channel,
              body=body, now=now, key=f"taken:{concern.id}:{staff_id}", recipient=recipient,
              concern_id=concern.id, staff_id=staff_id,
              subject=f"Aftercare: {concern.ack_code} acknowledged" if channel == "email"
              else None)  # fmt: skip
    return len(told)
