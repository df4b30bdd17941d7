"""Public value types of triage: the severity ladder, thresholds and the result."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from reminders.triage.keywords import KeywordMatch


class Severity(StrEnum):
    """none < routine < urgent < emergency; compares by rank, serialises as its value."""

    NONE = "none"
    ROUTINE = "routine"
    URGENT = "urgent"
    EMERGENCY = "emergency"

    @property
    def rank(self) -> int:
        return _RANK[self.value]

    # str's own comparisons are alphabetical ("urgent" > "emergency"); always compare by
    # rank, also against the plain values stored in the database or sent by the CLI.
    def __lt__(self, other: object) -> bool:
        return self.rank < _rank_of(other)

    def __le__(self, other: object) -> bool:
        return self.rank <= _rank_of(other)

    def __gt__(self, other: object) -> bool:
        return self.rank > _rank_of(other)

    def __ge__(self, other: object) -> bool:
        return self.rank >= _rank_of(other)


def _rank_of(other: object) -> int:
    if isinstance(other, str) and other in _RANK:
        return _RANK[other]
    raise TypeError(f"cannot compare Severity with {other!r}")


_RANK = {"none": 0, "routine": 1, "urgent": 2, "emergency": 3}

CATEGORIES: tuple[str, ...] = (
    "self_harm", "stroke", "neurological", "circulation",
    "infection", "severe_pain", "numbness_weakness", "allergic_reaction", "bleeding",
    "glucose_high", "glucose_low", "breathing", "chest_pain", "expected_side_effect",
    "question", "reschedule", "opt_out", "acknowledgement", "other",
)
ANSWERS: tuple[str, ...] = ("yes", "no")
EXPECTS: tuple[str, ...] = ("pain_score", "yes_no", "glucose", "symptom_check")
LANGS: tuple[str, ...] = ("en", "es")


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Clinic-tunable cut-offs. Defaults follow the seeds and the clinical brief."""

    pain_urgent: int = 8  # pain score at or above this is urgent
    glucose_high_mg_dl: float = 300.0  # above this is urgent
    glucose_low_mg_dl: float = 70.0  # below this is urgent
    numbness_urgent_after_hours: float = 8.0  # local anaesthetic wears off "within a few hours"
    glucose_elevated_mg_dl: float = 180.0  # above this (up to high) is a routine steroid rise
    flare_window_hours: float = 48.0  # steroid flare: "24-48 hours" (seed 000)
    fever_celsius: float = 38.0


@dataclass(frozen=True, slots=True)
class TriageResult:
    severity: Severity
    categories: tuple[str, ...]  # most severe first; never empty ("other" as fallback)
    parsed: Mapping[str, Any] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()  # which rules fired, for staff; never the message text
    needs_clarification: bool = False
    keyword: KeywordMatch | None = None
    # A phone "tapback" to one of our messages (``Liked "..."``): not an answer, and the
    # quoted question is never read as the patient's words. The kind, e.g. "liked".
    reaction: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The CLI/API shape: severity, categories and parsed values."""
        return {
            "severity": self.severity.value,
            "categories": list(self.categories),
            "parsed": dict(self.parsed),
        }
