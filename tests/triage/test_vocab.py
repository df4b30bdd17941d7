"""The symptom vocabulary as data: vocab/en.yaml and vocab/es.yaml, read by the loader.

Alice, a nurse at Riverside Ortho, adds words to the YAML files without touching Python.
When she makes a mistake the loader must say which file and which concept; the words she
adds must only ever match whole words; and a concept she writes in both languages is one
concept.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from reminders.triage import vocab
from reminders.triage.scan import scan
from reminders.triage.text import make_doc
from reminders.triage.vocab import VocabError, compile_files, concept

_FEVER_EN = """\
lang: en
concepts:
  fever:
    match: ['fever\\w*', 'running a temp']
    exclude: ['fever dream']
    suppressed_by: [rigors]
  rigors:
    match: ['rigors']
"""
_FEVER_ES = """\
lang: es
macros:
  CALOR: '(?:calentura|fiebre\\w*)'
concepts:
  fever:
    match: ['<CALOR>']
    exclude: ['fiebre amarilla']
"""


def _file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _concepts_mentioned(text: str) -> set[str]:
    return {h.concept for h in scan(make_doc(text)).hits}


# --- mistakes name the file and the concept ---------------------------------------------


def test_an_unknown_macro_names_the_file_and_concept(tmp_path: Path) -> None:
    path = _file(tmp_path, "alice.yaml", "lang: en\nconcepts:\n  fever:\n    match: ['<HOTT>']\n")
    with pytest.raises(VocabError, match=r"alice\.yaml: fever: unknown macro <HOTT>"):
        compile_files([path])


def test_a_bad_regex_names_the_concept(tmp_path: Path) -> None:
    # Phrases of all files are merged before compiling, so the message names the concept.
    path = _file(tmp_path, "alice.yaml", "lang: en\nconcepts:\n  fever:\n    match: ['fever (']\n")
    with pytest.raises(VocabError, match=r"fever: bad pattern"):
        compile_files([path])


def test_a_file_without_its_language_is_refused_by_name(tmp_path: Path) -> None:
    path = _file(tmp_path, "alice.yaml", "concepts:\n  fever:\n    match: ['fever']\n")
    with pytest.raises(VocabError, match=r"alice\.yaml: needs 'lang: en' or 'lang: es'"):
        compile_files([path])


@pytest.mark.parametrize("value", ["{fever: 1}", "[fever, 2]"])
def test_a_field_that_is_not_a_list_of_strings_names_file_concept_and_field(
    tmp_path: Path, value: str
) -> None:
    path = _file(tmp_path, "alice.yaml", f"lang: en\nconcepts:\n  fever:\n    match: {value}\n")
    with pytest.raises(VocabError, match=r"alice\.yaml: fever\.match: expected a list"):
        compile_files([path])


def test_single_quoted_backslashes_reach_the_regex_unchanged(tmp_path: Path) -> None:
    (fever,) = [c for c in compile_files([_file(tmp_path, "en.yaml", _FEVER_EN)])
                if c.name == "fever"]
    assert r"fever\w*" in fever.pattern.pattern
    assert fever.pattern.search("feverish since noon")


# --- whole words only ---------------------------------------------------------------------


def test_a_wrong_number_is_not_numbness() -> None:
    assert "numb" not in _concepts_mentioned("sorry, wrong number")
    assert "numb" not in _concepts_mentioned("what number do I call?")
    assert "numb" in _concepts_mentioned("my leg is numb")


def test_a_pussycat_is_not_pus() -> None:
    assert "pus" not in _concepts_mentioned("the pussycat sat on my dressing")
    assert "pus" in _concepts_mentioned("there is pus at the site")


def test_a_phrase_never_matches_inside_a_longer_word(tmp_path: Path) -> None:
    path = _file(tmp_path, "en.yaml", "lang: en\nconcepts:\n  pus:\n    match: ['pus']\n")
    (pus,) = compile_files([path])
    assert pus.pattern.search("some pus here")
    assert not pus.pattern.search("pussycat campus opus")


# --- both languages, one concept ---------------------------------------------------------


def test_a_concept_in_both_files_is_one_concept(tmp_path: Path) -> None:
    en = _file(tmp_path, "en.yaml", _FEVER_EN)
    es = _file(tmp_path, "es.yaml", _FEVER_ES)
    by = {c.name: c for c in compile_files([en, es])}
    fever = by["fever"]
    assert [c.name for c in compile_files([en, es])].count("fever") == 1
    assert fever.pattern.search("running a temp") and fever.pattern.search("tengo calentura")
    assert fever.exclude is not None
    assert fever.exclude.search("a fever dream") and fever.exclude.search("fiebre amarilla")
    assert fever.suppressed_by == ("rigors",)


def test_the_real_files_merge_english_and_spanish_words() -> None:
    fever = concept("fever")
    assert fever.pattern.search("i have a fever") and fever.pattern.search("tengo fiebre")
    assert "fever" in _concepts_mentioned("tengo calentura desde anoche")


def test_every_concept_can_be_said_in_both_languages() -> None:
    names = {
        lang: set(yaml.safe_load((vocab.DIR / f"{lang}.yaml").read_text("utf-8"))["concepts"])
        for lang in ("en", "es")
    }
    assert names["en"] == names["es"]


def test_every_suppressed_by_names_a_real_concept() -> None:
    concepts = vocab.concepts()
    known = {c.name for c in concepts}
    for c in concepts:
        assert set(c.suppressed_by) <= known, c.name
