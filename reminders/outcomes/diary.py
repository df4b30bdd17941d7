"""The diagnostic pain diary: a pre-injection pain score, diary answers after it, % relief.

A diagnostic (local anaesthetic only) injection asks "is the injected structure the pain
source?" (seed 001): relief while the anaesthetic works says yes. The rule, used by the
timeline, the API, FHIR and the outcomes report alike:

- **Baseline**: the pain score (0-10) entered at enrolment; else the answer to the
  pre-procedure check-in (``pain_baseline``), if it came before the procedure time.
- **Points**: one per diary prompt (protocol steps ``pain_diary…``), at its planned time
  after the procedure. A point's answer is the reply that answered its question inside
  the question's answer window (reply matching decides; a re-ask reopens it).
- **Relief** at a point = (baseline − pain) / baseline × 100. Baseline 0 (nothing to
  relieve) or no baseline gives no result; pain worse than baseline is negative relief.
- **Peak** = the highest relief over the answered, in-window points.
- **Label**: peak ≥ the clinic's strong threshold (default 80 %), ≥ its good threshold
  (default 50 %), below that, or "no result" (no baseline, or no in-window answer).
- **Late answers**: a pain score sent after a point's window closed (and before the next
  question went out, at most :data:`LATE_LIMIT` later) is recorded on the point as
  ``late``, with its pain, but has no relief and never counts for the peak: it measures
  pain at another time than the point's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders.clinics.models import Clinic
from reminders.conversations.models import ANSWER, InboundMessage, QuestionFollowup
from reminders.enrollments.models import SENT, STEP, Enrollment, ScheduledMessage
from reminders.outcomes.prompts import BASELINE_KEY, is_diary_key, point_label, settings_of
from reminders.patients.models import Procedure

# How long after a point's window a pain score still reads as a late answer to it
# (rather than a message about something else).
LATE_LIMIT = timedelta(hours=12)
NO_RESULT = "no result"


@dataclass(frozen=True)
class ReliefPoint:
    label: str  # "30 min", "1 h", ...
    minutes: int  # after the procedure
    pain: int | None  # 0-10, None if unanswered
    relief_pct: float | None  # (baseline - pain) / baseline * 100; None: no baseline/pain, late
    answered_at: datetime | None
    late: bool  # answered after its window: recorded, not used


@dataclass(frozen=True)
class ReliefResult:
    baseline: int | None
    points: list[ReliefPoint]
    peak_pct: float | None
    label: str  # "≥ 80 % relief" / "≥ 50 % relief" / "< 50 % relief" / "no result"


@dataclass(frozen=True)
class Reading:
    """What the patient said for one diary point (the scoring input)."""

    minutes: int
    pain: int | None = None
    answered_at: datetime | None = None
    late: bool = False
    label: str | None = None  # default: point_label(minutes)


def relief_pct(baseline: int | None, pain: int | None) -> float | None:
    """(baseline − pain) / baseline × 100; None without both, or with baseline 0."""
    if baseline is None or pain is None or baseline <= 0:
        return None
    return (baseline - pain) / baseline * 100


def peak(points: Sequence[ReliefPoint]) -> float | None:
    """The highest relief over points answered in their window; None if there is none."""
    values = [p.relief_pct for p in points if not p.late and p.relief_pct is not None]
    return max(values) if values else None


def label_for(peak_pct: float | None, *, good: float = 50, strong: float = 80) -> str:
    """The peak against the clinic's thresholds, in words."""
    if peak_pct is None:
        return NO_RESULT
    if peak_pct >= strong:
        return f"≥ {strong:g} % relief"
    if peak_pct >= good:
        return f"≥ {good:g} % relief"
    return f"< {good:g} % relief"


def score(
    baseline: int | None, readings: Sequence[Reading], *, good: float = 50, strong: float = 80
) -> ReliefResult:
    """The diary's result from a baseline and one reading per point (pure; see module doc)."""
    points = [
        ReliefPoint(
            label=r.label or point_label(r.minutes), minutes=r.minutes, pain=r.pain,
            relief_pct=None if r.late else relief_pct(baseline, r.pain),
            answered_at=r.answered_at, late=r.late and r.pain is not None,
        )
        for r in sorted(readings, key=lambda r: r.minutes)
    ]
    top = peak(points)
    return ReliefResult(baseline=baseline, points=points, peak_pct=top,
                        label=label_for(top, good=good, strong=strong))  # fmt: skip


def pain_of(reply: InboundMessage) -> int | None:
    """The 0-10 pain score a reply carried, as triage parsed it (else read from its text)."""
    from reminders.patients.service import readings  # the patients package imports web-ish code
    from reminders.triage.parse import parse_pain

    found = readings(reply.parsed).get("pain")
    if found is not None:
        return round(found)
    if reply.body:
        parsed = parse_pain(reply.body, bare_numbers=True)
        return parsed.score if parsed is not None else None
    return None


def relief_for(*, session: Session, enrollment_id: int) -> ReliefResult | None:
    """The enrolment's diary result; None when it has no diary (not a diagnostic diary).

    Callers scope by clinic before asking (the enrolment id comes from their own query).
    """
    enrollment = session.get(Enrollment, enrollment_id)
    if enrollment is None:
        return None
    steps = list(session.scalars(
        select(ScheduledMessage).where(ScheduledMessage.enrollment_id == enrollment.id,
                                       ScheduledMessage.kind == STEP)
        .order_by(ScheduledMessage.planned_at, ScheduledMessage.id)))  # fmt: skip
    diary = [m for m in steps if is_diary_key(m.step_key)]
    if not diary:
        return None
    procedure = session.get_one(Procedure, enrollment.procedure_id)
    settings = settings_of(session.get_one(Clinic, enrollment.clinic_id))
    replies = list(session.scalars(
        select(InboundMessage).where(InboundMessage.enrollment_id == enrollment.id)
        .order_by(InboundMessage.received_at, InboundMessage.id)))  # fmt: skip
    reasked = dict(session.execute(
        select(QuestionFollowup.message_id, QuestionFollowup.reasked_at).where(
            QuestionFollowup.message_id.in_([m.id for m in steps]),
            QuestionFollowup.reasked_at.is_not(None)),
    ).tuples().all())  # fmt: skip
    baseline = enrollment.baseline_pain
    if baseline is None:
        baseline = _checkin_baseline(steps, replies, procedure.performed_at)
    questions = [m for m in steps if m.expects is not None and m.sent_at is not None]
    readings = [_reading(m, procedure.performed_at, replies, questions, reasked.get(m.id))
                for m in diary]  # fmt: skip
    return score(baseline, readings, good=settings.good_pct, strong=settings.strong_pct)


def _answers(replies: Sequence[InboundMessage], message_id: int) -> list[InboundMessage]:
    return [r for r in replies if r.answers_message_id == message_id and r.kind == ANSWER]


def _checkin_baseline(
    steps: Sequence[ScheduledMessage], replies: Sequence[InboundMessage], performed_at: datetime
) -> int | None:
    """The pre-procedure check-in's answer, if it came before the injection."""
    for message in steps:
        if message.step_key != BASELINE_KEY:
            continue
        for reply in _answers(replies, message.id):
            pain = pain_of(reply)
            if pain is not None and reply.received_at <= performed_at:
                return pain
    return None


def _reading(
    message: ScheduledMessage, performed_at: datetime, replies: Sequence[InboundMessage],
    questions: Sequence[ScheduledMessage], reasked_at: datetime | None,
) -> Reading:  # fmt: skip
    minutes = round((message.planned_at - performed_at).total_seconds() / 60)
    for reply in _answers(replies, message.id):
        pain = pain_of(reply)
        if pain is not None:
            return Reading(minutes, pain, reply.received_at)
    if message.status != SENT or message.sent_at is None:
        return Reading(minutes)
    start = max(message.sent_at, reasked_at) if reasked_at else message.sent_at
    closes = start + timedelta(minutes=message.answer_window_minutes or 0)
    later = [q.sent_at for q in questions if q.sent_at is not None and q.sent_at > closes]
    until = min([closes + LATE_LIMIT, *later])
    for reply in replies:
        if reply.answers_message_id is None and closes < reply.received_at <= until:
            pain = pain_of(reply)
            if pain is not None:
                return Reading(minutes, pain, reply.received_at, late=True)
    return Reading(minutes)


def as_json(result: ReliefResult) -> dict[str, Any]:
    """The result for the REST API (and anyone else who wants plain values)."""
    return {
        "baseline": result.baseline,
        "peak_pct": _round(result.peak_pct),
        "label": result.label,
        "points": [
            {"label": p.label, "minutes": p.minutes, "pain": p.pain,
             "relief_pct": _round(p.relief_pct),
             "answered_at": p.answered_at.isoformat() if p.answered_at else None,
             "late": p.late}
            for p in result.points
        ],
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
