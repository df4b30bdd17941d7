"""The outcomes report (/outcomes and /outcomes.csv): how patients answered and how they did.

One clinic's enrolments, optionally only one injectate and one month of procedures (the
clinic's calendar month of the injection; a concern counts in the month it was raised):

- **Response rates by step**: questions sent, and how many got a reply attributed to
  them (reply matching decides, as on the dashboard).
- **% relief** of diagnostic injections: each diary's peak (reminders/outcomes/diary.py)
  in 10-point buckets, and how many reached each of the clinic's labels.
- **HOOS JR change** (reminders/outcomes/hoos.change_summary), when that module is there.
- **Time to acknowledge** concerns: median and 90th percentile (nearest rank), per
  severity, with how many are still waiting.

Computed in Python over the filtered rows so SQLite and PostgreSQL agree.
"""

from __future__ import annotations

import csv
import io
import math
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from reminders import display
from reminders.clinics.models import Clinic
from reminders.conversations.models import Concern, InboundMessage
from reminders.dashboard import StepRate, step_rates
from reminders.enrollments.models import SENT, STEP, Enrollment, ScheduledMessage
from reminders.outcomes.diary import NO_RESULT, relief_for
from reminders.outcomes.hoos import change_summary
from reminders.outcomes.prompts import DIARY_KEY, settings_of
from reminders.patients.models import Procedure
from reminders.protocols.spec import INJECTATES

ACK_SEVERITIES = ("emergency", "urgent", "routine")
_MONTH = re.compile(r"^(20\d\d)-(0[1-9]|1[0-2])$")
# Relief buckets: < 0 (worse), 0-9 … 90-99, 100 (pain gone).
BUCKETS = ("worse", *(f"{n}-{n + 9}" for n in range(0, 100, 10)), "100")


class FilterError(ValueError):
    """A filter the report does not understand, as (field, message in words)."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(m for _, m in errors))


@dataclass(frozen=True)
class Filters:
    injectate: str | None = None
    month: str | None = None  # "2026-11": the clinic's calendar month

    def query(self) -> str:
        parts = [f"{k}={v}" for k, v in (("injectate", self.injectate), ("month", self.month)) if v]
        return "&".join(parts)


def parse_filters(injectate: str | None, month: str | None) -> Filters:
    """The query string's filters, or FilterError naming what is wrong in words."""
    errors: list[tuple[str, str]] = []
    injectate = (injectate or "").strip() or None
    month = (month or "").strip() or None
    if injectate is not None and injectate not in INJECTATES:
        errors.append(("injectate", "Injectate must be one of: " + ", ".join(
            display.humanise(i) for i in INJECTATES)))  # fmt: skip
    if month is not None and not _MONTH.match(month):
        errors.append(("month", "Month must be a month like 2026-11"))
    if errors:
        raise FilterError(errors)
    return Filters(injectate, month)


@dataclass(frozen=True)
class DiaryRow:
    enrollment_id: int
    patient_id: int
    performed_at: datetime
    injectate: str
    baseline: int | None
    peak_pct: float | None
    label: str


@dataclass(frozen=True)
class AckRow:
    severity: str  # a severity, or "all"
    acknowledged: int
    waiting: int  # not acknowledged yet
    median_minutes: float | None
    p90_minutes: float | None


@dataclass
class Report:
    filters: Filters
    response_rates: list[StepRate] = field(default_factory=list)
    diaries: list[DiaryRow] = field(default_factory=list)
    relief_buckets: list[tuple[str, int]] = field(default_factory=list)
    relief_labels: list[tuple[str, int]] = field(default_factory=list)
    hoos: list[dict[str, Any]] | None = None  # None: HOOS JR scoring is not installed
    ack: list[AckRow] = field(default_factory=list)
    months: list[str] = field(default_factory=list)  # months that have procedures


def bucket_of(pct: float) -> str:
    """The histogram bucket of a relief percentage."""
    if pct < 0:
        return "worse"
    if pct >= 100:
        return "100"
    low = int(pct // 10) * 10
    return f"{low}-{low + 9}"


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least ``pct`` % at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def _month_bounds(month: str, tz: ZoneInfo) -> tuple[datetime, datetime]:
    year, number = (int(p) for p in month.split("-"))
    start = datetime.combine(date(year, number, 1), time(0), tzinfo=tz)
    after = date(year + (number == 12), number % 12 + 1, 1)
    return start, datetime.combine(after, time(0), tzinfo=tz)


def build(*, session: Session, clinic: Clinic, filters: Filters) -> Report:
    tz = ZoneInfo(clinic.timezone)
    report = Report(filters=filters)
    scope = [Enrollment.clinic_id == clinic.id]
    if filters.injectate:
        scope.append(Procedure.injectate == filters.injectate)
    since = until = None
    if filters.month:
        since, until = _month_bounds(filters.month, tz)
        scope += [Procedure.performed_at >= since, Procedure.performed_at < until]
    enrolled = session.execute(
        select(Enrollment.id, Enrollment.patient_id, Procedure.performed_at, Procedure.injectate)
        .join(Procedure, Procedure.id == Enrollment.procedure_id).where(and_(*scope))
    ).all()  # fmt: skip
    ids = [row[0] for row in enrolled]
    performed = session.scalars(
        select(Procedure.performed_at).where(Procedure.clinic_id == clinic.id))
    report.months = sorted({p.astimezone(tz).strftime("%Y-%m") for p in performed}, reverse=True)
    report.response_rates = _response_rates(session, clinic.id, ids)
    report.diaries = _diaries(session, clinic.id, enrolled)
    settings = settings_of(clinic)
    counts = dict.fromkeys(BUCKETS, 0)
    for row in report.diaries:
        if row.peak_pct is not None:
            counts[bucket_of(row.peak_pct)] += 1
    report.relief_buckets = list(counts.items())
    labels = [f"≥ {settings.strong_pct:g} % relief", f"≥ {settings.good_pct:g} % relief",
              f"< {settings.good_pct:g} % relief", NO_RESULT]  # fmt: skip
    report.relief_labels = [(label, sum(r.label == label for r in report.diaries))
                            for label in labels]  # fmt: skip
    report.hoos = _hoos(session, clinic.id, filters)
    report.ack = _ack(session, clinic.id, filters, since, until)
    return report


def _response_rates(session: Session, clinic_id: int, ids: list[int]) -> list[StepRate]:
    m = ScheduledMessage
    rows = session.execute(
        select(m.id, m.step_key).where(m.clinic_id == clinic_id, m.kind == STEP, m.status == SENT,
                                       m.expects.is_not(None), m.enrollment_id.in_(ids))
    ).all() if ids else []  # fmt: skip
    sent_ids = [r[0] for r in rows]
    answered = set(session.scalars(
        select(InboundMessage.answers_message_id).where(
            InboundMessage.clinic_id == clinic_id,
            InboundMessage.answers_message_id.in_(sent_ids)))) if sent_ids else set()  # fmt: skip
    rates, order = step_rates(session=session, clinic_id=clinic_id, rows=rows, answered=answered)
    # Diary points read in time order (a clinic's own times are not in any protocol file).
    return sorted(rates, key=lambda r: (order.get(r.step, order.get(DIARY_KEY, len(order))),
                                        _diary_minutes(r.step), r.step))  # fmt: skip


def _diary_minutes(step: str) -> int:
    match = re.fullmatch(rf"{DIARY_KEY}_(\d+)([mh])", step)
    if not match:
        return 0
    return int(match.group(1)) * (60 if match.group(2) == "h" else 1)


def _diaries(session: Session, clinic_id: int, enrolled: Sequence[Any]) -> list[DiaryRow]:
    ids = [row[0] for row in enrolled]
    with_diary = set(session.scalars(
        select(ScheduledMessage.enrollment_id).where(
            ScheduledMessage.clinic_id == clinic_id, ScheduledMessage.kind == STEP,
            ScheduledMessage.step_key.like(f"{DIARY_KEY}%"),
            ScheduledMessage.enrollment_id.in_(ids)).distinct())) if ids else set()  # fmt: skip
    rows = []
    for enrollment_id, patient_id, performed_at, injectate in enrolled:
        if enrollment_id not in with_diary:
            continue
        result = relief_for(session=session, enrollment_id=enrollment_id)
        if result is None:
            continue
        rows.append(DiaryRow(enrollment_id, patient_id, performed_at, injectate, result.baseline,
                             result.peak_pct, result.label))  # fmt: skip
    return sorted(rows, key=lambda r: (r.performed_at, r.enrollment_id))


def _hoos(session: Session, clinic_id: int, filters: Filters) -> list[dict[str, Any]] | None:
    rows = change_summary(session=session, clinic_id=clinic_id)
    return [dict(r) for r in rows
            if (not filters.injectate or r.get("injectate") == filters.injectate)
            and (not filters.month or r.get("month") == filters.month)]  # fmt: skip


def _ack(session: Session, clinic_id: int, filters: Filters, since: datetime | None,
         until: datetime | None) -> list[AckRow]:  # fmt: skip
    query = select(Concern.severity, Concern.created_at, Concern.acknowledged_at).where(
        Concern.clinic_id == clinic_id)
    if filters.injectate:
        query = (query.join(Enrollment, Enrollment.id == Concern.enrollment_id)
                 .join(Procedure, Procedure.id == Enrollment.procedure_id)
                 .where(Procedure.injectate == filters.injectate))  # fmt: skip
    if since is not None and until is not None:
        query = query.where(Concern.created_at >= since, Concern.created_at < until)
    waits: dict[str, list[float]] = {s: [] for s in (*ACK_SEVERITIES, "all")}
    waiting: dict[str, int] = dict.fromkeys(waits, 0)
    for severity, created, acked in session.execute(query):
        keys = [severity, "all"] if severity in ACK_SEVERITIES else ["all"]
        for key in keys:
            if acked is None:
                waiting[key] += 1
            else:
                waits[key].append(max(0.0, (acked - created).total_seconds() / 60))
    return [AckRow(key, len(v), waiting[key],
                   round(statistics.median(v), 1) if v else None,
                   round(p, 1) if (p := percentile(v, 90)) is not None else None)
            for key, v in waits.items()]  # fmt: skip


def to_csv(report: Report, *, tz: ZoneInfo) -> str:
    """The report's numbers as one CSV: a ``section`` column says which table a row is from.
    No names or phone numbers: patients appear by their record id only."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["section", "injectate", "month", "item", "n", "value", "detail"])
    f = report.filters
    scope = [f.injectate or "all", f.month or "all"]
    for rate in report.response_rates:
        writer.writerow(["response_rate", *scope, _cell(rate.name), rate.asked, rate.answered,
                         f"{rate.percent}% answered"])  # fmt: skip
    for bucket, n in report.relief_buckets:
        writer.writerow(["relief_histogram", *scope, f"{bucket} %", n, "", "peak relief"])
    for label, n in report.relief_labels:
        writer.writerow(["relief_result", *scope, label, n, "", ""])
    for row in report.diaries:
        writer.writerow(["diagnostic_diary", row.injectate,
                         row.performed_at.astimezone(tz).strftime("%Y-%m"),
                         f"enrolment {row.enrollment_id}", 1,
                         "" if row.peak_pct is None else f"{row.peak_pct:.1f}",
                         f"baseline {row.baseline if row.baseline is not None else '-'}; "
                         f"{row.label}"])  # fmt: skip
    for hoos in report.hoos or []:
        writer.writerow(["hoos_jr_change", hoos.get("injectate", ""), hoos.get("month", ""),
                         "median change", hoos.get("n", ""), hoos.get("median_change", ""),
                         "verified" if hoos.get("verified", True) else "not verified"])  # fmt: skip
    for ack in report.ack:
        writer.writerow(["time_to_acknowledge", *scope, ack.severity, ack.acknowledged,
                         "" if ack.median_minutes is None else ack.median_minutes,
                         f"p90 {'' if ack.p90_minutes is None else ack.p90_minutes} min; "
                         f"{ack.waiting} waiting"])  # fmt: skip
    return out.getvalue()


def _cell(text: str) -> str:
    """A clinic's own text (a step title) that a spreadsheet would run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
