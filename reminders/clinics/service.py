"""Clinics, their API keys and staff look-ups."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders import audit
from reminders.clinics.models import Clinic
from reminders.enrollments.schemas import InputError, normalize_phone
from reminders.protocols import service as protocols
from reminders.scheduling import SendWindow, validate_zone

API_KEY_PREFIX = "ak_"


@dataclass(frozen=True)
class NewClinic:
    clinic: Clinic
    api_key: str  # shown once; only its hash is stored


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_clinic(
    *,
    session: Session,
    name: str,
    timezone: str,
    sms_from: str,
    emergency_number: str = "911",
    contact_phone: str | None = None,
) -> NewClinic:
    errors: list[tuple[str, str]] = []
    if not name.strip():
        errors.append(("name", "is required"))
    try:
        validate_zone(timezone)
    except ValueError as exc:
        errors.append(("timezone", str(exc)))
    phones: dict[str, str | None] = {}
    for field, value in (
        ("sms_from", sms_from),
        ("contact_phone", contact_phone),
    ):
        try:
            phones[field] = normalize_phone(value) if value else None
        except ValueError as exc:
            errors.append((field, str(exc)))
    if errors:
        raise InputError(errors)
    api_key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    clinic = Clinic(
        name=name.strip(),
        timezone=timezone,
        sms_from=phones["sms_from"] or "",
        contact_phone=phones["contact_phone"] or phones["sms_from"],
        emergency_number=emergency_number,
        api_key_hash=hash_api_key(api_key),
    )
    session.add(clinic)
    session.flush()
    protocols.sync_builtin(session=session, clinic_id=clinic.id)
    audit.record(
        session=session,
        clinic_id=clinic.id,
        actor="cli",
        action="clinic.create",
        subject_type="clinic",
        subject_id=clinic.id,
    )
    return NewClinic(clinic=clinic, api_key=api_key)


def clinic_for_api_key(*, session: Session, api_key: str) -> Clinic | None:
    if not api_key.startswith(API_KEY_PREFIX):
        return None
    digest = hash_api_key(api_key)
    clinic = session.scalar(select(Clinic).where(Clinic.api_key_hash == digest))
    # The lookup is by hash already; compare again in constant time for good measure.
    if clinic is None or not hmac.compare_digest(clinic.api_key_hash or "", digest):
        return None
    return clinic


def get_clinic(*, session: Session, clinic_id: int) -> Clinic:
    clinic = session.get(Clinic, clinic_id)
    if clinic is None:
        raise InputError([("clinic", f"no clinic with id {clinic_id}")])
    return clinic


def send_window(clinic: Clinic) -> SendWindow:
    return SendWindow(opens=clinic.window_opens, closes=clinic.window_closes)
