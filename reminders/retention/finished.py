"""Which enrolments are finished, and which of those are due for purging.

An enrolment is **finished** when nothing more will be sent for it and nobody is still
acting on it:

- its status is ``completed`` or ``cancelled``; or it is ``active``, has at least one
  message, and every message is final (sent, failed, skipped or cancelled). Nothing marks
  an enrolment ``completed`` today (only ``enrollments.service.cancel`` changes the
  status), so an active enrolment whose protocol has run its course is the usual finished
  one; an active one with no message at all is left alone (it is being set up or
  replanned, not over);
- no message tied to it is still open (pending, claimed, sending): a row whose body was
  removed must never be rendered or sent;
- no concern about it is unresolved (open or acknowledged): a clinician is still acting
  on it and needs the patient's own words. A concern is about the enrolment when it
  names it, or when one of its replies joined it.

A finished enrolment is **due** when ``purged_at`` is null and its *end* is older than
its clinic's ``retention_days``. The end is the latest of: its creation, its
``cancelled_at``, each tied message's ``sent_at`` (or ``due_at``, unless it was cancelled
unsent), each of its replies' ``received_at`` and each of its concerns' resolution.
Taking the latest rather than ``cancelled_at`` alone means a reply, or a clinician's text,
after the end still keeps its text for the whole period.

Messages **tied** to an enrolment: its own rows (``enrollment_id``: check-ins, re-asks),
the replies to its patient's messages (``kind='reply'`` through ``inbound_id``) and
clinicians' texts about its concerns (``kind='staff_text'`` through ``concern_id``);
those last two carry no ``enrollment_id`` of their own.

Everything here is SQL conditions on ``Enrollment``, so the same rule selects the batch
and re-checks each enrolment under its row lock. Each is a NOT EXISTS correlated by one
equality (no OR across links), which PostgreSQL runs as an anti-join: one pass over each
table per batch, not one per enrolment.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, or_, select

from reminders.conversations.models import Concern, InboundMessage
from reminders.enrollments.models import (
    CANCELLED,
    OPEN_STATUSES,
    REPLY,
    STAFF_TEXT,
    Enrollment,
    ScheduledMessage,
)

FINISHED_STATUSES = ("completed", "cancelled")


def tied_messages(enrollment_id: int, patient_id: int) -> ColumnElement[bool]:
    """A condition on ``ScheduledMessage``: the row is tied to this enrolment (of this
    patient). Replies and clinicians' texts carry her ``patient_id``, which finds them
    through its index."""
    m, r, c = ScheduledMessage, InboundMessage, Concern
    return or_(
        m.enrollment_id == enrollment_id,
        and_(m.patient_id == patient_id, m.kind == REPLY,
             m.inbound_id.in_(select(r.id).where(r.enrollment_id == enrollment_id))),
        and_(m.patient_id == patient_id, m.kind == STAFF_TEXT,
             m.concern_id.in_(select(c.id).where(c.enrollment_id == enrollment_id))),
    )  # fmt: skip


def its_replies(enrollment_id: int) -> ColumnElement[bool]:
    """A condition on ``InboundMessage``: a message of the patient matched to it."""
    return InboundMessage.enrollment_id == enrollment_id


def due(cutoff: datetime) -> list[ColumnElement[bool]]:
    """Conditions on ``Enrollment``: finished, not purged, and ended before ``cutoff``
    (now minus the clinic's retention period). See the module docstring for the rule."""
    e, m, r, c = Enrollment, ScheduledMessage, InboundMessage, Concern
    # A message still open, or sent (or due) within the period.
    busy = or_(m.status.in_(OPEN_STATUSES), m.sent_at >= cutoff,
               and_(m.status != CANCELLED, m.due_at >= cutoff))  # fmt: skip
    # A concern unresolved, or resolved within the period.
    acting = or_(c.status != "resolved", c.resolved_at.is_(None), c.resolved_at >= cutoff)
    return [
        e.purged_at.is_(None),
        e.created_at < cutoff,
        or_(e.cancelled_at.is_(None), e.cancelled_at < cutoff),
        or_(e.status.in_(FINISHED_STATUSES),
            and_(e.status == "active", exists().where(m.enrollment_id == e.id))),
        ~exists().where(m.enrollment_id == e.id, busy),
        ~select(m.id).join(r, m.inbound_id == r.id)
        .where(r.enrollment_id == e.id, m.kind == REPLY, busy).exists(),
        ~select(m.id).join(c, m.concern_id == c.id)
        .where(c.enrollment_id == e.id, m.kind == STAFF_TEXT, busy).exists(),
        ~exists().where(r.enrollment_id == e.id, r.received_at >= cutoff),
        ~exists().where(c.enrollment_id == e.id, acting),
        ~select(c.id).join(r, r.concern_id == c.id)
        .where(r.enrollment_id == e.id, acting).exists(),
    ]  # fmt: skip
