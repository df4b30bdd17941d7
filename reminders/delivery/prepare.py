"""From claimed rows to messages ready for the provider: render, address, start.

Protocol versions are immutable once published, so their templates are cached per
process by checksum. Rendering is pure. ``start_sending`` is the commit point before any
provider call: the messages move to ``sending`` and their attempt rows are written.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from reminders.channels.base import Outbound
from reminders.config import Settings
from reminders.delivery import bulk
from reminders.delivery.context import message_context
from reminders.delivery.dispatch import Claim
from reminders.delivery.rendered import RenderedMessage, render_template
from reminders.delivery.replyto import reply_address
from reminders.delivery.rows import MessageRow, load_rows
from reminders.enrollments.models import ScheduledMessage
from reminders.protocols import service as protocols
from reminders.protocols.models import ProtocolVersion

# -- protocol versions ----------------------------------------------------------------


@dataclass(frozen=True)
class _Version:
    checksum: str
    templates: dict[str, str]
    occurrences: dict[str, int]  # step key → how many times it repeats


_VERSIONS: dict[int, _Version] = {}
_VERSIONS_LOCK = threading.Lock()


def version_of(session: Session, row: MessageRow) -> _Version:
    cached = _VERSIONS.get(row.version_id)
    if cached is not None and cached.checksum == row.version_checksum:
        return cached
    version = session.get_one(ProtocolVersion, row.version_id)
    loaded = _Version(
        checksum=version.checksum,
        templates=dict(version.templates),
        occurrences={s.key: s.repeat.count if s.repeat else 1 for s in protocols.steps_of(version)},
    )
    if version.status == "published":  # drafts change under the same id
        with _VERSIONS_LOCK:
            _VERSIONS[row.version_id] = loaded
    return loaded


def render(session: Session, row: MessageRow, at: datetime) -> RenderedMessage:
    version = version_of(session, row)
    context = message_context(
        first_name=row.given_name,
        clinic_name=row.clinic_name,
        clinic_phone=row.contact_phone,
        emergency_number=row.emergency_number,
        language=row.language,
        tz=ZoneInfo(row.timezone),
        performed_at=row.performed_at,
        follow_up_at=row.follow_up_at,
        occurrence=row.occurrence,
        occurrences=version.occurrences.get(row.step_key, 1),
        at=max(at, row.planned_at),
    )
    return render_template(version.templates, row.template, row.language, context, row.channel)


def skip_reason(row: MessageRow, now: datetime) -> str | None:
    """Why sending no longer makes sense, re-checked just before the provider call."""
    if row.enrollment_status != "active":
        return f"enrollment_{row.enrollment_status}"
    if now >= row.expires_at:
        return "expired"
    opted_out, address = (
        (row.sms_opted_out_at, row.phone)
        if row.channel == "sms"
        else (row.email_opted_out_at, row.email)
    )
    if opted_out is not None:
        return "opted_out"
    if not address:
        return "no_contact_for_channel"
    return None


def outbound(
    row: MessageRow, rendered: RenderedMessage, now: datetime, settings: Settings
) -> Outbound:
    if row.channel == "sms":
        return Outbound(
            to=row.phone or "",
            body=rendered.text,
            sender=row.sms_from,
            status_callback=settings.public_url.rstrip("/") + "/webhooks/twilio/status",
            # Twilio drops a message still queued after this long: never a stale reminder.
            validity_seconds=max(1, int((row.expires_at - now).total_seconds())),
            reference=str(row.id),
        )
    return Outbound(
        to=row.email or "",
        body=rendered.text,
        html=rendered.html,
        subject=rendered.subject,
        sender=row.email_from or settings.email_from,
        reply_to=reply_address(row.id, settings),
        reference=str(row.id),
    )


@dataclass(frozen=True)
class Ready:
    """A message about to go out: ``sending`` and its attempt row are committed."""

    claim: Claim
    outbound: Outbound
    channel: str
    attempt_id: int
    due_at: datetime
    expires_at: datetime
    segments: int


@dataclass(frozen=True)
class Candidate:
    claim: Claim
    row: MessageRow
    outbound: Outbound
    segments: int


def start_sending(
    session: Session,
    candidates: Sequence[Candidate],
    *,
    now: datetime,
    lease: timedelta,
    provider_names: dict[str, str],
) -> list[Ready]:
    """Move claimed rows to ``sending`` and write their attempts, two statements in all.

    Only rows still claimed under our token move; a claim lost since loading gets
    neither a status change nor an attempt.
    """
    if not candidates:
        return []
    tokens = [(c.claim.message_id, c.claim.token) for c in candidates]
    moved = bulk.move_to_sending(session, tokens, now, lease)
    starting = [c for c in candidates if c.claim.message_id in moved]
    attempts = bulk.insert_attempts(
        session,
        [
            bulk.NewAttempt(
                clinic_id=c.row.clinic_id,
                message_id=c.row.id,
                channel=c.row.channel,
                provider=provider_names[c.row.channel],
                recipient=c.outbound.to,
                segments=c.segments,
            )
            for c in starting
        ],
        now,
    )
    return [
        Ready(
            claim=c.claim,
            outbound=c.outbound,
            channel=c.row.channel,
            attempt_id=attempts[c.row.id],
            due_at=c.row.due_at,
            expires_at=c.row.expires_at,
            segments=c.segments,
        )
        for c in starting
    ]


def render_message(*, session: Session, message: ScheduledMessage, at: datetime) -> RenderedMessage:
    """Render one message outside a send batch (re-asks): the same path, one row."""
    return render(session, load_rows(session, [message.id])[message.id], at)
