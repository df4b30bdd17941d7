"""``triage()``: one inbound reply in, severity + categories + parsed values out.

Pure: no database, clock or network; the caller passes what it knows (the question the
reply answers, hours since the procedure). Order of work:

1. staff "ACK <code>" and carrier keywords (a bare STOP needs no triage);
2. scan the text for symptom mentions, dropping negated, resolved and hypothetical ones;
3. parse the expected answer (pain score, yes/no, glucose) and any numbers in context;
4. apply the clinical rules (``rules.py``); the highest severity wins;
5. admin intents (questions, rescheduling), clarification and the fallbacks.
"""

from __future__ import annotations

import re
from typing import Any

from reminders.triage import cues
from reminders.triage.asked import question_from_text
from reminders.triage.keywords import KeywordMatch, detect_ack, detect_keyword
from reminders.triage.model import ANSWERS, CATEGORIES, EXPECTS, Severity, Thresholds, TriageResult
from reminders.triage.parse import pain_in, parse_yes_no
from reminders.triage.questions import Answer, Question, lookup
from reminders.triage.reactions import detect_reaction
from reminders.triage.rules import RULES, Context, Verdict
from reminders.triage.scan import MODIFIERS, Findings, scan
from reminders.triage.text import Doc, make_doc, squash
from reminders.triage.vitals import Glucose, elapsed_hours_in, glucose_in, temperature_in

N, R, U = Severity.NONE, Severity.ROUTINE, Severity.URGENT
_DEFAULT_THRESHOLDS = Thresholds()

_ACK_WORDS = frozenset(
    {"ok", "okay", "k", "kk", "okey", "oki", "thanks", "thank", "thx", "ty", "tysm", "got",
     "noted", "understood", "gracias", "vale", "listo", "entendido", "acuerdo", "perfect",
     "perfecto", "received", "recibido", "cool", "great", "appreciate", "appreciated",
     "genial", "will", "do", "sounds", "good", "awesome", "worries", "problem", "np"}
)
_ACK_FILLER = _ACK_WORDS | frozenset(
    {"you", "it", "so", "much", "very", "a", "lot", "muchas", "mil", "de", "muy", "bien",
     "bye", "see", "u", "youre", "the", "best", "nice", "excellent", "excelente", "dr",
     "doctor", "lol", "haha", "jaja", "jajaja", "thumbsup", "again", "all", "for", "everything",
     "todo", "por", "hi", "hello", "hola", "sure", "will", "that", "yes", "si", "no"}
)
_ANSWER_WORDS = frozenset(
    {"no", "none", "nope", "nada", "yes", "si", "sure", "nah", "yep", "ninguno", "ninguna"}
)


def triage(
    text: str,
    *,
    expects: str | None = None,
    lang: str | None = None,
    hours_since_procedure: float | None = None,
    thresholds: Thresholds = _DEFAULT_THRESHOLDS,
    question: str | None = None,
    opted_out: bool = False,
    asked: str | None = None,
    concerning_answer: str | None = None,
) -> TriageResult:
    """Triage one patient reply.

    ``expects`` is what the check-in asked for ("pain_score", "yes_no", "glucose",
    "symptom_check" or None); ``question`` names a yes/no question ("numbness_worn_off",
    "infection_signs"…, or the protocol step key, see ``questions.py``) so a bare "no"
    can be read the right way round; an unknown key reads as a plain yes/no and the
    answer goes to a person. ``asked`` is the question's text as sent and
    ``concerning_answer`` ("yes"/"no") says which answer to a yes/no question means
    trouble; with them a bare "Nope" or "todavía no" is read the right way round even for
    a clinic's own question. ``lang`` ("en"/"es") only settles Spanish "y" (= "and"): the lexicon is
    bilingual because patients switch language mid-message.
    """
    if expects is not None and expects not in EXPECTS:
        raise ValueError(f"expects: unknown value {expects!r}")
    if concerning_answer is not None and concerning_answer not in ANSWERS:
        raise ValueError(f"concerning_answer: unknown value {concerning_answer!r}")
    code = detect_ack(text)
    if code is not None:
        return TriageResult(
            N, ("acknowledgement",), {"ack_code": code}, ("staff acknowledgement code",)
        )
    reaction = detect_reaction(text)
    if reaction is not None:
        # The quoted words are our own question: never read them as the answer.
        # A "?" or thumbs-down on our message may mean trouble: a person looks.
        unsure = reaction in ("questioned", "disliked")
        level, cat = (R, "question") if unsure else (N, "acknowledgement")
        return TriageResult(level, (cat,), {"reaction": reaction},
                            (f"phone reaction ({reaction}) to our message, not an answer",),
                            reaction=reaction)  # fmt: skip
    kw = detect_keyword(text, opted_out=opted_out)
    if kw is not None and not kw.has_extra:
        return _keyword_only(kw)

    doc = make_doc(text)
    f = scan(doc)
    q = _question(question, asked, concerning_answer, expects)
    wants_answer = expects in ("yes_no", "symptom_check") or q is not None
    answer = parse_yes_no(text, question=q, lang=lang) if wants_answer else None
    ctx = Context(
        f=f,
        th=thresholds,
        hours=hours_since_procedure if hours_since_procedure is not None else elapsed_hours_in(doc),
        pain=pain_in(doc, bare_numbers=expects == "pain_score"),
        glucose=glucose_in(doc, bare_numbers=expects == "glucose"),
        temperature=temperature_in(doc, asked_about_fever=_about_fever(asked)),
        answer=answer,
        question=q,
    )
    v = Verdict()
    for rule in RULES:
        rule(ctx, v)
    _admin(doc, f, v)
    if kw is not None:
        _keyword_extra(kw, v)
    needs = _fallbacks(ctx, v, expects)
    return TriageResult(
        severity=v.severity,
        categories=_ordered(v.categories),
        parsed=_parsed(ctx.pain.score if ctx.pain else None, answer.answer if answer else None,
                       ctx.glucose, ctx.temperature.celsius if ctx.temperature else None, kw),
        reasons=tuple(v.reasons),
        needs_clarification=needs,
        keyword=kw,
    )


_FEVER_WORDS = re.compile(r"\b(?:fever|temp\w*|fiebre|calentura)\b")
# "not diabetic" answers a glucose question: nothing to measure, nothing to ask again.
_NOT_APPLICABLE = re.compile(
    r"\b(?:not (?:a )?diabetic|no (?:soy|es) diabetic[oa]|(?:dont|do not|doesnt|no) (?:have|tengo"
    r"|tiene) diabet\w*|n ?a|not applicable|no aplica|no me (?:mido|checo) (?:el )?azucar)\b"
)


def _about_fever(asked: str | None) -> bool:
    return bool(asked) and _FEVER_WORDS.search(squash(asked or "")) is not None


def _question(key: str | None, asked: str | None, concerning: str | None,
              expects: str | None) -> Question | None:
    """The question a yes/no reply answers: a known key, else read from its text."""
    ca: Answer | None = "yes" if concerning == "yes" else "no" if concerning == "no" else None
    q = lookup(key)
    if q is not None and ca is not None and ca != q.concerning:
        q = Question(q.key, ca, q.category)  # the clinic says otherwise: plain yes/no only
    if q is None and asked:
        q = question_from_text(asked, ca)
    if q is None and ca is not None:
        q = Question("asked", ca, "other", level="urgent")
    if q is None and expects == "symptom_check":
        q = lookup("any_symptoms")
    return q


def _fallbacks(c: Context, v: Verdict, expects: str | None) -> bool:
    """Clarification, thanks, good news and unreadable text; True if we must ask again."""
    f, answer = c.f, c.answer
    if answer is not None and c.question is None:
        v.add(R, "other", "yes/no answer without a question key: read it against the question")
    recognised = any(h.concept not in MODIFIERS for h in f.hits)
    got = {
        "pain_score": c.pain is not None,
        "glucose": c.glucose is not None,
        "yes_no": answer is not None,
        "symptom_check": answer is not None or recognised,
    }
    if expects == "glucose" and _NOT_APPLICABLE.search(f.doc.joined):
        got["glucose"] = True
        v.add(N, "other", "not diabetic: no reading to give")
    needs = expects is not None and not got[expects] and v.severity < U
    if needs:
        v.add(R, "other", f"no readable {expects} answer: ask again")
    if _is_ack(f.doc):
        v.add(N, "acknowledgement", "acknowledgement")
    if c.pain is not None and c.pain.score < 4:
        v.add(N, "other", f"mild pain {c.pain.score}/10")
    if f.has("well"):
        v.add(N, "other", "reports feeling well")
    # "STOP, and by the way …": an opt-out says nothing about the rest of the message.
    if not (set(v.categories) - {"opt_out"}):
        # Free text we cannot read goes to a person rather than being filed as fine.
        parsed_any = c.glucose is not None or c.temperature is not None or answer is not None
        if parsed_any or recognised:
            v.add(N, "other", "nothing of concern")
        else:
            v.add(R, "other", "free text: nothing recognised")
    return needs


def _keyword_only(kw: KeywordMatch) -> TriageResult:
    parsed = {"keyword": kw.kind}
    if kw.kind == "opt_out":
        return TriageResult(N, ("opt_out",), parsed, ("opt-out keyword",), keyword=kw)
    if kw.kind == "opt_in":
        return TriageResult(N, ("other",), parsed, ("opt-in keyword",), keyword=kw)
    # A patient texting HELP after an injection may mean it: a bare plea is urgent until
    # a person knows otherwise (the carrier help text still goes out).
    reason = "HELP on its own: a plea until a person knows otherwise"
    return TriageResult(U, ("other",), parsed, (reason,), keyword=kw)


def _keyword_extra(kw: KeywordMatch, v: Verdict) -> None:
    if kw.kind == "opt_out":
        v.add(N, "opt_out", "opt-out keyword (rest of the message triaged)")
    elif kw.kind == "help":
        v.add(R, "question", "HELP keyword")


def _admin(doc: Doc, f: Findings, v: Verdict) -> None:
    mentioned = sorted({h.concept for h in f.hypothetical()})
    if mentioned:
        v.add(R, "question", "asks about " + ", ".join(mentioned) + " (not reported as present)")
    if _is_question(doc):
        v.add(R, "question", "question")
    if f.has("reschedule"):
        v.add(R, "reschedule", "reschedule request")


def _is_question(doc: Doc) -> bool:
    toks = doc.tokens
    for i, t in enumerate(toks):
        # "Fever? No." is an answer in question-and-answer form, not a question.
        if t == "?" and not (i + 1 < len(toks) and toks[i + 1] in _ANSWER_WORDS):
            return True
    return bool(cues.QUESTION_START.match(doc.joined.lstrip("¿ ")))


def _is_ack(doc: Doc) -> bool:
    words = [t for t in doc.tokens if t.isalnum()]
    if not words or not all(w in _ACK_FILLER for w in words):
        return False
    return any(w in _ACK_WORDS for w in words)


def _ordered(categories: dict[str, Severity]) -> tuple[str, ...]:
    # "other" is a fallback: drop it when a named category says as much or more.
    named = [c for c in categories if c != "other"]
    if named and "other" in categories and max(categories[c] for c in named) >= categories["other"]:
        categories = {c: s for c, s in categories.items() if c != "other"}
    return tuple(sorted(categories, key=lambda c: (-categories[c].rank, CATEGORIES.index(c))))


def _parsed(pain: int | None, answer: str | None, glucose: Glucose | None,
            temperature_c: float | None, kw: KeywordMatch | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if pain is not None:
        out["pain"] = pain
    if answer is not None:
        out["answer"] = answer
    if glucose is not None:
        if glucose.flag is not None:
            out["glucose_flag"] = glucose.flag
        elif glucose.mg_dl is not None and glucose.mmol_l is not None:
            out["glucose_mg_dl"] = round(glucose.mg_dl)
            out["glucose_mmol_l"] = round(glucose.mmol_l, 1)
            out["unit"] = glucose.unit
    if temperature_c is not None:
        out["temperature_c"] = temperature_c
    if kw is not None:
        out["keyword"] = kw.kind
    return out
