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
from functools import cache


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


def merge(concepts: tuple[Concept, ...]) -> tuple[Concept, ...]:
    """One concept per name (phrases from every source joined), in first-seen order;
    fails fast when a ``suppressed_by`` names a concept that does not exist."""
    by: dict[str, Concept] = {}
    for c in concepts:
        old = by.get(c.name)
        if old is None:
            by[c.name] = c
            continue
        excludes = [x.pattern for x in (old.exclude, c.exclude) if x is not None]
        by[c.name] = Concept(
            c.name,
            re.compile(old.pattern.pattern + "|" + c.pattern.pattern),
            re.compile("|".join(excludes)) if excludes else None,
            old.suppressed_by + tuple(s for s in c.suppressed_by if s not in old.suppressed_by),
        )
    for c in by.values():
        for other in c.suppressed_by:
            if other not in by:
                raise ValueError(f"concept {c.name}: suppressed_by unknown concept {other!r}")
    return tuple(by.values())


@cache
def _by_name() -> dict[str, Concept]:
    # Imported here: the vocab loader builds its concepts with this module's ``rx``.
    from reminders.triage import vocab

    return {c.name: c for c in merge(vocab.concepts())}


def concept(name: str) -> Concept:
    """The concept called ``name``, phrases merged from every vocabulary file."""
    return _by_name()[name]
