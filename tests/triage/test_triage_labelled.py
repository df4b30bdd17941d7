"""The labelled replies meet the safety targets, and the eval script says so (or fails)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from reminders.triage import CATEGORIES, EXPECTS, Severity
from reminders.triage.evaluate import MAX_FALSE_ALARM_RATE, Report, load, run

HERE = Path(__file__).parent
LABELLED = HERE / "labelled.jsonl"
ROOT = HERE.parents[1]
SCRIPT = ROOT / "scripts" / "triage_eval.py"


@pytest.fixture(scope="module")
def report() -> Report:
    return run(load(LABELLED))


def test_the_set_is_big_bilingual_and_covers_every_level() -> None:
    rows = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 240
    langs = Counter(r["lang"] for r in rows)
    assert set(langs) == {"en", "es"}
    assert 0.25 <= langs["es"] / len(rows) <= 0.40
    assert set(Counter(r["severity"] for r in rows)) == {s.value for s in Severity}
    for r in rows:
        assert isinstance(r["text"], str) and r["text"]
        assert r["expects"] is None or r["expects"] in EXPECTS
        assert r["categories"] and set(r["categories"]) <= set(CATEGORIES)
    assert len({(r["text"], r["expects"], r["lang"]) for r in rows}) > 0.95 * len(rows)


def test_every_urgent_or_emergency_reply_is_flagged(report: Report) -> None:
    flagged, total = report.flagged_recall
    missed = [o.case.text for o in report.outcomes
              if o.case.gold >= Severity.URGENT and o.got < Severity.URGENT]
    assert flagged == total, missed


def test_every_emergency_is_flagged_as_an_emergency(report: Report) -> None:
    hit, total = report.emergency_recall
    missed = [o.case.text for o in report.outcomes
              if o.case.gold is Severity.EMERGENCY and o.got is not Severity.EMERGENCY]
    assert hit == total, missed


def test_few_benign_replies_raise_false_alarms(report: Report) -> None:
    alarms, benign = report.false_alarms
    assert alarms / benign <= MAX_FALSE_ALARM_RATE


def test_the_key_category_is_named(report: Report) -> None:
    hit, total = report.category_hits
    assert hit / total >= 0.95


def test_the_eval_script_passes_on_the_labelled_set() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True,
                          check=False, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "emergency flagged emergency" in done.stdout and done.stdout.rstrip().endswith("PASS")


def test_the_eval_script_fails_when_a_red_flag_is_missed(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    # Gold says emergency, but the text is harmless: the classifier must "miss" it.
    row = {"text": "ok thanks", "expects": None, "lang": "en", "severity": "emergency",
           "categories": ["other"]}
    bad.write_text(json.dumps(row) + "\n", encoding="utf-8")
    done = subprocess.run([sys.executable, str(SCRIPT), str(bad)], capture_output=True,
                          text=True, check=False, cwd=ROOT)
    assert done.returncode == 1
    assert "FAIL" in done.stdout and "ok thanks" in done.stdout


BLIND = sorted((HERE / "blind").glob("*.jsonl"))


@pytest.mark.parametrize("path", BLIND, ids=[p.stem for p in BLIND])
def test_blind_batches_turned_tuning_sets_keep_the_safety_targets(path: Path) -> None:
    """Batches written blind by people who never saw the rules; scored before tuning
    (docs/triage.md records those first scores), now part of the tuning set. Language
    parity is reported in the docs, not asserted on these small per-language slices."""
    report = run(load(path))
    failures = [f for f in report.failures() if "gap > 2 points" not in f]
    assert not failures, failures
