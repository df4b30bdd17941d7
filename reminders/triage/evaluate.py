"""Measure the classifier against a labelled set (used by scripts/triage_eval.py and tests).

Targets (issue 8, on text nobody here wrote): every gold urgent/emergency reply flagged
at least urgent in at least 99% of cases, emergencies called emergency in at least 97%,
at most 8% of benign replies (gold none/routine) flagged urgent or higher, Spanish within
2 points of English on each figure, and opt-outs exact: every request honoured, no plea
or clinical sentence read as one.

A set is JSON Lines: ``text``, ``severity``, and optionally ``expects``, ``lang``,
``hours_since_procedure``, ``question``, ``asked``, ``concerning_answer``,
``categories`` and ``opt_out`` (the gold answer to "is this a request to stop messages?").
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from reminders.triage.classify import triage
from reminders.triage.keywords import detect_keyword
from reminders.triage.model import Severity

LEVELS = tuple(Severity)
MIN_FLAGGED_RECALL = 0.99
MIN_EMERGENCY_RECALL = 0.97
MAX_FALSE_ALARM_RATE = 0.08
MAX_LANGUAGE_GAP = 0.02


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
    asked: str | None = None
    concerning_answer: str | None = None
    opt_out: bool | None = None  # None: the set does not say


@dataclass(frozen=True, slots=True)
class Outcome:
    case: Case
    got: Severity
    categories: tuple[str, ...]
    opted_out: bool


Pair = tuple[int, int]


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)
    seconds: float = 0.0

    def only(self, lang: str) -> Report:
        return Report([o for o in self.outcomes if o.case.lang == lang], self.seconds)

    def _rate(self, pool: Callable[[Outcome], bool], hit: Callable[[Outcome], bool]) -> Pair:
        chosen = [o for o in self.outcomes if pool(o)]
        return sum(1 for o in chosen if hit(o)), len(chosen)

    @property
    def flagged_recall(self) -> Pair:
        return self._rate(lambda o: o.case.gold >= Severity.URGENT,
                          lambda o: o.got >= Severity.URGENT)  # fmt: skip

    @property
    def emergency_recall(self) -> Pair:
        return self._rate(lambda o: o.case.gold == Severity.EMERGENCY,
                          lambda o: o.got == Severity.EMERGENCY)  # fmt: skip

    @property
    def false_alarms(self) -> Pair:
        return self._rate(lambda o: o.case.gold <= Severity.ROUTINE,
                          lambda o: o.got >= Severity.URGENT)  # fmt: skip

    @property
    def dropped(self) -> Pair:
        """Replies that need a person (gold routine or above) filed as "none"."""
        return self._rate(lambda o: o.case.gold >= Severity.ROUTINE,
                          lambda o: o.got == Severity.NONE)  # fmt: skip

    @property
    def exact(self) -> Pair:
        return self._rate(lambda o: True, lambda o: o.got == o.case.gold)

    @property
    def category_hits(self) -> Pair:
        return self._rate(lambda o: bool(o.case.gold_categories),
                          lambda o: set(o.case.gold_categories) <= set(o.categories))  # fmt: skip

    @property
    def opt_outs_honoured(self) -> Pair:
        return self._rate(lambda o: o.case.opt_out is True, lambda o: o.opted_out)

    @property
    def false_opt_outs(self) -> Pair:
        return self._rate(lambda o: o.case.opt_out is False, lambda o: o.opted_out)

    def confusion(self) -> dict[Severity, Counter[Severity]]:
        table: dict[Severity, Counter[Severity]] = {lvl: Counter() for lvl in LEVELS}
        for o in self.outcomes:
            table[o.case.gold][o.got] += 1
        return table

    def failures(self) -> list[str]:
        """Every target this report misses, in words; empty when all are met."""
        out: list[str] = []
        checks = (("urgent+emergency flagged", self.flagged_recall, MIN_FLAGGED_RECALL, 1),
                  ("emergency called emergency", self.emergency_recall, MIN_EMERGENCY_RECALL, 1),
                  ("benign flagged >= urgent", self.false_alarms, MAX_FALSE_ALARM_RATE, -1))
        for name, pair, limit, sign in checks:
            if pair[1] and sign * (_ratio(pair) - limit) < 0:
                out.append(f"{name}: {_pct(pair)} (target {'>=' if sign > 0 else '<='} "
                           f"{limit:.0%})")  # fmt: skip
        en, es = self.only("en"), self.only("es")
        if en.outcomes and es.outcomes:
            for name in ("flagged_recall", "emergency_recall", "false_alarms"):
                a, b = getattr(en, name), getattr(es, name)
                if a[1] and b[1] and abs(_ratio(a) - _ratio(b)) > MAX_LANGUAGE_GAP + 1e-9:
                    out.append(f"{name}: Spanish {_pct(b)} vs English {_pct(a)} (gap > 2 points)")
        honoured, asked_to = self.opt_outs_honoured
        if honoured < asked_to:
            out.append(f"opt-outs honoured: {honoured}/{asked_to}")
        if self.false_opt_outs[0]:
            out.append(f"false opt-outs: {self.false_opt_outs[0]}/{self.false_opt_outs[1]}")
        return out

    def passed(self) -> bool:
        return not self.failures()

    def misses(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.got != o.case.gold
                or (o.case.opt_out is not None and o.opted_out != o.case.opt_out)]  # fmt: skip


def _ratio(pair: Pair) -> float:
    return pair[0] / pair[1] if pair[1] else 1.0


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
                asked=row.get("asked"),
                concerning_answer=row.get("concerning_answer"),
                opt_out=row.get("opt_out"),
            )
        )
    return cases


def run(cases: Iterable[Case]) -> Report:
    report = Report()
    start = time.perf_counter()
    for case in cases:
        result = triage(case.text, expects=case.expects, lang=case.lang,
                        hours_since_procedure=case.hours, question=case.question,
                        asked=case.asked, concerning_answer=case.concerning_answer)  # fmt: skip
        kw = detect_keyword(case.text)
        report.outcomes.append(Outcome(case, result.severity, result.categories,
                                       kw is not None and kw.kind == "opt_out"))  # fmt: skip
    report.seconds = time.perf_counter() - start
    return report


def _pct(pair: Pair) -> str:
    hit, total = pair
    return f"{hit}/{total} ({100 * hit / total:.1f}%)" if total else "0/0 (n/a)"


def render(report: Report) -> str:
    """The plain-text report printed by scripts/triage_eval.py (labelled sets are written
    by people, never real patients' messages)."""
    gold_counts = Counter(o.case.gold for o in report.outcomes)
    langs = Counter(o.case.lang or "?" for o in report.outcomes)
    n = len(report.outcomes)
    lines = [f"labelled replies: {n} ({', '.join(f'{k} {v}' for k, v in sorted(langs.items()))})"]
    lines += [f"  gold {lvl.value:<9} {gold_counts[lvl]}" for lvl in LEVELS]
    lines += ["", f"{'':36}{'all':>18}{'en':>18}{'es':>18}"]
    parts = (report, report.only("en"), report.only("es"))
    for label, name in (("urgent+emergency flagged >= urgent", "flagged_recall"),
                        ("emergency flagged emergency", "emergency_recall"),
                        ("benign flagged >= urgent", "false_alarms"),
                        ("needs a person, filed as none", "dropped"),
                        ("exact severity", "exact")):  # fmt: skip
        lines.append(f"{label:<36}" + "".join(f"{_pct(getattr(r, name)):>18}" for r in parts))
    lines += [
        "",
        f"opt-outs honoured:                  {_pct(report.opt_outs_honoured)}",
        f"false opt-outs:                     {_pct(report.false_opt_outs)}",
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
        opt = "" if o.case.opt_out is None or o.opted_out == o.case.opt_out else (
            f" opt-out {o.opted_out} (gold {o.case.opt_out})")
        lines.append(f"  line {o.case.line}: gold {o.case.gold.value} got {o.got.value} "
                     f"{list(o.categories)}{opt} :: {o.case.text[:90]!r}")
    failures = report.failures()
    lines += [""] + [f"target missed: {f}" for f in failures]
    lines += ["PASS" if not failures else "FAIL"]
    return "\n".join(lines)
