"""Staff acknowledging a concern by text: "ACK K7QF" from a number the clinic knows.

Only the clinic's on-call and backup numbers and its staff members' phones count, and
only that clinic's concerns can be acknowledged from them: a patient (or anyone else)
who texts a code acknowledges nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from reminders.clinics.models import Clinic, StaffMember
from reminders.conversations.concerns import acknowledge, by_ack_code
from reminders.conversations.reading import detect_ack

# The alert says "Reply ACK K7QF"; a bare code from a staff phone is accepted as well,
# since people drop the keyword when replying in a hurry.
_BARE_CODE = re.compile(r"^\s*([A-Za-z0-9]{4})\s*[.!]?\s*$")


@dataclass(frozen=True)
class StaffPhone:
    clinic_id: int
    staff_id: int | None  # None: the clinic's on-call/backup number, not a person's
    role: str  # on_call | backup | staff


def staff_phones(*, session: Session, phone: str) -> list[StaffPhone]:
    found: list[StaffPhone] = []
    for clinic in session.scalars(
        select(Clinic).where(or_(Clinic.on_call_phone == phone, Clinic.backup_phone == phone))
    ):
        role = "on_call" if clinic.on_call_phone == phone else "backup"
        found.append(StaffPhone(clinic.id, None, role))
    for member in session.scalars(
        select(StaffMember).where(StaffMember.phone == phone, StaffMember.is_active.is_(True))
    ):
        found.append(StaffPhone(member.clinic_id, member.id, "staff"))
    return found


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
    if concern.status != "open":
        return f"{code} was already acknowledged."
    # A person's own phone names them; the shared on-call phone only names the role.
    who = next((p for p in phones if p.clinic_id == concern.clinic_id and p.staff_id), None)
    who = who or next(p for p in phones if p.clinic_id == concern.clinic_id)
    acknowledge(session=session, concern=concern, staff_id=who.staff_id, now=now,
                via=f"sms:{who.role}")  # fmt: skip
    return f"Acknowledged {code}. Escalation stopped. Please follow up with the patient."
