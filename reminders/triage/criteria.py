"""Named clinical criteria read from ``criteria.yaml``: combinations of findings that set
a minimum severity, each citing its source.

A rule fires when every one of its groups has at least one finding present. A finding is
a lexicon concept with an active mention, or one of the derived ``FACTS`` below (a fever
may be a measured temperature, not a word). The file is checked at import: an unknown
finding, level or category fails fast, naming the rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from reminders.triage.model import CATEGORIES, Severity
from reminders.triage.scan import MODIFIERS

if TYPE_CHECKING:
    from reminders.triage.rules import Context, Verdict

PATH = Path(__file__).with_name("criteria.yaml")
# Concepts that are not symptoms: modifiers, places and admin intents.
_NOT_SYMPTOMS = MODIFIERS | {"reschedule", "well", "distress"}


def _symptom(c: Context) -> bool:
    return c.fever() or any(h.active and h.concept not in _NOT_SYMPTOMS for h in c.f.hits)


def _glucose_very_low(c: Context) -> bool:
    g = c.glucose
    return g is not None and (g.flag == "LO" or (g.mg_dl is not None and g.mg_dl < 54))


FACTS: dict[str, Callable[[Context], bool]] = {
    "fever": lambda c: c.fever(),
    "glucose_low": lambda c: c.glucose_low(),
    "glucose_very_low": _glucose_very_low,
    "itch_widespread": lambda c: c.f.has("itch") and c.f.has("widespread"),
    "symptom": _symptom,
    # A plea counts even inside a question: "should I go to the ER?" is worry, now.
    "plea": lambda c: any(not h.negated for h in c.f.all("distress")),
}


@dataclass(frozen=True, slots=True)
class Criterion:
    name: str
    level: Severity
    category: str
    groups: tuple[tuple[str, ...], ...]
    reason: str
    source: str

    def holds(self, c: Context, facts: dict[str, bool]) -> bool:
        active = c.f.names
        for group in self.groups:
            if active.isdisjoint(group) and not any(_fact(c, n, facts) for n in group
                                                    if n in FACTS):  # fmt: skip
                return False
        return True


def _fact(c: Context, name: str, cache: dict[str, bool]) -> bool:
    """A derived fact, computed at most once per reply."""
    if name not in cache:
        cache[name] = FACTS[name](c)
    return cache[name]


def load(path: Path = PATH, *, concepts: frozenset[str]) -> tuple[Criterion, ...]:
    """Parse and check the criteria file against the known concept names."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out: list[Criterion] = []
    for n, raw in enumerate(data.get("rules") or [], start=1):
        name = str(raw.get("name") or f"rule #{n}")
        groups_raw = raw.get("all") or ([raw["any"]] if raw.get("any") else None)
        if not groups_raw or not all(isinstance(g, list) and g for g in groups_raw):
            raise ValueError(f"{path.name}: {name}: needs 'any: [...]' or 'all: [[...], ...]'")
        groups = tuple(tuple(str(x) for x in g) for g in groups_raw)
        unknown = sorted({x for g in groups for x in g} - concepts - set(FACTS))
        if unknown:
            raise ValueError(f"{path.name}: {name}: unknown finding(s) {', '.join(unknown)}")
        if raw.get("category") not in CATEGORIES:
            raise ValueError(f"{path.name}: {name}: category must be one of {CATEGORIES}")
        if not raw.get("source") or not raw.get("reason"):
            raise ValueError(f"{path.name}: {name}: every rule needs a reason and a source")
        out.append(Criterion(name, Severity(raw["level"]), raw["category"], groups,
                             str(raw["reason"]), str(raw["source"])))  # fmt: skip
    return tuple(out)


def apply(criteria: tuple[Criterion, ...], c: Context, v: Verdict) -> None:
    facts: dict[str, bool] = {}
    for rule in criteria:
        if rule.holds(c, facts):
            v.add(rule.level, rule.category, rule.reason)
