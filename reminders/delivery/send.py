"""Send one claimed message: re-check, render, record the attempt, call the provider.

Three short transactions, never one held across the provider call:

1. *prepare* — re-read the row under our claim token, re-check that sending still makes
   sense, render, reconcile a previous attempt left in doubt, then mark the message
   ``sending`` and write the attempt row. Committed before the provider is called.
2. the provider call, outside any transaction, behind the per-sender rate limit.
3. *finish* — record what the provider said, conditional on still holding the claim.

A crash between the provider accepting and step 3 leaves the message ``sending`` with
an attempt ``sending``; when the lease expires the message is claimed again and step 1
asks the provider whether it already has it before sending anything.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from reminders import metrics
from reminders.channels.base import Channel, ChannelError, Outbound
from reminders.clinics.models import Clinic
from reminders.clinics.service import send_window
from reminders.clock import Clock
from reminders.config import Settings
from reminders.conversations.concerns import open_concern
from reminders.delivery.ratelimit import RateLimiter
from reminders.delivery.dispatch import Claim
from reminders.delivery.models import SendAttempt
from reminders.delivery.rendered import RenderedMessage, render_message
from reminders.enrollments.models import (
    CLAIMED, FAILED, PENDING, SENDING, SENT, SKIPPED, Enrollment, ScheduledMessage,
)  # fmt: skip
from reminders.patients.models import Patient
from reminders.scheduling import defer_to_window

log = logging.getLogger(__name__)
SessionFactory = Callable[[], AbstractContextManager[Session]]
MAX_BACKOFF = timedelta(hours=1)
BASE_BACKOFF = timedelta(seconds=30)


@dataclass(frozen=True)
class Outcome:
    message_id: int
    result: str  # sent | skipped | deferred | retry | failed | fallback | reconciled | stale
    detail: str = ""


@dataclass(frozen=True)
class _Prepared:
    outbound: Outbound
    channel_name: str
    attempt_id: int
    expires_at: datetime
    due_at: datetime
    attempt_number: int


class Sender:
    def __init__(
        self,
        *,
        channels: dict[str, Channel],
        clock: Clock,
        settings: Settings,
        sessions: SessionFactory,
        rate_limiter: RateLimiter,
    ) -> None:
        self.channels = channels
        self.clock = clock
        self.settings = settings
        self.sessions = sessions
        self.rate_limiter = rate_limiter

    def send(self, claim: Claim) -> Outcome:
        prepared = self._prepare(claim)
        if isinstance(prepared, Outcome):
            return prepared
        out = prepared.outbound
        if prepared.channel_name == "sms":
            self.rate_limiter.acquire(out.sender)
        try:
            result = self.channels[prepared.channel_name].send(out)
        except ChannelError as exc:
            return self._failed(claim, prepared, exc)
        return self._accepted(claim, prepared, result.provider_id, result.status)

    # -- step 1 -------------------------------------------------------------------------

    def _prepare(self, claim: Claim) -> _Prepared | Outcome:
        now = self.clock.now()
        with self.sessions() as session:
            msg = session.get(ScheduledMessage, claim.message_id)
            if msg is None or msg.claims != claim.token or msg.status != CLAIMED:
                return Outcome(claim.message_id, "stale", "claim no longer held")
            enrollment = session.get_one(Enrollment, msg.enrollment_id)
            patient = session.get_one(Patient, enrollment.patient_id)
            clinic = session.get_one(Clinic, msg.clinic_id)
            reason = self._skip_reason(msg, enrollment, patient, now)
            if reason is not None:
                return self._settle(session, msg, claim, SKIPPED, reason)
            window = send_window(clinic)
            tz = _zone(patient.timezone)
            if not msg.time_critical and not window.allows(now.astimezone(tz).time()):
                opening = defer_to_window(now, tz, window)
                if opening >= msg.expires_at:
                    return self._settle(session, msg, claim, SKIPPED, "quiet_hours_past_expiry")
                self._release(session, msg, claim, due_at=opening, reason="deferred_quiet_hours")
                return Outcome(msg.id, "deferred", opening.isoformat())
            try:
                rendered = render_message(session=session, message=msg, at=now)
            except Exception as exc:  # a template error must not kill the worker loop
                log.error("render failed for message %s: %s", msg.id, exc.__class__.__name__)
                return self._settle(session, msg, claim, FAILED, "render_error")
            outbound = self._outbound(msg, patient, clinic, rendered, now)
            doubt = self._in_doubt_attempt(session, msg.id)
            if doubt is not None:
                found = self.channels[doubt.channel].find_sent(
                    outbound.to, doubt.started_at - timedelta(minutes=2), outbound.body
                )
                if found is not None:
                    doubt.provider_id, doubt.status = found.provider_id, "accepted"
                    doubt.accepted_at = now
                    self._settle(session, msg, claim, SENT, "reconciled", sent_at=now)
                    metrics.count_sent(doubt.channel)
                    return Outcome(msg.id, "reconciled", found.provider_id)
                doubt.status, doubt.error_message = "error", "not found at provider on reclaim"
            attempts = self._attempt_count(session, msg.id)
            moved = session.execute(
                update(ScheduledMessage)
                .where(
                    ScheduledMessage.id == msg.id,
                    ScheduledMessage.claims == claim.token,
                    ScheduledMessage.status == CLAIMED,
                )
                .values(status=SENDING, lease_until=now + self._lease, updated_at=now)
                .execution_options(synchronize_session=False)
            )
            if moved.rowcount != 1:  # type: ignore[attr-defined]
                return Outcome(msg.id, "stale", "claim lost before sending")
            attempt = SendAttempt(
                clinic_id=msg.clinic_id, message_id=msg.id, channel=msg.channel,
                provider=self.channels[msg.channel].name, recipient=outbound.to,
                segments=rendered.segments, started_at=now,
            )  # fmt: skip
            session.add(attempt)
            session.flush()
            return _Prepared(
                outbound, msg.channel, attempt.id, msg.expires_at, msg.due_at, attempts + 1
            )

    @property
    def _lease(self) -> timedelta:
        return timedelta(seconds=self.settings.claim_lease_seconds)

    @staticmethod
    def _skip_reason(
        msg: ScheduledMessage, enrollment: Enrollment, patient: Patient, now: datetime
    ) -> str | None:
        if enrollment.status != "active":
            return f"enrollment_{enrollment.status}"
        if now >= msg.expires_at:
            return "expired"
        if msg.channel == "sms":
            if patient.sms_opted_out_at is not None:
                return "opted_out"
            if not patient.phone:
                return "no_contact_for_channel"
        if msg.channel == "email":
            if patient.email_opted_out_at is not None:
                return "opted_out"
            if not patient.email:
                return "no_contact_for_channel"
        return None

    def _outbound(
        self, msg: ScheduledMessage, patient: Patient, clinic: Clinic,
        rendered: RenderedMessage, now: datetime,
    ) -> Outbound:  # fmt: skip
        validity = max(1, int((msg.expires_at - now).total_seconds()))
        reference = str(msg.id)
        if msg.channel == "sms":
            return Outbound(
                to=patient.phone or "", body=rendered.text, sender=clinic.sms_from,
                status_callback=self.settings.public_url.rstrip("/") + "/webhooks/twilio/status",
                validity_seconds=validity, reference=reference,
            )  # fmt: skip
        return Outbound(
            to=patient.email or "", body=rendered.text, html=rendered.html,
            subject=rendered.subject, sender=clinic.email_from or self.settings.email_from,
            reply_to=reply_address(msg.id, self.settings), reference=reference,
        )  # fmt: skip

    @staticmethod
    def _in_doubt_attempt(session: Session, message_id: int) -> SendAttempt | None:
        return session.scalars(
            select(SendAttempt)
            .where(SendAttempt.message_id == message_id, SendAttempt.status == "sending")
            .order_by(SendAttempt.id.desc())
            .limit(1)
        ).first()

    @staticmethod
    def _attempt_count(session: Session, message_id: int, code: str | None = None) -> int:
        query = select(func.count()).where(SendAttempt.message_id == message_id)
        if code is not None:
            query = query.where(SendAttempt.error_code == code)
        return int(session.scalar(query) or 0)

    # -- step 3 -------------------------------------------------------------------------

    def _accepted(
        self, claim: Claim, prepared: _Prepared, provider_id: str, status: str
    ) -> Outcome:
        now = self.clock.now()
        with self.sessions() as session:
            session.execute(
                update(SendAttempt)
                .where(SendAttempt.id == prepared.attempt_id)
                .values(provider_id=provider_id, status="accepted", accepted_at=now)
            )
            self._finish(session, claim, SENT, None, sent_at=now)
        metrics.count_sent(prepared.channel_name)
        metrics.observe_lateness((now - prepared.due_at).total_seconds())
        return Outcome(claim.message_id, "sent", provider_id)

    def _failed(self, claim: Claim, prepared: _Prepared, exc: ChannelError) -> Outcome:
        now = self.clock.now()
        code = exc.code
        with self.sessions() as session:
            session.execute(
                update(SendAttempt)
                .where(SendAttempt.id == prepared.attempt_id)
                .values(status="error", error_code=code, error_message=str(exc)[:300],
                        permanent=exc.permanent)  # fmt: skip
            )
            msg = session.get_one(ScheduledMessage, claim.message_id)
            enrollment = session.get_one(Enrollment, msg.enrollment_id)
            patient = session.get_one(Patient, enrollment.patient_id)
            retries_left = not exc.permanent
            if retries_left and exc.limited_retries is not None and code is not None:
                retries_left = self._attempt_count(session, msg.id, code) <= exc.limited_retries
            if retries_left:
                delay = backoff(prepared.attempt_number, exc.retry_after)
                if now + delay < prepared.expires_at:
                    self._finish(session, claim, PENDING, f"retry_{code or 'transient'}",
                                 next_attempt_at=now + delay)  # fmt: skip
                    return Outcome(msg.id, "retry", str(code))
            if exc.opts_out and prepared.channel_name == "sms":
                patient.sms_opted_out_at = patient.sms_opted_out_at or now
            clinic = session.get_one(Clinic, msg.clinic_id)
            reason = f"{prepared.channel_name}_failed_{code or 'error'}"
            can_email = (
                prepared.channel_name == "sms" and patient.email is not None
                and patient.email_opted_out_at is None
            )  # fmt: skip
            open_concern(
                session=session, clinic=clinic, severity="routine", kind="delivery", now=now,
                summary=f"Could not deliver '{msg.step_key}' by {prepared.channel_name} ({code})"
                + ("; sent by email instead" if can_email else ""),
                patient_id=patient.id, enrollment_id=enrollment.id,
            )  # fmt: skip
            metrics.count_failed(prepared.channel_name)
            if can_email:
                self._finish(session, claim, PENDING, f"fallback_from_{reason}", channel="email")
                return Outcome(msg.id, "fallback", str(code))
            self._finish(session, claim, FAILED, reason)
            return Outcome(msg.id, "failed", str(code))

    def _finish(
        self, session: Session, claim: Claim, status: str, reason: str | None, **values: Any
    ) -> bool:
        result = session.execute(
            update(ScheduledMessage)
            .where(
                ScheduledMessage.id == claim.message_id,
                ScheduledMessage.claims == claim.token,
                ScheduledMessage.status.in_((CLAIMED, SENDING)),
            )
            .values(status=status, status_reason=reason, lease_until=None,
                    updated_at=self.clock.now(), **values)  # fmt: skip
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def _settle(
        self, session: Session, msg: ScheduledMessage, claim: Claim, status: str,
        reason: str, **values: Any,
    ) -> Outcome:  # fmt: skip
        if not self._finish(session, claim, status, reason, **values):
            return Outcome(msg.id, "stale", "claim lost")
        if status == SKIPPED:
            metrics.count_skipped(msg.channel, reason)
        return Outcome(msg.id, {SKIPPED: "skipped", FAILED: "failed"}.get(status, "sent"), reason)

    def _release(
        self, session: Session, msg: ScheduledMessage, claim: Claim, *, due_at: datetime,
        reason: str,
    ) -> None:  # fmt: skip
        self._finish(session, claim, PENDING, reason, due_at=due_at)


def backoff(attempt_number: int, retry_after: float | None = None) -> timedelta:
    """Exponential back-off with jitter: 30 s, 60 s, 120 s… capped at an hour.

    The jitter (50–100 % of the step) spreads retries from many workers apart; a
    provider's Retry-After is honoured when it asks for longer.
    """
    step = min(MAX_BACKOFF, BASE_BACKOFF * (2 ** max(0, attempt_number - 1)))
    delay = step * random.uniform(0.5, 1.0)
    if retry_after is not None:
        delay = max(delay, timedelta(seconds=retry_after))
    return delay


def reply_address(message_id: int, settings: Settings) -> str:
    """A per-message Reply-To that a forged reply cannot guess: reply+<id>.<mac>@domain."""
    mac = hmac.new(settings.secret_key.encode(), str(message_id).encode(), hashlib.sha256)
    return f"reply+{message_id}.{mac.hexdigest()[:12]}@{settings.email_reply_domain}"


def parse_reply_address(address: str, settings: Settings) -> int | None:
    local = address.split("@", 1)[0]
    if not local.startswith("reply+") or "." not in local:
        return None
    ident, _, mac = local.removeprefix("reply+").partition(".")
    if not ident.isdigit():
        return None
    expected = reply_address(int(ident), settings).split("@", 1)[0].rsplit(".", 1)[1]
    return int(ident) if hmac.compare_digest(mac, expected) else None


def _zone(name: str) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(name)
