"""Diary prompts: the clinic's diary settings and the protocol steps they become. Pure.

A protocol step keyed exactly ``pain_diary`` stands for the whole diary: when a timeline
is planned it is replaced by one question per the clinic's diary time (default 30 min,
1, 2, 4 and 6 h after the procedure), keyed ``pain_diary_30m``, ``pain_diary_1h``, …
Each keeps the step's template, channel and condition; its answer window and expiry are
the step's, cut to the gap before the next diary time, so a reply answers one point only
and a point is never sent when the next one is due.

Optionally (a clinic setting, off by default), without a baseline entered at enrolment
a pre-procedure check-in (``pain_baseline``,
the same "pain now, 0 to 10" question) goes out ``baseline_checkin_minutes`` before the
procedure time and expires at it: a score given after the injection is no baseline.

A protocol that writes its diary steps out itself (``pain_diary_2h`` …, as versions
published before clinic settings did) keeps them as written.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from reminders.protocols.spec import Elapsed, Step

DIARY_KEY = "pain_diary"
BASELINE_KEY = "pain_baseline"
DEFAULT_MINUTES = (30, 60, 120, 240, 360)
DEFAULT_GOOD_PCT, DEFAULT_STRONG_PCT = 50.0, 80.0
# Off unless a clinic turns it on: its answer is triaged like any pain score, so a high
# pre-injection score opens a concern (the clinic decides whether it wants that).
DEFAULT_BASELINE_CHECKIN: int | None = None
# A diary is about the anaesthetic's hours; a day covers any local anaesthetic.
MAX_MINUTES = 24 * 60
MAX_POINTS = 12


@dataclass(frozen=True)
class DiarySettings:
    minutes: tuple[int, ...] = DEFAULT_MINUTES
    good_pct: float = DEFAULT_GOOD_PCT
    strong_pct: float = DEFAULT_STRONG_PCT
    # Minutes before the procedure the baseline check-in goes out; None: not sent.
    baseline_checkin_minutes: int | None = DEFAULT_BASELINE_CHECKIN


def settings_of(clinic: Any) -> DiarySettings:
    """The clinic's diary settings (``clinics.diary``), defaults for what it does not set."""
    return from_json(getattr(clinic, "diary", None))


def from_json(stored: Mapping[str, Any] | None) -> DiarySettings:
    """Diary settings from their stored form; defaults for what it leaves out."""
    raw: Mapping[str, Any] = stored or {}
    defaults = DiarySettings()
    minutes = raw.get("minutes")
    checkin = raw.get("baseline_checkin_minutes", defaults.baseline_checkin_minutes)
    return DiarySettings(
        minutes=tuple(sorted({int(m) for m in minutes})) if minutes else defaults.minutes,
        good_pct=float(raw.get("good_pct", defaults.good_pct)),
        strong_pct=float(raw.get("strong_pct", defaults.strong_pct)),
        baseline_checkin_minutes=int(checkin) if checkin else None,
    )


def is_diary_key(key: str) -> bool:
    """A diary point's step key (``pain_diary``, ``pain_diary_2h``…), not the baseline."""
    return key == DIARY_KEY or key.startswith(DIARY_KEY + "_")


def point_label(minutes: int) -> str:
    """30 → '30 min', 60 → '1 h', 90 → '1 h 30 min'."""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return f"{rest} min"
    return f"{hours} h" + (f" {rest} min" if rest else "")


def key_suffix(minutes: int) -> str:
    """30 → '30m', 120 → '2h', 90 → '90m': the short duration form of the protocol files."""
    return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


def parse_minutes(text: str) -> tuple[int, ...]:
    """'30m, 1h, 2h' or '30, 60, 120' (minutes) → sorted minutes; ValueError in words."""
    from reminders.protocols.spec import SpecError, parse_duration

    found: set[int] = set()
    for part in text.replace(";", ",").split(","):
        item = part.strip()
        if not item:
            continue
        try:
            minutes = int(item) if item.isdigit() else int(parse_duration(item).total_seconds()
                                                           // 60)  # fmt: skip
        except SpecError:
            raise ValueError(
                f"“{item}” is not a time after the procedure such as 30m or 2h") from None
        if not 1 <= minutes <= MAX_MINUTES:
            raise ValueError(f"“{item}” must be between 1 minute and 24 hours after the procedure")
        found.add(minutes)
    if not found:
        raise ValueError("give at least one time, such as 30m, 1h, 2h")
    if len(found) > MAX_POINTS:
        raise ValueError(f"at most {MAX_POINTS} times")
    return tuple(sorted(found))


def expand(steps: Iterable[Step], settings: DiarySettings, *, baseline_known: bool) -> list[Step]:
    """The protocol's steps with a ``pain_diary`` step replaced by the clinic's diary."""
    out: list[Step] = []
    for step in steps:
        if step.key != DIARY_KEY or not isinstance(step.when, Elapsed):
            out.append(step)
            continue
        times = list(settings.minutes)
        for n, minutes in enumerate(times):
            gap = timedelta(minutes=times[n + 1] - minutes) if n + 1 < len(times) else None
            window = step.answer_window or step.expires
            out.append(replace(
                step, key=f"{DIARY_KEY}_{key_suffix(minutes)}",
                when=Elapsed(timedelta(minutes=minutes)), repeat=None,
                expires=min(step.expires, gap) if gap else step.expires,
                answer_window=min(window, gap) if gap else window,
                title=f"Pain diary at {point_label(minutes)} (pain now, 0-10)",
            ))  # fmt: skip
        if settings.baseline_checkin_minutes and not baseline_known:
            lead = timedelta(minutes=settings.baseline_checkin_minutes)
            out.append(replace(
                step, key=BASELINE_KEY, when=Elapsed(-lead), repeat=None, expires=lead,
                answer_window=lead, title="Pain before the injection (0-10)",
            ))  # fmt: skip
    return out
