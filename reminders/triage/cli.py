"""JSON Lines in, JSON Lines out: ``python -m reminders.triage.cli < replies.jsonl``.

One output line per input line, in order, so outputs can be zipped with inputs:

    in:  {"text": "pain 9/10", "expects": "pain_score", "lang": "en", "hours_since_procedure": 20}
    out: {"severity": "urgent", "categories": ["severe_pain"], "parsed": {"pain": 9}}

Fields: ``text`` (string, required), ``expects`` ("pain_score" | "yes_no" | "glucose" |
"symptom_check" | null), ``lang`` ("en" | "es"), ``hours_since_procedure`` (number >= 0),
``question`` (a key from ``questions.py``, e.g. "numbness_worn_off"), ``asked`` (the
question's text as sent, a string of at most 1600 characters) and ``concerning_answer``
("yes" | "no" | null: which answer to a yes/no question means trouble), all optional but
``text``; other keys are ignored. A bad line (not JSON, not an object, a missing or
mistyped field, an unknown ``expects``) produces ``{"error": "<field>: <problem>"}`` on its
line and processing goes on. A blank line also produces an error line, so line N of the
output always answers line N of the input. Message text is never echoed in errors.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any, TextIO

from reminders.triage.classify import triage
from reminders.triage.model import ANSWERS, EXPECTS, LANGS
from reminders.triage.questions import known_keys, lookup

# The longest body an SMS provider will send (Twilio error 21617): anything longer
# cannot be the text of a question we sent.
MAX_ASKED_CHARS = 1600


class _BadLine(ValueError):
    pass


def _request(line: str) -> dict[str, Any]:
    if not line.strip():
        raise _BadLine("line: blank line (send one JSON object per line)")
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise _BadLine(f"line: not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(row, dict):
        raise _BadLine(f"line: expected a JSON object, got {type(row).__name__}")
    if "text" not in row:
        raise _BadLine("text: missing")
    text = row["text"]
    if not isinstance(text, str):
        raise _BadLine(f"text: must be a string, got {_kind(text)}")
    expects = row.get("expects")
    if expects is not None and (not isinstance(expects, str) or expects not in EXPECTS):
        raise _BadLine(f"expects: must be one of {', '.join(EXPECTS)} or null")
    lang = row.get("lang")
    if lang is not None and lang not in LANGS:
        raise _BadLine(f"lang: must be one of {', '.join(LANGS)}")
    hours = row.get("hours_since_procedure")
    if hours is not None:
        is_number = isinstance(hours, int | float) and not isinstance(hours, bool)
        if not is_number or not math.isfinite(hours):
            raise _BadLine(f"hours_since_procedure: must be a number, got {_kind(hours)}")
        if hours < 0:
            raise _BadLine("hours_since_procedure: must not be negative")
    question = row.get("question")
    if question is not None and (not isinstance(question, str) or lookup(question) is None):
        raise _BadLine(f"question: must be one of {', '.join(known_keys())}")
    asked = row.get("asked")
    if asked is not None:
        if not isinstance(asked, str):
            raise _BadLine(f"asked: must be a string, got {_kind(asked)}")
        if len(asked) > MAX_ASKED_CHARS:
            raise _BadLine(f"asked: must be at most {MAX_ASKED_CHARS} characters")
    concerning = row.get("concerning_answer")
    if concerning is not None and concerning not in ANSWERS:
        raise _BadLine("concerning_answer: must be yes, no or null")
    return {
        "text": text,
        "expects": expects,
        "lang": lang,
        "hours": hours,
        "question": question,
        "asked": asked,
        "concerning_answer": concerning,
    }


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def run(stdin: TextIO, stdout: TextIO) -> int:
    """Triage every line of ``stdin`` to ``stdout``; always returns 0 (errors are per line)."""
    for line in stdin:
        try:
            req = _request(line)
        except _BadLine as exc:
            out: dict[str, Any] = {"error": str(exc)}
        else:
            result = triage(
                req["text"],
                expects=req["expects"],
                lang=req["lang"],
                hours_since_procedure=None if req["hours"] is None else float(req["hours"]),
                question=req["question"],
                asked=req["asked"],
                concerning_answer=req["concerning_answer"],
            )
            out = result.to_json()
        stdout.write(json.dumps(out, ensure_ascii=False) + "\n")
    stdout.flush()
    return 0


def main() -> int:
    return run(sys.stdin, sys.stdout)


if __name__ == "__main__":
    raise SystemExit(main())
