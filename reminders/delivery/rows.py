"""A claimed message and everything needed to decide, render and address it, in one query.

One join loads each message with its enrollment, patient, procedure and clinic as plain
column values: no ORM objects (cheaper to build, and nothing a template could walk to).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from reminders.clinics.models import Clinic
from reminders.conversations.models import Concern
from reminders.delivery.bulk import among
from reminders.delivery.models import SendAttempt
from reminders.enrollments.models import Enrollment, ScheduledMessage
from reminders.patients.models import Patient, Procedure
from reminders.protocols.models import ProtocolVersion
from reminders.scheduling import SendWindow

# Attempt statuses that say "maybe sent": written before the provider call and never
# finished (we crashed), or a provider error after the request may have arrived.
DOUBTFUL = ("sending", "in_doubt")
# Attempts that definitely did not reach the patient: refused at send time, or reported
# undelivered/failed by the provider's status callback (the message may be sent again).
NOT_SENT = ("error", "undelivered", "failed", "canceled")


@dataclass(frozen=True, slots=True)
class MessageRow:
    """One claimed message and what it takes to decide, render and address it."""

    id: int
    claims: int
    status: str
    kind: str
    channel: str
    step_key: str
    occurrence: int
    template: str
    time_critical: bool
    planned_at: datetime
    due_at: datetime
    expires_at: datetime
    clinic_id: int
    # Set for every message but a page (which goes to ``recipient``) and a reply to an
    # unknown number; protocol fields only for steps and re-asks.
    enrollment_id: int | None
    enrollment_status: str | None
    version_id: int | None
    version_checksum: str | None
    version_status: str | None
    patient_id: int | None
    given_name: str | None
    phone: str | None
    email: str | None
    timezone: str | None
    language: str | None
    sms_opted_out_at: datetime | None
    email_opted_out_at: datetime | None
    performed_at: datetime | None
    follow_up_at: datetime | None
    clinic_name: str
    clinic_timezone: str
    contact_phone: str | None
    emergency_number: str
    sms_from: str
    sms_rate: float | None  # the clinic's sender rate; None: the deployment default
    email_from: str | None
    window_opens: time
    window_closes: time
    body: str | None
    subject: str | None
    recipient: str | None
    concern_id: int | None
    concern_status: str | None
    concern_severity: str | None
    concern_ack_code: str | None
    about_message_id: int | None
    tried: bool  # an attempt exists that did not end in a definite "not sent"
    visit_uid: str | None  # the follow-up visit's calendar identity (delivery/invites.py)
    visit_sequence: int | None
    calendar: str | None  # an iCalendar text decided with the body (visit moved/cancelled)

    @property
    def window(self) -> SendWindow:
        return SendWindow(opens=self.window_opens, closes=self.window_closes)


_M, _E, _P, _PR, _C, _V = ScheduledMessage, Enrollment, Patient, Procedure, Clinic, ProtocolVersion
_CO = Concern
_COLUMNS = (
    _M.id,
    _M.claims,
    _M.status,
    _M.kind,
    _M.channel,
    _M.step_key,
    _M.occurrence,
    _M.template,
    _M.time_critical,
    _M.planned_at,
    _M.due_at,
    _M.expires_at,
    _M.clinic_id,
    _M.enrollment_id,
    _E.status,
    _E.protocol_version_id,
    _V.checksum,
    _V.status,
    _P.id,
    _P.given_name,
    _P.phone,
    _P.email,
    _P.timezone,
    _P.language,
    _P.sms_opted_out_at,
    _P.email_opted_out_at,
    _PR.performed_at,
    _PR.follow_up_at,
    _C.name,
    _C.timezone,
    _C.contact_phone,
    _C.emergency_number,
    _C.sms_from,
    _C.sms_rate_per_second,
    _C.email_from,
    _C.window_opens,
    _C.window_closes,
    _M.body,
    _M.subject,
    _M.recipient,
    _M.concern_id,
    _CO.status,
    _CO.severity,
    _CO.ack_code,
    _M.about_message_id,
    # Nearly always false: only then do the attempts themselves need reading.
    exists().where(SendAttempt.message_id == _M.id, SendAttempt.status.not_in(NOT_SENT)),
    _E.visit_uid,
    _E.visit_sequence,
    _M.calendar,
)


def load_rows(session: Session, ids: Iterable[int]) -> dict[int, MessageRow]:
    # Outer joins: a page has no patient, a reply to a patient no enrollment.
    query = (
        select(*_COLUMNS)
        .join(_C, _C.id == _M.clinic_id)
        .outerjoin(_E, _E.id == _M.enrollment_id)
        .outerjoin(_P, _P.id == func.coalesce(_M.patient_id, _E.patient_id))
        .outerjoin(_PR, _PR.id == _E.procedure_id)
        .outerjoin(_V, _V.id == _E.protocol_version_id)
        .outerjoin(_CO, _CO.id == _M.concern_id)
        .where(among(session, _M.id, list(ids)))
    )
    return {row[0]: MessageRow(*row) for row in session.execute(query)}


@dataclass(frozen=True)
class AttemptState:
    id: int
    message_id: int
    status: str
    channel: str
    started_at: datetime
    provider_id: str | None


def open_attempts(session: Session, ids: Iterable[int]) -> dict[int, list[AttemptState]]:
    """Attempts that did not end in a definite "not sent", newest first, per message."""
    a = SendAttempt
    query = (
        select(a.id, a.message_id, a.status, a.channel, a.started_at, a.provider_id)
        .where(among(session, a.message_id, list(ids)), a.status.not_in(NOT_SENT))
        .order_by(a.id.desc())
    )
    found: dict[int, list[AttemptState]] = {}
    for row in session.execute(query):
        found.setdefault(row[1], []).append(AttemptState(*row))
    return found
