"""Read a yes/no question from its text as sent, when the caller gives no question key.

The JSON Lines contract and a clinic's own protocol steps give ``asked`` (the question's
text) and ``concerning_answer`` (which answer means trouble). The text says what the
question is about, so a bare "no" to "Has the numbness worn off?" is read with the
numbness rules (and its hours), and "all good" to "Any fever or pus?" is a no.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from reminders.triage.questions import QUESTIONS, Answer, Question
from reminders.triage.scan import scan
from reminders.triage.text import make_doc

# Which known question a question's concepts point to, most specific first.
_TOPICS: tuple[tuple[str, frozenset[str]], ...] = (
    ("numbness_worn_off", frozenset({"numb", "weakness", "weakness_motor"})),
    ("allergy_signs", frozenset({"hives", "itch", "face_swelling", "throat", "breathing"})),
    ("infection_signs", frozenset({"fever", "chills", "pus", "redness", "warmth",
                                   "infection_word", "hot_touch", "rigors"})),
    ("bleeding_signs", frozenset({"bleed", "bruise", "bleed_uncontrolled"})),
)
_CATEGORY_BY_CONCEPT = {
    "sugar_high": "glucose_high", "sugar_low": "glucose_low", "chest": "chest_pain",
    "breathing": "breathing", "sore": "severe_pain", "pain_severe": "severe_pain",
}


@lru_cache(maxsize=512)  # the same few questions are asked of every patient
def question_from_text(asked: str, concerning: Answer | None) -> Question | None:
    """The question behind ``asked``; ``None`` when there is nothing to go on.

    A known question is used with its own answer phrases when its concerning answer
    agrees with ``concerning`` (or none is given); otherwise the question is generic:
    plain yes/no words only, so "all good" cannot be read the wrong way round.
    """
    names = {h.concept for h in scan(make_doc(asked)).hits}
    for key, topic in _TOPICS:
        if names & topic:
            known = QUESTIONS[key]
            if concerning is None or concerning == known.concerning:
                return known
            return Question(key="asked", concerning=concerning, category=known.category)
    if concerning is None:
        return None
    category = next((c for n, c in _CATEGORY_BY_CONCEPT.items() if n in names), "other")
    phrases = QUESTIONS["any_symptoms"].phrases if concerning == "yes" and names else ()
    level: Literal["routine", "urgent"] = "urgent" if _symptoms(names) else "routine"
    return Question(key="asked", concerning=concerning, category=category, phrases=phrases,
                    level=level)


def _symptoms(names: set[str]) -> bool:
    """Whether the question asks about symptoms (a concerning answer is then urgent)."""
    return bool(names - {"well", "reschedule", "site_word", "face_word"})
