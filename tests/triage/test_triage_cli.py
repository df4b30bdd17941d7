"""The JSON Lines contract of ``aftercare triage``: one answer per line, in order."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from reminders.triage.cli import run

ROOT = Path(__file__).parents[2]


def _run(lines: list[str]) -> tuple[int, list[dict[str, object]]]:
    out = io.StringIO()
    code = run(io.StringIO("\n".join(lines) + "\n"), out)
    return code, [json.loads(line) for line in out.getvalue().splitlines()]


def test_each_reply_gets_its_triage_in_order() -> None:
    code, out = _run([
        json.dumps({"text": "pain 9/10", "expects": "pain_score", "lang": "en"}),
        json.dumps({"text": "ok thanks"}),
        json.dumps({"text": "no puedo respirar", "lang": "es", "hours_since_procedure": 3}),
        json.dumps({"text": "220", "expects": "glucose"}),
    ])
    assert code == 0
    assert out == [
        {"severity": "urgent", "categories": ["severe_pain"], "parsed": {"pain": 9}},
        {"severity": "none", "categories": ["acknowledgement"], "parsed": {}},
        {"severity": "emergency", "categories": ["breathing"], "parsed": {}},
        {"severity": "routine", "categories": ["glucose_high"],
         "parsed": {"glucose_mg_dl": 220, "glucose_mmol_l": 12.2, "unit": "mg/dL"}},
    ]


def test_the_question_key_and_hours_are_used() -> None:
    row = {"text": "still numb", "expects": "yes_no", "question": "numbness_worn_off"}
    _, out = _run([json.dumps({**row, "hours_since_procedure": 2}),
                   json.dumps({**row, "hours_since_procedure": 12})])
    assert [o["severity"] for o in out] == ["routine", "urgent"]


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("not json at all", "line"),
        ("", "line"),
        ("   ", "line"),
        ("[1, 2]", "line"),
        ('"just a string"', "line"),
        ("{}", "text"),
        ('{"text": 5}', "text"),
        ('{"text": null}', "text"),
        ('{"text": "7", "expects": "pain"}', "expects"),
        ('{"text": "7", "expects": 3}', "expects"),
        ('{"text": "7", "lang": "fr"}', "lang"),
        ('{"text": "7", "hours_since_procedure": "3"}', "hours_since_procedure"),
        ('{"text": "7", "hours_since_procedure": true}', "hours_since_procedure"),
        ('{"text": "7", "hours_since_procedure": NaN}', "hours_since_procedure"),
        ('{"text": "7", "hours_since_procedure": -1}', "hours_since_procedure"),
        ('{"text": "7", "question": "how are you"}', "question"),
        ('{"text": "7", "asked": 5}', "asked"),
        ('{"text": "7", "asked": ["Did you take it?"]}', "asked"),
        ('{"text": "7", "concerning_answer": "maybe"}', "concerning_answer"),
        ('{"text": "7", "concerning_answer": true}', "concerning_answer"),
        ('{"text": "7", "concerning_answer": "YES"}', "concerning_answer"),
    ],
)
def test_a_bad_line_gets_an_error_naming_the_field_and_the_rest_go_on(
    line: str, field: str
) -> None:
    code, out = _run([json.dumps({"text": "fever"}), line, json.dumps({"text": "STOP"})])
    assert code == 0 and len(out) == 3
    assert out[0]["severity"] == "urgent"
    assert set(out[1]) == {"error"} and str(out[1]["error"]).startswith(f"{field}:")
    stop = {"severity": "none", "categories": ["opt_out"], "parsed": {"keyword": "opt_out"}}
    assert out[2] == stop


INSULIN = "Did you take your evening insulin?"


def test_asked_and_concerning_answer_read_a_clinics_own_question_the_right_way_round() -> None:
    """Riverside Ortho asks its own question, where "no" is the worrying answer."""
    row = {"expects": "yes_no", "asked": INSULIN}
    _, out = _run([
        json.dumps({**row, "text": "Nope", "concerning_answer": "no"}),
        json.dumps({**row, "text": "yep", "concerning_answer": "no"}),
        json.dumps({**row, "text": "Nope", "concerning_answer": "yes"}),
        json.dumps({**row, "text": "yep", "concerning_answer": None}),
    ])
    assert [(o["severity"], o["parsed"]) for o in out] == [
        ("routine", {"answer": "no"}),
        ("none", {"answer": "yes"}),
        ("none", {"answer": "no"}),
        # Without the field nobody knows which answer is bad: a person reads it.
        ("routine", {"answer": "yes"}),
    ]


def test_asked_may_be_as_long_as_one_sms_and_no_longer() -> None:
    _, out = _run([
        json.dumps({"text": "yes", "asked": "a" * 1600}),
        json.dumps({"text": "yes", "asked": "a" * 1601}),
    ])
    assert "severity" in out[0]
    assert out[1] == {"error": "asked: must be at most 1600 characters"}


def test_a_bad_concerning_answer_says_what_is_allowed() -> None:
    _, out = _run([json.dumps({"text": "no", "concerning_answer": "nope"})])
    assert out == [{"error": "concerning_answer: must be yes, no or null"}]


def test_errors_never_echo_the_question_text() -> None:
    _, out = _run([json.dumps({"text": "no", "asked": "Maria, " + "x" * 1600})])
    assert "Maria" not in str(out[0]["error"])


def test_errors_never_echo_the_patients_words() -> None:
    _, out = _run(['{"text": "Maria has a fever", "expects": "bogus"}'])
    assert "Maria" not in str(out[0]["error"])


def test_unknown_keys_are_ignored() -> None:
    _, out = _run([json.dumps({"text": "2", "expects": "pain_score", "patient_id": 17})])
    assert out == [{"severity": "none", "categories": ["other"], "parsed": {"pain": 2}}]


def test_empty_input_gives_empty_output() -> None:
    out = io.StringIO()
    assert run(io.StringIO(""), out) == 0 and out.getvalue() == ""


def test_runs_as_a_module() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "reminders.triage.cli"],
        input=json.dumps({"text": "tengo fiebre"}) + "\nnope\n",
        capture_output=True, text=True, check=True, cwd=ROOT,
    )
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines[0]["severity"] == "urgent" and "error" in lines[1]
