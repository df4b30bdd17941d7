"""The shipped protocols and message templates: complete, safe, short and plain.

These tests read the YAML with plain ``yaml.safe_load`` and resolve ``use:`` themselves,
so content problems show up even while the protocol loader is being changed; one test
also runs the real loader.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import yaml

from reminders.rendering import (
    LANGUAGES,
    MAX_SMS_SEGMENTS,
    check_template,
    load_template_sources,
    render_email,
    render_text,
    sample_context,
)
from reminders.segments import count

ROOT = Path(__file__).resolve().parent.parent / "templates"
PROTOCOL_FILES = sorted(p for p in (ROOT / "protocols").glob("*.yaml") if p.name != "_steps.yaml")
SOURCES = load_template_sources([ROOT])
STAFF_ONLY = {"staff_alert"}  # staff read English; no patient ever gets these
SYSTEM = {
    "auto_reply_emergency", "auto_reply_urgent", "auto_reply_urgent_after_hours",
    "auto_reply_routine", "auto_reply_routine_after_hours", "auto_reply_none",
    "opt_out_confirm", "opt_in_confirm", "help", "clarify", "reask", "unknown_sender",
}  # fmt: skip
REQUIRED_CORTICOSTEROID_STEPS = {
    "discharge_summary", "numbness_check", "flare_check", "infection_check",
    "flushing_reassurance", "glucose_check", "activity_guidance", "activity_resume",
    "follow_up_reminder", "follow_up_booking", "outcome_check",
}  # fmt: skip
# Drug, injectate and diagnosis words that must never appear in a patient message.
FORBIDDEN_WORDS = [
    "triamcinolone", "methylprednisolone", "cortisone", "lidocaine", "lidocaina",
    "bupivacaine", "bupivacaina", "steroid", "esteroide", "hyaluron", "hialuron", "prp",
    "platelet", "plaqueta", "plasma", "acetaminophen", "acetaminofen", "paracetamol",
    "ibuprofen", "nsaid", "dextrose", "anesthetic", "anestesi", "anaesthetic",
    "osteoarthritis", "artrosis", "bursitis", "diabet", "arthritis",
]  # fmt: skip


def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


LIBRARY: dict[str, dict[str, Any]] = _load(ROOT / "protocols" / "_steps.yaml")["steps"]


def _resolve(entry: Any) -> dict[str, Any]:
    if isinstance(entry, str):
        return {"key": entry, **LIBRARY[entry]}
    if "use" in entry:
        overrides = {k: v for k, v in entry.items() if k != "use"}
        return {**LIBRARY[entry["use"]], **overrides, "key": entry.get("key", entry["use"])}
    return dict(entry)


def _steps(path: Path) -> list[dict[str, Any]]:
    return [_resolve(entry) for entry in _load(path)["steps"]]


ALL_STEPS = [(p.stem, step) for p in PROTOCOL_FILES for step in _steps(p)]
STEP_TEMPLATES = sorted({step.get("template") or step["key"] for _, step in ALL_STEPS})
PATIENT_TEMPLATES = sorted({*STEP_TEMPLATES, *SYSTEM})


def _plain(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _render(name: str, lang: str) -> str:
    return render_text(SOURCES, name, lang, sample_context(lang)).text


def test_every_yaml_file_parses_with_safe_load() -> None:
    for path in (ROOT / "protocols").glob("*.yaml"):
        assert isinstance(_load(path), dict), path


def test_the_four_injectates_have_a_protocol() -> None:
    injectates = {_load(p)["injectate"]: p.stem for p in PROTOCOL_FILES}
    assert injectates == {
        "corticosteroid": "corticosteroid",
        "hyaluronic_acid": "hyaluronic_acid",
        "prp": "prp",
        "anesthetic_only": "anesthetic_only",
    }


@pytest.mark.parametrize("path", PROTOCOL_FILES, ids=lambda p: p.stem)
def test_protocols_compose_from_the_library(path: Path) -> None:
    entries = _load(path)["steps"]
    keys = [step["key"] for step in _steps(path)]
    assert len(keys) == len(set(keys)), "step keys must be unique"
    for entry in entries:
        # A protocol names library steps; it never redefines one inline.
        assert isinstance(entry, str) or "use" in entry, entry


def test_library_steps_set_their_template_explicitly() -> None:
    # Re-keyed uses (use: pain_diary + key: pain_diary_2h) must keep the template.
    for key, step in LIBRARY.items():
        assert step.get("template"), key


def test_every_step_cites_its_source() -> None:
    for protocol, step in ALL_STEPS:
        assert re.search(r"seed 00\d", str(step.get("source", ""))), (protocol, step["key"])


def test_only_the_discharge_summary_is_time_critical() -> None:
    for protocol, step in ALL_STEPS:
        expected = step["key"] == "discharge_summary"
        assert bool(step.get("time_critical")) is expected, (protocol, step["key"])


def test_questions_have_an_answer_window_and_everything_expires() -> None:
    for protocol, step in ALL_STEPS:
        assert step.get("expires"), (protocol, step["key"])
        if step.get("expects"):
            assert step.get("answer_window"), (protocol, step["key"])


def test_corticosteroid_timeline_is_complete() -> None:
    keys = {step["key"]: step for step in _steps(ROOT / "protocols" / "corticosteroid.yaml")}
    assert set(keys) >= REQUIRED_CORTICOSTEROID_STEPS
    assert keys["glucose_check"]["condition"] == "has:diabetes"
    assert keys["glucose_check"]["expects"] == "glucose"
    assert keys["flare_check"]["repeat"] == "every 24h for 2 times"
    assert keys["follow_up_reminder"]["condition"] == "follow_up_booked"
    assert keys["follow_up_booking"]["condition"] == "not follow_up_booked"
    assert keys["outcome_check"]["expects"] == "pain_score"


def test_steroid_only_steps_stay_in_the_corticosteroid_protocol() -> None:
    for protocol, step in ALL_STEPS:
        if protocol != "corticosteroid":
            assert step["key"] not in {"flare_check", "flushing_reassurance", "glucose_check"}


def test_prp_soreness_check_gives_no_pain_reliever_advice() -> None:
    (step,) = [s for p, s in ALL_STEPS if p == "prp" and s["key"] == "soreness_check"]
    for lang in LANGUAGES:
        text = _plain(_render(step["template"], lang))
        for word in ("ice", "hielo", "over-the-counter", "sin receta", "aprobo"):
            assert word not in text, (lang, word)


@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("name", PATIENT_TEMPLATES)
def test_patient_templates_exist_and_fit_three_segments(name: str, lang: str) -> None:
    assert f"{name}.{lang}" in SOURCES, f"missing {name}.{lang}.j2"
    info = count(_render(name, lang))
    assert 0 < info.segments <= MAX_SMS_SEGMENTS, (name, lang, info)


@pytest.mark.parametrize("key", sorted(SOURCES))
def test_every_template_passes_check_template(key: str) -> None:
    assert check_template(SOURCES[key], key) == []


@pytest.mark.parametrize("name", sorted({*PATIENT_TEMPLATES, *STAFF_ONLY}))
def test_english_texts_are_gsm7(name: str) -> None:
    assert count(_render(name, "en")).encoding == "GSM-7"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_discharge_summary_says_stop_and_emergency_number(lang: str) -> None:
    text = _render("discharge_summary", lang)
    assert "STOP" in text
    assert "911" in text  # sample emergency_number
    assert "+1 312 555 0100" in text  # sample clinic_phone


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_question_tells_the_patient_how_to_reply(lang: str) -> None:
    word = {"en": "Reply", "es": "Responda"}[lang]
    for protocol, step in ALL_STEPS:
        if step.get("expects"):
            assert word in _render(step["template"], lang), (protocol, step["key"])


@pytest.mark.parametrize("lang", LANGUAGES)
def test_reask_prefix_plus_question_still_fits(lang: str) -> None:
    prefix = _render("reask", lang)
    for protocol, step in ALL_STEPS:
        if (step.get("no_response") or {}).get("reask_after"):
            text = f"{prefix} {_render(step['template'], lang)}"
            assert count(text).segments <= MAX_SMS_SEGMENTS, (protocol, step["key"])


@pytest.mark.parametrize("key", sorted(SOURCES))
def test_no_drug_or_diagnosis_names(key: str) -> None:
    words = set(re.findall(r"[a-z\-]+", _plain(SOURCES[key])))
    text = _plain(SOURCES[key])
    for bad in FORBIDDEN_WORDS:
        found = bad in words if len(bad) <= 4 else bad in text
        assert not found, f"{key} mentions {bad!r}"


def test_no_typographic_characters_in_templates() -> None:
    for key, source in SOURCES.items():
        for ch in "\u2018\u2019\u201c\u201d\u2013\u2014\u2026\u00a0":
            assert ch not in source, (key, hex(ord(ch)))
        assert not re.search(r"[\U0001f300-\U0001faff]", source), key


@pytest.mark.parametrize("name", STEP_TEMPLATES)
def test_step_templates_render_as_email(name: str) -> None:
    for lang in LANGUAGES:
        email = render_email(SOURCES, name, lang, sample_context(lang))
        assert email.subject and "\n" not in email.subject
        assert "<p>" in email.html and "{{" not in email.html


def test_staff_alert_is_minimal() -> None:
    source = SOURCES["staff_alert.en"]
    for var in ("first_name", "severity", "link", "ack_code"):
        assert var in source
    for var in ("clinic_phone", "follow_up_date", "day_number"):
        assert var not in source


def test_the_real_loader_accepts_every_protocol() -> None:
    loader = pytest.importorskip("reminders.protocols.loader")
    protocols = loader.load_protocols([ROOT])
    assert set(protocols) == {p.stem for p in PROTOCOL_FILES}
    for protocol in protocols.values():
        for name in protocol.template_names:
            assert f"{name}.en" in SOURCES and f"{name}.es" in SOURCES
