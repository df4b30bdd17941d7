"""The consent ledger for people: every opt-out and opt-in of one patient, per channel,
with where it came from, when, who entered it and, for a patient's own message, her
exact words. Read by the timeline page, the edit page and ``GET /api/v1/patients/{id}/
consent``; written only through consent.py (so it and the opt-out stamps agree)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders.clinics.models import StaffMember
from reminders.patients.models import ConsentEvent
from reminders.patients.service import get_patient

CHANNEL_NAMES = {"sms": "SMS", "email": "Email"}
# How each kind of change reached us, when no staff member typed a source.
VIA_WORDS = {
    "patient_keyword": "patient's message",
    "carrier_opt_out": "carrier opt-out (STOP to the carrier)",
    "provider_error": "the carrier refused our text (number opted out)",
    "staff": "staff",
}


@dataclass(frozen=True)
class LedgerRow:
    id: int
    at: datetime  # when the patient asked (or the change reached us)
    channel: str  # sms | email
    action: str  # opt_out | opt_in
    via: str  # patient_keyword | carrier_opt_out | provider_error | staff
    source: str  # in words: "patient phoned", "paper form", "patient's message", …
    by: str  # the staff member's name, else "patient" or "carrier"
    exact_text: str | None  # the patient's words, for changes her own message made
    recorded_at: datetime | None  # when it was entered (staff may record a past phone call)

    @property
    def channel_name(self) -> str:
        return CHANNEL_NAMES.get(self.channel, self.channel)

    @property
    def action_name(self) -> str:
        return "Opted out" if self.action == "opt_out" else "Opted in"


def ledger(*, session: Session, clinic_id: int, patient_id: int) -> list[LedgerRow]:
    """The patient's consent changes, newest first; NotFound for another clinic's patient."""
    patient = get_patient(session=session, clinic_id=clinic_id, patient_id=patient_id)
    rows = session.execute(
        select(ConsentEvent, StaffMember.name)
        .outerjoin(StaffMember, StaffMember.id == ConsentEvent.staff_id)
        .where(ConsentEvent.clinic_id == clinic_id, ConsentEvent.patient_id == patient.id)
        .order_by(ConsentEvent.at.desc(), ConsentEvent.id.desc()))  # fmt: skip
    return [_row(event, name) for event, name in rows]


def _row(event: ConsentEvent, staff_name: str | None) -> LedgerRow:
    if event.via == "staff":
        by = staff_name or "staff"
    else:
        by = "patient" if event.via == "patient_keyword" else "carrier"
    return LedgerRow(
        id=event.id, at=event.at, channel=event.channel,
        action="opt_out" if event.action == "revoked" else "opt_in", via=event.via,
        source=event.source or VIA_WORDS.get(event.via, event.via), by=by,
        exact_text=event.exact_text, recorded_at=event.recorded_at,
    )  # fmt: skip
