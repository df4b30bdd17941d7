"""Timeline maths: from a procedure and a protocol to dated messages. Pure functions.

No database, no clock (``now`` is passed in), no I/O. Every instant returned is an
aware UTC datetime; local times exist only inside these functions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from reminders.protocols.spec import Elapsed, Facts, Step, WallClock

DEFAULT_WINDOW = (time(8, 0), time(20, 0))
# A pending time-critical message whose time had passed at enrolment: it goes out late.
LATE_TIME_CRITICAL = "late_time_critical"


@dataclass(frozen=True)
class SendWindow:
    """The local hours in which non-critical messages may go out: ``opens`` ≤ t < ``closes``.

    A window whose ``closes`` is earlier than ``opens`` runs over midnight.
    """

    opens: time = DEFAULT_WINDOW[0]
    closes: time = DEFAULT_WINDOW[1]

    def allows(self, local: time) -> bool:
        if self.opens == self.closes:
            return True  # no quiet hours at all
        if self.opens < self.closes:
            return self.opens <= local < self.closes
        return local >= self.opens or local < self.closes


@dataclass(frozen=True)
class Anchors:
    performed_at: datetime
    tz: ZoneInfo
    follow_up_at: datetime | None = None


@dataclass(frozen=True)
class Planned:
    step_key: str
    occurrence: int
    template: str
    channel: str
    expects: str | None
    time_critical: bool
    answer_window: timedelta | None
    planned_at: datetime
    due_at: datetime
    expires_at: datetime
    status: str  # "pending" or "skipped"
    reason: str | None = None

    @property
    def idempotency_suffix(self) -> str:
        return f"{self.step_key}:{self.occurrence}"


def local_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock ``at`` on local date ``day`` in ``tz``.

    Rules at DST transitions, the same for every zone (including 30-minute shifts such
    as Australia/Lord_Howe):

    - a time inside a spring-forward gap does not exist; it becomes the instant it
      would have been on the old offset, i.e. it moves forward by the gap's length
      (02:30 in New York on a spring-forward Sunday becomes 03:30 EDT);
    - a time inside a fall-back overlap happens twice; the first (earlier) one is used
      (01:30 in New York on a fall-back Sunday is 01:30 EDT, not EST).
    """
    naive = datetime.combine(day, at)
    # fold=0 reads gap and overlap times with the pre-transition offset (PEP 495),
    # which gives exactly the two rules above.
    return naive.replace(tzinfo=tz, fold=0).astimezone(UTC)


def occurrence_instants(step: Step, anchors: Anchors) -> list[datetime]:
    """When each occurrence of ``step`` is planned, before quiet hours; [] if it has no anchor.

    - ``Elapsed`` steps are exact durations after the anchor instant: ``4h`` after a
      procedure at 23:30 on the eve of a DST change is still 4 real hours later.
    - ``WallClock`` steps are local clock times on the anchor's local date + ``day``
      (day 0 is the procedure's local date in the patient's zone).
    - ``repeat: daily for N days`` adds one local calendar day per occurrence to a
      wall-clock step (the clock time stays put across DST) and 24 hours to an elapsed
      step; ``every <duration> for N times`` always adds exact durations.
    """
    when = step.when
    anchor = anchors.performed_at if when.anchor == "procedure" else anchors.follow_up_at
    if anchor is None:
        return []
    count = step.repeat.count if step.repeat else 1
    every = step.repeat.every if step.repeat else None
    if isinstance(when, Elapsed):
        first = anchor + when.delta
        interval = every or timedelta(days=1)
        return [first + interval * n for n in range(count)]
    assert isinstance(when, WallClock)
    local_day = anchor.astimezone(anchors.tz).date() + timedelta(days=when.day)
    if every is not None:
        first = local_instant(local_day, when.at, anchors.tz)
        return [first + every * n for n in range(count)]
    return [local_instant(local_day + timedelta(days=n), when.at, anchors.tz) for n in range(count)]


def defer_to_window(instant: datetime, tz: ZoneInfo, window: SendWindow) -> datetime:
    """Move ``instant`` to the next moment the send window is open, in the patient's zone.

    The instant is turned into one local datetime and both the day and the hour are
    read from it, so the two can never disagree (a 23:30 local message whose UTC date
    is already tomorrow still moves to *tomorrow's* local opening, not the day after).
    An instant inside the window is returned unchanged.
    """
    local = instant.astimezone(tz)
    if window.allows(local.time()):
        return instant
    opening = local_instant(local.date(), window.opens, tz)
    if opening <= instant:
        opening = local_instant(local.date() + timedelta(days=1), window.opens, tz)
    return opening


def plan(
    steps: Iterable[Step],
    *,
    facts: Facts,
    anchors: Anchors,
    window: SendWindow,
    preferred_channel: str,
    available_channels: frozenset[str],
    now: datetime,
    enrolled_at: datetime | None = None,
) -> list[Planned]:
    """Every message of a timeline, in due order, each pending or skipped with a reason.

    - Steps whose condition does not hold for these facts are left out altogether.
    - ``expires_at`` = planned time + the step's ``expires``. A message already past it
      (late enrolment, a rescheduled procedure) is recorded as skipped
      (``expired_before_enrollment``), with one exception:
    - a time-critical step (the discharge summary: the "when to get help" advice) that
      had expired by ``enrolled_at`` is sent late rather than never: its last such
      occurrence is due at enrolment (``late_time_critical``) and useful for the step's
      ``expires`` from then. Re-planned once that window has passed (an edit days later)
      it is skipped, so no re-plan ever sends a days-old summary. ``enrolled_at``
      defaults to ``now`` (planning at enrolment).
    - A message planned in the past but not yet expired is due now.
    - Non-critical messages falling outside the send window move to its next opening;
      if that is at or past expiry they are skipped (``quiet_hours_past_expiry``).
      Time-critical ones keep their time.
    - Channel: the step's own, or the patient's preference for ``preferred``; when that
      channel has no address the other one is used.
    """
    planned: list[Planned] = []
    enrolled = now if enrolled_at is None else enrolled_at
    for step in steps:
        if not step.applies_to(facts):
            continue
        channel = _channel_for(step.channel, preferred_channel, available_channels)
        instants = occurrence_instants(step, anchors)
        # Only the last occurrence already expired at enrolment is worth sending late.
        late = max((n for n, at in enumerate(instants) if at + step.expires <= enrolled),
                   default=None) if step.time_critical else None  # fmt: skip
        for occurrence, at in enumerate(instants):
            expires_at = at + step.expires
            due_at = max(at, now)
            status, reason = "pending", None
            if occurrence == late:
                due_at, expires_at = max(enrolled, now), enrolled + step.expires
                reason = LATE_TIME_CRITICAL
            if not step.time_critical:
                due_at = defer_to_window(due_at, anchors.tz, window)
            if expires_at <= now:
                status, reason = "skipped", "expired_before_enrollment"
            elif due_at >= expires_at:
                status, reason = "skipped", "quiet_hours_past_expiry"
            elif channel is None:
                status, reason = "skipped", "no_contact_for_channel"
            planned.append(
                Planned(
                    step_key=step.key,
                    occurrence=occurrence,
                    template=step.template,
                    channel=channel or step.channel,
                    expects=step.expects,
                    time_critical=step.time_critical,
                    answer_window=step.answer_window,
                    planned_at=at,
                    due_at=due_at,
                    expires_at=expires_at,
                    status=status,
                    reason=reason,
                )
            )
    planned.sort(key=lambda p: (p.due_at, p.planned_at, p.step_key, p.occurrence))
    return planned


def _channel_for(step_channel: str, preferred: str, available: frozenset[str]) -> str | None:
    wanted = preferred if step_channel == "preferred" else step_channel
    if wanted in available:
        return wanted
    if step_channel != "preferred":
        return None  # a step pinned to one channel is not re-routed
    return next((c for c in ("sms", "email") if c in available), None)


def local_day_number(performed_at: datetime, instant: datetime, tz: ZoneInfo) -> int:
    """Local calendar days between the procedure and ``instant`` (0 on the procedure's day)."""
    return (instant.astimezone(tz).date() - performed_at.astimezone(tz).date()).days


def validate_zone(name: str) -> ZoneInfo:
    """A ZoneInfo for an IANA name, or ValueError naming it."""
    from zoneinfo import ZoneInfoNotFoundError

    if not name or ("/" not in name and name not in ("UTC", "Etc/UTC")):
        raise ValueError(f"{name!r} is not an IANA time zone such as 'America/Chicago'")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not a known IANA time zone") from None


def sequence_keys(planned: Sequence[Planned]) -> set[str]:
    return {p.idempotency_suffix for p in planned}
