"""What a yes or a no means for each check-in question.

"No" to "has the numbness worn off?" is a concern; "no" to "any signs of infection?" is
good news. The service passes the question key (the protocol step key also works) so the
parser can read domain answers ("still numb", "todo bien") and the classifier knows which
answer to escalate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Answer = Literal["yes", "no"]


@dataclass(frozen=True, slots=True)
class Question:
    key: str
    concerning: Answer  # the answer that means something is wrong
    category: str  # triage category raised by the concerning answer
    # Domain phrases, tried in order before plain yes/no words; first match wins.
    phrases: tuple[tuple[re.Pattern[str], Answer], ...] = ()
    # Severity of the concerning answer: urgent for a symptom question; routine for a
    # clinic's own question about something else ("Did you book your follow-up?").
    level: Literal["routine", "urgent"] = "urgent"


def _p(pattern: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + pattern + r")\b")


# Phrases meaning "nothing is wrong" for a question whose concerning answer is "yes".
_ALL_CLEAR = _p(
    r"none|nothing|nada|all good|looks? (?:good|fine|normal|great|ok|okay|clean)|"
    r"all (?:fine|ok|okay|clear)|todo bien|se ve bien|ninguna?|ninguno|no signs?|"
    r"healing (?:well|fine|nicely)|everything (?:is )?(?:fine|good|ok)|fine"
)

_NUMB = r"(?:numb\w*|tingl\w*|asleep|dead|entumecid\w*|adormecid\w*|dormid\w*|hormigue\w*)"

QUESTIONS: dict[str, Question] = {
    "numbness_worn_off": Question(
        key="numbness_worn_off",
        concerning="no",
        category="numbness_weakness",
        phrases=(
            # Negated numbness first: "no longer numb" mentions "numb" but means yes.
            (_p(rf"(?:no longer|not|isnt|no more) {_NUMB}|ya no (?:\w+ ){{0,2}}{_NUMB}|"
                rf"{_NUMB} (?:is )?(?:gone|went away)"), "yes"),
            (_p(rf"still (?:\w+ ){{0,2}}{_NUMB}|"
                rf"(?:todavia|aun|sigue|sigo|continua) (?:\w+ ){{0,2}}(?:{_NUMB}|no)"), "no"),
            (_p(r"not (?:\w+ )?(?:yet|worn off|gone|really)|hasnt (?:\w+ )?(?:worn off|gone)|"
                r"no se (?:me )?ha (?:pasado|quitado|ido)|todavia no|aun no|not completely"), "no"),
            (_p(r"worn off|wore off|gone|went away|back to normal|"
                r"(?:feeling|sensation) (?:\w+ ){0,2}back|"
                r"can feel (?:my |the )?(?:leg|it|foot|hip)|"
                r"normal (?:again|now)|all good|fine now|se (?:me )?(?:ha )?(?:pasado|quitado|ido)|"
                r"se (?:me )?(?:paso|quito|fue)|ya (?:paso|se fue|siento)|volvio"), "yes"),
            (_p(_NUMB), "no"),
        ),
    ),
    "infection_signs": Question("infection_signs", "yes", "infection", ((_ALL_CLEAR, "no"),)),
    "allergy_signs": Question("allergy_signs", "yes", "allergic_reaction", ((_ALL_CLEAR, "no"),)),
    "bleeding_signs": Question("bleeding_signs", "yes", "bleeding", ((_ALL_CLEAR, "no"),)),
    # The implicit question behind ``expects="symptom_check"``: "any of these symptoms?"
    "any_symptoms": Question("any_symptoms", "yes", "other", ((_ALL_CLEAR, "no"),)),
}

# Protocol step keys that ask these questions.
ALIASES: dict[str, str] = {
    "numbness_check": "numbness_worn_off",
    "infection_check": "infection_signs",
    "allergy_check": "allergy_signs",
    "bleeding_check": "bleeding_signs",
    "symptom_check": "any_symptoms",
}


def lookup(key: str | None) -> Question | None:
    """The question for a key or step alias; ``None`` for no or an unknown key."""
    if key is None:
        return None
    return QUESTIONS.get(ALIASES.get(key, key))


def known_keys() -> list[str]:
    return sorted([*QUESTIONS, *ALIASES])
