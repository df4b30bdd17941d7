"""Remove the texts of enrolments past their clinic's retention period (issue 10).

For each due enrolment (:mod:`reminders.retention.finished`), in one transaction:

- its tied messages lose ``body`` and ``subject``; replies and clinicians' texts to the
  patient lose ``recipient`` too (her address). Check-ins keep none: their text was
  rendered from the protocol at send time and never stored. ``updated_at`` is kept as it
  was: the dashboard dates a failure by it;
- their send attempts keep ``recipient`` masked (``+1******0123``, ``a***@example.org``)
  and the address masked inside a provider's error message;
- the patient's messages matched to it get ``body`` ``""`` (the column is NOT NULL), no
  ``auto_reply``, and a masked ``sender``; ``kind``, ``severity``, ``categories`` and
  ``parsed`` stay (pain and glucose readings are the statistics);
- concerns stay whole. ``summary`` is written by us from severity, step and categories
  (never the patient's words); ``resolution_note`` is the clinician's record of what was
  done about a safety concern, part of the clinical and audit record rather than a
  message, and is kept for the same reason the audit log is;
- the patient's email address goes when she has no other enrolment whose texts are kept
  (``purged_at`` null): a current enrolment may still email her. Her phone stays: it is
  how her next text is recognised;
- ``purged_at`` is set and one ``enrollment.purge`` audit row (actor ``system``) records
  the counts and the period applied.

Several runs at once purge each enrolment once: each is re-checked under its row lock,
taken with FOR UPDATE SKIP LOCKED on PostgreSQL (another run holding it skips it; one that
committed has set ``purged_at``, which the re-check sees), and SQLite serialises writers.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from itertools import islice, zip_longest

from sqlalchemy import case, exists, select, update
from sqlalchemy.orm import Session

from reminders import audit
from reminders.audit.models import AuditEvent
from reminders.channels.base import mask_address
from reminders.clinics.models import Clinic
from reminders.conversations.models import InboundMessage
from reminders.delivery.models import SendAttempt
from reminders.enrollments.models import REPLY, STAFF_TEXT, Enrollment, ScheduledMessage
from reminders.patients.models import Patient
from reminders.retention.finished import due, its_replies, tied_messages

log = logging.getLogger(__name__)
DEFAULT_LIMIT = 200
PURGE_ACTION = "enrollment.purge"


@dataclass(frozen=True)
class Purged:
    """What one purge removed (the audit row's details)."""

    retention_days: int
    messages: int
    attempts: int
    replies: int
    email_removed: bool


def cutoff_of(clinic: Clinic, now: datetime) -> datetime:
    return now - timedelta(days=clinic.retention_days)


def purge_due(*, session: Session, now: datetime, limit: int = DEFAULT_LIMIT) -> int:
    """Purge up to ``limit`` due enrolments, each in a transaction of its own (committed
    here); returns how many were purged. Clinics take turns, so one clinic's backlog does
    not hold up another's. One that fails is rolled back, logged and left for a later run.
    """
    done = 0
    for clinic, enrollment_id in _batch(session, now, limit):
        try:
            purged = purge_one(session=session, clinic=clinic, enrollment_id=enrollment_id,
                               now=now)  # fmt: skip
            session.commit()
        except Exception:
            session.rollback()
            log.exception("retention: purging enrollment %s failed", enrollment_id)
            continue
        done += purged is not None
    return done


def _batch(session: Session, now: datetime, limit: int) -> list[tuple[Clinic, int]]:
    per_clinic: list[list[tuple[Clinic, int]]] = []
    for clinic in session.scalars(select(Clinic).order_by(Clinic.id)):
        if clinic.retention_days < 1:
            # A misconfigured period must not erase today's replies.
            log.warning("retention: clinic %s has retention_days < 1; skipped", clinic.id)
            continue
        ids = session.scalars(
            select(Enrollment.id)
            .where(Enrollment.clinic_id == clinic.id, *due(cutoff_of(clinic, now)))
            .order_by(Enrollment.id)
            .limit(limit)
        )
        per_clinic.append([(clinic, enrollment_id) for enrollment_id in ids])
    turns = (pair for round_ in zip_longest(*per_clinic) for pair in round_ if pair)
    return list(islice(turns, limit))


def purge_one(
    *, session: Session, clinic: Clinic, enrollment_id: int, now: datetime
) -> Purged | None:
    """Purge one enrolment if it is (still) due; None if not, or another run holds it.
    The caller commits."""
    enrollment = session.scalars(
        select(Enrollment)
        .where(Enrollment.id == enrollment_id, Enrollment.clinic_id == clinic.id,
               *due(cutoff_of(clinic, now)))
        .with_for_update(skip_locked=True, of=Enrollment)
        .execution_options(populate_existing=True)
    ).first()  # fmt: skip
    if enrollment is None:
        return None
    # Her row next, before any write: two runs purging two of her enrolments then queue
    # here holding nothing else she needs (a later lock could be an upgrade: deadlock),
    # and the second sees the first's purged_at when it decides about her address.
    patient = session.scalars(
        select(Patient).where(Patient.id == enrollment.patient_id).with_for_update()
        .execution_options(populate_existing=True)
    ).one()  # fmt: skip
    messages, attempts = _purge_messages(session, enrollment)
    replies = _purge_replies(session, enrollment.id)
    email_removed = _remove_email(session, enrollment, patient)
    purged = Purged(retention_days=clinic.retention_days, messages=messages, attempts=attempts,
                    replies=replies, email_removed=email_removed)  # fmt: skip
    enrollment.purged_at = now
    event = audit.record(session=session, clinic_id=clinic.id, actor="system",
                         action=PURGE_ACTION, subject_type="enrollment",
                         subject_id=enrollment.id, **asdict(purged))  # fmt: skip
    event.at = now
    session.flush()
    return purged


def _purge_messages(session: Session, enrollment: Enrollment) -> tuple[int, int]:
    m, a = ScheduledMessage, SendAttempt
    tied = tied_messages(enrollment.id, enrollment.patient_id)
    ids = list(session.scalars(select(m.id).where(tied)))
    if not ids:
        return 0, 0
    # One UPDATE per row: PostgreSQL re-checks the foreign keys of a row updated twice in
    # a transaction (KEY SHARE locks on her patient row). updated_at = itself: no
    # onupdate stamp (the dashboard dates failures by it).
    to_her = m.kind.in_((REPLY, STAFF_TEXT))
    session.execute(update(m).where(m.id.in_(ids))
                    .values(body=None, subject=None, calendar=None, updated_at=m.updated_at,
                            recipient=case((to_her, None), else_=m.recipient))
                    .execution_options(synchronize_session=False))  # fmt: skip
    attempts = session.execute(
        select(a.id, a.recipient, a.error_message).where(a.message_id.in_(ids))
    ).all()
    for attempt_id, recipient, error in attempts:
        masked = mask_address(recipient)
        if error and recipient:
            error = error.replace(recipient, masked)
        session.execute(update(a).where(a.id == attempt_id)
                        .values(recipient=masked, error_message=error, updated_at=a.updated_at)
                        .execution_options(synchronize_session=False))  # fmt: skip
    return len(ids), len(attempts)


def _purge_replies(session: Session, enrollment_id: int) -> int:
    replies = list(session.scalars(select(InboundMessage).where(its_replies(enrollment_id))))
    for reply in replies:
        reply.body = ""
        reply.auto_reply = None
        reply.sender = mask_address(reply.sender)
    return len(replies)


def _remove_email(session: Session, enrollment: Enrollment, patient: Patient) -> bool:
    kept = session.scalar(select(exists().where(
        Enrollment.patient_id == patient.id, Enrollment.id != enrollment.id,
        Enrollment.purged_at.is_(None))))  # fmt: skip
    if kept or patient.email is None:
        return False
    patient.email = None
    return True


def removed_after_days(*, session: Session, clinic: Clinic,
                       enrollments: list[Enrollment]) -> dict[int, int]:  # fmt: skip
    """Purged enrolment id -> the retention period applied to it (from its audit row; the
    clinic's current period if that row is missing)."""
    purged = [e.id for e in enrollments if e.purged_at is not None and e.clinic_id == clinic.id]
    if not purged:
        return {}
    days = dict.fromkeys(purged, clinic.retention_days)
    rows = session.execute(
        select(AuditEvent.subject_id, AuditEvent.details).where(
            AuditEvent.clinic_id == clinic.id, AuditEvent.action == PURGE_ACTION,
            AuditEvent.subject_type == "enrollment", AuditEvent.subject_id.in_(purged))
    )  # fmt: skip
    for subject_id, details in rows:
        value = (details or {}).get("retention_days")
        if subject_id is not None and isinstance(value, int):
            days[subject_id] = value
    return days
