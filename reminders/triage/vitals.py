"""Measurements in free text: blood glucose, body temperature, hours since the procedure.

Glucose units are read when written ("mg/dl", "mmol"); otherwise a reading under 35 is
taken as mmol/L (no one texts a mg/dL value that low), and both units are returned with
mg/dL = mmol/L x 18.0. A meter's "HI"/"LO" (above/below its range) is a reading too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from reminders.triage import numbers
from reminders.triage.text import Doc, make_doc, squash

MG_PER_MMOL = 18.0
MMOL_INFER_BELOW = 35.0

GLUCOSE_WORDS = frozenset(
    {"sugar", "sugars", "glucose", "bs", "bg", "bgl", "reading", "readings", "meter",
     "glucometer", "level", "levels", "azucar", "glucosa", "glucemia", "nivel", "medidor",
     "glucometro", "cgm", "libre", "dexcom", "fasting", "ayunas"}
)
TEMP_WORDS = frozenset(
    {"temp", "temperature", "temperatura", "fever", "fiebre", "thermometer", "termometro",
     "temps", "febrile", "running", "calentura"}  # "been running 101 since last night"
)
_HILO_CONTEXT = GLUCOSE_WORDS | {
    "says", "reads", "read", "shows", "showing", "display", "screen", "dice", "marca",
    "pantalla", "just", "it", "its",
}
_HILO_ALONE = _HILO_CONTEXT | {"my", "mi", "the", "el", "is", "es", "a"}
_DOSE_WORDS = frozenset({"took", "take", "taking", "tome", "tomo", "dose", "dosis", "tomando"})
_HOUR_UNITS = frozenset({"h", "hr", "hrs", "hour", "hours", "hora", "horas"})
_DAY_UNITS = frozenset({"day", "days", "dia", "dias"})
_ELAPSED_CONTEXT = re.compile(
    r"\b(?:injection|shot|procedure|jab|inyeccion|procedimiento|pinchazo|numb\w*|entumec\w*|"
    r"adormec\w*|dormid[oa]|since|desde|despues|tingl\w*|weak\w*|debil\w*|been|han pasado|"
    r"lleva|llevo|later)\b"
)
_OVERNIGHT = re.compile(
    r"\b(?:since yesterday|desde ayer|overnight|all night|toda la noche|next day|"
    r"woke up|al dia siguiente|me desperte|this morning|esta manana)\b"
)


@dataclass(frozen=True, slots=True)
class Glucose:
    mg_dl: float | None  # None when the meter shows HI/LO instead of a number
    mmol_l: float | None
    unit: Literal["mg/dL", "mmol/L"] | None  # as written or inferred; None for HI/LO
    flag: Literal["HI", "LO"] | None = None
    unit_inferred: bool = False


@dataclass(frozen=True, slots=True)
class Temperature:
    celsius: float


def sentences(tokens: tuple[str, ...]) -> list[int]:
    """Sentence number of each token (commas do not end a sentence)."""
    out, k = [], 0
    for t in tokens:
        out.append(k)
        if t in {".", "!", "?", ";"}:
            k += 1
    return out


# --- glucose -----------------------------------------------------------------------------


def parse_glucose(text: str, *, bare_numbers: bool = True) -> Glucose | None:
    """A blood glucose reading in mg/dL or mmol/L, or the meter's HI/LO."""
    return glucose_in(make_doc(text), bare_numbers=bare_numbers)


def glucose_in(doc: Doc, *, bare_numbers: bool) -> Glucose | None:
    flag = _hi_lo(doc, bare_numbers)
    if flag:
        return Glucose(None, None, None, flag)
    readings = {}
    sentence = sentences(doc.tokens)
    for num in numbers.find_numbers(doc.tokens):
        reading = _reading(doc, num, bare_numbers, sentence)
        if reading is not None:
            readings[num.index] = (num, reading)
    if not readings:
        return None
    best = numbers.choose(
        doc.tokens, doc.segments, [n for n, _ in readings.values()],
        tie_break=lambda n: _risk(readings[n.index][1]),
    )
    return None if best is None else readings[best.index][1]


def _risk(g: Glucose) -> float:
    # Among equally current readings, report the one furthest out of range.
    mg = g.mg_dl or 100.0
    return max(mg / 300.0, 70.0 / mg)


def _reading(
    doc: Doc, num: numbers.Number, bare_numbers: bool, sentence: list[int]
) -> Glucose | None:
    toks, segs = doc.tokens, doc.segments
    if num.is_word or num.out_of_ten:
        return None
    dose = set(toks[num.end + 1 : num.end + 3]) & numbers.DRUGS or numbers.near(
        toks, segs, num.index, _DOSE_WORDS, 3, 0
    )
    if num.unit == "mg" and dose:
        return None  # "took 400mg ibuprofen" is a dose
    before = set(toks[max(0, num.index - 2) : num.index])
    if {"a1c", "hba1c"} & before or numbers.near(toks, segs, num.index, TEMP_WORDS, 3, 1):
        return None
    pain_words = numbers.PAIN_WORDS - {"level", "nivel", "reading"}
    if numbers.near(toks, segs, num.index, pain_words, 2, 0):
        return None  # "sugar 90, pain 3": the 3 belongs to the pain
    nxt = toks[num.end + 1 : num.end + 3]
    if num.unit is None and len(nxt) == 2 and nxt[0] == "/" and nxt[1][:1].isdigit():
        return None  # blood pressure "140/90"
    context = numbers.near(toks, sentence, num.index, GLUCOSE_WORDS, 6, 2)
    v = num.value
    if num.unit == "mg/dl" or (num.unit == "mg" and (bare_numbers or context)):
        return _from_mg(v, inferred=False) if 10 <= v <= 1000 else None
    if num.unit == "mmol":
        return _from_mmol(v, inferred=False) if 1 <= v <= 60 else None
    if num.unit is not None or not (bare_numbers or context):
        return None
    if 1 <= v < MMOL_INFER_BELOW:
        return _from_mmol(v, inferred=True)
    if MMOL_INFER_BELOW <= v <= 1000:
        return _from_mg(v, inferred=True)
    return None


def _from_mg(v: float, *, inferred: bool) -> Glucose:
    return Glucose(v, round(v / MG_PER_MMOL, 1), "mg/dL", None, inferred)


def _from_mmol(v: float, *, inferred: bool) -> Glucose:
    return Glucose(v * MG_PER_MMOL, v, "mmol/L", None, inferred)


def _hi_lo(doc: Doc, bare_numbers: bool) -> Literal["HI", "LO"] | None:
    """The meter's out-of-range display. "hi" is also a greeting and "lo" a Spanish
    pronoun, so it needs the whole reply to be the reading, or meter words right before."""
    words = squash(doc.raw).split()
    flags: tuple[tuple[Literal["HI", "LO"], str], ...] = (("HI", "hi"), ("LO", "lo"))
    for flag, token in flags:
        if token not in words:
            continue
        if bare_numbers and all(w in _HILO_ALONE for w in words if w != token):
            return flag
        for i, t in enumerate(doc.tokens):
            if t != token or not numbers.near(doc.tokens, doc.segments, i, _HILO_CONTEXT, 2, 0):
                continue
            if re.search(rf"\b{flag}\b", doc.raw) or numbers.clause_end(doc.tokens, i + 1):
                return flag
    return None


# --- temperature and elapsed time ----------------------------------------------------------


def parse_temperature(text: str) -> Temperature | None:
    """A body temperature ("temp 38.6", "101F", "fiebre de 39"), converted to Celsius."""
    return temperature_in(make_doc(text))


def temperature_in(doc: Doc, *, asked_about_fever: bool = False) -> Temperature | None:
    """``asked_about_fever``: the question was about fever, so a bare decimal in the body
    temperature range ("had 38.6 last night") is a temperature."""
    toks, segs = doc.tokens, doc.segments
    found: dict[int, tuple[numbers.Number, float]] = {}
    for num in numbers.find_numbers(toks):
        v = num.value
        # A decimal in the fever range is a temperature whatever the words around it
        # ("¿es normal tener 38.3?"); a bare integer only when the question was fever.
        in_range = 37.5 <= v <= 42.5 or 99.5 <= v <= 107
        bare_reading = num.unit is None and in_range and (
            not v.is_integer() or asked_about_fever)
        if (num.unit != "temp" and not bare_reading
                and not numbers.near(toks, segs, num.index, TEMP_WORDS, 4, 1)):  # fmt: skip
            continue
        unit_tok = toks[num.index + 1] if num.index + 1 < len(toks) else ""
        fahrenheit = unit_tok == "f" or 93 <= v <= 110
        celsius = (v - 32) * 5 / 9 if fahrenheit else v
        if 34 <= celsius <= 43:
            found[num.index] = (num, round(celsius, 1))
    if not found:
        return None
    best = numbers.choose(
        toks, segs, [n for n, _ in found.values()], tie_break=lambda n: found[n.index][1]
    )
    return None if best is None else Temperature(found[best.index][1])


def parse_elapsed_hours(text: str) -> float | None:
    """Hours since the procedure when the reply says so ("been 10 hours", "since yesterday")."""
    return elapsed_hours_in(make_doc(text))


def elapsed_hours_in(doc: Doc) -> float | None:
    if not _ELAPSED_CONTEXT.search(doc.joined):
        return None
    hours = [
        num.value * (24 if num.unit in _DAY_UNITS else 1)
        for num in numbers.find_numbers(doc.tokens)
        if (num.unit in _HOUR_UNITS or num.unit in _DAY_UNITS)
        and not numbers.near(doc.tokens, doc.segments, num.index, {"ago", "every", "cada"}, 0, 2)
    ]
    if hours:
        return max(hours)
    return 24.0 if _OVERNIGHT.search(doc.joined) else None
