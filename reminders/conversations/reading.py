"""How the conversation code reads a message: the triage engine's public API, in one place.

Everything clinical (keywords, parsers, severity) lives in ``reminders.triage``; this
module only adapts its results to what the service stores, and maps a clinic's
thresholds onto the engine's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, fields
from typing import Any

from reminders.clinics.models import DEFAULT_THRESHOLDS, Clinic
from reminders.protocols.spec import YES_NO_KINDS
from reminders.triage import Thresholds, triage
from reminders.triage.keywords import KeywordMatch, detect_ack, detect_keyword

log = logging.getLogger(__name__)
SEVERITIES = ("none", "routine", "urgent", "emergency")
__all__ = ["KeywordMatch", "Reading", "at_least", "detect_ack", "detect_keyword", "read",
           "read_safely"]


@dataclass(frozen=True)
class Reading:
    severity: str
    categories: list[str] = field(default_factory=list)
    parsed: dict[str, Any] = field(default_factory=dict)
    needs_clarification: bool = False
    # A phone tapback on one of our messages ("liked", "questioned"...): not an answer.
    reaction: str | None = None


def rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0


def at_least(severity: str, floor: str) -> str:
    return severity if rank(severity) >= rank(floor) else floor


def thresholds_for(clinic: Clinic) -> Thresholds:
    """The clinic's thresholds; keys the engine does not know are ignored, missing ones
    keep the engine's defaults."""
    values = {**DEFAULT_THRESHOLDS, **(clinic.thresholds or {})}
    known = {f.name: f.type for f in fields(Thresholds)}
    given: dict[str, Any] = {}
    for name, value in values.items():
        if name in known and isinstance(value, int | float):
            given[name] = int(value) if name == "pain_urgent" else float(value)
    return Thresholds(**given)


def read(
    text: str, *, expects: str | None, question: str | None, lang: str,
    hours_since_procedure: float | None, clinic: Clinic, asked: str | None = None,
    concerning_answer: str | None = None,
) -> Reading:  # fmt: skip
    """Triage one message. ``asked`` is the question's text as the patient got it and
    ``concerning_answer`` the pinned step's "yes"/"no" that means trouble; like the
    question key they only go with a yes/no question."""
    # The question key tells a yes/no parser which answer is the worrying one ("no" to
    # "has the numbness worn off?"); other kinds must not get one, or "7" is read as yes/no.
    # The same holds for the asked text: a pain question that mentions bruising would
    # turn a stray "yes" into a bleeding report.
    yes_no = expects in YES_NO_KINDS
    result = triage(
        text, expects=expects, lang=lang, hours_since_procedure=hours_since_procedure,
        thresholds=thresholds_for(clinic),
        question=question if yes_no else None,
        asked=asked if yes_no else None,
        concerning_answer=concerning_answer if yes_no else None,
    )  # fmt: skip
    return Reading(
        severity=str(result.severity),
        categories=list(result.categories),
        parsed=dict(result.parsed),
        needs_clarification=bool(result.needs_clarification),
        reaction=result.reaction,
    )


def read_safely(
    text: str, *, expects: str | None, question: str | None, lang: str,
    hours_since_procedure: float | None, clinic: Clinic, asked: str | None = None,
    concerning_answer: str | None = None,
) -> Reading:  # fmt: skip
    """:func:`read`, except that an engine failure reads as urgent instead of losing the
    message: a nurse looks at what we could not, within the urgent window."""
    try:
        return read(text, expects=expects, question=question, lang=lang,
                    hours_since_procedure=hours_since_procedure, clinic=clinic, asked=asked,
                    concerning_answer=concerning_answer)  # fmt: skip
    except Exception:
        # Never the text in the log; the traceback points at the rule that broke.
        log.exception("triage failed (expects=%s); flagging the message as urgent", expects)
        return Reading(severity="urgent", categories=["other"], parsed={"triage_error": True})
