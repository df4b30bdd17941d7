"""SMS segment counting: the boundary vectors from Twilio's rules, plus properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reminders.segments import GSM_BASIC, GSM_EXTENSION, count, is_gsm7, normalize


@pytest.mark.parametrize(
    ("length", "segments"),
    [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)],
)
def test_gsm7_boundaries(length: int, segments: int) -> None:
    info = count("a" * length)
    assert info.encoding == "GSM-7"
    assert (info.units, info.segments, info.length) == (length, segments, length)


@pytest.mark.parametrize(
    ("length", "segments"),
    [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)],
)
def test_ucs2_boundaries(length: int, segments: int) -> None:
    info = count("á" * length)
    assert info.encoding == "UCS-2"
    assert (info.units, info.segments) == (length, segments)


def test_empty_text_is_zero_segments() -> None:
    info = count("")
    assert (info.encoding, info.units, info.segments, info.length) == ("GSM-7", 0, 0, 0)


def test_extension_characters_cost_two_septets() -> None:
    info = count("{}[]~|^\\€\f")
    assert info.encoding == "GSM-7"
    assert info.units == 20
    assert info.length == 10


def test_80_euro_signs_fit_one_segment_and_81_do_not() -> None:
    assert count("€" * 80).segments == 1
    assert count("€" * 81).segments == 2


def test_escape_pair_is_never_split_across_parts() -> None:
    # 152 + 2 + 152 = 306 septets: naive division says 2 parts, but the euro sign cannot
    # straddle parts, so part 1 holds 152, part 2 holds the euro and 151, part 3 one.
    text = "a" * 152 + "€" + "a" * 152
    info = count(text)
    assert info.units == 306
    assert info.segments == 3
    # Moving the euro sign off the boundary packs into 2 parts again.
    assert count("€" + "a" * 304).segments == 2


def test_surrogate_pair_is_never_split_across_parts() -> None:
    # 66 + 2 + 66 = 134 code units: naive division says 2 parts, but the emoji cannot
    # straddle the 67-unit boundary.
    text = "á" * 66 + "\U0001f600" + "x" * 66
    info = count(text)
    assert (info.encoding, info.units, info.length) == ("UCS-2", 134, 133)
    assert info.segments == 3
    assert count("\U0001f600" + "x" * 132).segments == 2


def test_one_non_gsm_character_switches_the_whole_message() -> None:
    text = "a" * 100
    assert count(text).segments == 1
    assert count(text + "ó").encoding == "UCS-2"
    assert count(text + "ó").segments == 2


def test_spanish_letters_in_the_basic_table_stay_gsm7() -> None:
    assert is_gsm7("¿Qué tal? ¡Mañana! ü Ñ é")
    assert not is_gsm7("sí")  # í is not in GSM 03.38
    assert not is_gsm7("ç")  # only the capital Ç is


def test_basic_table_has_127_characters_besides_escape() -> None:
    assert len(GSM_BASIC) == 127
    assert "\x1b" not in GSM_BASIC
    assert not GSM_BASIC & GSM_EXTENSION


def test_normalize_makes_curly_quoted_text_gsm7() -> None:
    text = "\u201cDon\u2019t wait\u201d \u2013 call\u00a0us\u2026 now\u200b \u2014 ok"
    assert count(text).encoding == "UCS-2"
    clean = normalize(text)
    assert clean == '"Don\'t wait" - call us... now - ok'
    assert count(clean).encoding == "GSM-7"


def test_normalize_keeps_accents_and_unifies_line_endings() -> None:
    assert normalize("Responda SÍ\r\no NO\r") == "Responda SÍ\no NO\n"


# GSM-7 characters, UCS-2 letters, look-alikes and an emoji (a surrogate pair).
_EXTRA = ["á", "í", "ó", "ú", "\u2019", "\u201c", "\u2014", "\u2026", "\u00a0", "\U0001f600"]
_ALPHABET = st.sampled_from([*sorted(GSM_BASIC | GSM_EXTENSION), *_EXTRA])


@given(st.text(alphabet=_ALPHABET, max_size=400), _ALPHABET)
def test_appending_a_character_never_reduces_segments(text: str, char: str) -> None:
    assert count(text + char).segments >= count(text).segments


@given(st.text(max_size=300))
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once


@given(st.text(max_size=300))
def test_normalize_keeps_gsm7_text_gsm7(text: str) -> None:
    # Normalising only swaps look-alikes for GSM-7 characters and removes invisible ones.
    if is_gsm7(text):
        assert is_gsm7(normalize(text))
