"""Parsers read what patients actually text, and say None rather than guess."""

from __future__ import annotations

import pytest

from reminders.triage.parse import (
    parse_elapsed_hours,
    parse_glucose,
    parse_pain,
    parse_temperature,
    parse_yes_no,
)


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("7", 7),
        ("7/10", 7),
        ("pain 7", 7),
        ("seven", 7),
        ("siete", 7),
        ("pain is a 6 out of 10", 6),
        ("9 haha no more like a 4", 4),
        ("used to be 8 before the injection, today 3", 3),
        ("10+", 10),
        ("11/10 honestly", 10),
        ("dolor 6 de 10", 6),
        ("8 sobre 10", 8),
        ("went from 8 to 3", 3),
        ("it was 4 yesterday but today it's 8", 8),
        ("like a 7, no wait, it's more of a 9", 9),
        ("between 5 and 6", 6),
        ("6-7", 7),
        ("6.5", 7),
        ("no pain at all", 0),
        ("cero", 0),
        ("antes era un 3, ahora un 9", 9),
    ],
)
def test_pain_answers_are_read_as_the_patient_meant(text: str, score: int) -> None:
    result = parse_pain(text)
    assert result is not None and result.score == score


@pytest.mark.parametrize(
    "text",
    [
        "took 400mg ibuprofen",
        "took 2 tylenol",
        "I'll call at 7",
        "banana",
        "the left one hurts",
        "sugar 7",
        "temp 38",
        "",
    ],
)
def test_numbers_that_are_not_pain_scores_are_ignored(text: str) -> None:
    assert parse_pain(text) is None


def test_bare_numbers_need_pain_context_when_the_question_was_not_about_pain() -> None:
    assert parse_pain("7", bare_numbers=False) is None
    assert parse_pain("my pain is 7", bare_numbers=False) == parse_pain("7")
    assert parse_pain("7/10", bare_numbers=False) is not None


@pytest.mark.parametrize(
    ("text", "question", "answer"),
    [
        ("y", None, "yes"),
        ("Yes!", None, "yes"),
        ("yeah", None, "yes"),
        ("yep", None, "yes"),
        ("yup", None, "yes"),
        ("sure", None, "yes"),
        ("sí", None, "yes"),
        ("si", None, "yes"),
        ("claro", None, "yes"),
        ("ok yes", None, "yes"),
        ("no", None, "no"),
        ("nope", None, "no"),
        ("nah", None, "no"),
        ("not really", None, "no"),
        ("still numb", "numbness_worn_off", "no"),
        ("todavía entumecido", "numbness_worn_off", "no"),
        ("not yet, still a bit numb", "numbness_worn_off", "no"),
        ("worn off", "numbness_worn_off", "yes"),
        ("gone", "numbness_worn_off", "yes"),
        ("back to normal", "numbness_worn_off", "yes"),
        ("no longer numb", "numbness_worn_off", "yes"),
        ("ya se me pasó", "numbness_worn_off", "yes"),
        ("all good", "infection_signs", "no"),
        ("todo bien", "infection_signs", "no"),
        ("still numb", "numbness_check", "no"),  # the protocol step key works too
    ],
)
def test_yes_no_answers(text: str, question: str | None, answer: str) -> None:
    result = parse_yes_no(text, question=question)
    assert result is not None and result.answer == answer


@pytest.mark.parametrize("text", ["", "maybe", "yes and no", "si o no", "y luego me dolió", "ok"])
def test_unclear_yes_no_is_none(text: str) -> None:
    assert parse_yes_no(text) is None


def test_a_lone_spanish_y_is_not_yes() -> None:
    assert parse_yes_no("y", lang="es") is None
    assert parse_yes_no("y", lang="en") is not None


def test_still_numb_means_nothing_without_the_question() -> None:
    assert parse_yes_no("still numb") is None


@pytest.mark.parametrize(
    ("text", "bare", "mg_dl", "mmol_l", "unit"),
    [
        ("320", True, 320, 17.8, "mg/dL"),
        ("320 mg/dL", False, 320, 17.8, "mg/dL"),
        ("180 mg", True, 180, 10.0, "mg/dL"),
        ("17.8 mmol/L", False, 320.4, 17.8, "mmol/L"),
        ("5,6 mmol", False, 100.8, 5.6, "mmol/L"),
        ("7", True, 126, 7.0, "mmol/L"),  # under 35: mmol/L
        ("sugar was 350 this morning", False, 350, 19.4, "mg/dL"),
        ("my blood sugar is a bit high, 210", False, 210, 11.7, "mg/dL"),
        ("glucosa 2.8", False, 50.4, 2.8, "mmol/L"),
        ("was 250 this morning, now 150", True, 150, 8.3, "mg/dL"),
    ],
)
def test_glucose_in_both_units(
    text: str, bare: bool, mg_dl: float, mmol_l: float, unit: str
) -> None:
    g = parse_glucose(text, bare_numbers=bare)
    assert g is not None
    assert g.mg_dl == pytest.approx(mg_dl, abs=0.05)
    assert g.mmol_l == pytest.approx(mmol_l, abs=0.05)
    assert g.unit == unit


def test_unit_inference_is_reported() -> None:
    inferred, written = parse_glucose("7"), parse_glucose("7 mmol/l")
    assert inferred is not None and inferred.unit_inferred
    assert written is not None and not written.unit_inferred


@pytest.mark.parametrize(
    ("text", "bare", "flag"),
    [
        ("HI", True, "HI"),
        ("LO", True, "LO"),
        ("meter says HI", False, "HI"),
        ("my meter just says HI", True, "HI"),
        ("el medidor dice LO", False, "LO"),
        ("sugar is HI on the meter", False, "HI"),
    ],
)
def test_meter_hi_and_lo(text: str, bare: bool, flag: str) -> None:
    g = parse_glucose(text, bare_numbers=bare)
    assert g is not None and g.flag == flag and g.mg_dl is None


@pytest.mark.parametrize(
    "text",
    [
        "Hi, thanks for checking in",  # a greeting
        "lo siento, no entiendo",  # a Spanish pronoun
        "took 400mg ibuprofen",
        "bp 140/90",
        "a1c 7.2",
        "pain 7",
    ],
)
def test_things_that_are_not_glucose(text: str) -> None:
    assert parse_glucose(text, bare_numbers=False) is None


@pytest.mark.parametrize(
    ("text", "celsius"),
    [("temp 38.6", 38.6), ("101F", 38.3), ("fever of 102", 38.9), ("fiebre de 39", 39.0),
     ("temperature 36.8", 36.8)],
)
def test_temperatures_are_read_in_celsius(text: str, celsius: float) -> None:
    t = parse_temperature(text)
    assert t is not None and t.celsius == pytest.approx(celsius, abs=0.05)


def test_a_number_without_temperature_context_is_not_a_temperature() -> None:
    assert parse_temperature("38") is None


@pytest.mark.parametrize(
    ("text", "hours"),
    [
        ("it's been 10 hours and my leg is still numb", 10),
        ("numb still but it's only been 3 hours", 3),
        ("2 days since the shot", 48),
        ("woke up still numb", 24),
        ("took advil 2 hours ago", None),  # not about the procedure
    ],
)
def test_elapsed_time_since_the_procedure(text: str, hours: float | None) -> None:
    assert parse_elapsed_hours(text) == hours
