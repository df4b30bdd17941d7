"""Measure the classifier against a labelled set (used by scripts/triage_eval.py and tests).

Targets (from the clinical brief): every gold urgent/emergency reply flagged at least
urgent, every gold emergency flagged emergency, and at most 10% of benign replies (gold
none/routine) flagged urgent or higher.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reminders.triage.classify import triage
from reminders.triage.model import Severity

LEVELS = tuple(Severity)
MAX_FALSE_ALARM_RATE = 0.10


@dataclass(frozen=True, slots=True)
class Case:
    line: int
    text: str
    expects: str | None
    lang: str | None
    hours: float | None
    question: str | None
    gold: Severity
    gold_categories: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Outcome:
    case: Case
    got: Severity
    categories: tuple[str, ...]


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    def _rate(self, pool: list[Outcome], hit: Any) -> tuple[int, int]:
        return sum(1 for o in pool if hit(o)), len(pool)

    @property
    def flagged_recall(self) -> tuple[int, int]:
        pool = [o for o in self.outcomes if o.case.gold >= Severity.URGENT]
        return self._rate(pool, lambda o: o.got >= Severity.URGENT)

    @property
    def emergency_recall(self) -> tuple[int, int]:
        pool = [o for o in self.outcomes if o.case.gold == Severity.EMERGENCY]
        return self._rate(pool, lambda o: o.got == Severity.EMERGENCY)

    @property
    def false_alarms(self) -> tuple[int, int]:
        pool = [o for o in self.outcomes if o.case.gold <= Severity.ROUTINE]
        return self._rate(pool, lambda o: o.got >= Severity.URGENT)

    @property
    def exact(self) -> tuple[int, int]:
        return self._rate(self.outcomes, lambda o: o.got == o.case.gold)

    @property
    def category_hits(self) -> tuple[int, int]:
        return self._rate(self.outcomes, lambda o: set(o.case.gold_categories) <= set(o.categories))

    def confusion(self) -> dict[Severity, Counter[Severity]]:
        table: dict[Severity, Counter[Severity]] = {lvl: Counter() for lvl in LEVELS}
        for o in self.outcomes:
            table[o.case.gold][o.got] += 1
        return table

    def passed(self) -> bool:
        ok_flag = self.flagged_recall[0] == self.flagged_recall[1]
        ok_emerg = self.emergency_recall[0] == self.emergency_recall[1]
        fa, benign = self.false_alarms
        return ok_flag and ok_emerg and (benign == 0 or fa / benign <= MAX_FALSE_ALARM_RATE)

    def misses(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.got != o.case.gold]


def load(path: Path) -> list[Case]:
    cases: list[Case] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        cases.append(
            Case(
                line=n,
                text=row["text"],
                expects=row.get("expects"),
                lang=row.get("lang"),
                hours=row.get("hours_since_procedure"),
                question=row.get("question"),
                gold=Severity(row["severity"]),
                gold_categories=tuple(row.get("categories", ())),
            )
        )
    return cases


def run(cases: Iterable[Case]) -> Report:
    report = Report()
    start = time.perf_counter()
    for case in cases:
        result = triage(case.text, expects=case.expects, lang=case.lang,
                        hours_since_procedure=case.hours, question=case.question)
        report.outcomes.append(Outcome(case, result.severity, result.categories))
    report.seconds = time.perf_counter() - start
    return report


def _pct(pair: tuple[int, int]) -> str:
    hit, total = pair
    return f"{hit}/{total} ({100 * hit / total:.1f}%)" if total else "0/0 (n/a)"


def render(report: Report) -> str:
    """The plain-text report printed by scripts/triage_eval.py (no message bodies of real
    patients ever go through this: the labelled set is written by the team)."""
    gold_counts = Counter(o.case.gold for o in report.outcomes)
    n = len(report.outcomes)
    lines = [f"labelled replies: {n}"]
    lines += [f"  gold {lvl.value:<9} {gold_counts[lvl]}" for lvl in LEVELS]
    lines += [
        f"urgent+emergency flagged >= urgent: {_pct(report.flagged_recall)}  (target 100%)",
        f"emergency flagged emergency:        {_pct(report.emergency_recall)}  (target 100%)",
        f"benign flagged >= urgent:           {_pct(report.false_alarms)}  "
        f"(target <= {MAX_FALSE_ALARM_RATE:.0%})",
        f"exact severity:                     {_pct(report.exact)}",
        f"gold categories present:            {_pct(report.category_hits)}",
        f"mean time per reply:                {1000 * report.seconds / max(n, 1):.3f} ms",
        "",
        "confusion (rows gold, columns predicted):",
        "            " + " ".join(f"{lvl.value:>9}" for lvl in LEVELS),
    ]
    for gold, row in report.confusion().items():
        lines.append(f"  {gold.value:<9} " + " ".join(f"{row[p]:>9}" for p in LEVELS))
    misses = report.misses()
    lines += ["", f"misses ({len(misses)}):"]
    for o in misses:
        lines.append(f"  line {o.case.line}: gold {o.case.gold.value} got {o.got.value} "
                     f"{list(o.categories)} :: {o.case.text[:90]!r}")
    lines += ["", "PASS" if report.passed() else "FAIL"]
    return "\n".join(lines)
