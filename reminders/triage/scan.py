"""Find every concept mention in a reply and decide whether it is actually asserted.

A mention is *active* unless it is negated ("no fever", "sin fiebre"), resolved ("the
redness is gone") or hypothetical ("what if I get a fever?"). Negation reaches at most
three content words back and never across a clause boundary (comma, "but", "pero",
sentence end), so "no fever, but the site is hot" still sees the heat.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from reminders.triage import cues, vocab
from reminders.triage.lexicon import Concept
from reminders.triage.text import BOUNDARY_TOKENS, Doc

ALL_CONCEPTS: tuple[Concept, ...] = vocab.concepts()
_BY_NAME = {c.name: c for c in ALL_CONCEPTS}
_MILD = frozenset({"redness", "swelling", "warmth", "sore", "numb", "weakness", "bruise",
                   "itch", "flushing", "pain_worse_mild", "dizzy", "hives"})
_LIST_JOINERS = frozenset({"or", "nor", "ni", "o"})
# Modifiers never become real through "the": in "what if the redness spreads?" the
# redness is real, the spreading is not.
MODIFIERS = frozenset(
    {"expanding", "numb_new", "numb_still", "widespread", "shaking", "face_word", "site_word"}
)
_NP_GLUE = frozenset({"and", "or", "y", "o", ",", "some", "any", "little", "bit", "of", "de"})


@dataclass(frozen=True, slots=True)
class Hit:
    concept: str
    first: int  # first token index
    last: int  # last token index
    seg: int
    negated: bool = False
    resolved: bool = False
    hypothetical: bool = False

    @property
    def active(self) -> bool:
        return not (self.negated or self.resolved or self.hypothetical)


class Findings:
    """All mentions in one reply, with helpers the rules read like sentences."""

    def __init__(self, doc: Doc, hits: list[Hit]) -> None:
        self.doc = doc
        self.hits = hits
        self._by: dict[str, list[Hit]] = {}
        for h in hits:
            self._by.setdefault(h.concept, []).append(h)
        # Rules and criteria ask "is X present?" hundreds of times per reply.
        self._active = frozenset(h.concept for h in hits if h.active)

    def all(self, name: str) -> list[Hit]:
        return self._by.get(name, [])

    def active(self, name: str) -> list[Hit]:
        return [h for h in self._by.get(name, []) if h.active]

    @property
    def names(self) -> frozenset[str]:
        """The concepts with at least one active mention."""
        return self._active

    def has(self, *names: str) -> bool:
        return not self._active.isdisjoint(names)

    def hypothetical(self) -> list[Hit]:
        return [h for h in self.hits if h.hypothetical and not h.negated]

    def near(self, hit: Hit, *names: str) -> bool:
        """An active mention of one of ``names`` in the same clause."""
        return any(h.seg == hit.seg and h is not hit for n in names for h in self.active(n))

    def window(self, hit: Hit, before: int = 3, after: int = 2) -> list[str]:
        toks, segs = self.doc.tokens, self.doc.segments
        lo, hi = max(0, hit.first - before), min(len(toks), hit.last + 1 + after)
        inside = range(hit.first, hit.last + 1)
        return [toks[i] for i in range(lo, hi) if segs[i] == hit.seg and i not in inside]

    def minimized(self, hit: Hit) -> bool:
        return any(t in cues.MINIMIZERS for t in self.window(hit))

    def intensified(self, hit: Hit) -> bool:
        return any(t in cues.INTENSIFIERS for t in self.window(hit))

    def near_miss(self, hit: Hit) -> bool:
        return any(t in cues.NEAR_MISS for t in self.window(hit, before=5, after=0))


def _exclusions(c: Concept, joined: str) -> list[tuple[int, int]]:
    return [m.span() for m in c.exclude.finditer(joined)] if c.exclude else []


def _raw_spans(doc: Doc) -> dict[str, list[tuple[int, int]]]:
    spans: dict[str, list[tuple[int, int]]] = {}
    for c in ALL_CONCEPTS:
        found = [m.span() for m in c.pattern.finditer(doc.joined)]
        if found and c.exclude:
            ex = _exclusions(c, doc.joined)
            found = [s for s in found if not any(a <= s[0] and s[1] <= b for a, b in ex)]
        if found:
            spans[c.name] = found
    return spans


def _surviving(spans: dict[str, list[tuple[int, int]]]) -> dict[str, list[tuple[int, int]]]:
    """Drop mentions overlapping a more specific concept, resolving chains in order."""
    done: dict[str, list[tuple[int, int]]] = {}

    def resolve(name: str) -> list[tuple[int, int]]:
        if name not in done:
            done[name] = []  # guards against cycles
            keep = spans.get(name, [])
            for other in _BY_NAME[name].suppressed_by:
                blockers = resolve(other)
                keep = [s for s in keep if not any(s[0] < b[1] and b[0] < s[1] for b in blockers)]
            done[name] = keep
        return done[name]

    return {name: resolve(name) for name in spans}


def _negated(doc: Doc, first: int, last: int, covered: set[int]) -> bool:
    toks, segs = doc.tokens, doc.segments
    seg = segs[first]
    counted = 0
    i = first - 1
    while i >= 0 and segs[i] == seg and first - i <= 7:
        tok = toks[i]
        if tok in cues.NEGATORS:
            return True
        if tok in cues.NEGATION_BREAKERS:
            break
        if tok not in cues.NEGATION_FILLERS:
            counted += 1
            if counted >= 3:
                break
        i -= 1
    return _postfix_negated(doc, last, covered) or _negated_list(doc, first, seg)


def _postfix_negated(doc: Doc, last: int, covered: set[int]) -> bool:
    toks, n = doc.tokens, len(doc.tokens)
    j = last + 1
    # "red and swollen? no": walk over the rest of a symptom list to its answer.
    while j < n and (toks[j] in {":", "-", "=", "?"} or toks[j] in _LIST_JOINERS | {"and", "y"}
                     or j in covered):
        j += 1
    if j >= n or toks[j] not in cues.POSTFIX_NEGATORS:
        return False
    after = j + 1
    # "fever: no" / "fever? no." but not "fever no better" or "fever, no idea why".
    return after >= n or toks[after] in BOUNDARY_TOKENS or toks[after] in _AFTER_POSTFIX


def _negated_list(doc: Doc, first: int, seg: int) -> bool:
    """ "no fever, redness or pus": a short comma list closed by "or" shares the negator."""
    toks, segs = doc.tokens, doc.segments
    members = doc.segment_tokens(seg)
    if len(members) > 4 or members[0] == 0 or toks[members[0] - 1] != ",":
        return False
    k = members[0] - 2
    while k >= 0:
        prev = doc.segment_tokens(segs[k])
        if len(prev) > 5:
            return False
        words = [toks[i] for i in prev]
        if any(w in cues.NEGATORS for w in words):
            tail = [toks[i] for s in (seg, seg + 2) for i in doc.segment_tokens(s)]
            return any(t in _LIST_JOINERS for t in tail + words)
        if prev[0] == 0 or toks[prev[0] - 1] != ",":
            return False
        k = prev[0] - 2
    return False


def _resolved(doc: Doc, hit_first: int, last: int, seg: int, mild: bool) -> bool:
    toks, segs, n = doc.tokens, doc.segments, len(doc.tokens)
    words = [toks[i] for i in range(last + 1, min(n, last + 6)) if segs[i] == seg]
    if _has_resolution(words, mild):
        return True
    before = [toks[i] for i in range(max(0, hit_first - 4), hit_first) if segs[i] == seg]
    if (before and before[-1] == "stopped") or before[-2:] == ["paro", "de"]:
        return True  # "stopped bleeding", "ya paro de sangrar"
    if ("se" in before or "ya" in before) and any(w in cues.STRONG_RESOLUTION for w in before):
        return True  # "se me quito el entumecimiento", "ya paro el sangrado"
    # "had a fever last night but it's gone now": a pronoun clause right after.
    nxt = [
        i for i in range(last + 1, min(n, last + 12))
        if segs[i] != seg and toks[i] not in BOUNDARY_TOKENS
    ]
    if nxt and segs[nxt[0]] == seg + 2 and toks[nxt[0]] in cues.PRONOUN_OPENERS:
        clause = [toks[i] for i in nxt[:5] if segs[i] == segs[nxt[0]]]
        return _has_resolution(clause, mild=False)
    return False


def _has_resolution(words: list[str], mild: bool) -> bool:
    for k, w in enumerate(words):
        if w in cues.NEGATORS or w in {"isnt", "hasnt", "not", "wont"}:
            return False  # "has not gone", "no se ha ido" stay unresolved
        if w in cues.NEEDS_SE and "se" not in words[:k]:
            continue
        if w == "down" and k + 1 < len(words) and words[k + 1] in _DIRECTION_AFTER:
            continue  # "tingling down my leg" is a direction, not an improvement
        if w in cues.STRONG_RESOLUTION or (w == "away" and k > 0):
            return True
        if mild and w in cues.WEAK_RESOLUTION:
            return True
    return False


_DIRECTION_AFTER = frozenset({"my", "the", "to", "into", "mi", "both", "his", "her", "past",
                              "towards", "toward", "their", "la", "el", "hacia"})
# "rash? nope 👍" ("ok"), "fiebre: no, gracias": the answer may trail a courtesy.
_AFTER_POSTFIX = frozenset({"tengo", "have", "hay", "ok", "thanks", "gracias", "good", "fine"})
_WEAK_CONTEXT = re.compile(r"\b(?:que|hago|debo|llamo|llamar|normal|preocup\w*)\b")


def _markers(doc: Doc) -> list[tuple[int, bool]]:
    """(token index, is-a-duration-question) where a hypothetical clause starts."""
    out = [(doc.token_at(m.start()), False) for m in cues.HYPOTHETICAL.finditer(doc.joined)]
    out += [(doc.token_at(m.start()), True) for m in cues.DURATION.finditer(doc.joined)]
    asking = doc.has_question_mark or _WEAK_CONTEXT.search(doc.joined)
    if "sí" not in doc.raw.casefold() and asking:
        weak = cues.WEAK_HYPOTHETICAL.finditer(doc.joined)
        out += [(doc.token_at(m.start()), False) for m in weak]
    return out


def _hypothetical(doc: Doc, name: str, first: int, seg: int,
                  markers: list[tuple[int, bool]], covered: set[int]) -> bool:
    scoped = [dur for m, dur in markers if doc.segments[m] == seg and m <= first]
    if not scoped:
        return False
    if name in cues.COURSE_EFFECTS and any(scoped):
        return True
    if name in MODIFIERS:
        return True
    # "should I worry about the swelling and warmth?": a definite article in front of the
    # noun phrase makes every symptom in it real.
    i = first - 1
    while i >= 0 and doc.segments[i] == seg and first - i <= 6:
        tok = doc.tokens[i]
        if tok in cues.DEFINITE:
            return False
        if tok not in _NP_GLUE and i not in covered:
            return True
        i -= 1
    return True


def scan(doc: Doc) -> Findings:
    spans = _surviving(_raw_spans(doc))
    markers = _markers(doc)
    located = [(name, *doc.span(s, e)) for name, found in spans.items() for s, e in found]
    covered = {
        i for name, first, last in located if name not in MODIFIERS for i in range(first, last + 1)
    }
    hits: list[Hit] = []
    for name, first, last in located:
        seg = doc.segments[first]
        hits.append(
            Hit(
                concept=name,
                first=first,
                last=last,
                seg=seg,
                negated=_negated(doc, first, last, covered),
                resolved=_resolved(doc, first, last, seg, name in _MILD),
                hypothetical=_hypothetical(doc, name, first, seg, markers, covered),
            )
        )
    hits.sort(key=lambda h: (h.first, h.concept))
    return Findings(doc, hits)
