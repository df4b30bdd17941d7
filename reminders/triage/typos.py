"""Spelling repair for the handful of words a missed typo would turn into a missed red flag.

Only red-flag words are repaired, and only with the edits people make on a phone keyboard:
a dropped, doubled or swapped letter, or a wrong or extra vowel ("feaver", "fevr",
"brething", "bleading"). Consonant substitutions are deliberately not generated: they are
where real words live ("infection"/"injection", "swelling"/"smelling", "fever"/"never").
Variants that are real words are listed in ``_PROTECTED`` and never rewritten.
"""

from __future__ import annotations

_VOWELS = "aeiou"

# Canonical spellings; each maps to itself and its one-edit phone-keyboard variants.
_TARGETS = (
    "fever", "feverish", "fiebre", "temperature", "temperatura", "chills", "escalofrios",
    "breathe", "breathing", "breath", "respirar",
    "bleeding", "sangrado", "sangrando", "swelling", "swollen", "hinchazon", "hinchado",
    "hinchada", "numbness", "tingling", "entumecido", "entumecida", "adormecido",
    "adormecida", "weakness", "redness", "enrojecimiento", "infection", "infected",
    "infeccion", "infectado", "oozing", "discharge", "throat", "tongue", "garganta",
    "dizzy", "mareado", "mareada", "fainted", "desmaye", "desmayo", "confused",
    "confusion", "confundido", "confundida", "urticaria", "ronchas", "unbearable",
    "insoportable", "excruciating", "chest", "spreading", "bruising", "bruise",
)

# Real words one keyboard edit away from a target: rewriting them would invent symptoms.
_PROTECTED = frozenset(
    {
        "ever", "fiver", "fibre", "fiber", "hills", "chill", "chile", "selling", "welling",
        "izzy", "dizzy", "breath", "breathe", "rest", "chess", "cheat", "reaches", "spending",
        "bleeping", "sweeping", "swelling", "throats", "tongues", "redness",
        "fainter", "infect", "confuse", "brush", "bruised", "oozing", "fevers", "breaths",
        "mareado", "desmayo", "desmaye", "respira", "respiro", "garganta", "hinchado",
        "hinchada", "sangrado", "sangrando", "reddens", "chests", "spread", "dizzying",
        # Found by checking every generated variant against the en/es system word lists.
        "braise", "braising", "confesion", "espirar", "gargantua", "sagrado", "swilling",
        "tangling", "threat", "tinging", "inafectado",
    }
)


def _variants(word: str) -> set[str]:
    out: set[str] = set()
    n = len(word)
    for i in range(n):
        out.add(word[:i] + word[i + 1 :])  # dropped letter
        out.add(word[:i] + word[i] + word[i:])  # doubled letter
        if i < n - 1:
            out.add(word[:i] + word[i + 1] + word[i] + word[i + 2 :])  # swapped pair
        if word[i] in _VOWELS:
            for v in _VOWELS:
                out.add(word[:i] + v + word[i + 1 :])  # wrong vowel
    for i in range(n + 1):
        for v in _VOWELS:
            out.add(word[:i] + v + word[i:])  # extra vowel
    return out


def _build() -> dict[str, str]:
    table: dict[str, str] = {}
    for word in _TARGETS:
        for variant in _variants(word):
            # Short variants collide with ordinary words too easily ("rest", "ever").
            if len(variant) >= 4 and variant not in _PROTECTED:
                table.setdefault(variant, word)
    for word in _TARGETS:
        table[word] = word
    return table


_TABLE = _build()


def canonical_spelling(token: str) -> str:
    """The canonical red-flag word for a plausible misspelling of it, else the token."""
    return _TABLE.get(token, token)
