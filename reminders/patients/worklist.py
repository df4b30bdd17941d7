"""The coordinator's worklist: one row per patient of a clinic saying where her follow-up
stands — procedure and day since it, protocol, the next message, the last reply and its
severity, questions never answered, the worst unresolved concern, and whether she can
still be reached (opted out, no email, an address that failed for good).

Set-based: one statement builds every patient's row from grouped subqueries joined to
``patients``, then filters, sorts and pages it in SQL (``count(*) over ()`` gives the
total on the same pass; SQLite 3.25+); one more reads the step names of the protocol
versions on the page. The number of statements never depends on the number of patients
(5,000 patients: 100-150 ms a page on either backend on a busy two-core machine, given
PostgreSQL's statistics — autovacuum's ANALYZE; on never-analysed tables its planner may
pick nested loops and take seconds).

Filter parsing (:func:`parse`) is pure: query-string values in, :class:`Filters` and
errors naming the field in words out, so a link reproduces the view.

Rules:

* the *current* enrolment is her newest active one, else her newest;
* an *unanswered check* is a question of an active enrolment that was sent and that no
  reply ever answered (the no-response job's rule: any attributed reply counts);
* an *open concern* is one not yet resolved (open or acknowledged);
* an address is *undeliverable* when the newest attempt to it on that channel failed
  permanently (a later success, or a new address, clears it);
* days since the procedure are calendar days in the clinic's time zone (day 0 is the
  day of the procedure), in the list and in its filter alike;
* "this week" is the last seven days.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Select, Subquery, and_, case, exists, func, or_, select, true
from sqlalchemy.orm import Session, aliased

from reminders import display
from reminders.clinics.models import Clinic
from reminders.conversations.models import IGNORED, STAFF, UNKNOWN, Concern, InboundMessage
from reminders.delivery.models import SendAttempt
from reminders.enrollments.models import (
    OPEN_STATUSES,
    REASK,
    SENT,
    STEP,
    Enrollment,
    ScheduledMessage,
)
from reminders.inbox import SEVERITIES, SEVERITY_RANK, UNRESOLVED
from reminders.patients.models import Patient, Procedure
from reminders.protocols.models import ProtocolVersion
from reminders.protocols.service import steps_of

PER_PAGE = 50
MAX_PAGE = 10_000
WEEK = timedelta(days=7)
MAX_DAY = 3660
SNIPPET = 80


# -- step names ----------------------------------------------------------------------


def step_names(versions: Iterable[ProtocolVersion]) -> dict[tuple[int, str], str]:
    """(version id, step key) → the step in words (reminders.display: the catalogue's
    name, else the protocol's title, else the key in words), capitalised for a cell."""
    names: dict[tuple[int, str], str] = {}
    for version in versions:
        for step in steps_of(version):
            label = display.step_label(step.key, step.title)
            names[(version.id, step.key)] = display.sentence_case(label)
    return names


# -- filters ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    param: str  # the query-string name
    label: str  # the field in words, for the form and for errors
    options: tuple[tuple[str, str], ...]  # (value, words)


CHOICES = (
    Choice("next", "Next message", (("24h", "within 24 hours"), ("7d", "within 7 days"),
                                    ("none", "nothing scheduled"))),
    Choice("reply", "Last reply", (("emergency", "emergency"), ("urgent", "urgent"),
                                   ("routine", "routine"), ("none", "nothing flagged"),
                                   ("never", "no reply yet"))),
    Choice("unanswered", "Unanswered checks", (("any", "any"), ("1d", "for more than a day"),
                                               ("3d", "for more than 3 days"))),
    Choice("concern", "Open concern", (("open", "any open"), ("urgent", "urgent or worse"),
                                       ("emergency", "emergency"),
                                       ("no_response", "no-response"), ("none", "none"))),
    Choice("channel", "Channel", (("problem", "any problem"), ("opted_out", "opted out"),
                                  ("opted_out_7d", "opted out this week"),
                                  ("sms_opted_out", "opted out of SMS"),
                                  ("email_opted_out", "opted out of email"),
                                  ("no_email", "no email"), ("undeliverable", "undeliverable"),
                                  ("ok", "no problem"))),
    Choice("enrolled", "Enrolled", (("7d", "this week"), ("30d", "in the last 30 days"))),
)  # fmt: skip
CHOICE = {c.param: c for c in CHOICES}
DAY_PRESETS = (
    ("0-2", "days 0-2"),
    ("3-7", "days 3-7"),
    ("8-14", "days 8-14"),
    ("15+", "day 15 on"),
)
_DAY = re.compile(r"^(\d{1,4})(?:\s*-\s*(\d{1,4})|(\+))?$")

# Sort keys, their words, and whether the natural order is "most first" for the column.
SORTS = {
    "attention": "needs attention",
    "name": "name",
    "day": "day since procedure",
    "protocol": "protocol",
    "next": "next message",
    "reply": "last reply",
    "unanswered": "unanswered checks",
    "concern": "open concern",
    "channel": "channel",
    "enrolled": "enrolled",
}


@dataclass(frozen=True)
class Filters:
    q: str = ""
    protocol: str = ""
    day: str = ""  # "3-7", "15+", "2"
    next: str = ""
    reply: str = ""
    unanswered: str = ""
    concern: str = ""
    channel: str = ""
    enrolled: str = ""
    sort: str = ""  # a key of SORTS, "-" in front reverses it
    page: int = 1

    def params(self, **changes: Any) -> dict[str, str]:
        """The non-default query parameters, with ``changes`` applied."""
        values = replace(self, **changes)
        out = {name: str(getattr(values, name)) for name in FILTER_PARAMS
               if getattr(values, name)}  # fmt: skip
        if values.sort:
            out["sort"] = values.sort
        if values.page > 1:
            out["page"] = str(values.page)
        return out

    def url(self, **changes: Any) -> str:
        """``/patients`` with this view's query string (changing a filter starts at page 1)."""
        if any(name != "page" for name in changes):
            changes.setdefault("page", 1)
        query = urlencode(self.params(**changes))
        return "/patients" + (f"?{query}" if query else "")

    @property
    def active(self) -> int:
        """How many filters (besides the text search) are on."""
        return sum(1 for name in FILTER_PARAMS if name != "q" and getattr(self, name))

    @property
    def sort_key(self) -> str:
        return self.sort.removeprefix("-") or "attention"

    @property
    def reversed(self) -> bool:
        return self.sort.startswith("-")


FILTER_PARAMS = ("q", "protocol", "day", *CHOICE)


@dataclass(frozen=True)
class Named:
    """A view people ask for by name; a preset of the column filters."""

    key: str
    label: str
    params: Mapping[str, str]

    @property
    def url(self) -> str:
        return "/patients?" + urlencode(dict(self.params))

    def matches(self, filters: Filters) -> bool:
        return filters.params(sort="", page=1) == dict(self.params)


NAMED = (
    Named("unanswered", "Unanswered for more than a day", {"unanswered": "1d"}),
    Named("opted_out", "Opted out this week", {"channel": "opted_out_7d"}),
    Named("no_response", "No-response concerns", {"concern": "no_response"}),
    Named("open", "Open concerns", {"concern": "open"}),
    Named("urgent", "Urgent or worse", {"concern": "urgent"}),
    Named("enrolled", "Enrolled this week", {"enrolled": "7d"}),
)


def _clean(value: str, limit: int = 100) -> str:
    return " ".join(value.replace("\x00", "").split())[:limit]


def parse(params: Mapping[str, str]) -> tuple[Filters, list[str]]:
    """Query-string values → filters; a bad value is dropped and named in an error."""
    errors: list[str] = []
    values: dict[str, Any] = {"q": _clean(params.get("q", ""))}
    protocol = _clean(params.get("protocol", ""), 60)
    if protocol and not re.fullmatch(r"[A-Za-z0-9_\-]+", protocol):
        errors.append("Protocol: choose one from the list.")
    elif protocol:
        values["protocol"] = protocol
    day = _clean(params.get("day", ""), 20)
    if day:
        if day_range(day) is None:
            errors.append(f"Day since procedure: “{day}” is not a day (write 3, 3-7 or 15+).")
        else:
            values["day"] = day.replace(" ", "")
    for choice in CHOICES:
        value = _clean(params.get(choice.param, ""), 40)
        if not value:
            continue
        if value in dict(choice.options):
            values[choice.param] = value
        else:
            words = ", ".join(label for _, label in choice.options)
            errors.append(f"{choice.label}: “{value}” is not one of {words}.")
    sort = _clean(params.get("sort", ""), 20)
    if sort and sort.removeprefix("-") not in SORTS:
        columns = ", ".join(SORTS.values())
        errors.append(f"Sort: “{sort}” is not a column (choose one of {columns}).")
    elif sort and sort != "attention":
        values["sort"] = sort
    page = _clean(params.get("page", ""), 10)
    if page:
        if page.isdigit() and 1 <= int(page) <= MAX_PAGE:
            values["page"] = int(page)
        else:
            errors.append(f"Page: “{page}” is not a page number (1 to {MAX_PAGE}).")
    return Filters(**values), errors


def day_range(text: str) -> tuple[int, int | None] | None:
    """``"3"`` → (3, 3), ``"3-7"`` → (3, 7), ``"15+"`` → (15, None); None if not a range."""
    match = _DAY.match(text.strip())
    if not match:
        return None
    low = int(match.group(1))
    high: int | None = None if match.group(3) else int(match.group(2) or low)
    if low > MAX_DAY or (high is not None and not low <= high <= MAX_DAY):
        return None
    return low, high


# -- rows ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    patient_id: int
    given_name: str
    family_name: str | None
    external_id: str | None
    phone: str | None
    email: str | None
    enrollment_status: str | None
    enrolled_at: datetime | None
    performed_at: datetime | None
    injectate: str | None
    side: str | None
    day: int | None  # calendar days since the procedure, in the clinic's zone
    protocol: str | None
    next_at: datetime | None
    next_what: str | None
    next_channel: str | None
    reply_at: datetime | None
    reply_severity: str | None
    reply_kind: str | None
    reply_text: str | None
    unanswered: int
    unanswered_since: datetime | None
    concern_severity: str | None
    concerns: int
    concern_no_response: bool
    concern_acknowledged: bool  # every open concern has been acknowledged
    sms_opted_out_at: datetime | None
    email_opted_out_at: datetime | None
    sms_undeliverable: bool
    email_undeliverable: bool

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name or ''}".strip()

    @property
    def channel_problems(self) -> list[str]:
        """What stands between her and our messages, in words."""
        out = []
        if self.sms_undeliverable:
            out.append("SMS undeliverable")
        if self.email_undeliverable:
            out.append("email undeliverable")
        if self.sms_opted_out_at:
            out.append("opted out of SMS")
        if self.email_opted_out_at:
            out.append("opted out of email")
        if not self.email:
            out.append("no email")
        return out


@dataclass
class Worklist:
    filters: Filters
    rows: list[Row] = field(default_factory=list)
    total: int = 0
    per_page: int = PER_PAGE

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def first(self) -> int:
        return (self.filters.page - 1) * self.per_page + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


class _Summary:
    """The per-patient subqueries, all scoped to one clinic. "Newest per patient" is a
    grouped max joined back by value (ties broken by the highest id) rather than a window
    function: SQLite joins a grouped subquery through an index of its own."""

    def __init__(self, clinic_id: int, now: datetime) -> None:
        self.clinic_id, self.now = clinic_id, now
        e, m, r, c = Enrollment, ScheduledMessage, InboundMessage, Concern
        self.cur = (
            select(e.patient_id,
                   func.coalesce(func.max(case((e.status == "active", e.id))),
                                 func.max(e.id)).label("enrollment_id"),
                   func.max(e.created_at).label("enrolled_at"))
            .where(e.clinic_id == clinic_id).group_by(e.patient_id)
        ).subquery("cur")  # fmt: skip
        upcoming = (m.clinic_id == clinic_id, e.clinic_id == clinic_id,
                    m.status.in_(OPEN_STATUSES), m.kind.in_((STEP, REASK)))  # fmt: skip
        first_due = (select(e.patient_id, func.min(m.due_at).label("due_at"))
                     .join(e, e.id == m.enrollment_id).where(*upcoming)
                     .group_by(e.patient_id)).subquery("first_due")  # fmt: skip
        self.nxt = (
            select(e.patient_id, func.min(m.id).label("message_id"), first_due.c.due_at)
            .join(e, e.id == m.enrollment_id)
            .join(first_due, and_(first_due.c.patient_id == e.patient_id,
                                  first_due.c.due_at == m.due_at))
            .where(*upcoming).group_by(e.patient_id, first_due.c.due_at)
        ).subquery("nxt")  # fmt: skip
        replies = (r.clinic_id == clinic_id, r.patient_id.is_not(None),
                   r.kind.not_in((STAFF, UNKNOWN, IGNORED)))  # fmt: skip
        last_at = (select(r.patient_id, func.max(r.received_at).label("received_at"))
                   .where(*replies).group_by(r.patient_id)).subquery("last_at")  # fmt: skip
        self.last = (
            select(r.patient_id, func.max(r.id).label("reply_id"))
            .join(last_at, and_(last_at.c.patient_id == r.patient_id,
                                last_at.c.received_at == r.received_at))
            .where(*replies).group_by(r.patient_id)
        ).subquery("last_reply")  # fmt: skip
        answered = exists().where(r.answers_message_id == m.id)
        self.unanswered = (
            select(e.patient_id, func.count().label("n"), func.min(m.sent_at).label("since"))
            .join(e, e.id == m.enrollment_id)
            .where(m.clinic_id == clinic_id, e.clinic_id == clinic_id, e.status == "active",
                   m.kind == STEP, m.status == SENT, m.expects.is_not(None),
                   m.sent_at.is_not(None), ~answered)
            .group_by(e.patient_id)
        ).subquery("unanswered")  # fmt: skip
        rank = case(SEVERITY_RANK, value=c.severity, else_=len(SEVERITIES))
        self.concerns = (
            select(c.patient_id, func.min(rank).label("rank"), func.count().label("n"),
                   func.max(case((c.kind == "no_response", 1), else_=0)).label("no_response"),
                   func.max(case((c.status == "open", 1), else_=0)).label("unacked"))
            .where(c.clinic_id == clinic_id, c.status.in_(UNRESOLVED), c.patient_id.is_not(None))
            .group_by(c.patient_id)
        ).subquery("open_concerns")  # fmt: skip
        self.latest_sms, self.latest_email = _latest(clinic_id, "sms"), _latest(clinic_id, "email")
        self.enrollment = aliased(Enrollment, name="current_enrollment")
        self.next_message = aliased(ScheduledMessage, name="next_message")
        self.next_enrollment = aliased(Enrollment, name="next_enrollment")
        self.reply = aliased(InboundMessage, name="reply")
        self.sms_bad = aliased(SendAttempt, name="sms_bad")
        self.email_bad = aliased(SendAttempt, name="email_bad")

    def joined(self, *columns: Any) -> Select[Any]:
        p, ce, nm, rp = Patient, self.enrollment, self.next_message, self.reply
        return (
            select(*columns).select_from(p)
            .outerjoin(self.cur, self.cur.c.patient_id == p.id)
            .outerjoin(ce, ce.id == self.cur.c.enrollment_id)
            .outerjoin(Procedure, Procedure.id == ce.procedure_id)
            .outerjoin(ProtocolVersion, ProtocolVersion.id == ce.protocol_version_id)
            .outerjoin(self.nxt, self.nxt.c.patient_id == p.id)
            .outerjoin(nm, nm.id == self.nxt.c.message_id)
            .outerjoin(self.next_enrollment, self.next_enrollment.id == nm.enrollment_id)
            .outerjoin(self.last, self.last.c.patient_id == p.id)
            .outerjoin(rp, rp.id == self.last.c.reply_id)
            .outerjoin(self.unanswered, self.unanswered.c.patient_id == p.id)
            .outerjoin(self.concerns, self.concerns.c.patient_id == p.id)
            .outerjoin(self.latest_sms, self.latest_sms.c.recipient == p.phone)
            .outerjoin(self.sms_bad, and_(self.sms_bad.id == self.latest_sms.c.last_id,
                                          self.sms_bad.permanent.is_(True)))
            .outerjoin(self.latest_email, self.latest_email.c.recipient == p.email)
            .outerjoin(self.email_bad, and_(self.email_bad.id == self.latest_email.c.last_id,
                                            self.email_bad.permanent.is_(True)))
            .where(p.clinic_id == self.clinic_id)
        )  # fmt: skip

    # Conditions, one per filter value.

    def opted_out_since(self, since: datetime) -> ColumnElement[bool]:
        p = Patient
        return or_(p.sms_opted_out_at >= since, p.email_opted_out_at >= since)

    def undeliverable_any(self) -> ColumnElement[bool]:
        return or_(self.sms_bad.id.is_not(None), self.email_bad.id.is_not(None))

    def no_email(self) -> ColumnElement[bool]:
        return or_(Patient.email.is_(None), Patient.email == "")

    def channel_rank(self) -> ColumnElement[int]:
        """0 undeliverable, 1 opted out, 2 no email, 3 fine: the worst first."""
        p = Patient
        return case(
            (self.undeliverable_any(), 0),
            (or_(p.sms_opted_out_at.is_not(None), p.email_opted_out_at.is_not(None)), 1),
            (self.no_email(), 2),
            else_=3,
        )

    def condition(self, name: str, value: str) -> ColumnElement[bool]:
        p, now = Patient, self.now
        nxt, last, una, con = self.nxt.c, self.reply, self.unanswered.c, self.concerns.c
        conditions: dict[str, dict[str, ColumnElement[bool]]] = {
            "next": {"24h": nxt.due_at < now + timedelta(hours=24),
                     "7d": nxt.due_at < now + timedelta(days=7), "none": nxt.due_at.is_(None)},
            "reply": {**{s: last.severity == s for s in SEVERITIES},
                      "never": last.received_at.is_(None)},
            "unanswered": {"any": una.n > 0, "1d": una.since <= now - timedelta(days=1),
                           "3d": una.since <= now - timedelta(days=3)},
            "concern": {"open": con.n > 0, "urgent": con.rank <= SEVERITY_RANK["urgent"],
                        "emergency": con.rank == SEVERITY_RANK["emergency"],
                        "no_response": con.no_response == 1, "none": con.n.is_(None)},
            "channel": {
                "problem": self.channel_rank() < 3,
                "opted_out": or_(p.sms_opted_out_at.is_not(None),
                                 p.email_opted_out_at.is_not(None)),
                "opted_out_7d": self.opted_out_since(now - WEEK),
                "sms_opted_out": p.sms_opted_out_at.is_not(None),
                "email_opted_out": p.email_opted_out_at.is_not(None),
                "no_email": self.no_email(), "undeliverable": self.undeliverable_any(),
                "ok": self.channel_rank() == 3,
            },
            "enrolled": {"7d": self.cur.c.enrolled_at >= now - WEEK,
                         "30d": self.cur.c.enrolled_at >= now - timedelta(days=30)},
        }  # fmt: skip
        return conditions[name][value]


def _latest(clinic_id: int, channel: str) -> Subquery:
    """Each address's newest attempt on ``channel`` (its id): undeliverable when that one
    failed permanently."""
    a = SendAttempt
    return (select(a.recipient, func.max(a.id).label("last_id"))
            .where(a.clinic_id == clinic_id, a.channel == channel)
            .group_by(a.recipient)).subquery(f"latest_{channel}")  # fmt: skip


def _text_match(q: str) -> ColumnElement[bool] | None:
    """The patient search's rule: every word in a name or the MRN, or 4+ phone digits."""
    if not q:
        return None

    def like(text: str) -> str:
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return f"%{escaped}%"

    p = Patient
    by_name = and_(*(or_(p.given_name.ilike(like(word), escape="\\"),
                         p.family_name.ilike(like(word), escape="\\"),
                         p.external_id.ilike(like(word), escape="\\"))
                     for word in q.split()))  # fmt: skip
    digits = "".join(ch for ch in q if ch.isdigit())
    return or_(by_name, p.phone.like(like(digits), escape="\\")) if len(digits) >= 4 else by_name


def _where(s: _Summary, filters: Filters, tz: ZoneInfo) -> list[ColumnElement[bool]]:
    out: list[ColumnElement[bool]] = []
    text = _text_match(filters.q)
    if text is not None:
        out.append(text)
    if filters.protocol:
        out.append(ProtocolVersion.key == filters.protocol)
    span = day_range(filters.day) if filters.day else None
    if span is not None:
        today = s.now.astimezone(tz).date()
        low, high = span
        out.append(Procedure.performed_at < _local_midnight(today - timedelta(days=low - 1), tz))
        if high is not None:
            out.append(Procedure.performed_at >= _local_midnight(today - timedelta(days=high), tz))
    for choice in CHOICES:
        value = getattr(filters, choice.param)
        if value:
            out.append(s.condition(choice.param, value))
    return out


def _order(s: _Summary, filters: Filters) -> list[Any]:
    """ORDER BY for the view: the column's natural order (most pressing first), reversed
    by a leading "-"; rows without a value stay last either way; then name, then id."""
    p, nxt, last, una, con = Patient, s.nxt.c, s.reply, s.unanswered.c, s.concerns.c
    key, back = filters.sort_key, filters.reversed

    def by(column: Any, descending: bool = False) -> list[Any]:
        desc = descending != back
        return [column.is_(None), column.desc() if desc else column.asc()]

    name = [func.lower(p.given_name), func.lower(func.coalesce(p.family_name, "")), p.id]
    reply_rank = case(SEVERITY_RANK, value=last.severity, else_=None)
    columns: dict[str, list[Any]] = {
        "attention": [*by(con.rank), *by(una.since), *by(reply_rank), *by(nxt.due_at)],
        "name": [],
        "day": by(Procedure.performed_at, descending=True),
        "protocol": by(func.lower(ProtocolVersion.title)),
        "next": by(nxt.due_at),
        "reply": by(last.received_at, descending=True),
        "unanswered": by(una.since),
        "concern": [*by(con.rank), *by(con.n, descending=True)],
        "channel": by(s.channel_rank()),
        "enrolled": by(s.cur.c.enrolled_at, descending=True),
    }
    if key == "name" and back:
        name = [c.desc() for c in name]
    return [*columns[key], *name]


def build(
    *, session: Session, clinic: Clinic, now: datetime, filters: Filters, per_page: int = PER_PAGE
) -> Worklist:
    """One page of the clinic's worklist under ``filters``: two statements whatever the
    number of patients."""
    tz = ZoneInfo(clinic.timezone)
    s = _Summary(clinic.id, now)
    p, ce, nxt, nm, rp = Patient, s.enrollment, s.nxt.c, s.next_message, s.reply
    una, con = s.unanswered.c, s.concerns.c
    query = s.joined(
        p.id, p.given_name, p.family_name, p.external_id, p.phone, p.email,
        p.sms_opted_out_at, p.email_opted_out_at, ce.status.label("enrollment_status"),
        s.cur.c.enrolled_at, Procedure.performed_at, Procedure.injectate, Procedure.side,
        ProtocolVersion.title.label("protocol"), nxt.due_at.label("next_at"),
        nm.step_key.label("next_step"), nm.kind.label("next_kind"),
        nm.channel.label("next_channel"),
        s.next_enrollment.protocol_version_id.label("next_version"),
        rp.received_at.label("reply_at"), rp.severity.label("reply_severity"),
        rp.kind.label("reply_kind"), rp.body.label("reply_body"),
        una.n.label("unanswered"), una.since.label("unanswered_since"),
        con.rank.label("concern_rank"), con.n.label("concerns"),
        con.no_response.label("concern_no_response"), con.unacked.label("concern_unacked"),
        s.sms_bad.id.is_not(None).label("sms_undeliverable"),
        s.email_bad.id.is_not(None).label("email_undeliverable"),
        func.count().over().label("total"),
    ).where(*_where(s, filters, tz)).order_by(*_order(s, filters))  # fmt: skip
    offset = (filters.page - 1) * per_page
    rows = session.execute(query.limit(per_page).offset(offset)).all()
    out = Worklist(filters=filters, per_page=per_page)
    if not rows:
        # Past the last page (or nothing matches): the count alone says which.
        if filters.page > 1:
            out.total = count(session=session, clinic=clinic, now=now, filters=filters)
        return out
    out.total = rows[0].total
    version_ids = {row.next_version for row in rows if row.next_version is not None}
    versions = session.scalars(select(ProtocolVersion).where(
        ProtocolVersion.clinic_id == clinic.id, ProtocolVersion.id.in_(version_ids)))  # fmt: skip
    names = step_names(versions) if version_ids else {}
    today = now.astimezone(tz).date()
    for row in rows:
        what = None
        if row.next_step is not None:
            what = (names.get((row.next_version, row.next_step))
                    or display.sentence_case(display.step_label(row.next_step)))  # fmt: skip
            what = f"Reminder: {what[:1].lower()}{what[1:]}" if row.next_kind == REASK else what
        performed, rank = row.performed_at, row.concern_rank
        out.rows.append(Row(
            patient_id=row.id, given_name=row.given_name, family_name=row.family_name,
            external_id=row.external_id, phone=row.phone, email=row.email,
            enrollment_status=row.enrollment_status, enrolled_at=row.enrolled_at,
            performed_at=performed, injectate=row.injectate, side=row.side,
            day=(today - performed.astimezone(tz).date()).days if performed else None,
            protocol=row.protocol or None, next_at=row.next_at, next_what=what,
            next_channel=row.next_channel, reply_at=row.reply_at,
            reply_severity=row.reply_severity, reply_kind=row.reply_kind,
            reply_text=_snippet(row.reply_body), unanswered=row.unanswered or 0,
            unanswered_since=row.unanswered_since,
            concern_severity=SEVERITIES[rank] if rank is not None and rank < len(SEVERITIES)
            else None,
            concerns=row.concerns or 0, concern_no_response=bool(row.concern_no_response),
            concern_acknowledged=row.concern_unacked == 0,
            sms_opted_out_at=row.sms_opted_out_at, email_opted_out_at=row.email_opted_out_at,
            sms_undeliverable=bool(row.sms_undeliverable),
            email_undeliverable=bool(row.email_undeliverable),
        ))  # fmt: skip
    return out


def _snippet(body: str | None) -> str | None:
    text = " ".join((body or "").split())
    if not text:
        return None  # removed under the retention period, or empty
    return text if len(text) <= SNIPPET else text[: SNIPPET - 1].rstrip() + "…"


def count(*, session: Session, clinic: Clinic, now: datetime, filters: Filters) -> int:
    """How many patients the view holds (every page)."""
    s = _Summary(clinic.id, now)
    query = s.joined(func.count()).where(*_where(s, filters, ZoneInfo(clinic.timezone)))
    return int(session.scalar(query) or 0)


def named_counts(*, session: Session, clinic: Clinic, now: datetime) -> dict[str, int]:
    """Patients in each named view, in one statement (the dashboard's links)."""
    s = _Summary(clinic.id, now)
    tz = ZoneInfo(clinic.timezone)
    sums = []
    for named in NAMED:
        filters, _ = parse(named.params)
        sums.append(func.sum(case((and_(true(), *_where(s, filters, tz)), 1), else_=0)))
    row = session.execute(s.joined(*sums)).one()
    return {named.key: int(value or 0) for named, value in zip(NAMED, row, strict=True)}


def protocol_options(*, session: Session, clinic_id: int) -> list[tuple[str, str]]:
    """(key, title) of the clinic's protocols, for the filter."""
    rows = session.execute(
        select(ProtocolVersion.key, ProtocolVersion.title, ProtocolVersion.version)
        .where(ProtocolVersion.clinic_id == clinic_id, ProtocolVersion.status != "draft")
        .order_by(ProtocolVersion.key, ProtocolVersion.version)).all()  # fmt: skip
    titles = {key: title or display.sentence_case(display.humanise(key)) for key, title, _ in rows}
    return sorted(titles.items(), key=lambda kv: kv[1].lower())
