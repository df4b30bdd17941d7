"""The consent record: every change of a patient's opt-out stamp, with when and how.

Callers change ``sms_opted_out_at``/``email_opted_out_at`` through :func:`revoke` and
:func:`restore`, which do nothing (and record nothing) when the state already matches:
a second STOP is not a second revocation. So the stamp the send re-check reads
(delivery/prepare.py ``skip_reason``) is always the ledger's latest word per channel.
A change that came in a patient's message keeps her exact words (``exact_text``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders.patients.models import ConsentEvent, Patient

CHANNELS = ("sms", "email")
VIA = ("patient_keyword", "carrier_opt_out", "provider_error", "staff")
KEYWORD_MAX = 100
EXACT_TEXT_MAX = 1600  # an SMS of 10 segments; a STOP in an email keeps its first lines
SOURCE_MAX = 200


def _attribute(channel: str) -> str:
    if channel not in CHANNELS:
        raise ValueError(f"channel: unknown value {channel!r}")
    return f"{channel}_opted_out_at"


def is_opted_out(patient: Patient, channel: str) -> bool:
    return getattr(patient, _attribute(channel)) is not None


def revoke(
    *, session: Session, patient: Patient, channel: str, now: datetime, via: str,
    keyword: str | None = None, inbound_message_id: int | None = None,
    source: str | None = None, staff_id: int | None = None, recorded_at: datetime | None = None,
) -> ConsentEvent | None:  # fmt: skip
    """Opt the patient out of ``channel``; the new event, or None if already opted out."""
    if is_opted_out(patient, channel):
        return None
    setattr(patient, _attribute(channel), now)
    return _record(session, patient, channel, "revoked", now, via, keyword, inbound_message_id,
                   source, staff_id, recorded_at)  # fmt: skip


def restore(
    *, session: Session, patient: Patient, channel: str, now: datetime, via: str,
    keyword: str | None = None, inbound_message_id: int | None = None,
    source: str | None = None, staff_id: int | None = None, recorded_at: datetime | None = None,
) -> ConsentEvent | None:  # fmt: skip
    """Opt the patient back in; the new event, or None if they were not opted out."""
    if not is_opted_out(patient, channel):
        return None
    setattr(patient, _attribute(channel), None)
    return _record(session, patient, channel, "restored", now, via, keyword, inbound_message_id,
                   source, staff_id, recorded_at)  # fmt: skip


def _record(
    session: Session, patient: Patient, channel: str, action: str, now: datetime, via: str,
    keyword: str | None, inbound_message_id: int | None, source: str | None,
    staff_id: int | None, recorded_at: datetime | None,
) -> ConsentEvent:  # fmt: skip
    if via not in VIA:
        raise ValueError(f"via: unknown value {via!r}")
    exact = None
    if inbound_message_id is not None:
        from reminders.conversations.models import InboundMessage  # it refers back to patients

        inbound = session.get(InboundMessage, inbound_message_id)
        exact = inbound.body[:EXACT_TEXT_MAX] if inbound is not None and inbound.body else None
    event = ConsentEvent(
        clinic_id=patient.clinic_id, patient_id=patient.id, channel=channel, action=action,
        at=now, via=via, keyword=keyword[:KEYWORD_MAX] if keyword else None,
        inbound_message_id=inbound_message_id, exact_text=exact,
        source=source[:SOURCE_MAX] if source else None, staff_id=staff_id,
        recorded_at=recorded_at or now,
    )  # fmt: skip
    session.add(event)
    return event


def latest(*, session: Session, patient_id: int, channel: str) -> ConsentEvent | None:
    """The channel's most recent change, or None if it never changed."""
    return session.scalar(
        select(ConsentEvent).where(ConsentEvent.patient_id == patient_id,
                                   ConsentEvent.channel == channel)
        .order_by(ConsentEvent.at.desc(), ConsentEvent.id.desc()).limit(1))  # fmt: skip


def history(*, session: Session, patient_id: int) -> list[ConsentEvent]:
    """The patient's consent events, oldest first."""
    return list(session.scalars(
        select(ConsentEvent).where(ConsentEvent.patient_id == patient_id)
        .order_by(ConsentEvent.at, ConsentEvent.id)))  # fmt: skip
