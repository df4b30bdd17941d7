"""Carrier keywords and staff acknowledgements: exact where it matters, forgiving in form."""

from __future__ import annotations

import pytest

from reminders.triage.keywords import OPT_OUT_WORDS, detect_ack, detect_keyword


@pytest.mark.parametrize("word", sorted(OPT_OUT_WORDS))
@pytest.mark.parametrize("form", ["{}", "{} ", "{}.", "{}!!", " {}\n"])
def test_every_opt_out_word_in_any_case_and_punctuation(word: str, form: str) -> None:
    for text in (form.format(word), form.format(word.upper()), form.format(word.title())):
        match = detect_keyword(text)
        assert match is not None and match.kind == "opt_out" and not match.has_extra


@pytest.mark.parametrize(
    "text",
    [
        "please stop texting me",
        "no more messages",
        "Stop. Thank you",
        "STOP ALL",
        "opt-out",
        "unsubscribe me please",
        "take me off your list",
        "deja de enviarme mensajes",
        "no me manden más mensajes",
        "quiero darme de baja",
    ],
)
def test_plain_language_opt_outs(text: str) -> None:
    match = detect_keyword(text)
    assert match is not None and match.kind == "opt_out"
    assert not match.has_extra


@pytest.mark.parametrize(
    "text",
    [
        "quit the texts, my leg is throbbing 9/10 and warm",
        "STOP. I can't breathe",
        "please stop texting me. the site is leaking pus",
        "ALTO. tengo dolor en el pecho",
        "deja de enviarme mensajes, tengo fiebre",
    ],
)
def test_an_opt_out_with_more_to_say_is_flagged_for_triage(text: str) -> None:
    match = detect_keyword(text)
    assert match is not None and match.kind == "opt_out" and match.has_extra


@pytest.mark.parametrize(
    "text",
    [
        "the bleeding won't stop",
        "cancel my appointment on Tuesday",
        "azúcar alto hoy",
        "la fiebre baja con paracetamol",
        "at the end of the day it hurts",
        "when can I start running?",
        "stopped bleeding now",
        "yes",
    ],
)
def test_ordinary_sentences_are_not_keywords(text: str) -> None:
    assert detect_keyword(text) is None


def test_yes_opts_in_only_when_the_patient_is_opted_out() -> None:
    assert detect_keyword("YES") is None
    match = detect_keyword("YES", opted_out=True)
    assert match is not None and match.kind == "opt_in"


@pytest.mark.parametrize(("text", "kind"), [("START", "opt_in"), ("unstop", "opt_in"),
                                             ("HELP", "help"), ("info", "help"),
                                             ("Ayuda!", "help")])
def test_opt_in_and_help(text: str, kind: str) -> None:
    match = detect_keyword(text)
    assert match is not None and match.kind == kind and not match.has_extra


def test_help_followed_by_a_symptom_still_needs_triage() -> None:
    match = detect_keyword("HELP! my throat is closing")
    assert match is not None and match.kind == "help" and match.has_extra


@pytest.mark.parametrize(
    ("text", "code"),
    [("ACK 7F3K", "7F3K"), ("ack ab12cd", "AB12CD"), ("Ack: 12345678", "12345678"),
     ("  ACK x9y8  ", "X9Y8")],
)
def test_staff_acknowledgement_codes(text: str, code: str) -> None:
    assert detect_ack(text) == code


@pytest.mark.parametrize("text", ["ACK abc", "ACK 123456789", "ACK ab-12", "ACK", "ack ok then",
                                  "please ACK 1234"])
def test_malformed_acknowledgements_are_rejected(text: str) -> None:
    assert detect_ack(text) is None
