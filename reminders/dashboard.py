"""Figures for the clinic dashboard: today's sends, response rates, concern load, and how
quickly concerns are acknowledged. Computed in Python over bounded windows so the same
code runs on SQLite and PostgreSQL.

The patient counts (unanswered for more than a day, opted out this week, ...) come from
the worklist's own filters (reminders.patients.worklist.named_counts), so each count is
exactly the number of rows its link shows."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reminders import display
from reminders.clinics.models import Clinic
from reminders.conversations.models import Concern, InboundMessage
from reminders.delivery.models import SendAttempt
from reminders.enrollments.models import FAILED, PENDING, SENT, ScheduledMessage
from reminders.inbox import SEVERITIES
from reminders.patients import worklist
from reminders.protocols.models import ProtocolVersion
from reminders.protocols.service import steps_of

RATE_WINDOW = timedelta(days=30)
HISTORY_DAYS = 30
DELIVERY_FAILURES = ("failed", "undelivered", "error")


@dataclass(frozen=True)
class StepRate:
    step: str
    asked: int
    answered: int
    name: str = ""  # the step's title, or its key in words

    @property
    def unanswered(self) -> int:
        return self.asked - self.answered

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
    # Patients in each of the worklist's named views (worklist.NAMED keys).
    patients: dict[str, int] = field(default_factory=dict)
    # Concerns raised per clinic-local day, oldest first: (day, {severity: count}).
    concerns_by_day: list[tuple[date, dict[str, int]]] = field(default_factory=list)


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
    board.concerns_by_day = _concerns_by_day(session, clinic, now)
    board.patients = worklist.named_counts(session=session, clinic=clinic, now=now)
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
    rates, order = step_rates(session=session, clinic_id=clinic_id, rows=rows, answered=answered)
    # In protocol order (the order patients get them); steps no protocol has any more last.
    return sorted(rates, key=lambda r: (order.get(r.step, len(order)), r.step))


def step_rates(
    *, session: Session, clinic_id: int, rows: Sequence[Any], answered: set[int | None]
) -> tuple[list[StepRate], dict[str, int]]:
    """Tally (message id, step) rows into asked/answered per step, labelled in words;
    with each step's place in the clinic's protocols, for sorting."""
    totals: dict[str, list[int]] = {}
    for message_id, step in rows:
        counts = totals.setdefault(step, [0, 0])
        counts[0] += 1
        counts[1] += message_id in answered
    titles, order = _step_titles(session, clinic_id)
    rates = [StepRate(step, a, b, display.sentence_case(display.step_label(step, titles.get(step))))
             for step, (a, b) in totals.items()]  # fmt: skip
    return rates, order


def _step_titles(session: Session, clinic_id: int) -> tuple[dict[str, str], dict[str, int]]:
    """Step key → its title in the clinic's newest version that has it (for a step the
    display catalogue does not know), and → its place in the protocols (first seen)."""
    versions = session.scalars(
        select(ProtocolVersion).where(ProtocolVersion.clinic_id == clinic_id,
                                      ProtocolVersion.status != "draft")
        .order_by(ProtocolVersion.id)).all()  # fmt: skip
    names: dict[str, str] = {}
    order: dict[str, int] = {}
    for version in versions:
        for step in steps_of(version):
            order.setdefault(step.key, len(order))
            if step.title:
                names[step.key] = step.title
    return names, order


def _concerns_by_day(
    session: Session, clinic: Clinic, now: datetime
) -> list[tuple[date, dict[str, int]]]:
    """Concerns raised on each of the last 30 clinic-local days (today included), per
    severity; days are counted in Python so DST and both backends agree."""
    tz = ZoneInfo(clinic.timezone)
    today = now.astimezone(tz).date()
    first = today - timedelta(days=HISTORY_DAYS - 1)
    days = {first + timedelta(days=i): dict.fromkeys(SEVERITIES, 0) for i in range(HISTORY_DAYS)}
    since = datetime.combine(first, time(0), tzinfo=tz)
    for severity, created in session.execute(
        select(Concern.severity, Concern.created_at).where(
            Concern.clinic_id == clinic.id, Concern.created_at >= since,
            Concern.created_at <= now)):  # fmt: skip
        counts = days.get(created.astimezone(tz).date())
        if counts is not None:
            counts[severity if severity in counts else "none"] += 1
    return list(days.items())


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
