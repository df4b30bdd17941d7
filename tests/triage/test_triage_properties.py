"""Properties that must hold for every reply, not just the ones we thought of."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reminders.triage import (
    CATEGORIES,
    EXPECTS,
    Severity,
    detect_ack,
    detect_keyword,
    parse_glucose,
    parse_pain,
    parse_temperature,
    parse_yes_no,
    triage,
)

# The classifier is pure and fast; a slow CI box must not turn that into flaky deadlines.
# (Per test, not a global profile: other suites share the hypothesis settings.)
fast = settings(deadline=None, max_examples=150)

EN_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
ES_WORDS = ["cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve",
            "diez"]

BENIGN = [
    "Thanks for checking in",
    "I walked the dog this morning",
    "had lunch with my sister",
    "the weather was lovely",
    "watched a film with the grandkids",
    "slept well",
    "the physio was nice",
    "fui al mercado",
    "comimos en casa de mi hija",
    "hoy hizo sol",
    "the hip is a bit sore but ok",
    "ate breakfast",
    "my son drove me home",
]
RED_FLAGS = [
    ("I can't breathe", Severity.EMERGENCY),
    ("I'm short of breath", Severity.EMERGENCY),
    ("my throat is swelling", Severity.EMERGENCY),
    ("I have chest pain", Severity.EMERGENCY),
    ("I passed out", Severity.EMERGENCY),
    ("it won't stop bleeding", Severity.EMERGENCY),
    ("no puedo respirar", Severity.EMERGENCY),
    ("me desmayé", Severity.EMERGENCY),
    ("I have a fever", Severity.URGENT),
    ("there's pus coming out", Severity.URGENT),
    ("the redness is spreading", Severity.URGENT),
    ("the site is hot to the touch", Severity.URGENT),
    ("pain is 9/10", Severity.URGENT),
    ("I have hives", Severity.URGENT),
    ("my leg gave way", Severity.URGENT),
    ("tengo fiebre", Severity.URGENT),
    ("sale pus", Severity.URGENT),
    ("tengo ronchas", Severity.URGENT),
    ("the bruise is getting bigger", Severity.URGENT),
    ("feaver", Severity.URGENT),
]
NEGATABLE = ["fever", "pus", "chills", "rash", "hives", "swelling", "redness", "bleeding",
             "numbness", "fiebre", "escalofrios", "hinchazon"]


@fast
@given(st.integers(0, 10), st.sampled_from(["{}/10", "pain {}", "{} out of 10", "pain is {}",
                                            "dolor {}", "{} de 10", "{}"]))
def test_any_score_written_as_a_number_parses_to_itself(n: int, form: str) -> None:
    result = parse_pain(form.format(n))
    assert result is not None and result.score == n


@fast
@given(st.integers(0, 10), st.sampled_from([EN_WORDS, ES_WORDS]))
def test_any_score_written_as_a_word_parses_to_itself(n: int, words: list[str]) -> None:
    result = parse_pain(words[n])
    assert result is not None and result.score == n


@fast
@given(st.integers(11, 5000))
def test_numbers_above_ten_are_never_pain_scores(n: int) -> None:
    assert parse_pain(str(n)) is None
    assert parse_pain(f"took {n} mg") is None


@fast
@given(st.integers(40, 600), st.sampled_from(["{} mg/dL", "{} mg/dl", "{}mgdl", "sugar {}"]))
def test_any_mg_dl_reading_round_trips(n: int, form: str) -> None:
    g = parse_glucose(form.format(n), bare_numbers=False)
    assert g is not None and g.unit == "mg/dL" and g.mg_dl == n
    assert g.mmol_l == round(n / 18.0, 1)


@fast
@given(st.integers(20, 330))
def test_any_mmol_reading_round_trips(tenths: int) -> None:
    value = tenths / 10
    g = parse_glucose(f"{value} mmol/L", bare_numbers=False)
    assert g is not None and g.unit == "mmol/L" and g.mmol_l == value
    assert g.mg_dl == pytest.approx(value * 18.0)


@fast
@given(st.lists(st.sampled_from(BENIGN), min_size=0, max_size=8), st.sampled_from(RED_FLAGS))
def test_a_red_flag_after_any_chatter_is_never_missed(
    chatter: list[str], flag: tuple[str, Severity]
) -> None:
    phrase, level = flag
    text = ". ".join([*chatter, phrase])
    assert triage(text).severity >= level


@fast
@given(st.lists(st.sampled_from(BENIGN), min_size=0, max_size=4), st.sampled_from(NEGATABLE),
       st.sampled_from(["no {}", "sin {}", "never had any {}", "{} is gone", "no {} at all"]))
def test_a_denied_symptom_never_raises_the_alarm(
    chatter: list[str], symptom: str, form: str
) -> None:
    text = ". ".join([*chatter, form.format(symptom)])
    assert triage(text).severity < Severity.URGENT


@fast
@given(st.text(max_size=400))
def test_parsers_never_raise(text: str) -> None:
    parse_pain(text)
    parse_pain(text, bare_numbers=False)
    parse_glucose(text)
    parse_temperature(text)
    parse_yes_no(text, question="numbness_worn_off")
    detect_keyword(text, opted_out=True)
    detect_ack(text)


@fast
@given(st.text(max_size=400), st.sampled_from([None, *EXPECTS]),
       st.one_of(st.none(), st.floats(0, 500)))
def test_any_text_gets_a_well_formed_result(
    text: str, expects: str | None, hours: float | None
) -> None:
    result = triage(text, expects=expects, hours_since_procedure=hours)
    assert result.severity in set(Severity)
    assert result.categories and set(result.categories) <= set(CATEGORIES)
    assert len(set(result.categories)) == len(result.categories)
    json.dumps(result.to_json())  # the CLI can always serialise it
    if result.needs_clarification:
        assert expects is not None and result.severity is Severity.ROUTINE
