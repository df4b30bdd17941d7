"""Reply triage: parse and classify free-text SMS replies after a hip injection.

Pure code (no DB, network or clock). The public API:

- ``triage(text, *, expects, lang, hours_since_procedure, thresholds, question, opted_out)``
  -> ``TriageResult`` (severity, categories, parsed, reasons, needs_clarification, keyword)
- parsers: ``parse_pain``, ``parse_yes_no``, ``parse_glucose``, ``parse_temperature``
- keywords: ``detect_keyword`` (STOP/START/HELP and plain-language opt-outs), ``detect_ack``

See docs/triage.md for the rules and their sources.
"""

from reminders.triage.classify import triage
from reminders.triage.keywords import KeywordMatch, detect_ack, detect_keyword
from reminders.triage.model import CATEGORIES, EXPECTS, Severity, Thresholds, TriageResult
from reminders.triage.parse import (
    Glucose,
    PainScore,
    Temperature,
    YesNo,
    parse_glucose,
    parse_pain,
    parse_temperature,
    parse_yes_no,
)

__all__ = [
    "CATEGORIES",
    "EXPECTS",
    "Glucose",
    "KeywordMatch",
    "PainScore",
    "Severity",
    "Temperature",
    "Thresholds",
    "TriageResult",
    "YesNo",
    "detect_ack",
    "detect_keyword",
    "parse_glucose",
    "parse_pain",
    "parse_temperature",
    "parse_yes_no",
    "triage",
]
