"""Messages the conversation code decides to send: replies, notices, re-asks, clinicians'
texts — queued as outbound rows, delivered by the one pipeline.

Each is a ``scheduled_messages`` row carrying its text, written in the transaction that
decided it, and it goes out the way every protocol step does: claimed, an attempt row
written before the provider call, rate limited, reconciled if in doubt, reported on by
status callback, failures handled by the same rules. Whoever queued it asks for delivery
right after commit (:func:`deliver_now`); the dispatcher picks up anything that missed.

That includes the auto-reply to a text: the webhook answers Twilio with empty TwiML, and
the reply, decided when the text is read, is queued here like everything else.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from reminders import audit
from reminders.channels import build_email_channel, build_sms_channel
from reminders.channels.base import Channel
from reminders.clinics.models import Clinic
from reminders.clock import Clock
from reminders.config import Settings, get_settings
from reminders.conversations.models import Concern
from reminders.delivery import engine
from reminders.delivery.dispatch import Claim
from reminders.delivery.factory import rate_limiter_for
from reminders.delivery.send import Outcome, Sender, SessionFactory
from reminders.enrollments.models import (
    PENDING,
    STAFF_TEXT,
    ScheduledMessage,
)
from reminders.interop.push import build_channel as build_fhir_channel
from reminders.patients.models import Patient

Channels = dict[str, Channel]
MAX_TEXT = 640  # four SMS segments: a clinician's text back, not a letter
EXPIRY = {"reply": timedelta(hours=6), "notice": timedelta(hours=2),
          "reask": timedelta(hours=24), "staff_text": timedelta(hours=24)}  # fmt: skip


def build_channels(settings: Settings) -> Channels:
    return {"sms": build_sms_channel(settings), "email": build_email_channel(settings),
            "fhir": build_fhir_channel(settings)}


@functools.cache
def default_channels() -> Channels:
    """Channels for worker processes and jobs, built once per process from settings."""
    return build_channels(get_settings())


def queue(
    *, session: Session, clinic_id: int, kind: str, channel: str, body: str, now: datetime,
    key: str, recipient: str | None = None, patient_id: int | None = None,
    enrollment_id: int | None = None, concern_id: int | None = None,
    inbound_id: int | None = None, about_message_id: int | None = None,
    staff_id: int | None = None, subject: str | None = None, time_critical: bool = True,
    expires_at: datetime | None = None, step_key: str | None = None,
) -> ScheduledMessage:  # fmt: skip
    """Queue one message with its text, due now. ``key`` makes it idempotent per kind."""
    message = ScheduledMessage(
        clinic_id=clinic_id, kind=kind, channel=channel, body=body, subject=subject,
        recipient=recipient, patient_id=patient_id, enrollment_id=enrollment_id,
        concern_id=concern_id, inbound_id=inbound_id, about_message_id=about_message_id,
        staff_id=staff_id, step_key=step_key or kind, template=kind,
        idempotency_key=f"{kind}:{key}"[:120], time_critical=time_critical,
        planned_at=now, due_at=now,
        expires_at=expires_at or now + EXPIRY.get(kind, EXPIRY["reply"]),
        status=PENDING, created_at=now, updated_at=now,
    )  # fmt: skip
    session.add(message)
    session.flush()
    return message


class TextRefused(ValueError):
    """A clinician's text that cannot go out; the message says why, for the form."""


def text_patient(
    *, session: Session, clinic: Clinic, concern: Concern, staff_id: int, body: str,
    now: datetime,
) -> ScheduledMessage:  # fmt: skip
    """A clinician texts the patient of a concern back, through the pipeline; audited."""
    text = body.strip()
    if not text:
        raise TextRefused("Write a message first.")
    if len(text) > MAX_TEXT:
        raise TextRefused(f"Keep it under {MAX_TEXT} characters (this is {len(text)}).")
    patient = session.get(Patient, concern.patient_id) if concern.patient_id else None
    if patient is None or patient.clinic_id != clinic.id:
        raise TextRefused("This concern has no patient to text (an unknown number).")
    channel = reachable_channel(patient)
    if channel is None:
        raise TextRefused("The patient has opted out or has no phone or email on file.")
    message = queue(
        session=session, clinic_id=clinic.id, kind=STAFF_TEXT, channel=channel, body=text,
        now=now, key=f"{concern.id}:{now.isoformat()}:{staff_id}", patient_id=patient.id,
        concern_id=concern.id, staff_id=staff_id,
        subject=f"A message from {clinic.name}" if channel == "email" else None,
    )  # fmt: skip
    audit.record(session=session, clinic_id=clinic.id, staff_id=staff_id,
                 actor=f"staff:{staff_id}", action="patient.text", subject_type="patient",
                 subject_id=patient.id, concern=concern.id, channel=channel,
                 message=message.id)  # fmt: skip
    return message


def reachable_channel(patient: Patient) -> str | None:
    """SMS when the patient can be texted, else email, else None."""
    if patient.phone and patient.sms_opted_out_at is None:
        return "sms"
    if patient.email and patient.email_opted_out_at is None:
        return "email"
    return None


def deliver_now(
    *, sessions: SessionFactory, channels: Channels, settings: Settings, clock: Clock
) -> list[Outcome]:
    """Claim and send whatever is due now, in this process (after a commit that queued
    something): the same claims and sender the dispatcher uses."""
    sender = Sender(channels=channels, clock=clock, settings=settings, sessions=sessions,
                    rate_limiter=rate_limiter_for(settings))  # fmt: skip
    outcomes: list[Outcome] = []

    def submit(claims: list[Claim]) -> None:
        outcomes.extend(engine.send_batch(sender, claims))

    try:
        engine.dispatch_due(sessions=sessions, clock=clock, settings=settings, submit=submit)
    finally:
        sender.close()  # its provider threads; the channels belong to the caller
    return outcomes
