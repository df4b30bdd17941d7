"""Regenerate the "Named clinical criteria" table of docs/triage.md from criteria.yaml.

Usage: python scripts/triage_criteria_doc.py   (a test fails when the docs miss a rule)
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CRITERIA = ROOT / "reminders" / "triage" / "criteria.yaml"
DOC = ROOT / "docs" / "triage.md"
HEADING = "### Named clinical criteria (`criteria.yaml`)"


def table() -> str:
    rows = ["| rule | level (category) | fires when | source |", "| --- | --- | --- | --- |"]
    for r in yaml.safe_load(CRITERIA.read_text(encoding="utf-8"))["rules"]:
        groups = r.get("all") or [r["any"]]
        when = " **and** ".join(
            "(" + " or ".join(f"`{x}`" for x in g) + ")" if len(g) > 1 else f"`{g[0]}`"
            for g in groups
        )
        level = f"{r['level']} (`{r['category']}`)"
        rows.append(f"| `{r['name']}` | {level} | {when} | {r['source']} |")
    return "\n".join(rows)


def main() -> int:
    doc = DOC.read_text(encoding="utf-8")
    section = re.search(re.escape(HEADING) + r"\n.*?(?=\n\n### )", doc, flags=re.S)
    if section is None:
        raise SystemExit(f"{DOC.name}: heading {HEADING!r} not found")
    body = section.group(0)
    old = re.search(r"\| rule \|.*?(?=\n\n|\Z)", body, flags=re.S)
    if old is None:
        raise SystemExit(f"{DOC.name}: no table under {HEADING!r}")
    new_body = body[: old.start()] + table() + body[old.end() :]
    DOC.write_text(doc.replace(body, new_body), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
