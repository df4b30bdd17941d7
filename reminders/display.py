"""Words for internal names: the one catalogue staff screens, API errors and composed
summaries read from (``display.yaml``, next to this module).

Every function takes an internal value (a step key, a triage category, a field path…)
and returns what a person reads. A value the catalogue does not know never shows raw:
a clinic's own step falls back to its title, anything else to its key in words
("my_custom_step" → "my custom step"). tests/test_display.py checks that every key the
code and the bundled protocols use has an entry of its own.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeGuard

import yaml

PATH = Path(__file__).with_name("display.yaml")
MMOL_TO_MG_DL = 18.0
_QUOTED_KEY = re.compile(r"'([a-z][a-z0-9_]*)'")
_CATEGORY_LIST = re.compile(r"^(?P<head>.*): (?P<items>[a-z_]+(?:, [a-z_]+)*)$", re.S)
# Dotted or snake_case names inside a message: "patient.phone", "follow_up_at".
_NAME_IN_TEXT = re.compile(r"\b[a-z][a-z0-9]*(?:[._][a-z0-9]+)+\b")
_CODED_REASON = re.compile(
    r"^(?:(?P<fallback>fallback_from_)?(?P<channel>sms|email|page)_failed_(?P<code>\w+)"
    r"|retry_(?P<retry>\w+))$"
)


@functools.cache
def catalogue() -> dict[str, dict[str, Any]]:
    with PATH.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    return {section: dict(values or {}) for section, values in data.items()}


def known(section: str, key: str) -> bool:
    """Whether ``key`` has an entry of its own in ``section`` (the catalogue test)."""
    return key in catalogue().get(section, {})


def humanise(key: str) -> str:
    """A key in words when nothing better is known: 'pain_diary_6h' → 'pain diary 6h'."""
    return " ".join(str(key).replace(".", " ").replace("_", " ").replace("-", " ").split())


def sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:]


def _lookup(section: str, key: object) -> str:
    value = catalogue()[section].get(str(key))
    if isinstance(value, list):  # actions: [label, sentence]
        value = value[0]
    return str(value) if value is not None else humanise(str(key))


# -- protocol steps and messages -------------------------------------------------------


def step_label(key: str, title: str | None = None) -> str:
    """'infection_check' → 'infection check'; a clinic's own step → its title."""
    found = catalogue()["steps"].get(key)
    if found:
        return str(found)
    if title:
        return title
    return humanise(key)


def answer_label(expects: str | None) -> str:
    return _lookup("answers", expects) if expects else ""


def message_kind_label(kind: str) -> str:
    return _lookup("message_kinds", kind)


def channel_label(channel: str) -> str:
    return _lookup("channels", channel)


def status_label(status: str) -> str:
    return _lookup("statuses", status)


def delivery_label(status: str) -> str:
    return _lookup("deliveries", status)


def reason_in_words(reason: str | None) -> str:
    """Why a message was skipped, cancelled, retried or failed, in words."""
    if not reason:
        return ""
    if known("reasons", reason):
        return _lookup("reasons", reason)
    coded = _CODED_REASON.match(reason)
    if coded and coded["retry"]:
        code = coded["retry"]
        return "will try again" + ("" if code == "transient" else f" (provider error {code})")
    if coded:
        channel, code = coded["channel"], coded["code"]
        what = "the page" if channel == "page" else channel_label(channel)
        failed = f"{what} failed" + ("" if code == "error" else f" (provider error {code})")
        return failed + "; sending it by email instead" if coded["fallback"] else failed
    if reason.startswith("enrollment_"):
        return f"the enrolment was {humanise(reason.removeprefix('enrollment_'))}"
    return humanise(reason)


# -- triage -----------------------------------------------------------------------------


def category_label(category: str) -> str:
    return _lookup("categories", category)


def categories_in_words(categories: Iterable[str]) -> str:
    return ", ".join(category_label(c) for c in categories)


def concern_kind_label(kind: str) -> str:
    return _lookup("concern_kinds", kind)


def _number(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.1f}"


def _glucose(values: Mapping[str, Any]) -> str | None:
    flag = values.get("glucose_flag")
    if flag in ("HI", "LO"):
        side = "above" if flag == "HI" else "below"
        return f"glucose meter reads {flag} ({side} its range)"
    mg = values.get("glucose_mg_dl", values.get("glucose_mgdl"))
    mmol = values.get("glucose_mmol_l")
    unit = str(values.get("unit") or values.get("glucose_unit") or "").lower()
    raw = values.get("glucose")
    if isinstance(raw, dict):
        unit, raw = str(raw.get("unit") or "").lower(), raw.get("value")
    if mg is None and _is_number(raw):
        mg = float(raw) * (MMOL_TO_MG_DL if "mmol" in unit else 1)
    if mg is None and _is_number(mmol):
        mg = float(mmol) * MMOL_TO_MG_DL
    if not _is_number(mg):
        return None
    mg_dl = float(mg)
    mmol_l = float(mmol) if _is_number(mmol) else mg_dl / MMOL_TO_MG_DL
    metric = f"{mmol_l:.1f} mmol/L"
    us = f"{round(mg_dl)} mg/dL"
    # The patient's own unit first: that is what she read off her meter.
    return f"glucose {metric} ({us})" if "mmol" in unit else f"glucose {us} ({metric})"


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def parsed_in_words(parsed: Mapping[str, Any] | None, question: str | None = None) -> list[str]:
    """A reply's parsed values, one phrase each: 'pain 7/10', 'glucose 245 mg/dL
    (13.6 mmol/L)', 'temperature 38.5 °C (101.3 °F)', 'answered no to the numbness check'.

    ``question`` names what the reply answered (a step label), for a yes/no answer.
    """
    if not isinstance(parsed, Mapping) or not parsed:
        return []
    values = dict(parsed)
    if isinstance(values.get("kind"), str) and "value" in values:  # {"kind": "pain_score", …}
        values[values.pop("kind")] = values.pop("value")
    out: list[str] = []
    for key in ("pain", "pain_score"):
        if _is_number(values.get(key)):
            out.append(f"pain {_number(float(values[key]))}/10")
            break
    answer = values.get("answer")
    if answer in ("yes", "no"):
        out.append(f"answered “{answer}” to the {question}" if question else f"answered “{answer}”")
    glucose = _glucose(values)
    if glucose:
        out.append(glucose)
    celsius = values.get("temperature_c")
    if _is_number(celsius):
        fahrenheit = float(celsius) * 9 / 5 + 32
        out.append(f"temperature {float(celsius):.1f} °C ({fahrenheit:.1f} °F)")
    keyword = values.get("keyword")
    if isinstance(keyword, str):
        out.append(_lookup("keywords", keyword))
    if values.get("triage_error"):
        out.append(_lookup("parsed", "triage_error"))
    return out


def summary_in_words(summary: str, titles: Mapping[str, str] | None = None) -> str:
    """A composed concern summary with its internal names in words:
    "No answer to 'infection_check'" → "No answer to the infection check";
    "Urgent reply to 'flare_check': severe_pain, other" → "… the pain flare check: severe
    pain, other". Free text is left as written."""
    titles = titles or {}
    text = _QUOTED_KEY.sub(lambda m: "the " + step_label(m[1], titles.get(m[1])), summary)
    listed = _CATEGORY_LIST.match(text)
    if listed and ("_" in listed["items"] or known("categories", listed["items"])):
        text = f"{listed['head']}: {categories_in_words(listed['items'].split(', '))}"
    return re.sub(r"\bby (sms|email)\b", lambda m: "by " + channel_label(m[1]), text)


# -- audit -------------------------------------------------------------------------------


def action_label(action: str) -> str:
    """'patient.view' → 'viewed patient'."""
    return _lookup("actions", action)


def action_sentence(action: str) -> str:
    """The audit log's sentence for ``action``, with ``{who}`` and ``{subject}`` to fill."""
    value = catalogue()["actions"].get(action)
    if isinstance(value, list) and len(value) > 1:
        return str(value[1])
    return "{who} " + action_label(action) + " {subject}"


def actor_label(actor: str) -> str:
    """Who did it when it was not a signed-in staff member ('system' → 'Aftercare')."""
    if actor.startswith("patient:"):
        return "the patient"
    return str(catalogue()["actors"].get(actor) or humanise(actor))


def subject_label(subject_type: str) -> str:
    return _lookup("subjects", subject_type)


# -- request fields ----------------------------------------------------------------------


def _field_path(path: str | Iterable[object]) -> list[str]:
    parts = path.split(".") if isinstance(path, str) else [str(p) for p in path]
    if parts and parts[0] in ("body", "query", "path", "form", "header") and len(parts) > 1:
        parts = parts[1:]
    # List positions ("conditions.0") name the field, not a new one.
    return [p for p in parts if p and not p.isdigit()]


def field_label(path: str | Iterable[object], capital: bool = True) -> str:
    """'patient.given_name' (or ['body', 'patient', 'given_name']) → 'First name'."""
    parts = _field_path(path)
    fields = catalogue()["fields"]
    label = None
    for start in range(len(parts)):  # the longest known tail: 'patient.phone', 'phone'
        label = fields.get(".".join(parts[start:])) or _bare_fields().get(".".join(parts[start:]))
        if label:
            break
    text = str(label) if label else humanise(".".join(parts) or "request")
    return sentence_case(text) if capital else text


def field_known(path: str | Iterable[object]) -> bool:
    """Whether a field (path, or its bare name as a form or patch body has it) has words
    of its own in the catalogue."""
    name = ".".join(_field_path(path))
    return known("fields", name) or name in _bare_fields()


@functools.cache
def _bare_fields() -> dict[str, str]:
    """'given_name' → 'first name': the form fields are the schema's without the prefix."""
    bare: dict[str, str] = {}
    for path, label in catalogue()["fields"].items():
        bare.setdefault(path.rsplit(".", 1)[-1], str(label))
    return bare


def names_in_words(message: str) -> str:
    """Field names inside a message in words: 'patient.phone is required when channel is
    sms' → 'Mobile phone is required when channel is sms'."""

    def swap(found: re.Match[str]) -> str:
        name = found[0]
        if not (known("fields", name) or name in _bare_fields()):
            return name
        return field_label(name, capital=found.start() == 0)

    return _NAME_IN_TEXT.sub(swap, message)


# Pydantic's own phrasings, as a person would put them.
_PHRASES = {
    "Field required": "required",
    "Extra inputs are not permitted": "is not a field this request takes",
    "String should have at least 1 character": "must not be empty",
    "Input should be a valid boolean": "must be true or false",
    "Input should be a valid integer": "must be a whole number",
    "Input should be a valid number": "must be a number",
    "Input should be a valid string": "must be text",
    "Input should be a valid list": "must be a list",
    "Input should be a valid dictionary": "must be an object",
    "Input should be a valid datetime": "is not a date and time",
}


def validation_message(error: Mapping[str, Any]) -> str:
    """One of pydantic's errors (``exc.errors()`` item) in words, without the field."""
    kind, ctx = str(error.get("type", "")), error.get("ctx") or {}
    message = str(error.get("msg", "")).removeprefix("Value error, ")
    if kind == "missing":
        return "required"
    if kind == "string_too_short":
        least = ctx.get("min_length", 1)
        return "must not be empty" if least == 1 else f"must be at least {least} characters"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}"
    if kind.startswith(("datetime_", "date_")):
        return "is not a date and time with a UTC offset, e.g. 2026-11-20T14:10:00-06:00"
    if kind in ("greater_than_equal", "greater_than"):
        return f"must be at least {ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"must be at most {ctx.get('le', ctx.get('lt'))}"
    if kind == "json_invalid":
        return "is not valid JSON"
    return _PHRASES.get(message, message)


def error_in_words(path: str | Iterable[object], message: str) -> str:
    """'patient.given_name', 'Field required' → 'First name: required'. An error about
    the whole request that starts with a field's name is put on that field."""
    parts = _field_path(path)
    message = _PHRASES.get(message, message)
    if not parts or parts == ["body"]:
        first, _, rest = message.partition(" ")
        if rest and (known("fields", first) or first in _bare_fields()):
            parts, message = [first], rest
    return f"{field_label(parts)}: {names_in_words(message)}"


# -- templates ---------------------------------------------------------------------------


FILTERS = {
    "step_label": step_label, "category_label": category_label,
    "categories_in_words": categories_in_words, "parsed_in_words": parsed_in_words,
    "field_label": field_label, "action_label": action_label,
    "message_kind_label": message_kind_label, "channel_label": channel_label,
    "status_label": status_label, "delivery_label": delivery_label,
    "reason_in_words": reason_in_words, "concern_kind_label": concern_kind_label,
    "summary_in_words": summary_in_words, "answer_label": answer_label,
    "subject_label": subject_label,
}  # fmt: skip


def install(env: Any) -> None:
    """Make every label a Jinja filter: ``{{ m.step_key | step_label }}``."""
    env.filters.update(FILTERS)
