"""The protocol step grammar: ``when``, ``repeat``, ``condition`` and the Step value.

Pure parsing, no I/O. Every parser raises :class:`SpecError` with a message that says
what was expected, so `aftercare protocols check` can report it with file and line.
The grammar is documented in docs/protocols.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time, timedelta
from typing import Any, Literal

from reminders.triage.questions import lookup

ANSWER_KINDS = frozenset({"pain_score", "yes_no", "glucose", "symptom_check"})
# Answer kinds that ask a yes/no question, so one of the two answers means trouble.
YES_NO_KINDS = frozenset({"yes_no", "symptom_check"})
CHANNELS = frozenset({"preferred", "sms", "email"})
INJECTATES = ("corticosteroid", "hyaluronic_acid", "prp", "anesthetic_only")
SIDES = frozenset({"left", "right", "bilateral"})
CONDITION_VOCABULARY = frozenset(
    {
        "diabetes",
        "anticoagulated",
        "immunocompromised",
        "bleeding_disorder",
        "allergy_local_anaesthetic",
        "allergy_corticosteroid",
    }
)
STEP_FIELDS = frozenset(
    {
        "key",
        "use",
        "when",
        "template",
        "expects",
        "concerning_answer",
        "expires",
        "answer_window",
        "time_critical",
        "channel",
        "condition",
        "repeat",
        "no_response",
        "source",
        "title",
    }
)

Anchor = Literal["procedure", "visit"]
# A follow-up plan spans weeks; anything past a year is a typo that would overflow dates.
MAX_SPAN = timedelta(days=366)


class SpecError(ValueError):
    """A step field that does not follow the grammar."""


@dataclass(frozen=True)
class Elapsed:
    """An exact duration after (or before, when negative) the anchor instant."""

    delta: timedelta
    anchor: Anchor = "procedure"


@dataclass(frozen=True)
class WallClock:
    """A local wall-clock time on the anchor's local date plus ``day`` days."""

    day: int
    at: time
    anchor: Anchor = "procedure"


When = Elapsed | WallClock


@dataclass(frozen=True)
class Repeat:
    count: int
    every: timedelta | None = None  # None: one local calendar day


@dataclass(frozen=True)
class Term:
    negated: bool
    kind: str  # has | diagnostic | follow_up_booked | injectate | side
    arg: str | None = None


@dataclass(frozen=True)
class Condition:
    terms: tuple[Term, ...]
    text: str = ""

    def holds(self, facts: Facts) -> bool:
        return all(_term_holds(t, facts) != t.negated for t in self.terms)


@dataclass(frozen=True)
class Facts:
    """What conditions may look at: patient and procedure attributes, nothing else."""

    conditions: frozenset[str] = frozenset()
    diagnostic: bool = False
    follow_up_booked: bool = False
    injectate: str = ""
    side: str | None = None


@dataclass(frozen=True)
class NoResponse:
    reask_after: timedelta | None = None
    concern: bool = False


@dataclass(frozen=True)
class Step:
    key: str
    when: When
    template: str
    expires: timedelta
    expects: str | None = None
    # Which answer to a yes/no step means trouble ("yes" | "no"); None when the step is
    # not yes/no, or when an older snapshot of a clinic's own question never said.
    concerning_answer: str | None = None
    answer_window: timedelta | None = None
    time_critical: bool = False
    channel: str = "preferred"
    condition: Condition | None = None
    repeat: Repeat | None = None
    no_response: NoResponse = field(default_factory=NoResponse)
    source: str = ""
    title: str = ""

    def applies_to(self, facts: Facts) -> bool:
        return self.condition is None or self.condition.holds(facts)


_UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60}
_UNIT_WORDS = {
    "week": "w",
    "weeks": "w",
    "day": "d",
    "days": "d",
    "hour": "h",
    "hours": "h",
    "min": "m",
    "mins": "m",
    "minute": "m",
    "minutes": "m",
}
_DURATION_PART = re.compile(r"(\d+)\s*([a-z]+)")
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_DAY_AT = re.compile(r"^day\s+(-?\d+)\s+at\s+(\S+)$")
_VISIT_DAY_AT = re.compile(r"^visit\s+([+-]?\d+)\s+days?\s+at\s+(\S+)$")
_REPEAT_DAILY = re.compile(r"^daily\s+for\s+(\d+)\s+days?$")
_REPEAT_EVERY = re.compile(r"^every\s+(.+?)\s+for\s+(\d+)\s+times?$")


def parse_duration(text: str) -> timedelta:
    """``"4h"``, ``"90m"``, ``"1d 6h"``, ``"-2h"``, ``"2 days"`` → timedelta."""
    raw = str(text).strip().lower()
    sign = -1 if raw.startswith("-") else 1
    body = raw.lstrip("+-").strip()
    parts = _DURATION_PART.findall(body)
    if not parts or _DURATION_PART.sub("", body).strip():
        raise SpecError(f"{text!r} is not a duration (use forms like '4h', '90m', '1d 6h')")
    seconds = 0
    for number, unit in parts:
        unit = _UNIT_WORDS.get(unit, unit)
        if unit not in _UNITS:
            raise SpecError(f"{text!r}: unknown unit {unit!r} (use w, d, h or m)")
        seconds += int(number) * _UNITS[unit]
    if seconds > MAX_SPAN.total_seconds():
        raise SpecError(f"{text!r} is longer than {MAX_SPAN.days} days")
    return timedelta(seconds=sign * seconds)


def parse_time(text: str) -> time:
    match = _HHMM.match(text.strip())
    if not match:
        raise SpecError(f"{text!r} is not a 24-hour time like '09:00'")
    return time(int(match.group(1)), int(match.group(2)))


def parse_when(text: str) -> When:
    """Parse a step's ``when``; see docs/protocols.md for the four forms."""
    raw = " ".join(str(text).strip().lower().split())
    if match := _DAY_AT.match(raw):
        return WallClock(day=_day(match.group(1), text), at=parse_time(match.group(2)))
    if match := _VISIT_DAY_AT.match(raw):
        return WallClock(
            day=_day(match.group(1), text), at=parse_time(match.group(2)), anchor="visit"
        )
    if raw.startswith("visit "):
        return Elapsed(delta=parse_duration(raw.removeprefix("visit ")), anchor="visit")
    try:
        delta = parse_duration(raw)
    except SpecError:
        raise SpecError(
            f"when {text!r} is not one of: '4h', 'day 2 at 09:00', "
            "'visit -1 day at 18:00', 'visit -2h'"
        ) from None
    if delta < timedelta(0):
        raise SpecError(f"when {text!r}: a step cannot come before the procedure")
    return Elapsed(delta=delta)


def _day(number: str, text: str) -> int:
    day = int(number)
    if abs(day) > MAX_SPAN.days:
        raise SpecError(f"when {text!r}: the day must be within {MAX_SPAN.days} days")
    return day


def parse_repeat(text: str) -> Repeat:
    raw = " ".join(str(text).strip().lower().split())
    if match := _REPEAT_DAILY.match(raw):
        count = int(match.group(1))
        every = None
    elif match := _REPEAT_EVERY.match(raw):
        every = parse_duration(match.group(1))
        count = int(match.group(2))
        if every <= timedelta(0):
            raise SpecError(f"repeat {text!r}: the interval must be positive")
    else:
        raise SpecError(f"repeat {text!r} is not 'daily for N days' or 'every 12h for N times'")
    if not 1 <= count <= 60:
        raise SpecError(f"repeat {text!r}: the count must be between 1 and 60")
    return Repeat(count=count, every=every)


_TERM_VALUES: dict[str, frozenset[str]] = {
    "has": CONDITION_VOCABULARY,
    "injectate": frozenset(INJECTATES),
    "side": SIDES,
}


def parse_condition(text: str) -> Condition:
    terms: list[Term] = []
    for chunk in str(text).split(" and "):
        words = chunk.strip().lower()
        negated = words.startswith("not ")
        words = words.removeprefix("not ").strip()
        kind, _, arg = words.partition(":")
        if kind in ("diagnostic", "follow_up_booked") and not arg:
            terms.append(Term(negated, kind))
        elif arg in _TERM_VALUES.get(kind, ()):
            terms.append(Term(negated, kind, arg))
        else:
            raise SpecError(
                f"condition term {chunk.strip()!r} is unknown; use has:<condition>, diagnostic, "
                "follow_up_booked, injectate:<name> or side:<left|right|bilateral>"
            )
    return Condition(terms=tuple(terms), text=str(text))


def _term_holds(term: Term, facts: Facts) -> bool:
    match term.kind:
        case "has":
            return term.arg in facts.conditions
        case "diagnostic":
            return facts.diagnostic
        case "follow_up_booked":
            return facts.follow_up_booked
        case "injectate":
            return facts.injectate == term.arg
        case _:
            return facts.side == term.arg


def parse_step(raw: Mapping[str, Any]) -> Step:
    """Build a Step from a composed mapping (library step with overrides applied)."""
    unknown = sorted(set(raw) - STEP_FIELDS - {"__line__"})
    if unknown:
        raise SpecError(f"unknown field(s) {', '.join(unknown)}")
    key = raw.get("key")
    if not isinstance(key, str) or not re.fullmatch(r"[a-z][a-z0-9_]{1,58}", key):
        raise SpecError(f"key {key!r} must be lower_snake_case")
    for required in ("when", "expires"):
        if raw.get(required) in (None, ""):
            raise SpecError(f"step {key}: '{required}' is required")
    expects = raw.get("expects")
    if expects is not None and expects not in ANSWER_KINDS:
        raise SpecError(f"step {key}: expects {expects!r} is not one of {sorted(ANSWER_KINDS)}")
    concerning = _concerning_answer(key, expects, raw.get("concerning_answer"))
    channel = raw.get("channel", "preferred")
    if channel not in CHANNELS:
        raise SpecError(f"step {key}: channel {channel!r} is not one of {sorted(CHANNELS)}")
    expires = parse_duration(raw["expires"])
    if expires <= timedelta(0):
        raise SpecError(f"step {key}: expires must be positive")
    answer_window = raw.get("answer_window")
    if answer_window is None and expects is not None:
        answer_window = "12h"
    nr = raw.get("no_response") or {}
    if not isinstance(nr, Mapping):
        raise SpecError(f"step {key}: no_response must be a mapping")
    time_critical = raw.get("time_critical", False)
    if not isinstance(time_critical, bool):
        raise SpecError(f"step {key}: time_critical must be true or false")
    try:
        return Step(
            key=key,
            when=parse_when(raw["when"]),
            template=str(raw.get("template") or key),
            expires=expires,
            expects=expects,
            concerning_answer=concerning,
            answer_window=parse_duration(answer_window) if answer_window else None,
            time_critical=time_critical,
            channel=channel,
            condition=parse_condition(raw["condition"]) if raw.get("condition") else None,
            repeat=parse_repeat(raw["repeat"]) if raw.get("repeat") else None,
            no_response=NoResponse(
                reask_after=parse_duration(nr["reask_after"]) if nr.get("reask_after") else None,
                concern=bool(nr.get("concern", False)),
            ),
            source=str(raw.get("source") or ""),
            title=str(raw.get("title") or ""),
        )
    except SpecError as exc:
        raise SpecError(f"step {key}: {exc}") from None


def _concerning_answer(key: str, expects: str | None, value: Any) -> str | None:
    """The declared ``concerning_answer``, else the known question's, else None.

    YAML 1.1 reads a bare ``yes``/``no`` as true/false, so booleans mean the same words.
    Whether a missing value is acceptable is the checker's call (``missing_concerning_answer``):
    a pinned snapshot from before the field existed must still load.
    """
    if value is True or value is False:
        value = "yes" if value else "no"
    if value is not None:
        if value not in ("yes", "no"):
            raise SpecError(f"step {key}: concerning_answer must be yes or no, not {value!r}")
        if expects not in YES_NO_KINDS:
            raise SpecError(
                f"step {key}: concerning_answer only applies to expects "
                f"{' or '.join(sorted(YES_NO_KINDS))}"
            )
        return str(value)
    question = lookup(key) if expects in YES_NO_KINDS else None
    return question.concerning if question is not None else None


def missing_concerning_answer(step: Step) -> str | None:
    """The problem when a yes/no step does not say which answer means trouble.

    A clinic's own question ("Did you take your evening insulin?") cannot be read the
    right way round without it, so publishing such a step is refused; a known question
    (``reminders.triage.questions``) brings its own.
    """
    if step.expects in YES_NO_KINDS and step.concerning_answer is None:
        return (
            f"step {step.key}: concerning_answer is required for a yes/no question "
            "(which answer means trouble: yes or no)"
        )
    return None
