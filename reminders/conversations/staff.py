"""Staff acknowledging a concern by text or email: "ACK K7QF" from a staff member's phone,
or a reply to a page email from their address.

Only active staff members' phones and addresses count, and only their own clinic's
concerns can be acknowledged from them: a patient (or anyone else) who texts a code
acknowledges nothing. Whoever loses a race to acknowledge is told who won.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reminders.clinics.models import StaffMember
from reminders.conversations.concerns import acknowledge, by_ack_code
from reminders.conversations.models import Concern
from reminders.conversations.reading import detect_ack

# The alert says "Reply ACK K7QF"; a bare code from a staff phone is accepted as well,
# since people drop the keyword when replying in a hurry.
_BARE_CODE = re.compile(r"^\s*([A-Za-z0-9]{4})\s*[.!]?\s*$")


@dataclass(frozen=True)
class StaffPhone:
    clinic_id: int
    staff_id: int
    role: str  # the staff member's role


def staff_phones(*, session: Session, phone: str) -> list[StaffPhone]:
    return [
        StaffPhone(member.clinic_id, member.id, member.role)
        for member in session.scalars(
            select(StaffMember).where(StaffMember.phone == phone, StaffMember.is_active.is_(True))
        )
    ]


def staff_by_email(*, session: Session, address: str) -> StaffMember | None:
    return session.scalar(select(StaffMember).where(
        func.lower(StaffMember.email) == address.lower(),
        StaffMember.is_active.is_(True)))  # fmt: skip


def acknowledge_by_sms(
    *, session: Session, phones: list[StaffPhone], text: str, now: datetime
) -> str | None:
    """Handle "ACK <code>" (or a bare code) from a staff phone; returns the reply, or None
    when the text is not an acknowledgement at all."""
    code = detect_ack(text)
    explicit = code is not None
    if code is None and (bare := _BARE_CODE.match(text)):
        code = bare.group(1).upper()
    if code is None:
        return None
    clinic_ids = [p.clinic_id for p in phones]
    concern = by_ack_code(session=session, clinic_ids=clinic_ids, code=code)
    if concern is None:
        # "okay" is four letters too: only an explicit ACK earns a "no such code".
        return f"No open concern has code {code}. Check the alert." if explicit else None
    who = next(p for p in phones if p.clinic_id == concern.clinic_id)
    return _acknowledge(session, concern, who.staff_id, now, "sms")


def acknowledge_by_email(
    *, session: Session, member: StaffMember, text: str, subject: str, now: datetime,
    page_concern_id: int | None,
) -> str | None:  # fmt: skip
    """A staff member's email: "ACK K7QF" in the text or subject, or any reply to a page
    email (its reply-to names the concern). Returns the answer, or None if not an ack."""
    concern = None
    code = detect_ack(text) or detect_ack(subject)
    if code is not None:
        concern = by_ack_code(session=session, clinic_ids=[member.clinic_id], code=code)
        if concern is None:
            return f"No open concern has code {code}. Check the alert."
    elif page_concern_id is not None:
        concern = session.get(Concern, page_concern_id)
        if concern is None or concern.clinic_id != member.clinic_id:
            return None
    if concern is None:
        return None
    return _acknowledge(session, concern, member.id, now, "email")


def _acknowledge(
    session: Session, concern: Concern, staff_id: int, now: datetime, via: str
) -> str:
    code = concern.ack_code
    if concern.status == "open":
        acknowledge(session=session, concern=concern, staff_id=staff_id, now=now, via=via)
        if concern.acknowledged_by == staff_id:
            return f"Acknowledged {code}. Escalation stopped. Please follow up with the patient."
    if concern.status == "resolved":
        return f"{code} is already resolved."
    winner = session.get(StaffMember, concern.acknowledged_by) if concern.acknowledged_by else None
    name = (winner.name or winner.email) if winner else "the system"
    return f"{code} was already acknowledged by {name}."
