"""Compound numbers written in words, English and Spanish: "two hundred fifty", "two
fifty", "one eighty", "a hundred and two", "ciento ochenta", "doscientos cincuenta",
"treinta y nueve".

``collapse`` turns each such run of folded tokens into one digit token ("250"), so the
glucose and temperature parsers read them like digits. Single small number words stay
words ("eight out of ten", "uno", "una" - also an article) for the parsers that already
know them. Pure: no imports from the rest of the engine.
"""

from __future__ import annotations

_UNITS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
    "uno": 1, "un": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7,
    "ocho": 8, "nueve": 9, "diez": 10, "once": 11, "doce": 12, "trece": 13, "catorce": 14,
    "quince": 15, "dieciseis": 16, "diecisiete": 17, "dieciocho": 18, "diecinueve": 19,
    "veintiuno": 21, "veintidos": 22, "veintitres": 23, "veinticuatro": 24,
    "veinticinco": 25, "veintiseis": 26, "veintisiete": 27, "veintiocho": 28,
    "veintinueve": 29,
}
_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90, "veinte": 20, "treinta": 30, "cuarenta": 40,
    "cincuenta": 50, "sesenta": 60, "setenta": 70, "ochenta": 80, "noventa": 90,
}
_HUNDREDS = {
    "cien": 100, "ciento": 100, "doscientos": 200, "doscientas": 200, "trescientos": 300,
    "trescientas": 300, "cuatrocientos": 400, "quinientos": 500, "seiscientos": 600,
}
_HUNDRED = frozenset({"hundred"})
_AND = frozenset({"and", "y"})
# "once" is also English: only a number word after another number word.
_AMBIGUOUS = frozenset({"once", "un", "uno", "one"})


def _value(tokens: list[str]) -> int | None:
    """The value of a whole run of number words, or None if it is not one number."""
    total, current, i = 0, 0, 0
    words = [t for t in tokens if t not in _AND]
    if not words:
        return None
    # "two fifty", "one eighty", "three twenty five": hundreds said without "hundred".
    if (len(words) in (2, 3) and words[0] in _UNITS and _UNITS[words[0]] < 10
            and words[1] in _TENS and (len(words) == 2 or words[2] in _UNITS)):  # fmt: skip
        rest = _TENS[words[1]] + (_UNITS[words[2]] if len(words) == 3 else 0)
        return _UNITS[words[0]] * 100 + rest
    # "three ten", "two fifteen": hundreds and a teen.
    if (len(words) == 2 and words[0] in _UNITS and _UNITS[words[0]] < 10
            and words[1] in _UNITS and 10 <= _UNITS[words[1]] < 20):  # fmt: skip
        return _UNITS[words[0]] * 100 + _UNITS[words[1]]
    while i < len(words):
        w = words[i]
        if w in _HUNDREDS:
            current += _HUNDREDS[w]
        elif w in _HUNDRED:
            current = max(current, 1) * 100
        elif w in _TENS:
            current += _TENS[w]
        elif w in _UNITS:
            current += _UNITS[w]
        elif w == "a" and i + 1 < len(words) and words[i + 1] in _HUNDRED:
            current += 1
        else:
            return None
        i += 1
    return total + current


def _is_number_word(tok: str) -> bool:
    return tok in _UNITS or tok in _TENS or tok in _HUNDREDS or tok in _HUNDRED


def collapse(tokens: list[str]) -> list[str]:
    """Tokens with every compound number-word run replaced by its digits."""
    out: list[str] = []
    i, n = 0, len(tokens)
    while i < n:
        # "4 cientos", "3 hundred": a digit times a hundred word.
        if (tokens[i].isdigit() and len(tokens[i]) == 1 and i + 1 < n
                and tokens[i + 1] in {"hundred", "cientos"}):  # fmt: skip
            out.append(str(int(tokens[i]) * 100))
            i += 2
            continue
        start = i
        if tokens[i] == "a" and i + 1 < n and tokens[i + 1] in _HUNDRED:
            i += 1
        j = i
        while j < n and (_is_number_word(tokens[j]) or (
                tokens[j] in _AND and j + 1 < n and _is_number_word(tokens[j + 1])
                and j > i)):  # fmt: skip
            j += 1
        run = tokens[start:j]
        words = [t for t in run if t not in _AND and t != "a"]
        big = any(t in _TENS or t in _HUNDREDS or t in _HUNDRED for t in words) or (
            len(words) == 2 and words[1] in _UNITS and _UNITS[words[1]] >= 10
            and words[0] in _UNITS and _UNITS[words[0]] < 10)
        value = _value(run) if big and (len(words) >= 2 or words[0] not in _AMBIGUOUS) else None
        if value is not None and (len(words) >= 2 or words[0] not in _TENS or value >= 20):
            out.append(str(value))
            i = j
        else:
            out.append(tokens[start])
            i = start + 1
    return out
