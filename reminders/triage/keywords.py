"""Carrier keywords (STOP/START/HELP), plain-language opt-outs and staff "ACK <code>".

An opt-out must be honoured however it is phrased, and must never be read into a plea or
a clinical sentence: "stop the pain", "please make it stop", "should I stop my blood
thinner", "no para de sangrar", "azúcar alto" are not requests to stop messages. The rule:

- a carrier keyword (STOP, CANCEL, ALTO, BAJA…) counts when it is the whole message
  ("Stop.", "STOP please", "stop all"); the unambiguous ones (STOP, QUIT, UNSUBSCRIBE,
  PARAR, DETENER…) also when they stand alone as a clause ("STOP. I can't breathe");
- inside a sentence, a keyword word is an opt-out only with a messaging object (texts,
  messages, reminders, this number, the list, mensajes, lista…) or in a stop-contacting-me
  construction ("stop texting me", "don't text me anymore", "dejen de escribirme");
- negation turns it round ("please don't stop the reminders", "no dejen de escribirme"),
  and a time qualifier makes it a preference for staff, not an opt-out ("don't text me at
  night").

A keyword never ends triage: "quit the texts, my leg is throbbing 9/10 and warm" is an
opt-out *and* an urgent reply, so ``KeywordMatch.has_extra`` tells the caller that the
message says more than the keyword. Matching ignores case, accents and punctuation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from reminders.triage.text import fold

KeywordKind = Literal["opt_out", "opt_in", "help"]

OPT_OUT_WORDS = frozenset(
    {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout",
     "alto", "parar", "baja", "detener"}
)
# Keywords with no everyday meaning in a reply: alone in any clause they still opt out.
_PLAIN = frozenset(
    {"stop", "stopall", "unsubscribe", "quit", "revoke", "optout", "parar", "detener"}
)
# "alto" = high and "baja" = low: alone, or as a first sentence that is not a reading.
_READINGS = frozenset({"alto", "baja"})
OPT_IN_WORDS = frozenset({"start", "unstop"})
_YES_WORDS = frozenset({"yes", "y", "si", "yeah", "yep"})
HELP_WORDS = frozenset({"help", "info", "ayuda"})

# Words that add nothing to a whole-message keyword ("STOP please", "I said STOP!").
_FILLER = frozenset(
    {"please", "pls", "plz", "thanks", "thank", "you", "thx", "ty", "now", "ok", "okay",
     "por", "favor", "gracias", "ya", "asap", "immediately", "already", "i", "said", "just",
     "dije", "again", "right", "away"}
)
_CLAUSE_END = frozenset({".", "!", "?", ";", ",", "¿", "¡", ":"})
_HARD_END = frozenset({".", "!", ";"})

# What a message is about when it asks us to stop: our texts, not the pain or the pills.
_OBJECTS = frozenset(
    {"text", "texts", "txt", "txts", "msg", "msgs", "message", "messages",
     "mesages", "mesage", "messeges", "sms", "reminder", "reminders", "notification",
     "notifications", "alert", "alerts", "email", "emails", "checkin", "checkins", "list",
     "number", "subscription", "mensaje", "mensajes", "mensajitos", "msj", "msjs", "texto",
     "textos", "recordatorio", "recordatorios", "notificaciones", "alertas", "lista",
     "numero", "correo", "correos", "suscripcion", "phone", "cellphone", "telefono", "cel",
     "celular"}
)
# May stand between the verb and the object ("stop all these daily text messages").
_DETS = frozenset(
    {"the", "these", "those", "this", "that", "all", "your", "ur", "my", "any", "of", "with",
     "more", "such", "other", "daily", "automated", "automatic", "auto", "annoying",
     "stupid", "text", "sms", "appointment", "followup", "reminder", "mailing", "check",
     "los", "las", "estos", "estas", "esos", "esas", "este", "esta", "sus", "tus", "mis",
     "su", "tu", "mi", "todos", "todas", "todo", "el", "la", "de", "del", "con", "a", "al",
     "tantos", "mas", "tanto"}
)
_STOP_VERBS = frozenset(
    {"stop", "quit", "end", "cancel", "halt", "cancelar", "cancelen", "cancela", "cancele",
     "parar", "paren", "pare", "detener", "detengan", "detenga", "terminar", "terminen",
     "para"}
)
_SPANISH_VERBS = frozenset(
    {"cancelar", "cancelen", "cancela", "cancele", "parar", "paren", "pare", "detener",
     "detengan", "detenga", "terminar", "terminen", "para"}
)
# "stop texting me": contacting verbs make a stop-contacting-me construction by themselves.
_CONTACTING = frozenset(
    {"texting", "txting", "texing", "messaging", "msging", "contacting", "emailing", "calling",
     "bothering", "spamming", "writing", "texteando", "escribiendome", "textearme"}
)
# "stop sending …" needs to be about messages ("stop sending the pills" is not).
_SENDING = frozenset({"sending", "mandando", "enviando", "mandandome", "enviandome"})
_ME = frozenset({"me", "us", "nos"})
_FROM_THIS = frozenset({"de", "esto", "eso", "aqui", "todo"})
_RELATIVES = frozenset(
    {"dad", "mom", "mum", "mother", "father", "husband", "wife", "son", "daughter", "grandma",
     "grandpa", "grandmother", "grandfather", "aunt", "uncle", "brother", "sister", "partner"}
)
_THESE = frozenset({"these", "them", "those", "this", "it", "estos", "esos", "eso", "esto"})
# Harmless words after an opt-out phrase ("don't text me anymore please").
_AFTER_OK = frozenset(
    {"please", "pls", "plz", "now", "anymore", "already", "again", "ever", "immediately",
     "asap", "ya", "mas", "thanks", "thank", "you", "to", "on", "por", "favor", "gracias",
     "nunca", "forever", "altogether", "completely", "ok", "okay", "porfa", "plis", "porfis",
     "pliz"}
)
# "don't text me at night": a preference about timing, for staff, not an opt-out.
_TIMING = frozenset(
    {"before", "after", "during", "early", "late", "antes", "despues", "temprano", "until",
     "till", "hasta", "while", "mientras", "every", "cada"}
)
_WHEN = frozenset(
    {"night", "nights", "morning", "mornings", "evening", "evenings", "weekend", "weekends",
     "work", "noche", "noches", "manana", "mananas", "madrugada", "tarde", "tardes", "trabajo"}
)
_NEG_EN = frozenset({"dont", "not", "never", "didnt", "doesnt", "wont", "shouldnt"})
_NEG_ES = frozenset({"no", "nunca", "jamas"})
_NEG = _NEG_EN | _NEG_ES
_WANT = frozenset({"want", "need", "wish", "quiero", "necesito", "deseo", "queremos"})
_WANT_SKIP = frozenset(
    {"to", "get", "getting", "receive", "receiving", "have", "keep", "any", "more", "recibir",
     "tener", "seguir", "recibiendo", "mas", "be"}
)
_CONTACT_PASSIVE = frozenset({"texted", "contacted", "messaged", "emailed"})
_DONT_CONTACT = frozenset({"text", "txt", "message", "msg", "sms", "contact", "email"})
_NO_ME_VERBS = frozenset(
    {"manden", "envien", "escriban", "mande", "envie", "escriba", "mandes", "envies",
     "escribas", "contacten", "contactes", "texteen", "textees"}
)
_REMOVE = frozenset({"remove", "take", "delete", "erase", "unenroll", "unenrol",
                     "unregister", "borrar", "borren", "eliminar", "eliminen", "quitar",
                     "quiten", "sacar", "saquen"})  # fmt: skip
_REMOVE_ME_ES = frozenset(
    {"borrenme", "borrame", "borreme", "quitenme", "quitame", "quiteme", "saquenme", "sacame",
     "saqueme", "eliminenme", "eliminame", "elimineme", "bajenme", "borrarme", "quitarme",
     "sacarme", "eliminarme"}
)
_GIVE = frozenset({"dar", "darme", "darse", "darnos", "denme", "dame", "deme", "den", "doy",
                   "da", "de", "dan", "dieran", "darle"})  # fmt: skip
_QUIT_DOING = frozenset({"deja", "dejen", "dejar", "deje", "dejan", "dejes", "dejad"})
_WRITE_ME = frozenset(
    {"escribirme", "escribirnos", "contactarme", "textearme", "molestarme", "llamarme",
     "enviarme", "mandarme", "enviarnos", "mandarnos", "escribir", "enviar", "mandar",
     "contactar", "textear", "molestar", "mandarle", "enviarle", "escribirle", "textearle",
     "mandarles", "enviarles", "escribirles"}
)
_ENOUGH = frozenset({"basta", "enough", "done", "suficiente"})
_ANYWHERE = frozenset(
    {"unsubscribe", "unsuscribe", "unsubcribe", "unsubscibe", "stopall", "optout",
     "desuscribir", "desuscribirme", "desuscribanme", "desinscribirme"}
)
_SICK_LEAVE = frozenset({"trabajo", "laboral", "medica", "incapacidad", "escuela"})
_MEASURE = frozenset(
    {"azucar", "glucosa", "presion", "fiebre", "temperatura", "nivel", "mg", "sugar",
     "glucose", "pressure"}
)
# Words that carry nothing triage needs: what is left after them is "extra".
_POLITE = _FILLER | _DETS | _OBJECTS | _AFTER_OK | frozenset(
    {"me", "it", "them", "off", "from", "i", "im", "am", "want", "would", "like", "id",
     "quiero", "can", "could", "kindly", "puedes", "pueden", "puede", "solo", "do", "no",
     "dont", "not", "que", "y", "and", "muchas", "vale", "bueno", "is", "are", "please",
     "anymore", "any", "longer", "how", "where", "at"}
)
_ACK = re.compile(r"^\s*ack\s*[:#-]?\s*([a-z0-9]{4,8})\s*[.!]?\s*$", re.IGNORECASE)
_TOKEN = re.compile(r"[a-z]+|\d+(?:[.,]\d+)?|[^\sa-z\d]")
_HYPHEN = re.compile(r"(?<=[a-z])[-‐‑](?=[a-z])")


@dataclass(frozen=True, slots=True)
class KeywordMatch:
    kind: KeywordKind
    keyword: str  # the keyword or phrase as matched (folded)
    has_extra: bool  # the message says more than the keyword: triage the rest


def tokens(text: str) -> list[str]:
    """Folded tokens; hyphenated words are joined ("opt-out" -> "optout")."""
    return _TOKEN.findall(_HYPHEN.sub("", fold(text)))


def detect_keyword(text: str, *, opted_out: bool = False) -> KeywordMatch | None:
    """The carrier keyword class of a reply, if any.

    YES counts as opt-in only when the caller says the patient is opted out; otherwise it
    is an ordinary answer.
    """
    toks = tokens(text)
    words = [t for t in toks if t.isalnum()]
    if not words:
        return None
    whole = _whole(words, opted_out)
    if whole is not None:
        return whole
    found = _opt_out(toks)
    if found is not None:
        return found
    first = toks[0]
    follows = toks[1] if len(toks) > 1 else ""
    if first in HELP_WORDS and (follows in _CLAUSE_END or follows in {"me", "please", ""}):
        return KeywordMatch("help", first, _extra(words[1:]))
    return None


def _whole(words: list[str], opted_out: bool) -> KeywordMatch | None:
    """The whole message is one keyword, give or take "please" ("Stop.", "STOP ALL")."""
    core = [w for w in words if w not in _FILLER]
    if not core:
        return None
    joined = "".join(core)
    if joined in OPT_OUT_WORDS:
        return KeywordMatch("opt_out", joined, False)
    if core[0] in OPT_OUT_WORDS and all(w in OPT_OUT_WORDS or w == "all" for w in core[1:]):
        return KeywordMatch("opt_out", core[0], False)  # "stop stop stop", "cancel all"
    if joined in {"stopit", "stopthis"}:  # said to a text thread, "it" is the texts
        return KeywordMatch("opt_out", "stop", False)
    if joined in OPT_IN_WORDS:
        return KeywordMatch("opt_in", joined, False)
    if joined in HELP_WORDS:
        return KeywordMatch("help", joined, False)
    if opted_out and joined in _YES_WORDS:
        return KeywordMatch("opt_in", joined, False)
    return None


def _clauses(toks: list[str]) -> list[tuple[int, int]]:
    """[start, end) token ranges between punctuation."""
    spans, start = [], 0
    for i, tok in enumerate([*toks, "."]):
        if tok in _CLAUSE_END:
            if i > start:
                spans.append((start, i))
            start = i + 1
    return spans


def _opt_out(toks: list[str]) -> KeywordMatch | None:
    clauses = _clauses(toks)
    for n, (start, end) in enumerate(clauses):
        clause = toks[start:end]
        core = [w for w in clause if w not in _FILLER]
        if (len(core) == 1 and core[0] in _PLAIN) or _first_reading(toks, n, clauses, core):
            rest = toks[:start] + toks[end:]
            return KeywordMatch("opt_out", core[0], _extra(rest))
        for finder in _FINDERS:
            span = finder(clause)
            if span is None:
                continue
            a, b = span
            if _timing(clause, b):
                continue
            rest = toks[:start] + clause[:a] + clause[b:] + toks[end:]
            return KeywordMatch("opt_out", " ".join(clause[a:b]), _extra(rest))
    return None


def _first_reading(
    toks: list[str], n: int, clauses: list[tuple[int, int]], core: list[str]
) -> bool:
    """A lone "ALTO." opens an opt-out; "Alto. 350" answers a glucose question."""
    if n != 0 or len(core) != 1 or core[0] not in _READINGS:
        return False
    end = clauses[0][1]
    if end >= len(toks) or toks[end] not in _HARD_END:
        return False
    return not any(t.isdigit() or t in _MEASURE for t in toks[end:])


# -- constructions: each returns the [start, end) span of an opt-out inside one clause ---------

Span = tuple[int, int] | None


def _object_at(clause: Sequence[str], i: int) -> int | None:
    """Index after a messaging object starting at ``i`` (determiners allowed first)."""
    j = i
    while j < len(clause) and clause[j] in _DETS and clause[j] not in _OBJECTS:
        j += 1
    while j < len(clause) and clause[j] in _DETS:  # "text messages", "the reminder list"
        if j + 1 < len(clause) and clause[j + 1] in _OBJECTS:
            j += 1
        else:
            break
    return j + 1 if j < len(clause) and clause[j] in _OBJECTS else None


def _ends_ok(clause: Sequence[str], j: int) -> bool:
    """Nothing after ``j`` but harmless words ("anymore", "please"), or a messaging object."""
    rest = clause[j:]
    return all(w in _AFTER_OK or w in _ME for w in rest) or _object_at(clause, j) is not None


def _negated(clause: Sequence[str], i: int, neg: frozenset[str]) -> bool:
    return any(w in neg for w in clause[max(0, i - 3) : i])


def _timing(clause: Sequence[str], j: int) -> bool:
    """Whether "at night", "so early", "antes de las 8" follows: a timing wish, not silence."""
    if j >= len(clause):
        return False
    w, after = clause[j], clause[j + 1 : j + 3]
    if w in _TIMING:
        return True
    if w in {"so", "too", "tan", "muy"}:
        return after[:1] in (["early"], ["late"], ["temprano"], ["tarde"])
    return w in {"at", "in", "on", "en", "por", "de", "during"} and any(x in _WHEN for x in after)


def _stop_verb(clause: Sequence[str]) -> Span:
    """Matches "stop these messages", "quit texting me", "paren los mensajes"."""
    for i, w in enumerate(clause):
        if w not in _STOP_VERBS or (w == "para" and i > 0 and clause[i - 1] not in _FILLER):
            continue  # "para" (for/stops) only as a clause-opening imperative
        if _negated(clause, i, _NEG if w in _SPANISH_VERBS else _NEG_EN):
            continue
        j = _object_at(clause, i + 1)
        if j is not None:
            return i, j
        k = i + 1
        if k < len(clause) and clause[k] in _CONTACTING | _SENDING:
            to_me = k + 1 < len(clause) and clause[k + 1] in _ME
            m = k + 1 + to_me
            obj = _object_at(clause, m)
            if obj is not None:
                return i, obj
            aimed = to_me or clause[k].endswith("me")
            if clause[k] in _CONTACTING and aimed:
                return i, m  # "stop texting me so much"
            if clause[k] in _CONTACTING and clause[k + 1 : k + 2] in (["my"], ["his"], ["her"]) \
                    and clause[k + 2 : k + 3] and clause[k + 2] in _RELATIVES:
                return i, k + 3  # a caregiver: "stop messaging my dad please"
            if (clause[k] in _CONTACTING or aimed) and all(w in _AFTER_OK for w in clause[m:]):
                return i, m  # "stop sending me", "quit texting"; not "stop sending the pills"
            if clause[m:m + 1] and all(w in _THESE | _AFTER_OK for w in clause[m:]):
                return i, m + 1  # "stop sending these": in a text thread, these are texts
    return None


def _object_then_stop(clause: Sequence[str]) -> Span:
    """Matches "I want the texts to stop", "make these messages stop"."""
    for i, w in enumerate(clause):
        if w not in _OBJECTS:
            continue
        if clause[i + 1 : i + 3] in (["to", "stop"], ["to", "end"]):
            return i, i + 3
        if clause[i + 1 : i + 2] == ["stop"] and "make" in clause[:i]:
            return i, i + 2
    return None


def _no_more(clause: Sequence[str]) -> Span:
    """Matches "no more texts", "no más mensajes" (but "no more pain" is good news)."""
    for i in range(len(clause) - 1):
        if clause[i] == "no" and clause[i + 1] in {"more", "mas"}:
            j = _object_at(clause, i + 2)
            if j is not None:
                return i, j
    return None


def _do_not_want(clause: Sequence[str]) -> Span:
    """Matches "I don't want these reminders", "ya no quiero recibir mensajes"."""
    for i, w in enumerate(clause):
        if w not in _WANT or not _negated(clause, i, _NEG | {"longer"}):
            continue
        k = i + 1
        while k < len(clause) and clause[k] in _WANT_SKIP:
            k += 1
        if k < len(clause) and clause[k] in _CONTACT_PASSIVE:
            return i, k + 1
        j = _object_at(clause, k)
        if j is not None:
            return i, j
    return None


def _do_not_contact(clause: Sequence[str]) -> Span:
    """Matches "don't text me anymore", "do not send me any more reminders", "no me manden más"."""
    for i, w in enumerate(clause):
        nxt = clause[i + 1] if i + 1 < len(clause) else ""
        if w in {"dont", "never"} or (w == "do" and nxt == "not"):
            k = i + (2 if w == "do" else 1)
            verb = clause[k] if k < len(clause) else ""
            if verb in _DONT_CONTACT | {"send"} and k + 1 < len(clause) and clause[k + 1] in _ME:
                obj = _object_at(clause, k + 2)
                if obj is not None:
                    return i, obj
                if verb != "send" and _ends_ok(clause, k + 2):
                    return i, k + 2
        # "no le manden textos a mi mamá": a relative asks for the patient.
        if w == "no" and nxt in {"me", "le", "les"} and i + 2 < len(clause) \
                and clause[i + 2] in _NO_ME_VERBS:
            k = i + 3
            obj = _object_at(clause, k)
            if obj is not None:
                return i, obj
            if k < len(clause) and clause[k] == "mas":
                return i, k + 1  # "no me manden más"
            if all(x in _AFTER_OK for x in clause[k:]):
                return i, k  # "ya no me escriban"; "no me escriban en la noche" is timing
    return None


def _remove_me(clause: Sequence[str]) -> Span:
    """Matches "remove me from your list", "take me off", "bórrenme de la lista"."""
    for i, w in enumerate(clause):
        if _negated(clause, i, _NEG):
            continue
        if w in _REMOVE and i + 1 < len(clause) and clause[i + 1] in _ME | {"her", "him", "them"}:
            k = i + 2
            if w == "take" and clause[k : k + 1] not in (["off"], ["out"]):
                continue  # "can you take me to the clinic"
            if k < len(clause) and clause[k] in {"off", "from", "out", "de"}:
                k += 1 + (k + 1 < len(clause) and clause[k + 1] == "of")
            obj = _object_at(clause, k)
            if obj is not None:
                return i, obj
            if all(x in _AFTER_OK for x in clause[k:]):
                return i, k
        elif w in _REMOVE_ME_ES and all(x in _AFTER_OK | _FROM_THIS for x in clause[i + 1 :]):
            return i, i + 1  # "bórrenme ya de esto": the verb itself says "remove me"
        elif w in _REMOVE_ME_ES or (w == "me" and i + 1 < len(clause)
                                     and clause[i + 1] in _REMOVE - {"take"}):  # fmt: skip
            k = i + (1 if w in _REMOVE_ME_ES else 2)
            k += k < len(clause) and clause[k] == "de"
            obj = _object_at(clause, k)
            if obj is not None:
                return i, obj
            if all(x in _AFTER_OK for x in clause[k:]):
                return i, k
        elif w in _REMOVE:
            obj = _object_at(clause, i + 1)
            if obj is not None and clause[i + 1] in {"my", "mi", "this", "este"}:
                return i, obj  # "remove my number", "borren mi número"
    return None


def _de_baja(clause: Sequence[str]) -> Span:
    """Matches "darme de baja", "me doy de baja", "baja de la lista"."""
    for i in range(len(clause) - 1):
        if _negated(clause, i, _NEG):
            continue
        # "darme de baja del trabajo" is sick leave, not our list.
        if (clause[i] in _GIVE and clause[i + 1 : i + 3] == ["de", "baja"]
                and not _SICK_LEAVE & set(clause[i + 3 : i + 6])):  # fmt: skip
            return i, i + 3
        if clause[i] == "baja" and clause[i + 1] == "de":
            j = _object_at(clause, i + 2)
            if j is not None:
                return i, j
    return None


def _quit_doing(clause: Sequence[str]) -> Span:
    """Matches "dejen de escribirme", "deja de enviarme mensajes", not "no dejen de…"."""
    for i in range(len(clause) - 2):
        if clause[i] not in _QUIT_DOING or clause[i + 1] != "de" or clause[i + 2] not in _WRITE_ME:
            continue
        if _negated(clause, i, _NEG):
            continue
        k = i + 3 + (i + 3 < len(clause) and clause[i + 3] in _ME)
        obj = _object_at(clause, k)
        if obj is not None:
            return i, obj
        aimed = clause[i + 2].endswith(("me", "nos")) or clause[i + 2] in {"escribir", "textear"}
        if aimed and all(w in _AFTER_OK for w in clause[k:]):
            return i, k
    return None


def _enough(clause: Sequence[str]) -> Span:
    """Matches "basta de mensajes", "enough with the texts", "I'm done with these messages"."""
    for i, w in enumerate(clause):
        if w in _ENOUGH:
            j = _object_at(clause, i + 1)
            if j is not None and (w != "done" or clause[i + 1] == "with"):
                return i, j
    return None


def _anywhere(clause: Sequence[str]) -> Span:
    """Matches "unsubscribe", "opt me out", "revoke my consent": unambiguous unless negated."""
    for i, w in enumerate(clause):
        if _negated(clause, i, _NEG):
            continue
        if w in _ANYWHERE:
            return i, i + 1 + (i + 1 < len(clause) and clause[i + 1] in _ME)
        if w == "opt" and clause[i + 1 : i + 2] == ["out"]:
            return i, i + 2
        if w == "opt" and clause[i + 1 : i + 3] in (["me", "out"], ["us", "out"]):
            return i, i + 3
        if w in {"revoke", "withdraw"} and i + 1 < len(clause):
            k = i + 1 + (clause[i + 1] in {"my", "our"})
            if k < len(clause) and clause[k] in {"consent", "permission"}:
                return i, k + 1
    return None


_FINDERS: tuple[Callable[[Sequence[str]], Span], ...] = (
    _anywhere, _stop_verb, _object_then_stop, _no_more, _do_not_want, _do_not_contact,
    _remove_me, _de_baja, _quit_doing, _enough,
)


def _extra(words: Sequence[str]) -> bool:
    return any(w.isalnum() and w not in _POLITE for w in words)


def detect_ack(text: str) -> str | None:
    """The code in a staff acknowledgement "ACK <code>" (4-8 letters/digits), upper-cased."""
    m = _ACK.match(text)
    return m.group(1).upper() if m else None
