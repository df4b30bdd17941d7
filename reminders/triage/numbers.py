"""Numbers in free text: where they are, what unit follows, and which one the patient meant.

Shared by the pain, glucose, temperature and elapsed-time parsers. Choosing among several
numbers follows how people text: a correction wins ("9 haha no more like a 4"), a number
tied to now beats one tied to the past ("used to be 8 before the injection, today 3"),
and otherwise the caller's tie-break decides (pain takes the higher: when unsure, the
higher level).
"""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass

from reminders.triage import cues
from reminders.triage.text import BOUNDARY_TOKENS

NUMBER_WORDS: dict[str, int] = {
    "zero": 0, "cero": 0, "one": 1, "uno": 1, "una": 1, "two": 2, "dos": 2, "three": 3,
    "tres": 3, "four": 4, "cuatro": 4, "five": 5, "cinco": 5, "six": 6, "seis": 6,
    "seven": 7, "siete": 7, "eight": 8, "ocho": 8, "nine": 9, "nueve": 9, "ten": 10,
    "diez": 10,
}
# Units that make a number something other than a score or a reading.
OTHER_UNITS = frozenset(
    {
        "h", "hr", "hrs", "hour", "hours", "hora", "horas", "min", "mins", "minute",
        "minutes", "minuto", "minutos", "day", "days", "dia", "dias", "week", "weeks",
        "semana", "semanas", "month", "months", "mes", "meses", "year", "years", "ano",
        "anos", "yo", "am", "pm", "ml", "mcg", "g", "kg", "lb", "lbs", "pounds", "kilos",
        "units", "unit", "u", "iu", "unidades", "%", "x", "times", "veces", "pill", "pills",
        "tablet", "tablets", "tabs", "pastilla", "pastillas", "st", "nd", "rd", "th",
        "k", "steps", "pasos", "miles", "mile", "km", "blocks", "cuadras", "floors", "ft",
        "feet", "metros", "m", ":", "o", "oclock", "$", "dollars", "euros", "night", "nights",
        "noche", "noches", "people", "kids", "nurses", "doctors", "stairs", "flights",
    }
)
PAIN_WORDS = frozenset(
    {"pain", "pains", "dolor", "hurts", "hurt", "duele", "score", "level", "nivel", "ache",
     "dolerme", "doler", "duela",
     "sore", "rate", "rating", "scale", "escala", "painscore"}
)
TEMP_UNITS = frozenset({"°", "c", "f", "degrees", "degree", "grados", "celsius", "fahrenheit"})
DRUGS = frozenset(
    {
        "ibuprofen", "advil", "motrin", "tylenol", "paracetamol", "acetaminophen",
        "naproxen", "aleve", "aspirin", "aspirina", "metformin", "metformina", "insulin",
        "insulina", "prednisone", "prednisona", "tramadol", "codeine", "codeina",
        "gabapentin", "celecoxib", "diclofenac", "ibuprofeno", "naproxeno", "of", "de",
    }
)


@dataclass(frozen=True, slots=True)
class Number:
    value: float
    index: int  # token index of the number
    end: int  # last token index it consumed (denominator, unit…)
    unit: str | None
    is_word: bool
    out_of_ten: bool


def to_float(token: str) -> float | None:
    if token in NUMBER_WORDS:
        return float(NUMBER_WORDS[token])
    if token[:1].isdigit():
        try:
            return float(token.replace(",", "."))
        except ValueError:
            return None
    return None


def _unit_after(tokens: Sequence[str], j: int) -> tuple[str | None, int]:
    """The unit written after a number ("mg / dl", "mmol", "°", "hours") and its last index."""
    n = len(tokens)
    if j >= n:
        return None, j - 1
    t = tokens[j]
    nxt = tokens[j + 1] if j + 1 < n else ""
    if t in {"mg", "mgs"}:
        if nxt == "/" and j + 2 < n and tokens[j + 2] in {"dl", "dL"}:
            return "mg/dl", j + 2
        if nxt in {"dl", "per"}:
            return "mg/dl", j + (3 if nxt == "per" else 1)
        return "mg", j
    if t in {"mgdl", "mgdL"}:
        return "mg/dl", j
    if t in {"mmol", "mmols", "mmoll", "mmo"}:
        end = j + 2 if nxt == "/" and j + 2 < n and tokens[j + 2] == "l" else j
        return "mmol", end
    if t in TEMP_UNITS:
        return "temp", j
    if t in OTHER_UNITS:
        return t, j
    return None, j - 1


def find_numbers(tokens: Sequence[str]) -> list[Number]:
    out: list[Number] = []
    n = len(tokens)
    i = 0
    while i < n:
        value = to_float(tokens[i])
        if value is None:
            i += 1
            continue
        is_word = tokens[i] in NUMBER_WORDS
        end = i
        out_of_ten = False
        # "7/10", "7 out of 10", "6 de 10", "8 sobre 10", "10+/10"
        j = i + 1
        if j < n and tokens[j] == "+":
            j += 1
        for denom in (("/", "10"), ("out", "of", "10"), ("outta", "10"), ("of", "10"),
                      ("de", "10"), ("sobre", "10")):
            got = tuple("10" if t in {"ten", "diez"} else t for t in tokens[j : j + len(denom)])
            if got == denom:
                out_of_ten, end = True, j + len(denom) - 1
                break
        unit, uend = (None, end) if out_of_ten else _unit_after(tokens, i + 1)
        out.append(Number(value, i, max(end, uend), unit, is_word, out_of_ten))
        i = max(end, uend) + 1
    return out


def tag(tokens: Sequence[str], segments: Sequence[int], num: Number) -> str:
    """'current', 'past' or '' from the nearest time word in the same clause."""
    best: tuple[int, str] | None = None
    seg = segments[num.index]
    for step in range(1, 7):
        for k in (num.index - step, num.end + step):
            if 0 <= k < len(tokens) and segments[k] == seg and (step <= 3 or k < num.index):
                t = tokens[k]
                kind = "past" if t in cues.PAST else "current" if t in cues.CURRENT else ""
                if kind and best is None:
                    best = (step, kind)
        if best:
            return best[1]
    return ""


def superseded(tokens: Sequence[str], earlier: Number, later: Number) -> bool:
    """A correction word between two numbers means the first one was withdrawn."""
    between = tokens[earlier.end + 1 : later.index]
    return any(t in cues.CORRECTIONS for t in between) or _transition(tokens, earlier, later)


def _transition(tokens: Sequence[str], a: Number, b: Number) -> bool:
    """ "went from 8 to 3", "de 8 a 3", "8 -> 3": the later value is the current one."""
    between = [t for t in tokens[a.end + 1 : b.index] if t not in {"-", ">", "→"}]
    if between not in ([], ["to"], ["a"]) or (between == [] and b.index - a.end > 3):
        return False
    before = tokens[max(0, a.index - 3) : a.index]
    movers = {"from", "de", "went", "gone", "dropped", "down", "up", "bajo", "subio", "paso"}
    arrow = "→" in tokens[a.end + 1 : b.index]
    return bool(movers.intersection(before)) or b.value < a.value or arrow


def choose(
    tokens: Sequence[str],
    segments: Sequence[int],
    nums: list[Number],
    tie_break: Callable[[Number], float],
) -> Number | None:
    """Pick the reading the patient meant (see the module docstring for the order)."""
    alive = [
        n for k, n in enumerate(nums) if not any(superseded(tokens, n, m) for m in nums[k + 1 :])
    ]
    if not alive:
        return None
    tags = {n.index: tag(tokens, segments, n) for n in alive}
    for wanted in ("current", "", "past"):
        group = [n for n in alive if tags[n.index] == wanted]
        if group:
            return max(group, key=tie_break)
    return None


def near(tokens: Sequence[str], segments: Sequence[int], index: int, words: Container[str],
         before: int = 4, after: int = 2) -> bool:
    """Is one of ``words`` within reach of ``index`` in the same clause?"""
    seg = segments[index]
    lo, hi = max(0, index - before), min(len(tokens), index + after + 1)
    return any(segments[k] == seg and tokens[k] in words for k in range(lo, hi) if k != index)


def clause_end(tokens: Sequence[str], k: int) -> bool:
    return k >= len(tokens) or tokens[k] in BOUNDARY_TOKENS
