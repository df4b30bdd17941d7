"""Carrier keywords (STOP/START/HELP), plain-language opt-outs and staff "ACK <code>".

A keyword never ends triage: "quit the texts, my leg is throbbing 9/10 and warm" is an
opt-out *and* an urgent reply, so ``KeywordMatch.has_extra`` tells the caller that the
message says more than the keyword. Matching ignores case, accents and punctuation.

Single keywords that are also ordinary words ("cancel my appointment", "the end",
"alto" = "high", "baja" = "low") only count when they are the whole message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from reminders.triage.text import BOUNDARY_TOKENS, make_doc, squash

KeywordKind = Literal["opt_out", "opt_in", "help"]

OPT_OUT_WORDS = frozenset(
    {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout",
     "alto", "parar", "baja", "detener"}
)
# Keywords that also start an opt-out sentence ("STOP texting me", "quit the texts, …").
_LEADING_OPT_OUT = frozenset(
    {"stop", "stopall", "unsubscribe", "quit", "revoke", "optout", "detener", "parar"}
)
_OBJECTS = frozenset(
    {"texting", "sending", "messaging", "contacting", "texts", "text", "messages", "message",
     "msgs", "sms", "these", "the", "it", "all", "please", "now", "me", "them", "reminders",
     "mensajes", "de", "los", "esto", "ya", "por", "this", "that"}
)
OPT_IN_WORDS = frozenset({"start", "unstop"})
_YES_WORDS = frozenset({"yes", "y", "si", "yeah", "yep"})
HELP_WORDS = frozenset({"help", "info", "ayuda"})

_PHRASES = re.compile(
    r"\b(?:(?:please |pls |plz )?stop (?:texting|messaging|sending|contacting|emailing|text"
    r"|message)\w*(?: me)?"
    r"|(?:stop|quit|no more|dont send|do not send|dont want"
    r"|do not want)(?: me)?(?: any)?(?: more)?(?: these| the| your)? (?:texts?|messages?|msgs|sms"
    r"|reminders?)"
    r"|no more (?:texts?|messages?|msgs|sms|reminders?)|unsubscribe(?: me)?"
    r"|take me off(?: \w+){0,3}? list"
    r"|remove me from(?: \w+){0,3}? list|opt me out|opt out|(?:dont|do not) (?:text|message"
    r"|contact) me"
    r"|dej(?:a|e|en|an|ar) de (?:enviar|mandar|escribir)(?:me|nos|le)?(?: \w+)?(?: mensajes)?"
    r"|no (?:me )?(?:envien|manden|mandes|envies|escriban|escribas) mas(?: mensajes)?"
    r"|no quiero (?:recibir )?mas mensajes|no mas mensajes|dar(?:me|se)? de baja|basta de mensajes"
    r"|cancelar (?:los )?mensajes)\b"
)
_POLITE = frozenset(
    {"please", "pls", "plz", "thanks", "thank", "you", "thx", "ty", "now", "ok", "okay", "por",
     "favor", "gracias", "me", "all", "the", "these", "texts", "text", "messages", "message",
     "msgs", "sms", "it", "them", "mensajes", "los", "de", "reminders", "already", "asap",
     "immediately", "ya", "this", "number", "list", "from", "your", "off", "take", "remove",
     "i", "want", "would", "like", "id", "quiero", "can", "could", "kindly", "puedes",
     "pueden", "puede", "just", "solo", "any", "more", "mas"}
)
_ACK = re.compile(r"^\s*ack\s*[:#-]?\s*([a-z0-9]{4,8})\s*[.!]?\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class KeywordMatch:
    kind: KeywordKind
    keyword: str  # the keyword or phrase as matched (folded)
    has_extra: bool  # the message says more than the keyword: triage the rest


def detect_keyword(text: str, *, opted_out: bool = False) -> KeywordMatch | None:
    """The carrier keyword class of a reply, if any.

    YES counts as opt-in only when the caller says the patient is opted out; otherwise it
    is an ordinary answer.
    """
    words = squash(text).split()
    if not words:
        return None
    whole = "".join(words) if len(words) <= 2 else ""
    # "STOP", "Stop.", "stop all", "opt-out", "START", "HELP!"
    if whole in OPT_OUT_WORDS:
        return KeywordMatch("opt_out", whole, False)
    for kind, vocab in (("opt_in", OPT_IN_WORDS), ("help", HELP_WORDS)):
        if whole in vocab:
            return KeywordMatch(kind, whole, False)  # type: ignore[arg-type]
    if opted_out and whole in _YES_WORDS:
        return KeywordMatch("opt_in", whole, False)

    doc = make_doc(text)
    toks = [t for t in doc.tokens if t not in {"¿", "¡"}]
    first = toks[0] if toks else ""
    follows = toks[1] if len(toks) > 1 else ""
    sentence_ends = follows in BOUNDARY_TOKENS or follows == ""
    if first in _LEADING_OPT_OUT and (sentence_ends or follows in _OBJECTS):
        return KeywordMatch("opt_out", first, _extra(words[1:]))
    if first in OPT_OUT_WORDS - {"cancel", "end"} and follows in {".", "!", ";"}:
        return KeywordMatch("opt_out", first, _extra(words[1:]))  # "ALTO. tengo dolor…"
    m = _PHRASES.search(doc.joined)
    if m:
        rest = (doc.joined[: m.start()] + " " + doc.joined[m.end() :]).split()
        return KeywordMatch("opt_out", m.group(0), _extra([w for w in rest if w.isalnum()]))
    if first in HELP_WORDS and (follows in BOUNDARY_TOKENS or follows in {"me", "please", ""}):
        return KeywordMatch("help", first, _extra(words[1:]))
    return None


def _extra(words: list[str]) -> bool:
    return any(w not in _POLITE for w in words)


def detect_ack(text: str) -> str | None:
    """The code in a staff acknowledgement "ACK <code>" (4-8 letters/digits), upper-cased."""
    m = _ACK.match(text)
    return m.group(1).upper() if m else None
