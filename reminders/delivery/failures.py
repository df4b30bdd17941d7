"""What a provider's refusal means for the message: retry, fall back to email, or fail.

Transient errors are retried with back-off until the message expires (30003/30008 only
a few times). A permanent SMS failure falls back to email when the patient has a usable
address, and either way opens a routine concern so a coordinator knows the patient did
not get the message. 21610 (the patient texted STOP to the provider) also marks the
patient opted out of SMS.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from reminders import metrics
from reminders.channels.base import ChannelError
from reminders.clinics.models import Clinic
from reminders.conversations.concerns import open_concern
from reminders.delivery.models import SendAttempt
from reminders.delivery.prepare import Ready
from reminders.delivery.record import attempt_count, backoff, finish
from reminders.enrollments.models import FAILED, PENDING, Enrollment, ScheduledMessage
from reminders.patients import consent
from reminders.patients.models import Patient


def handle_failure(
    session: Session, item: Ready, exc: ChannelError, now: datetime, *, email_possible: bool
) -> tuple[str, str]:
    """Record the failed attempt and decide; returns (outcome, detail)."""
    code = exc.code
    session.execute(
        update(SendAttempt)
        .where(SendAttempt.id == item.attempt_id)
        .values(
            # "in_doubt": the request may have reached the provider; reconcile first.
            status="in_doubt" if exc.in_doubt else "error",
            error_code=code,
            error_message=str(exc)[:300],
            permanent=exc.permanent,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    claim = item.claim
    retry = not exc.permanent
    if retry and exc.limited_retries is not None and code is not None:
        retry = attempt_count(session, claim.message_id, code) <= exc.limited_retries
    if retry:
        delay = backoff(attempt_count(session, claim.message_id), exc.retry_after)
        if now + delay < item.expires_at:
            done = finish(
                session,
                claim,
                PENDING,
                f"retry_{code or 'transient'}",
                now,
                next_attempt_at=now + delay,
            )
            return ("retry" if done else "stale"), str(code)
    msg = session.get_one(ScheduledMessage, claim.message_id)
    enrollment = session.get_one(Enrollment, msg.enrollment_id)
    patient = session.get_one(Patient, enrollment.patient_id)
    reason = f"{item.channel}_failed_{code or 'error'}"
    can_email = (
        email_possible
        and item.channel == "sms"
        and bool(patient.email)
        and patient.email_opted_out_at is None
    )
    if can_email:
        done = finish(
            session,
            claim,
            PENDING,
            f"fallback_from_{reason}",
            now,
            channel="email",
            next_attempt_at=None,
        )
    else:
        done = finish(session, claim, FAILED, reason, now)
    if not done:
        return "stale", str(code)
    if exc.opts_out and item.channel == "sms":
        # 21610: the patient texted STOP to the carrier, which now refuses our texts. No
        # keyword: we never saw the message; the attempt row keeps the error code.
        consent.revoke(session=session, patient=patient, channel="sms", now=now,
                       via="provider_error")  # fmt: skip
    clinic = session.get_one(Clinic, msg.clinic_id)
    open_concern(
        session=session,
        clinic=clinic,
        severity="routine",
        kind="delivery",
        now=now,
        summary=f"Could not deliver '{msg.step_key}' by {item.channel} ({code})"
        + ("; sending it by email instead" if can_email else ""),
        patient_id=patient.id,
        enrollment_id=enrollment.id,
    )
    metrics.count_failed(item.channel)
    return ("fallback" if can_email else "failed"), str(code)
