"""Figures for the clinic dashboard: today's sends, response rates, concern load, and how
quickly concerns are acknowledged. Computed in Python over bounded windows so the same
code runs on SQLite and PostgreSQL."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reminders.clinics.models import Clinic
from reminders.conversations.models import Concern, InboundMessage
from reminders.delivery.models import SendAttempt
from reminders.enrollments.models import FAILED, PENDING, SENT, ScheduledMessage
from reminders.inbox import SEVERITIES

RATE_WINDOW = timedelta(days=30)
DELIVERY_FAILURES = ("failed", "undelivered", "error")


@dataclass(frozen=True)
class StepRate:
    step: str
    asked: int
    answered: int

    @property
    def percent(self) -> int:
        return round(100 * self.answered / self.asked) if self.asked else 0


@dataclass
class Dashboard:
    day_start: datetime
    sent_today: int = 0
    failed_today: int = 0
    due_rest_of_today: int = 0
    open_by_severity: dict[str, int] = field(default_factory=dict)
    acknowledged_open: int = 0
    response_rates: list[StepRate] = field(default_factory=list)
    median_ack_minutes: dict[str, float | None] = field(default_factory=dict)


def local_day_bounds(now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Midnight to midnight in the clinic's zone (23 or 25 hours long on DST days)."""
    today = now.astimezone(tz).date()
    start = datetime.combine(today, time(0), tzinfo=tz)
    end = datetime.combine(today + timedelta(days=1), time(0), tzinfo=tz)
    return start, end


def build(*, session: Session, clinic: Clinic, now: datetime) -> Dashboard:
    start, end = local_day_bounds(now, ZoneInfo(clinic.timezone))
    board = Dashboard(day_start=start)
    msg = ScheduledMessage
    board.sent_today = session.scalar(
        select(func.count()).where(msg.clinic_id == clinic.id, msg.sent_at >= start,
                                   msg.sent_at < end)) or 0  # fmt: skip
    failed_messages = set(session.scalars(
        select(msg.id).where(msg.clinic_id == clinic.id, msg.status == FAILED,
                             msg.updated_at >= start, msg.updated_at < end)))  # fmt: skip
    # A provider may accept a message and report it undelivered later: count those too.
    failed_messages |= {i for i in session.scalars(
        select(SendAttempt.message_id).where(
            SendAttempt.clinic_id == clinic.id, SendAttempt.status.in_(DELIVERY_FAILURES),
            SendAttempt.updated_at >= start, SendAttempt.updated_at < end)) if i is not None}
    board.failed_today = len(failed_messages)
    board.due_rest_of_today = session.scalar(
        select(func.count()).where(msg.clinic_id == clinic.id, msg.status == PENDING,
                                   msg.due_at >= now, msg.due_at < end)) or 0  # fmt: skip
    board.open_by_severity = dict.fromkeys(SEVERITIES, 0)
    for severity, count in session.execute(
        select(Concern.severity, func.count()).where(Concern.clinic_id == clinic.id,
                                                     Concern.status == "open")
        .group_by(Concern.severity)):  # fmt: skip
        board.open_by_severity[severity] = count
    board.acknowledged_open = session.scalar(
        select(func.count()).where(Concern.clinic_id == clinic.id,
                                   Concern.status == "acknowledged")) or 0  # fmt: skip
    board.response_rates = _response_rates(session, clinic.id, now - RATE_WINDOW)
    board.median_ack_minutes = _median_ack(session, clinic.id, now - RATE_WINDOW)
    return board


def _response_rates(session: Session, clinic_id: int, since: datetime) -> list[StepRate]:
    """Of the questions sent since ``since``, per step, how many got an attributed reply."""
    asked = select(ScheduledMessage.id, ScheduledMessage.step_key).where(
        ScheduledMessage.clinic_id == clinic_id, ScheduledMessage.status == SENT,
        ScheduledMessage.expects.is_not(None), ScheduledMessage.sent_at >= since)  # fmt: skip
    rows = session.execute(asked).all()
    answered = set(session.scalars(
        select(InboundMessage.answers_message_id).where(
            InboundMessage.clinic_id == clinic_id, InboundMessage.received_at >= since,
            InboundMessage.answers_message_id.is_not(None))))  # fmt: skip
    totals: dict[str, list[int]] = {}
    for message_id, step in rows:
        counts = totals.setdefault(step, [0, 0])
        counts[0] += 1
        counts[1] += message_id in answered
    return [StepRate(step, a, b) for step, (a, b) in sorted(totals.items())]


def _median_ack(session: Session, clinic_id: int, since: datetime) -> dict[str, float | None]:
    waits: dict[str, list[float]] = {s: [] for s in SEVERITIES}
    rows = session.execute(
        select(Concern.severity, Concern.created_at, Concern.acknowledged_at).where(
            Concern.clinic_id == clinic_id, Concern.created_at >= since,
            Concern.acknowledged_at.is_not(None)))  # fmt: skip
    everything: list[float] = []
    for severity, created, acked in rows:
        minutes = max(0.0, (acked - created).total_seconds() / 60)
        waits.setdefault(severity, []).append(minutes)
        everything.append(minutes)
    out: dict[str, float | None] = {
        s: round(statistics.median(v), 1) if v else None for s, v in waits.items()
    }
    out["all"] = round(statistics.median(everything), 1) if everything else None
    return out
