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
