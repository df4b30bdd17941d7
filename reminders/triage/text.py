"""One canonical form of a patient's reply, shared by the parsers and the classifier.

Patients type on phones: accents come and go ("sí"/"si"), apostrophes are curly, letters
repeat ("feverrr"), emoji stand in for words and spelling is approximate ("feaver").
Everything downstream matches against this folded form, so the lexicon is written once,
in lower case, without accents or apostrophes, and with every token separated by exactly
one space ("can't breathe!" -> "cant breathe !", "7/10" -> "7 / 10").
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass

from reminders.triage import vocab
from reminders.triage.numwords import collapse
from reminders.triage.typos import canonical_spelling

# Emoji that carry meaning in a check-in reply become words (the lexicon files list
# them); other pictographs are dropped as noise. A variation selector is always noise.
_EMOJI: dict[int, str] = {ord(k): f" {v} " for k, v in vocab.emoji().items()} | {0xFE0F: ""}
_SKIN_TONES = re.compile("[\U0001f3fb-\U0001f3ff]")
_APOSTROPHE = re.compile(r"(?<=[a-z])['’‘`´](?=[a-z])")
_REPEATS = re.compile(r"([a-z])\1{2,}")
_TOKEN = re.compile(r"\d+(?:[.,]\d+)?|[a-z]+|[^\sa-z\d]")
_SPACES = re.compile(r"\s+")

# Clause boundaries: negation and hypotheticals never reach across these.
BOUNDARY_TOKENS = frozenset(
    {".", ";", "!", "?", ",", "¿", "¡", "but", "pero", "though", "although", "however",
     "aunque", "sino", "except", "excepto"}
)


def fold(text: str) -> str:
    """Lower-case, accent-free, apostrophe-free text with emoji turned into words."""
    text = _SKIN_TONES.sub("", text.translate(_EMOJI))
    # Other pictographs are noise ("nope 😄"): drop them so they do not split phrases.
    if not text.isascii():
        text = "".join(c for c in text if ord(c) < 0x2000 or unicodedata.category(c) != "So")
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.casefold().replace("’", "'").replace("‘", "'")
    text = _APOSTROPHE.sub("", text)
    # Newlines separate thoughts in SMS; keep them as a sentence boundary.
    text = text.replace("\n", " . ")
    return _REPEATS.sub(r"\1", text)


@dataclass(frozen=True, slots=True)
class Doc:
    """A folded reply cut into tokens and clause segments.

    ``joined`` is the tokens joined by single spaces; lexicon regexes run over it and
    ``token_at`` maps a match position back to a token index.
    """

    raw: str
    tokens: tuple[str, ...]
    segments: tuple[int, ...]  # segment id of each token (segments are contiguous runs)
    starts: tuple[int, ...]  # character offset of each token in ``joined``
    joined: str
    bounds: dict[int, tuple[int, int]]  # segment id -> (first token, last token)

    def token_at(self, pos: int) -> int:
        return max(0, bisect_right(self.starts, pos) - 1)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Token range [first, last] covered by the character range [start, end)."""
        return self.token_at(start), self.token_at(max(start, end - 1))

    @property
    def has_question_mark(self) -> bool:
        return "?" in self.tokens or "¿" in self.tokens

    def segment_tokens(self, seg: int) -> range:
        first, last = self.bounds.get(seg, (0, -1))
        return range(first, last + 1)


def make_doc(text: str) -> Doc:
    folded = fold(text)
    tokens: list[str] = []
    for tok in _TOKEN.findall(folded):
        tokens.append(canonical_spelling(tok) if tok.isalpha() else tok)
    tokens = collapse(tokens)  # "ciento ochenta" -> "180", "two fifty" -> "250"
    segments: list[int] = []
    seg = 0
    for tok in tokens:
        if tok in BOUNDARY_TOKENS:
            seg += 1
            segments.append(seg)
            seg += 1
        else:
            segments.append(seg)
    starts: list[int] = []
    pos = 0
    for tok in tokens:
        starts.append(pos)
        pos += len(tok) + 1
    bounds: dict[int, tuple[int, int]] = {}
    for i, s in enumerate(segments):
        bounds[s] = (bounds[s][0] if s in bounds else i, i)
    return Doc(
        raw=text,
        tokens=tuple(tokens),
        segments=tuple(segments),
        starts=tuple(starts),
        joined=" ".join(tokens),
        bounds=bounds,
    )


def squash(text: str) -> str:
    """Folded text with punctuation removed and spaces collapsed (for whole-message checks)."""
    return _SPACES.sub(" ", re.sub(r"[^\w\s]", " ", fold(text))).strip()
