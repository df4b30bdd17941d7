"""The follow-up visit in the patient's calendar: keep the invite in step with the visit.

The visit reminder email carries the invite (``METHOD:REQUEST``, delivery/prepare.py) with
the enrolment's ``visit_uid`` and ``visit_sequence`` as they are when it is sent. Here,
what a change to the visit means for an invite the patient may already have:

- moved: ``SEQUENCE`` + 1. If an invite already went out for this appointment, an update
  (a REQUEST with the new time) is queued at once: the reminder that carried it was sent
  and will not go again, so without it the calendar would keep the old time.
- withdrawn (the visit removed, or the enrolment cancelled): if an invite went out, a
  ``METHOD:CANCEL`` with ``SEQUENCE`` + 1. A visit booked after a removed one is another
  appointment and gets a new UID.

Both are ordinary notices through the one pipeline, by email only, and only to a patient
with an address who has not opted out of email (re-checked when sent). The service calls
these inside the transaction that changed the visit, so every caller (the API, the staff
pages, EHR intake) gets the same behaviour.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, or_, select, true
from sqlalchemy.orm import Session

from reminders.clinics.models import Clinic
from reminders.config import get_settings
from reminders.delivery import invites
from reminders.delivery.context import display_phone, local_date_text
from reminders.enrollments.models import (
    CLAIMED,
    NOTICE,
    PENDING,
    SENDING,
    SENT,
    STEP,
    Enrollment,
    ScheduledMessage,
    new_visit_uid,
)
from reminders.patients.models import Patient
from reminders.protocols import service as protocols
from reminders.protocols.models import ProtocolVersion

log = logging.getLogger(__name__)
# Notice step keys, and the names of their templates.
VISIT_UPDATE, VISIT_CANCEL = "visit_update", "visit_cancel"
# Worth sending until the visit itself; at least this long when it is close.
MIN_VALIDITY = timedelta(hours=12)


def visit_changed(
    *, session: Session, clinic: Clinic, enrollment: Enrollment, before: datetime | None,
    after: datetime | None, now: datetime,
) -> ScheduledMessage | None:  # fmt: skip
    """The follow-up visit went from ``before`` to ``after`` (None: no visit); the notice
    queued, if any. The caller flushes."""
    if before == after or before is None:
        return None  # unchanged, or newly booked: no calendar has it yet
    enrollment.visit_sequence += 1
    if after is not None:
        return _notify(session, clinic, enrollment, "REQUEST", after, now)
    notice = _notify(session, clinic, enrollment, "CANCEL", before, now)
    # The next visit booked is a new appointment: a new UID, counted from now.
    enrollment.visit_uid = new_visit_uid()
    enrollment.visit_sequence = 0
    enrollment.visit_uid_at = now
    return notice


def enrollment_cancelled(
    *, session: Session, enrollment: Enrollment, follow_up_at: datetime | None, now: datetime
) -> ScheduledMessage | None:
    """The enrolment was cancelled: withdraw the invite for its visit, if one went out."""
    if follow_up_at is None:
        return None
    enrollment.visit_sequence += 1
    clinic = session.get_one(Clinic, enrollment.clinic_id)
    return _notify(session, clinic, enrollment, "CANCEL", follow_up_at, now)


def invited(*, session: Session, enrollment: Enrollment) -> bool:
    """Whether an invite for the current appointment went out (or is going out now): a
    visit reminder sent by email since its UID was made, or an update queued since."""
    version = session.get_one(ProtocolVersion, enrollment.protocol_version_id)
    keys = [s.key for s in protocols.steps_of(version) if s.when.anchor == "visit"]
    m = ScheduledMessage
    since = enrollment.visit_uid_at
    reminder = and_(
        m.kind == STEP, m.step_key.in_(keys), m.channel == "email",
        or_(m.status.in_((CLAIMED, SENDING)),
            and_(m.status == SENT, m.sent_at >= since if since else true())),
    )  # fmt: skip
    update = and_(
        m.kind == NOTICE, m.step_key == VISIT_UPDATE,
        m.status.in_((PENDING, CLAIMED, SENDING, SENT)),
        m.created_at >= since if since else true(),
    )  # fmt: skip
    query = select(exists().where(m.enrollment_id == enrollment.id, or_(reminder, update)))
    return bool(session.scalar(query))


def _notify(
    session: Session, clinic: Clinic, enrollment: Enrollment, method: invites.Method,
    start: datetime, now: datetime,
) -> ScheduledMessage | None:  # fmt: skip
    from reminders.conversations import texts  # conversations imports delivery
    from reminders.conversations.outbound import queue

    if start <= now or not invited(session=session, enrollment=enrollment):
        return None  # a visit that is over, or nothing in the patient's calendar
    patient = session.get_one(Patient, enrollment.patient_id)
    if not patient.email or patient.email_opted_out_at is not None:
        return None
    tz, lang = ZoneInfo(patient.timezone), patient.language
    template = VISIT_CANCEL if method == "CANCEL" else VISIT_UPDATE
    context = texts.clinic_context(clinic, patient.given_name) | {
        "follow_up_date": local_date_text(start, tz, lang),
        "follow_up_time": start.astimezone(tz).strftime("%H:%M"),
    }
    body = texts.render(template, lang, context)
    subject = texts.render("_email_subject", lang, context)
    if body is None or subject is None:
        return None  # a broken clinic override, logged by texts.render
    visit = invites.Visit(
        uid=enrollment.visit_uid, sequence=enrollment.visit_sequence, start=start,
        timezone=patient.timezone, clinic_name=clinic.name,
        organizer=clinic.email_from or get_settings().email_from,
        clinic_phone=display_phone(clinic.contact_phone or clinic.sms_from), language=lang,
    )  # fmt: skip
    try:
        calendar = invites.invite(visit, method=method, stamp=now)
    except ValueError as exc:  # a clinic From address without @
        log.error("no calendar %s for enrollment %s: %s", method, enrollment.id, exc)
        return None
    message = queue(
        session=session, clinic_id=clinic.id, kind=NOTICE, channel="email", body=body,
        subject=" ".join(subject.split()), now=now, step_key=template,
        key=f"visit:{enrollment.visit_uid}:{enrollment.visit_sequence}",
        patient_id=patient.id, enrollment_id=enrollment.id, time_critical=False,
        expires_at=max(start, now + MIN_VALIDITY),
    )  # fmt: skip
    message.calendar = calendar
    return message
