"""The safety loop's reading of a reply: red flags nobody wrote our way, pleas, tapbacks,
caregivers, number words, masked or passing danger signs and the asked question.

Each case is a sentence a patient or a relative might really send; the level is the
policy in docs/triage.md (when unsure, the higher level).
"""

from __future__ import annotations

import pytest

from reminders.triage import Severity, triage
from reminders.triage.criteria import load
from reminders.triage.numwords import collapse
from reminders.triage.reactions import detect_reaction

E, U, R, N = Severity.EMERGENCY, Severity.URGENT, Severity.ROUTINE, Severity.NONE


@pytest.mark.parametrize(("text", "level", "category"), [
    ("his face is drooping on one side and he sounds drunk", E, "stroke"),
    ("mi esposo tiene la boca chueca y habla arrastrado", E, "stroke"),
    ("my left arm went limp out of nowhere", E, "stroke"),
    ("worst headache of my life, came on suddenly", E, "neurological"),
    ("me agarró un dolor de cabeza de golpe", E, "neurological"),
    ("can't wake my mom up properly, she opens her eyes then drifts off", E, "neurological"),
    ("no logro despertar bien a mi papá", E, "neurological"),
    ("numb around my bottom and I can't pee", E, "neurological"),
    ("my foot is ice cold and pale", E, "circulation"),
    ("el pie lo tengo helado y morado", E, "circulation"),
    ("I want to end it all", E, "self_harm"),
    ("ya no quiero vivir", E, "self_harm"),
    ("fever 39 and she's not making sense, breathing fast", E, "infection"),
    ("hives all over and I feel like I'm going to pass out", E, "allergic_reaction"),
    ("sugar 48 and shaky", E, "glucose_low"),
    ("my calf is swollen and tender", U, "circulation"),
    ("la pantorrilla hinchada y dura", U, "circulation"),
])
def test_red_flags_outside_the_seeds_reach_their_level(text: str, level: Severity,
                                                       category: str) -> None:
    result = triage(text, lang="es" if " el " in f" {text} " or "mi " in text else "en")
    assert result.severity is level, result.reasons
    assert category in result.categories


@pytest.mark.parametrize("text", ["help", "HELP!", "ayuda", "please help me", "911",
                                  "something is really wrong", "algo anda mal",
                                  "should I go to the ER?", "¿debo ir a emergencias?",
                                  "please call me its bad"])
def test_a_bare_plea_is_at_least_urgent(text: str) -> None:
    assert triage(text).severity >= U


@pytest.mark.parametrize("text", ["the ice pack doesn't help much", "thanks for your help",
                                  "No paren de mandarme los mensajitos, me ayudan mucho",
                                  "what if I get chest pain, do I call you or 911?",
                                  "my wrong number was fixed, thanks"])
def test_ordinary_uses_of_plea_words_raise_no_alarm(text: str) -> None:
    assert triage(text).severity < U


def test_wrong_number_is_not_numbness() -> None:
    assert "numbness_weakness" not in triage("sorry, wrong number").categories


@pytest.mark.parametrize("text", [
    "Liked “Has the numbness worn off? Reply YES or NO”",
    "Le gustó «¿Tiene fiebre, escalofríos o pus?»",
    "Reacted 👍 to “Any fever?”",
    "Loved “How is your pain today, 0-10?”",
])
def test_a_tapback_is_a_reaction_never_the_quoted_question(text: str) -> None:
    result = triage(text, expects="yes_no", question="infection_check")
    assert result.reaction is not None and result.severity is N
    assert not result.needs_clarification and "answer" not in result.parsed


def test_a_reaction_with_words_after_it_is_read_as_words() -> None:
    assert detect_reaction("Loved “ok” but my chest hurts") is None
    assert triage("Loved “ok” but my chest hurts").severity is E


def test_caregivers_write_in_the_third_person() -> None:
    assert triage("my husband can't catch his breath").severity is E
    assert triage("a mi mamá le falta el aire").severity is E
    assert triage("my wife has a fever of 39.4 and doesn't know what day it is").severity is E


@pytest.mark.parametrize(("words", "digits"), [
    ("sugar was two fifty", "sugar was 250"), ("ciento ochenta", "180"),
    ("doscientos cincuenta y cinco", "255"), ("treinta y nueve de fiebre", "39 de fiebre"),
    ("a hundred and two", "102"), ("eight out of ten", "eight out of ten"),
    ("I have one question", "I have one question"),
])
def test_compound_number_words_become_digits(words: str, digits: str) -> None:
    assert " ".join(collapse(words.split())) == digits


def test_glucose_and_pain_in_words() -> None:
    assert triage("three hundred and twenty", expects="glucose").parsed["glucose_mg_dl"] == 320
    assert triage("ciento noventa", expects="glucose").severity is R
    assert triage("eight out of ten, worse at night", expects="pain_score").severity is U


def test_a_danger_sign_that_passed_is_not_settled() -> None:
    assert triage("had a hard time breathing last night, it settled now").severity is U
    assert triage("anoche me faltaba el aire, ya se me pasó").severity is U
    # Stroke signs that pass may be a TIA: still an emergency.
    assert triage("his face drooped for ten minutes but it went away").severity is E


def test_a_fever_brought_down_with_medicine_is_still_a_fever() -> None:
    asked = "Any fever, chills, pus or spreading redness at the injection site?"
    assert triage("had 38.6 last night but took tylenol and now it's normal",
                  asked=asked).severity is U
    assert triage("no fever since I took the tylenol").severity is U


class TestTheAskedQuestion:
    insulin = "Did you take your evening insulin? Reply YES or NO"
    numb = "Has the numbness in your leg worn off? Reply YES or NO"
    signs = "¿Tiene fiebre, escalofríos o pus? Responda SÍ o NO"

    def test_a_clinic_question_is_read_the_right_way_round(self) -> None:
        assert triage("Nope", asked=self.insulin, concerning_answer="no").severity >= R
        assert triage("yep", asked=self.insulin, concerning_answer="no").severity is N

    def test_numbness_not_yet_depends_on_the_hours(self) -> None:
        late = triage("not yet", asked=self.numb, concerning_answer="no",
                      hours_since_procedure=11)
        early = triage("todavía no", asked=self.numb, concerning_answer="no",
                       hours_since_procedure=3)
        assert late.severity is U and early.severity is R

    def test_a_symptom_question_answered_yes_is_urgent(self) -> None:
        assert triage("SÍ", asked=self.signs, concerning_answer="yes", lang="es").severity is U
        assert triage("todo bien", asked=self.signs, concerning_answer="yes").severity is N

    def test_a_bad_concerning_answer_is_refused(self) -> None:
        with pytest.raises(ValueError, match="concerning_answer"):
            triage("no", concerning_answer="maybe")


def test_every_criterion_cites_a_source_and_names_known_findings(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "criteria.yaml"
    bad.write_text("rules:\n  - name: x\n    level: urgent\n    category: other\n"
                   "    any: [no_such_concept]\n    reason: r\n    source: s\n")
    with pytest.raises(ValueError, match="x: unknown finding"):
        load(bad, concepts=frozenset({"fever"}))
    bad.write_text("rules:\n  - name: y\n    level: urgent\n    category: other\n"
                   "    any: [fever]\n    reason: r\n")
    with pytest.raises(ValueError, match="y: every rule needs a reason and a source"):
        load(bad, concepts=frozenset({"fever"}))


def test_the_docs_list_every_named_criterion() -> None:
    from pathlib import Path

    from reminders.triage.rules import CRITERIA

    doc = (Path(__file__).parents[2] / "docs" / "triage.md").read_text(encoding="utf-8")
    missing = [c.name for c in CRITERIA if f"`{c.name}`" not in doc]
    assert not missing, f"docs/triage.md lacks criteria: {missing}"
