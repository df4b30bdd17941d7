"""The triage benchmark runs end to end on a tiny input and reports every figure.

Speed is never asserted here (figures live in docs/benchmarks.md); this only keeps
``bench/triage.py`` from rotting while the engine changes under it.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest

from bench import triage as bench

# A clinic's evening inbox: Alice's pain score, Bruno's Spanish "all fine", a worry about
# the injection site, an answer to a yes/no question and a bare thanks.
ROWS: list[dict[str, Any]] = [
    {"text": "pain 7/10 tonight", "expects": "pain_score", "lang": "en",
     "hours_since_procedure": 6},
    {"text": "todo bien gracias, ya no me duele", "expects": None, "lang": "es"},
    {"text": "the site is red and warm to touch, a bit of a fever", "expects": None,
     "lang": "en", "hours_since_procedure": 48},
    {"text": "no", "expects": "yes_no", "lang": "en", "question": "numbness_worn_off"},
    {"text": "ok thanks", "expects": None, "lang": "en"},
]


def test_a_tiny_run_reports_rates_ratios_latencies_and_length_classes() -> None:
    report = bench.measure(ROWS, calls=50, core="not pinned (test)", long_chars=400,
                           long_calls=3)

    assert (report.replies, report.passes, report.calls) == (5, 10, 50)
    for rate in (report.triage_per_s, report.cli_per_s, report.baseline_per_s,
                 report.baseline_before_per_s, report.baseline_after_per_s):
        assert rate > 0
    assert report.triage_ratio == report.triage_per_s / report.baseline_per_s
    assert report.cli_ratio == report.cli_per_s / report.baseline_per_s
    assert 0 < report.p50_us <= report.p99_us <= report.max_us
    assert report.max_chars in {len(r["text"]) for r in ROWS}
    assert report.long_chars == 400
    labels = [c.label for c in report.by_length]
    assert labels == ["1–19", "20–49", "50–99", "400 (synthetic)"]
    assert sum(c.replies for c in report.by_length[:-1]) == len(ROWS)
    assert report.slowest_class in report.by_length

    table = report.markdown()
    for words in ("not pinned (test)", "(a) baseline", "`triage()` alone", "CLI path",
                  "**(b)/(a)**", "**(c)/(a)**", "p50 / p99", "slowest length class",
                  "target ≥ 2,000 replies/s"):
        assert words in table


def test_the_long_reply_is_exactly_as_long_as_asked_and_made_of_real_replies() -> None:
    text = bench.long_reply(ROWS, 1_600)
    assert len(text) == 1_600
    assert text.startswith("pain 7/10 tonight. todo bien gracias, ya no me duele. ")


def test_the_labelled_set_loads_with_contract_fields_only() -> None:
    rows = bench.load_rows()
    assert len(rows) >= 240
    assert all(set(r) <= set(bench.CONTRACT_FIELDS) and "text" in r for r in rows)


def test_the_command_prints_the_table(tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # Pinning would hold the whole test run to one core; the command says it did not pin.
    monkeypatch.setattr(bench, "pin_one_core", lambda: "not pinned (test)")
    replies = tmp_path / "replies.jsonl"
    replies.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    out = io.StringIO()
    with redirect_stdout(out):
        assert bench.main(["--calls", "10", "--input", str(replies)]) == 0
    assert "| (b) `triage()` alone |" in out.getvalue()
    assert "5 labelled replies × 2 passes = 10 calls" in out.getvalue()


def test_no_replies_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="rows"):
        bench.measure([], calls=10)
