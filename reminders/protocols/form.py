"""The protocol editor's form: one group of plain-word fields per step, over the same
versioned data as the YAML.

A step's stored mapping (its "raw" snapshot) becomes form values and back. Nothing here
decides what a valid step is: every value the form builds goes through the spec's own
parsers (``parse_when``, ``parse_duration``, ``parse_step``…), and their problems come
back in words, attached to the field that caused them. A value the coordinator did not
change keeps its stored spelling ("1d 6h" stays "1d 6h"), so saving an untouched form
stores exactly what was there.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from reminders import rendering
from reminders.protocols.check import check_protocol
from reminders.protocols.loader import ProtocolDef
from reminders.protocols.spec import (
    CONDITION_VOCABULARY,
    INJECTATES,
    SIDES,
    YES_NO_KINDS,
    Elapsed,
    SpecError,
    Step,
    WallClock,
    missing_concerning_answer,
    parse_condition,
    parse_duration,
    parse_repeat,
    parse_step,
    parse_when,
)
from reminders.protocols.words import LANGUAGE_NAMES, field_of, in_words, template_words
from reminders.triage.questions import lookup

MAX_FIELD_CHARS = 2_000
MAX_TEXT_CHARS = 5_000
UID = re.compile(r"^[a-z0-9_]{1,12}$")

# Choices in words, in the order the form offers them.
WHEN_KINDS = {
    "after": "A length of time after the procedure",
    "day": "On a given day, at a set time",
    "visit_day": "Days before or after the visit, at a set time",
    "visit_offset": "Hours before or after the visit",
}
ANSWERS = {
    "": "No answer expected",
    "yes_no": "Yes or no",
    "symptom_check": "Yes or no (a symptom check)",
    "pain_score": "Pain score, 0 to 10",
    "glucose": "Blood glucose reading",
}
CHANNEL_CHOICES = {
    "preferred": "The patient's choice (text or email)",
    "sms": "Always a text message",
    "email": "Always an email",
}
CONDITION_TERMS = {
    **{f"has:{c}": f"the patient has {c.replace('_', ' ')}" for c in sorted(CONDITION_VOCABULARY)},
    "has:diabetes": "the patient is diabetic",
    "has:anticoagulated": "the patient takes blood thinners",
    "has:immunocompromised": "the patient is immunocompromised",
    "has:bleeding_disorder": "the patient has a bleeding disorder",
    "has:allergy_local_anaesthetic": "the patient is allergic to local anaesthetic",
    "has:allergy_corticosteroid": "the patient is allergic to corticosteroids",
    "follow_up_booked": "a follow-up visit is booked",
    "diagnostic": "the injection was diagnostic",
    **{f"injectate:{i}": f"the injection is {i.replace('_', ' ')}" for i in INJECTATES},
    **{f"side:{s}": f"the side is {s}" for s in sorted(SIDES)},
}

# Every form field of a step, with its label (used in problem lists and summaries).
FIELD_LABELS = {
    "title": "Title",
    "key": "Step id",
    "when": "When to send",
    "repeat": "Repeat",
    "condition": "Only for",
    "channel": "Send by",
    "expects": "Expected answer",
    "concerning": "Which answer means trouble",
    "expires": "Give up if not sent within",
    "window": "Replies count for",
    "time_critical": "Time-critical",
    "reask": "If no reply, ask again after",
    "source": "Clinical source",
    "text_en": "Message in English",
    "text_es": "Message in Spanish",
    "step": "Step",
}


@dataclass
class StepForm:
    """One step as the form shows it: typed values (kept as typed), and what they build."""

    uid: str
    values: dict[str, Any]
    raw: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    step: Step | None = None
    report: list[str] = field(default_factory=list)  # the checks' own wording, for details

    @property
    def key(self) -> str:
        return str(self.raw.get("key") or self.values.get("key") or "")

    @property
    def template(self) -> str:
        return str(self.raw.get("template") or self.key)

    def texts(self) -> dict[str, str]:
        return {lang: str(self.values.get(f"text_{lang}", "")) for lang in LANGUAGE_NAMES}

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, message)


# --- durations and times in words ------------------------------------------------------


def duration_words(delta: timedelta) -> str:
    """``timedelta(days=1, hours=6)`` → ``"1 day 6 hours"``; what the form shows."""
    sign = "-" if delta < timedelta(0) else ""
    seconds = int(abs(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [(days, "day"), (hours, "hour"), (minutes, "minute")]
    words = [f"{n} {unit}{'s' if n != 1 else ''}" for n, unit in parts if n]
    return sign + (" ".join(words) or "0 minutes")


def duration_spec(delta: timedelta) -> str:
    """The compact spelling the YAML uses: ``"1d 6h"``, ``"90m"`` → ``"1h 30m"``."""
    sign = "-" if delta < timedelta(0) else ""
    seconds = int(abs(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if n]
    return sign + (" ".join(parts) or "0m")


def _duration_value(raw: Any) -> str:
    if raw in (None, ""):
        return ""
    try:
        return duration_words(parse_duration(str(raw)))
    except SpecError:
        return str(raw)


# --- stored step → form values -----------------------------------------------------------


def values_from_raw(raw: Mapping[str, Any], texts: Mapping[str, str]) -> dict[str, Any]:
    """The form's starting values for a stored step (texts: ``{"en": …, "es": …}``)."""
    values: dict[str, Any] = {
        "orig": json.dumps(dict(raw), sort_keys=True, default=str),
        "title": str(raw.get("title") or ""),
        "key": str(raw.get("key") or ""),
        "template": str(raw.get("template") or ""),
        "channel": str(raw.get("channel") or "preferred"),
        "expects": str(raw.get("expects") or ""),
        "concerning": _concerning_value(raw.get("concerning_answer")),
        "expires": _duration_value(raw.get("expires")),
        "window": _duration_value(raw.get("answer_window")),
        "time_critical": raw.get("time_critical") is True,
        "source": str(raw.get("source") or ""),
        **{f"text_{lang}": texts.get(lang, "") for lang in LANGUAGE_NAMES},
    }
    values |= _when_values(raw.get("when"))
    values |= _repeat_values(raw.get("repeat"))
    values["conditions"] = _condition_rows(raw.get("condition"))
    nr = raw.get("no_response")
    nr = nr if isinstance(nr, Mapping) else {}
    values["reask"] = _duration_value(nr.get("reask_after"))
    values["nr_concern"] = nr.get("concern") is True
    return values


def blank_values() -> dict[str, Any]:
    """A new step: a day-1 message with no question, in both languages."""
    return values_from_raw({"when": "day 1 at 10:00", "expires": "12h"}, {}) | {"orig": "{}"}


def _concerning_value(value: Any) -> str:
    if value is True or value is False:
        return "yes" if value else "no"
    return str(value) if value in ("yes", "no") else ""


def _when_values(raw: Any) -> dict[str, str]:
    values = {"when_kind": "after", "when_dur": "", "when_day": "", "when_at": "",
              "when_dir": "before"}  # fmt: skip
    if raw in (None, ""):
        return values
    try:
        when = parse_when(str(raw))
    except SpecError:
        return values | {"when_dur": str(raw)}  # shown as typed, with its problem
    if isinstance(when, WallClock):
        kind = "day" if when.anchor == "procedure" else "visit_day"
        days = when.day if kind == "day" else abs(when.day)
        direction = "after" if when.day >= 0 and kind == "visit_day" else "before"
        return values | {"when_kind": kind, "when_day": str(days),
                         "when_at": when.at.strftime("%H:%M"), "when_dir": direction}  # fmt: skip
    if when.anchor == "visit":
        direction = "after" if when.delta >= timedelta(0) else "before"
        return values | {"when_kind": "visit_offset", "when_dur": duration_words(abs(when.delta)),
                         "when_dir": direction}  # fmt: skip
    return values | {"when_dur": duration_words(when.delta)}


def _repeat_values(raw: Any) -> dict[str, str]:
    values = {"repeat_kind": "", "repeat_n": "", "repeat_every": ""}
    if raw in (None, ""):
        return values
    try:
        repeat = parse_repeat(str(raw))
    except SpecError:
        return values | {"repeat_kind": "every", "repeat_every": str(raw)}
    if repeat.every is None:
        return values | {"repeat_kind": "daily", "repeat_n": str(repeat.count)}
    return values | {"repeat_kind": "every", "repeat_n": str(repeat.count),
                     "repeat_every": duration_words(repeat.every)}  # fmt: skip


def _condition_rows(raw: Any) -> list[tuple[str, str]]:
    """``"has:diabetes and not follow_up_booked"`` → [("only", "has:diabetes"), ("not", …)]."""
    if raw in (None, ""):
        return []
    rows = []
    for chunk in str(raw).split(" and "):
        words = chunk.strip().lower()
        mode = "not" if words.startswith("not ") else "only"
        rows.append((mode, words.removeprefix("not ").strip()))
    return rows


# --- posted form → step ----------------------------------------------------------------


def read_posted(items: Sequence[tuple[str, Any]]) -> list[StepForm]:
    """The steps of a posted form, in page order (the order of the ``step`` fields).

    Field names are ``s-<uid>-<name>``; a step's uid is only a handle for the page (it
    keeps typed values with their step while steps are added, removed and moved).
    """
    order: list[str] = []
    fields: dict[str, dict[str, Any]] = {}
    for name, value in items:
        if not isinstance(value, str):
            continue
        value = value.replace("\r\n", "\n").replace("\x00", "")
        if name == "step" and UID.match(value) and value not in order:
            order.append(value)
            continue
        match = re.match(r"^s-([a-z0-9_]{1,12})-([a-z_]+)$", name)
        if match is None:
            continue
        uid, key = match.groups()
        limit = MAX_TEXT_CHARS if key in ("text_en", "text_es", "source") else MAX_FIELD_CHARS
        limit = 4 * MAX_TEXT_CHARS if key == "orig" else limit
        bucket = fields.setdefault(uid, {"cond_mode": [], "cond_term": []})
        if key in ("cond_mode", "cond_term"):
            bucket[key].append(value[:64])
        else:
            bucket[key] = value[:limit]
    steps = []
    for uid in order[:200]:
        posted = fields.get(uid, {"cond_mode": [], "cond_term": []})
        values = {k: v for k, v in posted.items() if k not in ("cond_mode", "cond_term")}
        values["time_critical"] = values.get("time_critical") == "on"
        values["nr_concern"] = values.get("nr_concern") == "on"
        values["conditions"] = [
            (mode, term)
            for mode, term in zip(posted["cond_mode"], posted["cond_term"], strict=False)
            if term
        ]
        steps.append(StepForm(uid=uid, values=values))
    return steps


def build(form: StepForm) -> StepForm:
    """Fill ``form.raw`` (and ``form.step`` when it is valid) from its typed values;
    every problem lands in ``form.errors`` under the field that caused it, in words."""
    v = form.values
    orig = _orig(v.get("orig"))
    raw: dict[str, Any] = {k: val for k, val in orig.items() if k != "__line__"}

    def text(name: str) -> str:
        return str(v.get(name) or "").strip()

    title = text("title")
    key = text("key") or _slug(title)
    if not key:
        form.error("key", "Give the step a short id, like insulin_check (or a title).")
    raw["key"] = key
    _set(raw, orig, "title", title or None)
    template = text("template")
    _set(raw, orig, "template", template or None)

    _field(form, raw, orig, "when", "when", _when_spec(v), parse_when)
    _field(form, raw, orig, "repeat", "repeat", _repeat_spec(v), parse_repeat)
    _field(form, raw, orig, "condition", "condition", _condition_spec(v), parse_condition)
    channel = text("channel") or "preferred"
    _set(raw, orig, "channel", None if channel == "preferred" and "channel" not in orig
         else channel)  # fmt: skip
    expects = text("expects") or None
    _set(raw, orig, "expects", expects)
    concerning = text("concerning") if expects in YES_NO_KINDS else ""
    if concerning not in ("", "yes", "no"):
        form.error("concerning", "Choose yes or no.")
    elif _concerning_value(orig.get("concerning_answer")) == concerning:
        pass  # unchanged: keep the stored spelling (a bare YAML no is False)
    elif concerning:
        raw["concerning_answer"] = concerning
    else:
        raw.pop("concerning_answer", None)
    expires = text("expires")
    if not expires:
        form.error("expires", "Say how late the message may still go out, like 4 hours.")
    _field(form, raw, orig, "expires", "expires", expires or None, parse_duration)
    _field(form, raw, orig, "window", "answer_window", text("window") or None, parse_duration)
    critical = bool(v.get("time_critical"))
    _set(raw, orig, "time_critical", critical if critical or "time_critical" in orig else None)
    _no_response(form, raw, orig, text("reask") or None, bool(v.get("nr_concern")))
    _set(raw, orig, "source", text("source") or None)

    for name in ("expires", "window", "reask"):
        value = text(name)
        if value and name not in form.errors and _is_nonpositive(value):
            form.error(name, "Must be more than zero: the message would expire before it is "
                       "sent." if name == "expires" else "Must be more than zero.")  # fmt: skip
    if form.errors and expects in YES_NO_KINDS and not concerning:
        # The step does not parse yet, so the checker cannot see it: ask the spec's own
        # rule now, so every problem of the step shows at once.
        probe = Step(key=key or "step", when=Elapsed(timedelta(0)), template=key or "step",
                     expires=timedelta(hours=1), expects=expects,
                     concerning_answer=known_concerning(key, expects))  # fmt: skip
        if (missing := missing_concerning_answer(probe)) is not None:
            form.error(*field_of(missing))
    form.raw = raw
    if not form.errors:
        try:
            form.step = parse_step(raw)
        except SpecError as exc:
            form.error(*field_of(str(exc)))
            form.report.append(str(exc))
        except (TypeError, ValueError, OverflowError):
            form.error("step", "A time in this step is out of range.")
    return form


def _orig(text: Any) -> dict[str, Any]:
    try:
        value = json.loads(str(text or "{}"))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _slug(title: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", title.lower()).strip("_")[:40]
    return slug if re.fullmatch(r"[a-z][a-z0-9_]{1,58}", slug) else ""


def _set(raw: dict[str, Any], orig: Mapping[str, Any], name: str, value: Any) -> None:
    """Store ``value``; an empty one drops the field unless the stored step had it empty."""
    if value is None:
        if name in orig and orig[name] in (None, "", False):
            raw[name] = orig[name]
        else:
            raw.pop(name, None)
        return
    raw[name] = value


def _field(
    form: StepForm,
    raw: dict[str, Any],
    orig: Mapping[str, Any],
    name: str,
    stored_as: str,
    spec: str | None,
    parse: Callable[[str], Any],
) -> None:
    """Check one value with the spec's parser; keep the stored spelling if it means the same."""
    if spec is None:
        _set(raw, orig, stored_as, None)
        return
    try:
        parsed = parse(spec)
    except SpecError as exc:
        form.error(name, in_words(str(exc)))
        form.report.append(f"step {raw.get('key')}: {exc}")
        raw[stored_as] = spec
        return
    except (OverflowError, ValueError):
        form.error(name, "That is out of range.")
        raw[stored_as] = spec
        return
    previous = orig.get(stored_as)
    if previous not in (None, "") and _same(parse, previous, parsed):
        raw[stored_as] = previous
    else:
        raw[stored_as] = _compact(spec, parsed)


def _same(parse: Callable[[str], Any], previous: Any, parsed: Any) -> bool:
    try:
        before = parse(str(previous))
    except (SpecError, ValueError, OverflowError):
        return False
    if hasattr(before, "terms"):  # conditions: the same terms, however they were written
        return bool(before.terms == parsed.terms)
    return bool(before == parsed)


def _compact(spec: str, parsed: Any) -> str:
    return duration_spec(parsed) if isinstance(parsed, timedelta) else spec


def _is_nonpositive(value: str) -> bool:
    try:
        return parse_duration(value) <= timedelta(0)
    except (SpecError, OverflowError):
        return False


def _when_spec(v: Mapping[str, Any]) -> str | None:
    kind = str(v.get("when_kind") or "after")
    dur, day = str(v.get("when_dur") or "").strip(), str(v.get("when_day") or "").strip()
    at, before = str(v.get("when_at") or "").strip(), v.get("when_dir") != "after"
    if kind == "day":
        return f"day {day} at {at}" if day or at else None
    if kind == "visit_day":
        sign = "-" if before else "+"
        return f"visit {sign}{day.lstrip('+-')} day at {at}" if day or at else None
    if not dur:
        return None
    if kind == "visit_offset":
        return f"visit {'-' if before else '+'}{_spec_or_text(dur)}"
    return _spec_or_text(dur)


def _spec_or_text(text: str) -> str:
    try:
        return duration_spec(parse_duration(text))
    except (SpecError, OverflowError):
        return text


def _repeat_spec(v: Mapping[str, Any]) -> str | None:
    kind, count = str(v.get("repeat_kind") or ""), str(v.get("repeat_n") or "").strip()
    if kind == "daily":
        return f"daily for {count or '?'} days"
    if kind == "every":
        return f"every {_spec_or_text(str(v.get('repeat_every') or '').strip() or '?')} " \
               f"for {count or '?'} times"  # fmt: skip
    return None


def _condition_spec(v: Mapping[str, Any]) -> str | None:
    rows = [("not " if mode == "not" else "") + term for mode, term in v.get("conditions", [])]
    return " and ".join(rows) or None


def _no_response(
    form: StepForm, raw: dict[str, Any], orig: Mapping[str, Any], reask: str | None, concern: bool
) -> None:
    before = orig.get("no_response") if isinstance(orig.get("no_response"), Mapping) else None
    if reask is None and not concern:
        _set(raw, orig, "no_response", None)
        return
    rule: dict[str, Any] = dict(before or {})
    if reask is None:
        rule.pop("reask_after", None)
    else:
        try:
            parsed = parse_duration(reask)
        except SpecError as exc:
            form.error("reask", in_words(str(exc)))
            parsed = None
        previous = rule.get("reask_after")
        if parsed is None:
            rule["reask_after"] = reask
        elif not (previous and _same(parse_duration, previous, parsed)):
            rule["reask_after"] = duration_spec(parsed)
    if concern or "concern" in rule:
        rule["concern"] = concern
    raw["no_response"] = rule


def known_concerning(key: str, expects: str | None) -> str | None:
    """The answer that means trouble for a known question (its default), if any."""
    question = lookup(key) if expects in YES_NO_KINDS and key else None
    return question.concerning if question is not None else None


# --- the whole draft ------------------------------------------------------------------


def check_forms(
    forms: Sequence[StepForm], *, key: str, injectate: str, sources: Mapping[str, str]
) -> dict[str, str]:
    """Build every step and run the checks `aftercare protocols check` runs, each problem
    attached to its step and field. Returns the template sources the draft renders with
    (the stored ones plus the typed texts; an emptied text counts as missing)."""
    seen: set[str] = set()
    for form in forms:
        build(form)
        if form.key and form.key in seen:
            form.errors.pop("step", None)
            form.error("key", "Another step already uses this id.")
            form.step = None
        seen.add(form.key)
    merged = dict(sources)
    for form in owners(forms).values():
        for lang, text in form.texts().items():
            if text.strip():
                merged[f"{form.template}.{lang}"] = text
            else:
                merged.pop(f"{form.template}.{lang}", None)
    valid = [f for f in forms if f.step is not None]
    by_key = {f.key: f for f in forms}
    by_template = owners(forms)
    protocol = ProtocolDef(key=key, title=key, injectate=injectate,
                           raw_steps=[f.raw for f in valid],
                           steps=[f.step for f in valid if f.step is not None])  # fmt: skip
    for problem in check_protocol(protocol, merged):
        name = problem.file.removeprefix("messages/").removesuffix(".j2")
        report = f"{name}{f':{problem.line}' if problem.line else ''}: {problem.message}"
        template, _, lang = name.rpartition(".")
        if lang in LANGUAGE_NAMES and template in by_template:
            words = template_words(problem.message, lang)
            if problem.line:
                words = f"Line {problem.line} of the message: {words}"
            by_template[template].error(f"text_{lang}", words)
            by_template[template].report.append(report)
            continue
        step = re.match(r"^step ([a-z0-9_]+): ", problem.message)
        owner = by_key.get(step.group(1)) if step else None
        if owner is not None:
            owner.error(*field_of(problem.message))
            owner.report.append(report)
    for form in by_template.values():  # texts of steps that do not parse yet: checked too
        if form.step is not None:
            continue
        for lang, text in form.texts().items():
            found = (
                rendering.check_template(text, f"{form.template}.{lang}")
                if text.strip()
                else [rendering.TemplateProblem(form.template, None, "renders empty")]
            )
            if found:
                form.error(f"text_{lang}", template_words(found[0].message, lang))
    return merged


def owners(forms: Sequence[StepForm]) -> dict[str, StepForm]:
    """The first step using each template: its message fields edit the template (a later
    step using the same template says so instead of showing a second copy)."""
    found: dict[str, StepForm] = {}
    for form in forms:
        if form.template:  # a new step without an id yet has no messages to share
            found.setdefault(form.template, form)
    return found


def sms_counts(forms: Sequence[StepForm], sources: Mapping[str, str]) -> dict[str, str]:
    """``"<uid>-<lang>"`` → "2 text messages · GSM-7 · 212 characters", counted as
    reminders/segments.py counts, on the text rendered with the check's long sample names."""
    counts: dict[str, str] = {}
    for form in owners(forms).values():
        for lang in LANGUAGE_NAMES:
            if f"{form.template}.{lang}" not in sources:
                counts[f"{form.uid}-{lang}"] = "Empty"
                continue
            try:
                info = rendering.render_text(dict(sources), form.template, lang,
                                             rendering.sample_context(lang)).segments  # fmt: skip
            except rendering.RenderError:
                counts[f"{form.uid}-{lang}"] = "Cannot count until the message is fixed"
                continue
            parts = "text message" if info.segments == 1 else "text messages"
            alphabet = "GSM-7" if info.encoding == "GSM-7" else "UCS-2 (accents or symbols)"
            counts[f"{form.uid}-{lang}"] = (
                f"{info.segments} {parts} · {alphabet} · {info.length} characters"
            )
    return counts
