"""Run the triage classifier over the labelled set and check the safety targets.

Usage: python scripts/triage_eval.py [path/to/labelled.jsonl]

Prints counts per gold level, urgent+emergency recall, emergency recall, the false-alarm
rate on benign replies, a confusion matrix and every miss. Exits 1 when a target fails.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # runnable from a checkout without installing

from reminders.triage.evaluate import load, render, run  # noqa: E402

DEFAULT_SET = ROOT / "tests" / "triage" / "labelled.jsonl"


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else DEFAULT_SET
    report = run(load(path))
    print(render(report))
    return 0 if report.passed() else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
