"""From claimed rows to messages ready for the provider: render, address, start.

Protocol versions are immutable once published, so their templates are cached per
process by checksum. Rendering is pure. ``start_sending`` is the commit point before any
provider call: the messages move to ``sending`` and their attempt rows are written.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from reminders.channels.base import Outbound
from reminders.config import Settings
from reminders.delivery import bulk, invites
from reminders.delivery import page_text as pages
from reminders.delivery.context import display_phone, message_context
from reminders.delivery.dispatch import Claim
from reminders.delivery.rendered import RenderedMessage, render_template
from reminders.delivery.replyto import reply_address
from reminders.delivery.rows import MessageRow, load_rows
from reminders.enrollments.models import NOTICE, PAGE, REASK, REPLY, STEP, ScheduledMessage
from reminders.protocols import service as protocols
from reminders.protocols.models import ProtocolVersion
from reminders.segments import count as count_segments

log = logging.getLogger(__name__)

# -- protocol versions ----------------------------------------------------------------


@dataclass(frozen=True)
class _Version:
    checksum: str
    templates: dict[str, str]
    occurrences: dict[str, int]  # step key → how many times it repeats
    visit_steps: frozenset[str]  # steps timed from the follow-up visit: its reminders


_VERSIONS: dict[int, _Version] = {}
_VERSIONS_LOCK = threading.Lock()


def version_of(session: Session, row: MessageRow) -> _Version:
    assert row.version_id is not None, "only a step or a re-ask has a protocol version"
    cached = _VERSIONS.get(row.version_id)
    if cached is not None and cached.checksum == row.version_checksum:
        return cached
    version = session.get_one(ProtocolVersion, row.version_id)
    steps = protocols.steps_of(version)
    loaded = _Version(
        checksum=version.checksum,
        templates=dict(version.templates),
        occurrences={s.key: s.repeat.count if s.repeat else 1 for s in steps},
        visit_steps=frozenset(s.key for s in steps if s.when.anchor == "visit"),
    )
    if version.status == "published":  # drafts change under the same id
        with _VERSIONS_LOCK:
            _VERSIONS[row.version_id] = loaded
    return loaded


def render(
    session: Session, row: MessageRow, at: datetime, settings: Settings | None = None
) -> RenderedMessage:
    if row.kind == PAGE and row.body is None:
        assert settings is not None, "a page's link needs the public URL"
        return pages.render_page(row, settings)
    if row.body is not None:  # decided and written when it was queued
        segments = count_segments(row.body).segments if row.channel == "sms" else 0
        return RenderedMessage(
            text=row.body, segments=segments, subject=row.subject, calendar=row.calendar
        )
    assert row.version_id is not None and row.given_name is not None, "a step has a patient"
    assert row.timezone is not None and row.language is not None and row.performed_at
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
    rendered = render_template(version.templates, row.template, row.language, context,
                               row.channel)  # fmt: skip
    if row.channel == "email" and settings is not None and row.step_key in version.visit_steps:
        return replace(rendered, calendar=visit_invite(row, at, settings))
    return rendered


def visit_invite(row: MessageRow, now: datetime, settings: Settings) -> str | None:
    """A reminder of the follow-up visit carries it as a calendar invite (REQUEST), with
    the UID and SEQUENCE the visit has now; none once the visit is past or withdrawn."""
    visit = row.follow_up_at
    if row.kind != STEP or visit is None or visit <= now or row.visit_uid is None:
        return None
    try:
        return invites.invite(
            invites.Visit(
                uid=row.visit_uid, sequence=row.visit_sequence or 0, start=visit,
                timezone=row.timezone or row.clinic_timezone, clinic_name=row.clinic_name,
                organizer=row.email_from or settings.email_from,
                clinic_phone=display_phone(row.contact_phone or row.sms_from),
                language=row.language or "en",
            ),
            method="REQUEST", stamp=now,
        )  # fmt: skip
    except ValueError as exc:  # a clinic From address without @: the reminder still goes
        log.error("no calendar invite for message %s: %s", row.id, exc)
        return None


def skip_reason(row: MessageRow, now: datetime) -> str | None:
    """Why sending no longer makes sense, re-checked just before the provider call.

    A page is cancelled once its concern is acknowledged. Steps and re-asks need an
    active enrollment. Replies and notices answer something the person just did (a
    STOP is confirmed to the number that sent it), so opting out does not hold them;
    a step, a re-ask or a clinician's text never goes to a patient who opted out — nor a
    calendar update (a visit moved or cancelled), which answers nothing the patient did.
    """
    if row.kind == PAGE:
        if row.concern_status != "open":
            return "acknowledged"
        return "expired" if now >= row.expires_at else None
    if row.kind in (STEP, REASK) and row.enrollment_status != "active":
        return f"enrollment_{row.enrollment_status}"
    if now >= row.expires_at:
        return "expired"
    if row.recipient is not None:
        return None
    opted_out, address = (
        (row.sms_opted_out_at, row.phone)
        if row.channel == "sms"
        else (row.email_opted_out_at, row.email)
    )
    if opted_out is not None and (row.kind not in (REPLY, NOTICE) or row.calendar):
        return "opted_out"
    if not address:
        return "no_contact_for_channel"
    return None


def outbound(
    row: MessageRow, rendered: RenderedMessage, now: datetime, settings: Settings
) -> Outbound:
    # A reply to a re-ask answers the question it repeats.
    replies_to = row.about_message_id or row.id
    if row.channel == "sms":
        return Outbound(
            to=row.recipient or row.phone or "",
            body=rendered.text,
            sender=row.sms_from,
            status_callback=settings.public_url.rstrip("/") + "/webhooks/twilio/status",
            # Twilio drops a message still queued after this long: never a stale reminder.
            validity_seconds=max(1, int((row.expires_at - now).total_seconds())),
            reference=str(row.id),
        )
    to = row.recipient or row.email or ""
    return Outbound(
        to=to,
        body=rendered.text,
        html=rendered.html,
        subject=rendered.subject,
        sender=row.email_from or settings.email_from,
        reply_to=reply_address(replies_to, settings),
        # Addressed here, so the stored text of a notice carries no patient address.
        calendar=invites.addressed(rendered.calendar, to) if rendered.calendar else None,
        reference=str(row.id),
    )


@dataclass(frozen=True)
class Ready:
    """A message about to go out: ``sending`` and its attempt row are committed."""

    claim: Claim
    outbound: Outbound
    channel: str
    kind: str
    concern_id: int | None
    sms_rate: float | None  # messages a second the sender may send; None: the default
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
            kind=c.row.kind,
            concern_id=c.row.concern_id,
            sms_rate=c.row.sms_rate,
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
