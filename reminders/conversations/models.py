from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from reminders.db import Base, utcnow

# What an inbound message turned out to be (InboundMessage.kind).
ANSWER, UNCLEAR, FREE = "answer", "unclear", "free"
OPT_OUT, OPT_IN, HELP = "opt_out", "opt_in", "help"
UNKNOWN, STAFF, IGNORED = "unknown", "staff", "ignored"
# A phone tapback on one of our messages (``Liked "..."``): it answers no question.
REACTION = "reaction"


class InboundMessage(Base):
    """A reply from a patient (or an unknown sender), with how it was read."""

    __tablename__ = "inbound_messages"
    __table_args__ = (
        UniqueConstraint("provider_id", name="uq_inbound_provider_id"),
        Index("ix_inbound_patient", "patient_id", "received_at"),
        # Loop protection counts recent auto-replies per sender.
        Index("ix_inbound_sender", "sender", "received_at"),
        Index("ix_inbound_answers", "answers_message_id"),
        Index("ix_inbound_enrollment", "enrollment_id"),
        # What the pipeline has still to read (the webhook stores first, then answers).
        Index(
            "ix_inbound_unprocessed",
            "id",
            postgresql_where=text("processed_at IS NULL"),
            sqlite_where=text("processed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinics.id"))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id"))
    answers_message_id: Mapped[int | None] = mapped_column(ForeignKey("scheduled_messages.id"))
    channel: Mapped[str] = mapped_column(String(10))
    provider_id: Mapped[str | None] = mapped_column(String(100))  # MessageSid / Message-ID
    sender: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16), default=FREE)
    severity: Mapped[str] = mapped_column(String(12), default="none")
    categories: Mapped[list[str]] = mapped_column(default=list)
    parsed: Mapped[dict[str, Any]] = mapped_column(default=dict)
    auto_reply: Mapped[str | None] = mapped_column(Text)
    # The concern this message opened or joined (one problem, one concern).
    concern_id: Mapped[int | None] = mapped_column(ForeignKey("concerns.id", use_alter=True))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The clinic number texted, and Twilio's OptOutType: what reading the text needs
    # besides the text, kept because it is read after the webhook has answered.
    to_address: Mapped[str | None] = mapped_column(String(200))
    opt_out_type: Mapped[str | None] = mapped_column(String(20))
    # When it was read (triaged, matched, answered); None: still waiting in the queue.
    processed_at: Mapped[datetime | None]


class Concern(Base):
    __tablename__ = "concerns"
    __table_args__ = (
        Index("ix_concerns_open", "clinic_id", "status", "severity"),
        Index("ix_concerns_escalation", "next_escalation_at"),
        Index("ix_concerns_enrollment", "enrollment_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id"))
    inbound_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_messages.id"))
    # reply | unclear | no_response | unknown_sender | delivery
    kind: Mapped[str] = mapped_column(String(20), default="reply")
    severity: Mapped[str] = mapped_column(String(12))
    categories: Mapped[list[str]] = mapped_column(default=list)
    summary: Mapped[str] = mapped_column(String(300), default="")
    ack_code: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(14), default="open")  # open|acknowledged|resolved
    # The escalation policy's step now paging, and how many times the policy has
    # started over (a policy repeats until someone acknowledges).
    escalation_level: Mapped[int] = mapped_column(default=0)
    escalation_round: Mapped[int] = mapped_column(default=0)
    next_escalation_at: Mapped[datetime | None]
    acknowledged_via: Mapped[str | None] = mapped_column(String(40))
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id"))
    acknowledged_at: Mapped[datetime | None]
    resolved_by: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id"))
    resolved_at: Mapped[datetime | None]
    resolution_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StaffAlert(Base):
    """One page to one staff contact about one concern, at one escalation level.

    Written in the concern's transaction (an outbox), delivered right after commit and
    retried by the escalation job; the rows are the per-level record of who was told.
    """

    __tablename__ = "staff_alerts"
    __table_args__ = (
        Index("ix_staff_alerts_concern", "concern_id"),
        Index("ix_staff_alerts_status", "status", "lease_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    concern_id: Mapped[int] = mapped_column(ForeignKey("concerns.id"))
    level: Mapped[int]  # the policy step
    round: Mapped[int] = mapped_column(default=0)
    role: Mapped[str] = mapped_column(String(12))  # primary | backup | clinician | admin
    # The outbound message carrying this page (delivery, status and retries live there).
    message_id: Mapped[int | None] = mapped_column(ForeignKey("scheduled_messages.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_members.id"))
    channel: Mapped[str] = mapped_column(String(10))  # sms | email
    recipient: Mapped[str] = mapped_column(String(200))
    # pending -> sent -> delivered | failed ; cancelled when the concern was acknowledged
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    lease_until: Mapped[datetime | None]
    provider_id: Mapped[str | None] = mapped_column(String(100))
    error_code: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class QuestionFollowup(Base):
    """What the no-response job did about one unanswered question (one row per question).

    The unique message_id is the claim: two job runs cannot both re-ask or both open
    the no-response concern.
    """

    __tablename__ = "question_followups"
    __table_args__ = (UniqueConstraint("message_id", name="uq_followup_message"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id"))
    message_id: Mapped[int] = mapped_column(ForeignKey("scheduled_messages.id"))
    state: Mapped[str] = mapped_column(String(12))  # reasking | reasked | closed
    reasked_at: Mapped[datetime | None]
    reask_provider_id: Mapped[str | None] = mapped_column(String(100))
    concern_id: Mapped[int | None] = mapped_column(ForeignKey("concerns.id"))
    closed_reason: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
