"""Which answer to a yes/no step means trouble: declared, defaulted, checked and pinned.

Riverside Ortho writes its own question, "Did you take your evening insulin?" (step
``sugar_ok``): "no" is the worry, and only the clinic can say so. The built-in questions
(numbness, infection) bring their own.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from reminders.cli import main
from reminders.config import get_settings
from reminders.protocols import service as protocols
from reminders.protocols.check import check_all
from reminders.protocols.loader import load_protocols, steps_from_snapshot
from reminders.protocols.preview import draft_problems, parse_steps_yaml
from reminders.protocols.spec import SpecError, parse_step
from tests.conftest import TEMPLATES

REQUIRED = (
    "step sugar_ok: concerning_answer is required for a yes/no question "
    "(which answer means trouble: yes or no)"
)


def step(**fields: Any) -> dict[str, Any]:
    return {"key": "sugar_ok", "when": "day 0 at 21:00", "expires": "3h", "expects": "yes_no",
            **fields}  # fmt: skip


def test_a_clinics_own_question_keeps_the_answer_it_declares() -> None:
    assert parse_step(step(concerning_answer="no")).concerning_answer == "no"
    assert parse_step(step(concerning_answer="yes")).concerning_answer == "yes"


def test_bare_yes_and_no_in_yaml_mean_the_words_not_booleans() -> None:
    # YAML 1.1 reads `concerning_answer: no` as false; the coordinator meant "no".
    [raw] = parse_steps_yaml(
        "- key: sugar_ok\n  when: 2h\n  expires: 3h\n  expects: yes_no\n  concerning_answer: no\n"
    ).steps
    assert raw.concerning_answer == "no"


def test_known_questions_default_to_their_own_worrying_answer() -> None:
    numbness = parse_step({"key": "numbness_check", "when": "4h", "expires": "4h",
                           "expects": "yes_no"})  # fmt: skip
    infection = parse_step({"key": "infection_check", "when": "day 3 at 10:00", "expires": "12h",
                            "expects": "symptom_check"})  # fmt: skip
    assert (numbness.concerning_answer, infection.concerning_answer) == ("no", "yes")


@pytest.mark.parametrize("value", ["maybe", "YES", "n", 1, ["no"]])
def test_any_other_value_is_an_error_naming_the_field(value: object) -> None:
    with pytest.raises(SpecError, match=r"^step sugar_ok: concerning_answer must be yes or no"):
        parse_step(step(concerning_answer=value))


@pytest.mark.parametrize("expects", ["pain_score", "glucose", None])
def test_only_a_yes_no_step_may_declare_it(expects: str | None) -> None:
    with pytest.raises(SpecError, match=r"^step sugar_ok: concerning_answer only applies"):
        parse_step(step(expects=expects, concerning_answer="no"))


def _override(tmp_path: Path, sugar_ok: str) -> Path:
    """Riverside's corticosteroid protocol with its insulin question, as a file."""
    root = tmp_path / "clinic"
    (root / "protocols").mkdir(parents=True)
    (root / "messages").mkdir()
    (root / "protocols" / "corticosteroid.yaml").write_text(
        "key: corticosteroid\ninjectate: corticosteroid\nsteps:\n  - discharge_summary\n"
        "  - numbness_check\n"
        f"  - key: sugar_ok\n    when: day 0 at 21:00\n    expires: 3h\n    expects: yes_no\n"
        f"{sugar_ok}"
    )
    for lang in ("en", "es"):
        (root / "messages" / f"sugar_ok.{lang}.j2").write_text(
            "Hi {{ first_name }}, did you take your evening insulin? Reply YES or NO."
        )
    return root


def test_protocols_check_refuses_a_clinics_question_without_it(tmp_path: Path) -> None:
    problems = [str(p) for p in check_all([_override(tmp_path, ""), TEMPLATES])]
    assert any(p.endswith(REQUIRED) and "corticosteroid.yaml" in p for p in problems)


def test_protocols_check_accepts_it_once_declared(tmp_path: Path) -> None:
    root = _override(tmp_path, '    concerning_answer: "no"\n')
    assert check_all([root, TEMPLATES]) == []


def test_the_aftercare_command_names_the_step_and_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AFTERCARE_TEMPLATE_OVERRIDE_DIRS",
                       json.dumps([str(_override(tmp_path, ""))]))  # fmt: skip
    get_settings.cache_clear()
    try:
        code = main(["protocols", "check"])
    finally:
        get_settings.cache_clear()
    assert code == 1
    assert REQUIRED in capsys.readouterr().err


def test_the_web_editor_shows_the_same_problem_and_a_bad_value_as_a_step_error() -> None:
    sources = {"sugar_ok.en": "Did you take your evening insulin? Reply YES or NO.",
               "sugar_ok.es": "¿Se puso la insulina de la noche? Responda SÍ o NO."}  # fmt: skip
    text = "- key: sugar_ok\n  when: 2h\n  expires: 3h\n  expects: yes_no\n"
    missing = draft_problems(key="corticosteroid", injectate="corticosteroid",
                             parsed=parse_steps_yaml(text), sources=sources)  # fmt: skip
    assert [p.message for p in missing] == [REQUIRED]
    bad = parse_steps_yaml(text + "  concerning_answer: sometimes\n")
    assert [(p.line, p.message) for p in bad.problems] == [
        (1, "step sugar_ok: concerning_answer must be yes or no, not 'sometimes'")
    ]


def test_every_shipped_yes_no_step_says_which_answer_is_the_worry() -> None:
    for protocol in load_protocols([TEMPLATES]).values():
        for raw in protocol.raw_steps:
            if raw.get("expects") in ("yes_no", "symptom_check"):
                assert raw.get("concerning_answer") in ("yes", "no"), (protocol.key, raw["key"])


def test_the_answer_is_pinned_in_the_version_snapshot(session: Session, riverside: Any) -> None:
    version = protocols.for_injectate(session=session, clinic_id=riverside.id,
                                      injectate="corticosteroid")  # fmt: skip
    stored = {s["key"]: s for s in version.steps}
    assert stored["numbness_check"]["concerning_answer"] == "no"
    assert stored["infection_check"]["concerning_answer"] == "yes"

    draft = protocols.create_draft(session=session, clinic_id=riverside.id, key="corticosteroid")
    sugar = step(concerning_answer="no")
    protocols.update_draft(session=session, version=draft, steps=[*draft.steps, sugar],
                           templates={"sugar_ok.en": "Insulin? YES or NO",
                                      "sugar_ok.es": "¿Insulina? SÍ o NO"})  # fmt: skip
    protocols.publish(session=session, version=draft)
    session.flush()
    session.expire(draft)  # read the JSON back as stored
    pinned = {s.key: s for s in protocols.steps_of(draft)}
    assert pinned["sugar_ok"].concerning_answer == "no"


def test_publishing_a_clinics_question_without_it_is_refused(
    session: Session, riverside: Any
) -> None:
    draft = protocols.create_draft(session=session, clinic_id=riverside.id, key="corticosteroid")
    protocols.update_draft(session=session, version=draft, steps=[*draft.steps, step()])
    with pytest.raises(SpecError, match="concerning_answer is required"):
        protocols.publish(session=session, version=draft)
    assert draft.status == "draft"


def test_a_version_pinned_before_the_field_existed_still_loads(
    session: Session, riverside: Any
) -> None:
    """An enrolment's old snapshot must keep working: its own question reads without it."""
    version = protocols.for_injectate(session=session, clinic_id=riverside.id,
                                      injectate="corticosteroid")  # fmt: skip
    old = [{k: v for k, v in s.items() if k != "concerning_answer"} for s in version.steps]
    old.append(step())
    steps = {s.key: s for s in steps_from_snapshot(old)}
    assert steps["numbness_check"].concerning_answer == "no"  # the known question's own
    assert steps["sugar_ok"].concerning_answer is None
