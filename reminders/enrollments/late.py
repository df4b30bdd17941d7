"""What a late enrolment did with the steps whose time had already passed, in words.

Enrolled the day after the injection, Alice's discharge summary (time-critical: it says
when to get help) goes out at enrolment although its time is long gone; her numbness
check, useful only for four hours after it was due, is skipped. The enrol form, the CSV
import report and the API answer each say which and why. The report is read back from
the stored messages and the enrolment's pinned protocol version, so it reads the same
whenever it is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders.display import sentence_case, step_label
from reminders.enrollments.models import CANCELLED, SKIPPED, STEP, Enrollment, ScheduledMessage
from reminders.patients.models import Patient
from reminders.protocols import service as protocols
from reminders.protocols.models import ProtocolVersion
from reminders.scheduling import LATE_TIME_CRITICAL

SENT_LATE, SKIPPED_LATE = "sent_late", "skipped"
_TOO_LATE = ("expired_before_enrollment", "quiet_hours_past_expiry")
_WHEN = "%a %d %b %H:%M"


def step_name(key: str, title: str | None = None) -> str:
    """A step's name for staff, as a list item starts: "Discharge summary"."""
    return sentence_case(step_label(key, title))


@dataclass(frozen=True)
class PastStep:
    """One message whose planned time was before its enrolment."""

    step: str
    occurrence: int
    label: str
    planned_at: datetime
    outcome: str  # sent_late | skipped
    reason: str  # late_time_critical, expired_before_enrollment or quiet_hours_past_expiry
    explanation: str  # the reason in words

    def __str__(self) -> str:
        verb = "sent late" if self.outcome == SENT_LATE else "skipped"
        return f"{self.label}: {verb}, {self.explanation}"


def past_steps(*, session: Session, enrollment: Enrollment) -> list[PastStep]:
    """The enrolment's steps that were too late by the time it was created, in planned
    order: the time-critical ones sent late, the others skipped. A step due a little
    earlier and still useful simply goes out now, and is not reported."""
    patient = session.get_one(Patient, enrollment.patient_id)
    version = session.get_one(ProtocolVersion, enrollment.protocol_version_id)
    steps = {s.key: s for s in protocols.steps_of(version)}
    tz = ZoneInfo(patient.timezone)
    messages = session.scalars(
        select(ScheduledMessage).where(ScheduledMessage.enrollment_id == enrollment.id,
                                       ScheduledMessage.kind == STEP,
                                       ScheduledMessage.planned_at < enrollment.created_at)
        .order_by(ScheduledMessage.planned_at, ScheduledMessage.id))  # fmt: skip
    found = []
    for m in messages:
        step = steps.get(m.step_key)
        useful_until = m.planned_at + (step.expires if step is not None
                                       else m.expires_at - m.planned_at)  # fmt: skip
        label = step_name(m.step_key, step.title if step is not None else None)
        label += f" (#{m.occurrence + 1})" if m.occurrence else ""
        planned = m.planned_at.astimezone(tz).strftime(_WHEN)
        until = useful_until.astimezone(tz).strftime(_WHEN)
        if m.status == SKIPPED and m.status_reason in _TOO_LATE:
            why = (f"it was due {planned} and is only useful until {until}, which had passed "
                   "at enrolment" if m.status_reason == "expired_before_enrollment" else
                   f"it was due {planned}; held for the patient's quiet hours it would go out "
                   f"after {until}, when it is no longer useful")  # fmt: skip
            found.append(PastStep(m.step_key, m.occurrence, label, m.planned_at, SKIPPED_LATE,
                                  m.status_reason, why))  # fmt: skip
        elif m.time_critical and useful_until <= enrollment.created_at and m.status not in (
            SKIPPED, CANCELLED):  # fmt: skip
            why = (f"it was due {planned}; it is time-critical (it tells the patient when to "
                   "get help), so it goes out at enrolment instead of being skipped")  # fmt: skip
            found.append(PastStep(m.step_key, m.occurrence, label, m.planned_at, SENT_LATE,
                                  LATE_TIME_CRITICAL, why))  # fmt: skip
    return found
