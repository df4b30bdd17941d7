"""SMS segment counting (GSM-7 vs UCS-2) and look-alike normalisation.

Pure functions, no I/O. The rules follow Twilio's message-segment calculator: a message
is GSM-7 only if every character is in the GSM 03.38 basic or extension table, otherwise
the whole message is sent as UCS-2. Multi-part messages lose room to the 6-octet UDH, and
a character is never split across two parts (an ESC pair in GSM-7, a surrogate pair in
UCS-2), so parts are filled by walking the characters rather than by dividing lengths.
National-language shift tables are ignored, as Twilio does for US/CA traffic.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Encoding = Literal["GSM-7", "UCS-2"]

# GSM 03.38 basic character set, in code order 0x00-0x7F, one row per 16 codes.
# 0x1B is the escape to the extension table, not a character, so it is left out.
_GSM_BASIC_ROWS = (
    "@£$¥èéùìòÇ\nØø\rÅå",
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ",  # 0x10-0x1F without ESC (0x1B)
    " !\"#¤%&'()*+,-./",
    "0123456789:;<=>?",
    "¡ABCDEFGHIJKLMNO",
    "PQRSTUVWXYZÄÖÑÜ§",
    "¿abcdefghijklmno",
    "pqrstuvwxyzäöñüà",
)
GSM_BASIC = frozenset("".join(_GSM_BASIC_ROWS))
# Extension table: each costs two septets (ESC + character).
GSM_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM_SINGLE, GSM_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67

# Characters that look like GSM-7 ones but would silently switch a whole message to
# UCS-2 (doubling its cost), mostly introduced by word processors and copy-paste.
_LOOKALIKES = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-",
    "\u2015": "-", "\u2212": "-",
    "\u00a0": " ", "\u2002": " ", "\u2003": " ", "\u2004": " ", "\u2005": " ",
    "\u2006": " ", "\u2007": " ", "\u2008": " ", "\u2009": " ", "\u200a": " ",
    "\u202f": " ", "\u205f": " ", "\u3000": " ",
    "\u2026": "...",
    # Invisible characters: removed outright.
    "\u200b": None, "\u200c": None, "\u200d": None, "\u2060": None, "\ufeff": None,
    "\u00ad": None,
}  # fmt: skip
_TRANSLATION = str.maketrans(_LOOKALIKES)
_CRLF = re.compile(r"\r\n?")


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    encoding: Encoding
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int
    length: int  # characters (code points)


def normalize(text: str) -> str:
    """Replace look-alike punctuation and spaces with GSM-7 ones; drop invisible chars.

    Line endings become ``\\n``: a CR costs a septet and adds nothing on a phone.
    Idempotent, and it never changes letters, so accented Spanish stays as written.
    """
    return _CRLF.sub("\n", text.translate(_TRANSLATION))


_GSM_ALL = GSM_BASIC | GSM_EXTENSION


def is_gsm7(text: str) -> bool:
    # One set operation instead of a Python-level loop: this runs on every render.
    return set(text) <= _GSM_ALL


def _parts(costs: list[int], single: int, per_part: int) -> int:
    total = sum(costs)
    if total == 0:
        return 0
    if total <= single:
        return 1
    parts, used = 1, 0
    for cost in costs:
        # A character that does not fit whole starts the next part.
        if used + cost > per_part:
            parts += 1
            used = 0
        used += cost
    return parts


def count(text: str) -> SegmentInfo:
    """Encoding, units and segments Twilio would bill for ``text`` (as given).

    An empty body is not a valid SMS at all, so it counts as 0 segments rather than 1.
    Run :func:`normalize` first to match what is actually sent.
    """
    if is_gsm7(text):
        costs = [2 if ch in GSM_EXTENSION else 1 for ch in text]
        segments = _parts(costs, GSM_SINGLE, GSM_PART)
        return SegmentInfo("GSM-7", sum(costs), segments, len(text))
    # Outside the Basic Multilingual Plane a character is a surrogate pair: 2 code units.
    costs = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    segments = _parts(costs, UCS2_SINGLE, UCS2_PART)
    return SegmentInfo("UCS-2", sum(costs), segments, len(text))
