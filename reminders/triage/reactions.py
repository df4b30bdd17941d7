"""Phone "reactions" to one of our messages: iOS tapbacks and their Android renderings.

A phone that cannot show a reaction natively sends it as text, quoting our message:
``Liked “Has the numbness worn off? Reply YES or NO”``, ``Le gustó «¿Tiene fiebre?»``,
``Reacted 😂 to “…”``. The quoted words are ours, not the patient's: reading them as the
answer would turn a thumbs-up into "yes, I have a fever". A reaction is not an answer.
"""

from __future__ import annotations

import re

_VERBS = {
    "liked": "liked", "loved": "loved", "disliked": "disliked", "laughed at": "laughed",
    "emphasized": "emphasized", "emphasised": "emphasized", "questioned": "questioned",
    "le gusto": "liked", "le encanto": "loved", "no le gusto": "disliked",
    "se rio de": "laughed", "enfatizo": "emphasized", "hizo enfasis en": "emphasized",
    "cuestiono": "questioned", "le ha gustado": "liked", "le ha encantado": "loved",
    "me gusta": "liked", "me encanta": "loved", "destaco": "emphasized",
    "removed a like from": "removed", "removed a heart from": "removed",
}
_QUOTE_OPEN = "\"“”«‘'„"
_QUOTE_CLOSE = "\"“”»’'"
_PATTERN = re.compile(
    r"^\s*(?P<verb>" + "|".join(sorted(map(re.escape, _VERBS), key=len, reverse=True))
    + r"|reacted .{1,12}? to|reacciono con .{1,12}? a)\s*"
    + f"[{_QUOTE_OPEN}](?P<quoted>.*)[{_QUOTE_CLOSE}]\\s*$"
    + r"|^\s*(?P<verb2>liked|loved|le gusto|le encanto) (?:an? )?(?:image|photo|imagen|foto)\s*$",
    re.DOTALL,
)
_ACCENTS = str.maketrans("áéíóúÁÉÍÓÚ", "aeiouAEIOU")


def detect_reaction(text: str) -> str | None:
    """The reaction kind ("liked", "loved", "questioned"...) or None for ordinary text."""
    head = text.translate(_ACCENTS)
    m = _PATTERN.match(head.casefold()) if len(head) < 2000 else None
    if m is None:
        return None
    verb = m.group("verb") or m.group("verb2")
    return _VERBS.get(verb, "reacted")
