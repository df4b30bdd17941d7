"""Parsers for structured answers inside free text. Each returns a frozen value or None.

They never raise on any input: an unreadable reply is ``None`` and the classifier asks for
clarification. ``bare_numbers`` says whether a lone number counts (it does when the
question asked for that number, e.g. ``expects="pain_score"``); otherwise the number needs
its context ("pain 7", "7/10", "sugar 250", "250 mg/dL"). Glucose, temperature and elapsed
time live in ``vitals.py`` and are re-exported here.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from reminders.triage import numbers
from reminders.triage.numbers import to_float as to_number
from reminders.triage.questions import Answer, Question, lookup
from reminders.triage.text import Doc, make_doc, squash
from reminders.triage.vitals import (
    GLUCOSE_WORDS,
    MG_PER_MMOL,
    TEMP_WORDS,
    Glucose,
    Temperature,
    parse_elapsed_hours,
    parse_glucose,
    parse_temperature,
    sentences,
)

__all__ = [
    "MG_PER_MMOL",
    "Glucose",
    "PainScore",
    "Temperature",
    "YesNo",
    "parse_elapsed_hours",
    "parse_glucose",
    "parse_pain",
    "parse_temperature",
    "parse_yes_no",
]

_PAIN_WORDS = numbers.PAIN_WORDS
_ZERO_PAIN = re.compile(
    r"\b(?:no pain|pain ?free|sin dolor|pain (?:is |has )?gone|no me duele|zero pain|"
    r"nada de dolor)\b"
)
# Words just before a number that make it a glucose or temperature, not a pain score.
_NOT_PAIN_BEFORE = GLUCOSE_WORDS - {"level", "nivel", "reading"}


@dataclass(frozen=True, slots=True)
class PainScore:
    score: int  # 0..10


@dataclass(frozen=True, slots=True)
class YesNo:
    answer: Answer


# --- pain --------------------------------------------------------------------------------


def parse_pain(text: str, *, bare_numbers: bool = True) -> PainScore | None:
    """A 0-10 pain score: "7", "7/10", "pain is a six", "siete", "10+", "no pain" (0).

    Numbers over 10 are not scores ("took 400mg ibuprofen"), except "11/10"-style
    hyperbole, which is read as 10. Among several numbers a correction wins, then the one
    tied to now over the past, then the highest (see ``numbers.choose``).
    """
    return pain_in(make_doc(text), bare_numbers=bare_numbers)


def pain_in(doc: Doc, *, bare_numbers: bool) -> PainScore | None:
    toks, segs = doc.tokens, doc.segments
    sentence = sentences(toks)
    scored: list[tuple[numbers.Number, bool]] = []  # (candidate, has pain context)
    short = sum(1 for t in toks if t.isalnum()) <= 3
    for num in numbers.find_numbers(toks):
        cand = _candidate(doc, num, short)
        if cand is not None:
            near_pain = numbers.near(toks, segs, num.index, _PAIN_WORDS, 4, 2)
            scored.append((cand, cand.out_of_ten or near_pain))
    # "pain was 3 yesterday, now it's 9", "moderate pain, like a 6": a pain word reaches
    # across commas to nearby numbers in the same sentence.
    cands = [
        n
        for n, ctx in scored
        if ctx
        or numbers.near(toks, sentence, n.index, _PAIN_WORDS, 10, 3)
        or (bare_numbers and (not n.is_word or len(toks) <= 8 or n.index == 0))
    ]
    if not cands:
        return PainScore(0) if _ZERO_PAIN.search(doc.joined) else None
    best = numbers.choose(toks, segs, cands, tie_break=lambda n: n.value)
    return None if best is None else PainScore(min(10, max(0, math.ceil(best.value))))


def _candidate(doc: Doc, num: numbers.Number, short: bool) -> numbers.Number | None:
    """The number as a possible pain score, or None when it is clearly something else."""
    toks, segs = doc.tokens, doc.segments
    if num.unit is not None:
        return None  # hours, mg, degrees…
    if numbers.near(toks, segs, num.index, _NOT_PAIN_BEFORE, 2, 0) or numbers.near(
        toks, segs, num.index, TEMP_WORDS, 1, 0
    ):
        return None  # "sugar 7", "temp 38" (but "fever and pain 7" is a score)
    value = num.value
    if value > 10:
        if not (num.out_of_ten and value <= 20):
            return None
        value = 10.0
    if toks[num.index] in {"one", "uno", "una"} and not (
        num.out_of_ten or short or numbers.near(toks, segs, num.index, _PAIN_WORDS, 3, 0)
    ):
        return None  # "the left one hurts" is not a score of 1
    prev = toks[num.index - 1] if num.index else ""
    if prev in {"not", "ni"} and num.index >= 2 and to_number(toks[num.index - 2]) is not None:
        return None  # "I meant 3 not 8": the 8 is the one taken back
    if prev in {"$", "#", "at", "las", "every", "cada"} and not num.out_of_ten:
        return None  # money, list items, clock times ("at 7", "a las 7")
    if set(toks[num.end + 1 : num.end + 3]) & numbers.DRUGS:
        return None  # "took 2 tylenol"
    if value == num.value:
        return num
    return numbers.Number(value, num.index, num.end, num.unit, num.is_word, num.out_of_ten)


# --- yes / no ------------------------------------------------------------------------------

_YES = frozenset(
    {"y", "yes", "yeah", "yea", "yep", "yup", "yah", "yas", "yess", "sure", "si", "claro",
     "correct", "correcto", "affirmative", "absolutely", "definitely", "indeed", "exacto",
     "afirmativo", "simon", "ye", "yeh"}
)
_NO = frozenset(
    {"n", "no", "nope", "nah", "nay", "negative", "nop", "noo", "nada", "none", "nothing",
     "never", "ninguno", "ninguna", "tampoco", "nel", "negativo"}
)
_LEAD_IN = frozenset({"ok", "okay", "oh", "um", "well", "pues"})
_YES_PHRASES = re.compile(
    r"^(?:of course|por supuesto|i think so|creo que si|asi es|uh huh|i do|i have|i am|"
    r"it has|it did)\b"
)
_NO_PHRASES = re.compile(
    r"^(?:not really|not at all|para nada|i dont think so|dont think so|creo que no|not yet|"
    r"i dont|i havent|it hasnt|todavia no|aun no)\b"
)


def parse_yes_no(
    text: str, *, question: str | Question | None = None, lang: str | None = None
) -> YesNo | None:
    """A yes or no answer; ``question`` (e.g. "numbness_worn_off") reads domain phrases
    such as "still numb" (no) or "back to normal" (yes) for that question."""
    s = squash(text)
    if not s or (lang == "es" and s == "y"):
        return None  # a lone "y" in Spanish is "and", never "yes"
    q = question if isinstance(question, Question) else lookup(question)
    if q is not None:
        for pattern, answer in q.phrases:
            if pattern.search(s):
                return YesNo(answer)
    if _NO_PHRASES.search(s):
        return YesNo("no")
    if _YES_PHRASES.search(s):
        return YesNo("yes")
    words = s.split()
    if words[0] in {"y", "n"} and len(words) > 1 and words[1].isalpha() and len(words[1]) > 2:
        return None  # Spanish "y luego…" is "and", not a reply
    if _mixed(words):
        return None
    # The answer word leads the reply, possibly after "ok"/"well" ("ok yes", "pues no").
    head = words[1:3] if words[0] in _LEAD_IN else words[:1]
    yes = any(w in _YES for w in head)
    no = any(w in _NO for w in head)
    if yes != no:
        return YesNo("yes" if yes else "no")
    return None


def _mixed(words: list[str]) -> bool:
    """ "yes and no", "si o no", "yes no": both answers at once is no answer."""
    if len(words) == 2:
        a, b = words
    elif len(words) >= 3 and words[1] in {"and", "y", "or", "o"}:
        a, b = words[0], words[2]
    else:
        return False
    return (a in _YES and b in _NO) or (a in _NO and b in _YES)
