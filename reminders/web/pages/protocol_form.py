"""The protocol editor's state: the draft as the coordinator typed it (the step form, or
the advanced YAML view), the editing actions that need no JavaScript (add, remove, move a
step; switch views), and every problem in words, attached to its step and field.

Nothing here saves; protocols.py decides that. The same state renders the full page and
the live preview fragment, so the two never disagree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData

from reminders.protocols import form as step_form
from reminders.protocols import words as words_of
from reminders.protocols.form import FIELD_LABELS, LANGUAGE_NAMES, StepForm
from reminders.protocols.loader import ProtocolError, read_yaml, strip_lines
from reminders.protocols.models import ProtocolVersion
from reminders.protocols.preview import ParsedSteps, draft_problems, parse_steps_yaml, steps_yaml
from reminders.protocols.spec import Step

MAX_STEPS_CHARS = 50_000
MAX_TEMPLATE_CHARS = 5_000
_TEMPLATE_KEY = re.compile(r"^[a-z][a-z0-9_]{0,58}\.(en|es)$")
_MOVE = re.compile(r"^(remove|up|down):([a-z0-9_]{1,12})$")


@dataclass(frozen=True)
class Issue:
    """One problem for the list beside the preview: where, what (in words), a link."""

    where: str
    words: str
    href: str


@dataclass
class Draft:
    mode: str  # "form" | "yaml"
    forms: list[StepForm] = field(default_factory=list)
    steps_text: str = ""
    sources: dict[str, str] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    raw: list[dict[str, Any]] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    # The checks' own wording (where, message), as `aftercare protocols check` prints it.
    report: list[tuple[str, str]] = field(default_factory=list)
    step_problems: bool = False  # a step does not parse (the YAML view cannot save)
    notice: str = ""  # why a view switch did not happen
    counts: dict[str, str] = field(default_factory=dict)
    owners: dict[str, str] = field(default_factory=dict)  # template → uid of its editor

    @property
    def blocking(self) -> bool:
        """The form saves only a draft that passes every check; the YAML view (as before)
        saves any draft whose steps parse, messages may still be unwritten."""
        return bool(self.issues) if self.mode == "form" else self.step_problems


def edited_templates(form: Mapping[str, Any] | FormData) -> dict[str, str]:
    """The advanced view's message boxes (``tpl:<template>.<lang>``)."""
    items = form.multi_items() if isinstance(form, FormData) else form.items()
    edited = {}
    for name, value in items:
        key = name.removeprefix("tpl:")
        if name.startswith("tpl:") and _TEMPLATE_KEY.match(key) and isinstance(value, str):
            edited[key] = value.replace("\r\n", "\n").replace("\x00", "")[:MAX_TEMPLATE_CHARS]
    return edited


def _texts(template: str, sources: Mapping[str, str]) -> dict[str, str]:
    return {lang: sources.get(f"{template}.{lang}", "") for lang in LANGUAGE_NAMES}


def forms_from_raw(raw_steps: Sequence[Mapping[str, Any]], sources: Mapping[str, str]) -> list[
        StepForm]:  # fmt: skip
    forms = []
    for index, raw in enumerate(raw_steps):
        template = str(raw.get("template") or raw.get("key") or "")
        forms.append(StepForm(uid=str(index), values=step_form.values_from_raw(
            raw, _texts(template, sources))))  # fmt: skip
    return forms


def _new_uid(forms: Sequence[StepForm]) -> str:
    taken = {f.uid for f in forms}
    number = len(forms)
    while f"n{number}" in taken:
        number += 1
    return f"n{number}"


def _apply(forms: list[StepForm], action: str) -> None:
    if action == "add":
        forms.append(StepForm(uid=_new_uid(forms), values=step_form.blank_values()))
        return
    match = _MOVE.match(action)
    index = next((i for i, f in enumerate(forms) if match and f.uid == match[2]), None)
    if match is None or index is None:
        return
    verb = match[1]
    if verb == "remove":
        forms.pop(index)
    elif verb == "up" and index > 0:
        forms[index - 1], forms[index] = forms[index], forms[index - 1]
    elif verb == "down" and index < len(forms) - 1:
        forms[index + 1], forms[index] = forms[index], forms[index + 1]


def load(version: ProtocolVersion, form: FormData | None) -> Draft:
    """The draft to show: the stored version, or the posted one with its action applied."""
    action = str(form.get("action") or "") if form is not None else ""
    if form is None:
        mode = "form"
    else:
        posted_mode = form.get("editor")
        # A post without the view's name but with YAML text is the advanced view (older
        # clients and scripts post ``steps`` alone).
        mode = posted_mode if posted_mode in ("form", "yaml") else (
            "yaml" if isinstance(form.get("steps"), str) else "form")  # fmt: skip
    stored = dict(version.templates)
    if form is None:
        return _check_forms(version, forms_from_raw(version.steps, stored), stored)
    if mode == "form":
        # A read-only page posts only the sample patient: its steps are the stored ones.
        forms = (step_form.read_posted(form.multi_items()) if form.get("form_steps")
                 else forms_from_raw(version.steps, stored))  # fmt: skip
        _apply(forms, action)
        if action == "to_yaml":
            draft = _check_forms(version, forms, stored)
            texts = {f"{f.template}.{lang}": text for f in step_form.owners(forms).values()
                     for lang, text in f.texts().items()}  # fmt: skip
            return _check_yaml(version, steps_yaml([f.raw for f in draft.forms]),
                               {**stored, **texts})  # fmt: skip
        return _check_forms(version, forms, stored)
    text = str(form.get("steps") or "").replace("\r\n", "\n")[:MAX_STEPS_CHARS]
    sources = {**stored, **edited_templates(form)}
    if action == "to_form":
        try:
            doc = read_yaml(text, "steps")
        except ProtocolError:
            doc = None
        if isinstance(doc, list) and all(isinstance(entry, dict) for entry in doc):
            return _check_forms(version, forms_from_raw([strip_lines(e) for e in doc], sources),
                                sources)  # fmt: skip
        draft = _check_yaml(version, text, sources)
        draft.notice = "Still in the advanced view: fix the problems listed first, then switch."
        return draft
    return _check_yaml(version, text, sources)


def _label(index: int, form: StepForm) -> str:
    name = str(form.values.get("title") or "").strip() or form.key or "new step"
    return f"Step {index} ({name})"


def _check_forms(version: ProtocolVersion, forms: list[StepForm], stored: dict[str, str]) -> Draft:
    sources = step_form.check_forms(forms, key=version.key, injectate=version.injectate,
                                    sources=stored)  # fmt: skip
    draft = Draft(mode="form", forms=forms, sources=sources)
    draft.steps = [f.step for f in forms if f.step is not None]
    draft.raw = [f.raw for f in forms if f.step is not None]
    draft.owners = {t: f.uid for t, f in step_form.owners(forms).items()}
    for index, form in enumerate(forms, start=1):
        for name, words in form.errors.items():
            target = name if name != "step" else "title"
            draft.issues.append(Issue(f"{_label(index, form)} · {FIELD_LABELS.get(name, name)}",
                                      words, f"#s-{form.uid}-{target}"))  # fmt: skip
        draft.report.extend(("", message) for message in form.report)
        draft.step_problems = draft.step_problems or form.step is None
    if not forms:
        draft.issues.append(Issue("Steps", "A protocol needs at least one step.", "#add-step"))
        draft.step_problems = True
    draft.counts = step_form.sms_counts(forms, sources)
    return draft


def _check_yaml(version: ProtocolVersion, text: str, sources: dict[str, str]) -> Draft:
    parsed: ParsedSteps = parse_steps_yaml(text)
    problems = draft_problems(key=version.key, injectate=version.injectate, parsed=parsed,
                              sources=sources)  # fmt: skip
    draft = Draft(mode="yaml", steps_text=text, sources=sources, steps=parsed.steps,
                  raw=parsed.raw, step_problems=bool(parsed.problems))  # fmt: skip
    step_files = {"steps"}
    for problem in problems:
        where = f"{problem.file}:{problem.line}" if problem.line else problem.file
        draft.report.append((where, problem.message))
        if problem.file in step_files:
            words = words_of.problem_words(problem.message, problem.line, text)
            draft.issues.append(Issue("Steps", words, "#steps"))
            continue
        name = problem.file.removesuffix(".j2")
        template, _, lang = name.rpartition(".")
        language = LANGUAGE_NAMES.get(lang, lang)
        words = words_of.template_words(problem.message, lang)
        if problem.line:
            words = f"Line {problem.line} of the message: {words}"
        draft.issues.append(Issue(f"Message {template} ({language})", words,
                                  f"#tpl-{template}-{lang}"))  # fmt: skip
    return draft
