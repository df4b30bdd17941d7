"""The concept type and the regex helpers of the symptom vocabulary.

The words themselves are data: ``vocab/en.yaml`` and ``vocab/es.yaml`` (plus any other
``vocab/*.yaml``), one named concept per clinical idea, loaded by ``vocab.concepts()``.
Patterns run over ``Doc.joined``: folded text (no accents, no apostrophes) with tokens
separated by single spaces, so "can't breathe!" is "cant breathe !". ``(?:\\w+ )?`` lets one
word sit in between ("trouble *with* breathing"); punctuation tokens are not ``\\w`` so a
pattern never runs across a comma. Which concept raises which severity lives in
``rules.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Concept:
    name: str
    pattern: re.Pattern[str]
    # A hit inside a match of ``exclude`` is not this concept ("blood sugar" is not blood).
    exclude: re.Pattern[str] | None = None
    # A hit overlapping one of these concepts is dropped: the more specific reading wins
    # ("chest pain" is not soreness, a red face is flushing, not a red injection site).
    suppressed_by: tuple[str, ...] = ()


# A filler word between two parts of a phrase; never a negator, so "it's not hot" does
# not read as "it ... hot" (the negator is left outside for scan.py to see).
GAP = r"(?:(?!(?:no|not|isnt|arent|never|nor|sin|ni|nada)\b)\w+ )"
_GAP_AFTER = r"(?: (?!(?:no|not|isnt|arent|never|nor|sin|ni|nada)\b)\w+)"


def rx(*alternatives: str) -> re.Pattern[str]:
    body = "|".join(alternatives).replace(r"(?:\w+ )", GAP).replace(r"(?: \w+)", _GAP_AFTER)
    return re.compile(r"\b(?:" + body + r")\b")
