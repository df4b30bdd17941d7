"""REST API v1 response bodies (and the small request bodies that are not enrolments).

Kept apart from the ORM models: what the API promises is written down here, and a new
column never leaks into responses by accident.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from reminders.enrollments.schemas import require_aware

MIN_YEAR, MAX_YEAR = 2000, 2100  # outside these a date is a typo, and datetime maths overflows


def plausible(value: datetime, field: str) -> datetime:
    require_aware(value, field)
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"{field} must be between the years {MIN_YEAR} and {MAX_YEAR}")
    return value


class MessageOut(BaseModel):
    id: int
    step: str
    occurrence: int
    due_at: datetime = Field(description="When it goes (or went) out, UTC")
    channel: str
    status: str = Field(description="pending, claimed, sending, sent, failed, skipped, cancelled")
    status_reason: str | None = None
    expects: str | None = None
    sent_at: datetime | None = None
    delivery: str | None = Field(None, description="The provider's latest status, if sent")


class ReplyOut(BaseModel):
    id: int
    received_at: datetime
    channel: str
    body: str
    severity: str
    categories: list[str]
    parsed: dict[str, Any]
    answers_message_id: int | None = None


class PatientOut(BaseModel):
    id: int
    external_id: str | None
    given_name: str
    timezone: str
    language: str
    sms_opted_out: bool
    email_opted_out: bool


class ProcedureOut(BaseModel):
    performed_at: datetime
    injectate: str
    site: str
    side: str | None
    diagnostic: bool
    follow_up_at: datetime | None


class ProtocolRef(BaseModel):
    key: str
    version: int


class EnrollmentOut(BaseModel):
    id: int
    created: bool | None = Field(
        None, description="POST only: true when this call enrolled, false when the same "
        "external_id and performed_at were already enrolled (answered with 200)")  # fmt: skip
    status: str = Field(description="active, completed or cancelled")
    channel: str
    patient: PatientOut
    procedure: ProcedureOut
    protocol: ProtocolRef
    messages: list[MessageOut]
    replies: list[ReplyOut] = Field(default_factory=list)
    cancelled_messages: int | None = Field(None, description="DELETE only")


class EnrollmentPatch(BaseModel):
    """Move the procedure or the follow-up visit; every pending message is recomputed.
    ``follow_up_at: null`` removes a booked visit."""

    model_config = ConfigDict(extra="forbid")

    performed_at: datetime | None = None
    follow_up_at: datetime | None = None

    @field_validator("performed_at", "follow_up_at")
    @classmethod
    def _aware(cls, value: datetime | None, info: Any) -> datetime | None:
        return plausible(value, info.field_name) if value is not None else None


class ReplySummary(BaseModel):
    body: str
    parsed: dict[str, Any]
    received_at: datetime


class ConcernOut(BaseModel):
    id: int
    severity: str = Field(description="emergency, urgent, routine or none")
    categories: list[str]
    kind: str
    status: Literal["open", "acknowledged", "resolved"] | str
    summary: str
    patient_id: int | None
    patient_first_name: str | None
    enrollment_id: int | None
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: int | None
    resolved_at: datetime | None
    resolution_note: str | None
    reply: ReplySummary | None = None


class PageOut(BaseModel):
    """One page sent about a concern (one staff contact, one escalation step)."""

    recipient: str = Field(description="The staff member's name, else the masked address")
    channel: str = Field(description="sms or email")
    level: int = Field(description="The escalation policy's step (0 = first)")
    status: str = Field(description="The provider's latest status (delivered, undelivered, "
                        "failed…), else pending, sent or cancelled")  # fmt: skip
    sent_at: datetime | None


class ConcernDetailOut(ConcernOut):
    pages: list[PageOut] = Field(default_factory=list, description="In escalation order")


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field(min_length=1, max_length=2000, description="What was done")

    @field_validator("note")
    @classmethod
    def _text(cls, value: str) -> str:
        if "\x00" in value or not value.strip():
            raise ValueError("must be readable text")
        return value


class ProtocolOut(BaseModel):
    id: int
    key: str
    version: int
    status: str = Field(description="draft or published (published versions never change)")
    title: str
    injectate: str
    published_at: datetime | None
    steps: list[str] = Field(description="Step keys in protocol order")
