from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from reminders.db import Base, utcnow

# Message life cycle. Only "pending" rows are ever claimed; every move is a conditional
# UPDATE from an expected status, so two workers can never both win a transition.
PENDING, CLAIMED, SENDING, SENT, FAILED, SKIPPED, CANCELLED = (
    "pending",
    "claimed",
    "sending",
    "sent",
    "failed",
    "skipped",
    "cancelled",
)
OPEN_STATUSES = (PENDING, CLAIMED, SENDING)

# What a message is. Every message we send is a row here and goes the same way: claimed,
# an attempt written before the provider call, rate limited, reconciled, reported on.
# ``step``: a protocol check-in, rendered at send time. The others carry their text
# (``body``), rendered when they were decided: ``reask`` (a question repeated),
# ``reply`` (an answer to what a patient wrote), ``notice`` (opt-out confirmations,
# "taken by" notes to staff), ``page`` (a staff page about a concern) and ``staff_text``
# (a clinician texting a patient back).
STEP, REASK, REPLY, NOTICE, PAGE, STAFF_TEXT = (
    "step", "reask", "reply", "notice", "page", "staff_text",
)  # fmt: skip
KINDS = (STEP, REASK, REPLY, NOTICE, PAGE, STAFF_TEXT)


def new_visit_uid() -> str:
    # RFC 7986 recommends a UUID, with no host name or other identifying detail.
    return str(uuid.uuid4())


class Enrollment(Base):
    __tablename__ = "enrollments"
    __table_args__ = (
        UniqueConstraint("procedure_id", name="uq_enrollment_procedure"),
        # The retention job walks a clinic's enrolments not yet purged.
        Index(
            "ix_enrollments_unpurged",
            "clinic_id",
            postgresql_where=text("purged_at IS NULL"),
            sqlite_where=text("purged_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"), index=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    procedure_id: Mapped[int] = mapped_column(ForeignKey("procedures.id"))
    protocol_version_id: Mapped[int] = mapped_column(ForeignKey("protocol_versions.id"))
    status: Mapped[str] = mapped_column(String(12), default="active")  # active|completed|cancelled
    channel: Mapped[str] = mapped_column(String(10), default="sms")
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[datetime | None]
    # When its texts were removed under the clinic's retention period (None: kept).
    purged_at: Mapped[datetime | None]
    # The follow-up visit's calendar identity (delivery/invites.py): its UID stays while
    # the appointment does, SEQUENCE counts its changes; a cancelled visit's successor
    # gets a new UID, from ``visit_uid_at`` (None: since enrolment).
    visit_uid: Mapped[str] = mapped_column(String(64), default=new_visit_uid)
    visit_sequence: Mapped[int] = mapped_column(default=0)
    visit_uid_at: Mapped[datetime | None]
    # Pain 0-10 before a diagnostic injection, entered at enrolment: the diary's baseline
    # (reminders/outcomes/diary.py).
    baseline_pain: Mapped[int | None]


class ScheduledMessage(Base):
    __tablename__ = "scheduled_messages"
    __table_args__ = (
        UniqueConstraint("idempotency_key", name="uq_message_idempotency"),
        # "What is due now" reads only pending rows; the partial index stays small
        # however much history accumulates.
        Index(
            "ix_messages_due",
            "due_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        # Leases that expired (a worker died mid-send) are found through this one.
        Index(
            "ix_messages_lease",
            "lease_until",
            postgresql_where=text("status IN ('claimed', 'sending')"),
            sqlite_where=text("status IN ('claimed', 'sending')"),
        ),
        Index("ix_messages_enrollment", "enrollment_id", "due_at"),
        # Pages and replies are claimed ahead of check-ins (dispatch.py): their own small
        # index, so finding them never walks a backlog of due check-ins.
        Index(
            "ix_messages_urgent",
            "due_at",
            postgresql_where=text(
                "status = 'pending' AND kind IN ('page', 'reply', 'notice', 'staff_text')"
            ),
            sqlite_where=text(
                "status = 'pending' AND kind IN ('page', 'reply', 'notice', 'staff_text')"
            ),
        ),
        Index("ix_messages_concern", "concern_id"),
        Index("ix_messages_patient", "patient_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id"))
    kind: Mapped[str] = mapped_column(String(12), default=STEP)
    # Who it goes to when not the enrolled patient's address (staff pages, a reply to an
    # unknown number); the patient it concerns, for messages outside an enrollment.
    recipient: Mapped[str | None] = mapped_column(String(200))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    # use_alter: these tables refer back to this one (a cycle create_all must break).
    concern_id: Mapped[int | None] = mapped_column(ForeignKey("concerns.id", use_alter=True))
    inbound_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_messages.id", use_alter=True)
    )
    # A re-ask: the question it repeats (replies to it answer that question).
    about_message_id: Mapped[int | None] = mapped_column(ForeignKey("scheduled_messages.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id"))
    body: Mapped[str | None] = mapped_column(Text)
    subject: Mapped[str | None] = mapped_column(String(300))
    # An iCalendar text decided with the body (a visit moved or cancelled); no patient
    # data in it, the attendee is added at send time.
    calendar: Mapped[str | None] = mapped_column(Text)
    step_key: Mapped[str] = mapped_column(String(60))
    occurrence: Mapped[int] = mapped_column(default=0)
    idempotency_key: Mapped[str] = mapped_column(String(120))
    template: Mapped[str] = mapped_column(String(60))
    channel: Mapped[str] = mapped_column(String(10))
    expects: Mapped[str | None] = mapped_column(String(20))
    time_critical: Mapped[bool] = mapped_column(default=False)
    answer_window_minutes: Mapped[int | None]
    planned_at: Mapped[datetime]  # where the protocol puts it, before quiet hours
    due_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(12), default=PENDING)
    status_reason: Mapped[str | None] = mapped_column(String(120))
    lease_until: Mapped[datetime | None]
    claims: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
