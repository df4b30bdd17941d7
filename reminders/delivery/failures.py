"""What a provider's refusal means for the message: retry, fall back, fail — at send time
or when a status callback reports it later (the same rules either way).

Transient errors are retried with back-off until the message expires (30003/30008 only
a few times). A permanent failure of a patient message (a step, a re-ask, a clinician's
text) falls back to email when the patient has a usable address, and either way opens a
routine concern so a coordinator knows the patient did not get it. 21610 (the patient
texted STOP to the provider) also marks the patient opted out of SMS. A page that fails
moves its concern to the next escalation step at once, not after the step's wait.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from reminders import metrics
from reminders.channels.base import ChannelError
from reminders.channels.twilio_sms import error_for_code
from reminders.clinics.models import Clinic
from reminders.conversations import alerts
from reminders.conversations.concerns import open_concern
from reminders.delivery.models import SendAttempt
from reminders.delivery.pages import ACKNOWLEDGED
from reminders.delivery.prepare import Ready
from reminders.delivery.record import attempt_count, backoff, finish
from reminders.enrollments.models import (
    CANCELLED,
    FAILED,
    PAGE,
    PENDING,
    REASK,
    SENT,
    STAFF_TEXT,
    STEP,
    ScheduledMessage,
)
from reminders.patients import consent
from reminders.patients.service import patient_of_message

# Move the message on (conditional on its claim, or on still being "sent" for a report
# that came later); True when it moved.
Move = Callable[..., bool]
_FALLS_BACK = (STEP, REASK, STAFF_TEXT)


def handle_failure(
    session: Session, item: Ready, exc: ChannelError, now: datetime, *, email_possible: bool
) -> tuple[str, str]:
    """Record the failed attempt and decide; returns (outcome, detail)."""
    session.execute(
        update(SendAttempt)
        .where(SendAttempt.id == item.attempt_id)
        .values(
            # "in_doubt": the request may have reached the provider; reconcile first.
            status="in_doubt" if exc.in_doubt else "error",
            error_code=exc.code,
            error_message=str(exc)[:300],
            permanent=exc.permanent,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )

    def move(status: str, reason: str, **values: object) -> bool:
        return finish(session, item.claim, status, reason, now, **values)

    if item.kind == PAGE and exc.code == ACKNOWLEDGED:
        done = move(CANCELLED, ACKNOWLEDGED)
        alerts.mark_page(session=session, message_id=item.claim.message_id, status="cancelled")
        return ("cancelled" if done else "stale"), ACKNOWLEDGED
    return decide(session, item.claim.message_id, exc, now, move, email_possible=email_possible)


def after_report(
    session: Session, *, provider_id: str, code: str | None, now: datetime, email_possible: bool
) -> str | None:
    """A status callback reported ``undelivered``/``failed``: act as if the send had failed.

    Only for the message's newest attempt, and only while the message stands as sent
    (a report arriving twice, or after the message was sent again, changes nothing).
    """
    attempt = session.scalar(select(SendAttempt).where(SendAttempt.provider_id == provider_id))
    if attempt is None or attempt.message_id is None:
        return None
    newer = session.scalar(select(SendAttempt.id).where(
        SendAttempt.message_id == attempt.message_id, SendAttempt.id > attempt.id,
    ).limit(1))  # fmt: skip
    if newer is not None:
        return None
    message_id = attempt.message_id
    m = ScheduledMessage

    def move(status: str, reason: str, **values: object) -> bool:
        result = session.execute(
            update(m).where(m.id == message_id, m.status == SENT)
            .values(status=status, status_reason=reason, updated_at=now, **values)
            .execution_options(synchronize_session=False)
        )  # fmt: skip
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    outcome, _detail = decide(session, message_id, error_for_code(code), now, move,
                              email_possible=email_possible)  # fmt: skip
    return outcome


def decide(
    session: Session, message_id: int, exc: ChannelError, now: datetime, move: Move, *,
    email_possible: bool,
) -> tuple[str, str]:  # fmt: skip
    code = exc.code
    msg = session.get_one(ScheduledMessage, message_id)
    retry = not exc.permanent
    if retry and exc.limited_retries is not None and code is not None:
        retry = attempt_count(session, message_id, code) <= exc.limited_retries
    if retry:
        delay = backoff(attempt_count(session, message_id), exc.retry_after)
        if now + delay < msg.expires_at:
            done = move(PENDING, f"retry_{code or 'transient'}", next_attempt_at=now + delay)
            return ("retry" if done else "stale"), str(code)
    if msg.kind == PAGE:
        if not move(FAILED, f"page_failed_{code or 'error'}"):
            return "stale", str(code)
        alerts.page_failed(session=session, message_id=message_id, now=now)
        metrics.count_failed(msg.channel)
        return "failed", str(code)
    patient = patient_of_message(session=session, message=msg)
    reason = f"{msg.channel}_failed_{code or 'error'}"
    can_email = (
        email_possible and msg.kind in _FALLS_BACK and msg.channel == "sms"
        and patient is not None and bool(patient.email) and patient.email_opted_out_at is None
    )  # fmt: skip
    if can_email:
        done = move(PENDING, f"fallback_from_{reason}", channel="email", next_attempt_at=None)
    else:
        done = move(FAILED, reason)
    if not done:
        return "stale", str(code)
    if exc.opts_out and msg.channel == "sms" and patient is not None:
        # 21610: the patient texted STOP to the carrier, which now refuses our texts. No
        # keyword: we never saw the message; the attempt row keeps the error code.
        consent.revoke(session=session, patient=patient, channel="sms", now=now,
                       via="provider_error")  # fmt: skip
    if msg.kind in _FALLS_BACK and patient is not None:
        clinic = session.get_one(Clinic, msg.clinic_id)
        what = f"'{msg.step_key}'" if msg.kind != STAFF_TEXT else "a clinician's text"
        open_concern(
            session=session, clinic=clinic, severity="routine", kind="delivery", now=now,
            summary=f"Could not deliver {what} by {msg.channel} ({code})"
            + ("; sending it by email instead" if can_email else ""),
            patient_id=patient.id, enrollment_id=msg.enrollment_id,
        )  # fmt: skip
    metrics.count_failed(msg.channel)
    return ("fallback" if can_email else "failed"), str(code)

