"""The catalogue of display names: every internal name the code or a bundled protocol
can put in front of staff has words of its own.

The walk reads the code itself (audit actions, concern kinds, parsed fields) so a new
name added without a label fails here, not on a clinician's screen. "Words of its own"
means an entry in display.yaml whose text is not the raw key; a key that is already a
plain word ("bleeding", "other") may keep it.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import BaseModel

from reminders import display, scheduling
from reminders.enrollments import models as messages
from reminders.enrollments.schemas import EnrollmentIn
from reminders.enrollments.service import PLAN_REASONS
from reminders.patients.edits import PatientPatch
from reminders.protocols.loader import load_protocols, template_dirs
from reminders.triage import CATEGORIES, triage
from reminders.triage.keywords import KeywordKind
from reminders.web.api.clinic import SendingIn
from reminders.web.api.patients import ConsentIn
from reminders.web.api.schemas import EnrollmentPatch, ResolveIn

CODE = Path(display.__file__).resolve().parent
PLAIN_WORD = re.compile(r"^[a-z]+$")


def _has_words(section: str, key: str, label: str) -> None:
    assert display.known(section, key), f"{section}: no label for {key!r} in display.yaml"
    assert label.strip() and (label != key or PLAIN_WORD.match(key)), f"{section}: {key!r}"


def _trees() -> Iterator[tuple[Path, ast.AST]]:
    for path in sorted(CODE.rglob("*.py")):
        if "migrations" not in path.parts:
            yield path, ast.parse(path.read_text(encoding="utf-8"))


def _strings(node: ast.AST) -> Iterator[str]:
    """String constants an expression can evaluate to (both arms of an ``x if c else y``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, ast.IfExp):
        yield from _strings(node.body)
        yield from _strings(node.orelse)


def _callee(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def audit_actions() -> set[str]:
    """Every action the code records: any ``action=`` argument or default (audit.record
    and the helpers that pass one on), the strings given to the page and service
    ``audit``/``_audit`` helpers, ``*_ACTION`` constants, and the keyword actions
    (``patient.opt-out`` …) built from the keyword kinds."""
    found: set[str] = set()
    for _path, tree in _trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call):  # action= anywhere (helpers pass it on)
                values = [k.value for k in node.keywords if k.arg == "action"]
                if _callee(node) in ("audit", "_audit"):
                    values += node.args
                found.update(s for v in values for s in _strings(v))
            if isinstance(node, ast.FunctionDef):  # def f(..., action: str = "auth.failed")
                named = node.args.args[-len(node.args.defaults) :] if node.args.defaults else []
                found.update(s for a, d in zip(named, node.args.defaults, strict=True)
                             if a.arg == "action" for s in _strings(d))  # fmt: skip
                keywords = zip(node.args.kwonlyargs, node.args.kw_defaults, strict=True)
                found.update(s for a, d in keywords if a.arg == "action" and d for s in _strings(d))
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id.endswith("_ACTION") for t in node.targets
            ):
                found.update(_strings(node.value))
    found.update(f"patient.{kind.replace('_', '-')}" for kind in get_args(KeywordKind))
    return {a for a in found if re.fullmatch(r"[a-z_]+\.[a-z_-]+", a)}


def concern_kinds() -> set[str]:
    found = {"reply", "unclear"}  # the reply flow picks one of these (conversations/patient.py)
    for _path, tree in _trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _callee(node) in ("raise_concern", "open_concern"):
                found.update(s for k in node.keywords if k.arg == "kind" for s in _strings(k.value))
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "KIND" for t in node.targets
            ):
                found.update(_strings(node.value))
    return found


def parsed_fields() -> set[str]:
    """Keys the triage engine writes into a reply's ``parsed`` (classify._parsed and the
    keyword-only answer) and the one the conversation code adds when the engine fails."""
    found: set[str] = set()
    for path in (CODE / "triage" / "classify.py", CODE / "conversations" / "reading.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
                found.update(_strings(node.slice))
            if isinstance(node, ast.Dict) and any(
                isinstance(k, ast.Constant) and k.value in ("keyword", "triage_error")
                for k in node.keys
            ):
                found.update(s for k in node.keys if k is not None for s in _strings(k))
    return found


def schema_fields(model: type[BaseModel], prefix: str = "") -> Iterator[str]:
    for name, info in model.model_fields.items():
        path = prefix + (info.alias or name)
        annotation = info.annotation
        nested = annotation if isinstance(annotation, type) else None
        if nested is not None and issubclass(nested, BaseModel):
            yield from schema_fields(nested, path + ".")
        yield path


STEP_KEYS = sorted({step.key for protocol in load_protocols(template_dirs()).values()
                    for step in protocol.steps})  # fmt: skip


@pytest.mark.parametrize("key", STEP_KEYS)
def test_every_step_of_every_bundled_protocol(key: str) -> None:
    _has_words("steps", key, display.step_label(key))


def test_a_clinics_own_step_reads_as_its_title_else_its_key_in_words() -> None:
    assert display.step_label("knee_check", "Knee check-in") == "Knee check-in"
    assert display.step_label("knee_check") == "knee check"


def test_every_triage_category_and_concern_kind() -> None:
    for category in CATEGORIES:
        _has_words("categories", category, display.category_label(category))
    kinds = concern_kinds()
    assert {"no_response", "delivery", "unknown_sender", "no_on_call"} <= kinds
    for kind in kinds:
        _has_words("concern_kinds", kind, display.concern_kind_label(kind))


def test_every_audit_action_the_code_records() -> None:
    actions = audit_actions()
    assert {"patient.view", "concern.acknowledge", "enrollment.purge", "patient.opt-out"} <= actions
    for action in sorted(actions):
        _has_words("actions", action, display.action_label(action))
        assert "{who}" in display.action_sentence(action) or "{subject}" in (
            display.action_sentence(action)
        )


def test_every_field_of_the_enrolment_and_api_schemas() -> None:
    models = (EnrollmentIn, EnrollmentPatch, PatientPatch, ConsentIn, ResolveIn, SendingIn)
    paths = {path for model in models for path in schema_fields(model)}
    assert {"patient.given_name", "procedure.performed_at", "follow_up_at", "note"} <= paths
    for path in sorted(paths):
        label = display.field_label(path, capital=False)
        assert display.field_known(path), f"fields: no label for {path!r} in display.yaml"
        assert label.strip() and (label != path or PLAIN_WORD.match(path)), path
        assert "_" not in label and "." not in label, path
    assert display.field_label("patient.given_name") == "First name"
    assert display.field_label(["body", "patient", "conditions", 0]) == "Conditions"


def test_every_message_kind_channel_status_and_plan_reason() -> None:
    for kind in messages.KINDS:
        _has_words("message_kinds", kind, display.message_kind_label(kind))
    for channel in ("sms", "email"):
        _has_words("channels", channel, display.channel_label(channel))
    for status in (*messages.OPEN_STATUSES, messages.SENT, messages.FAILED, messages.SKIPPED,
                   messages.CANCELLED):  # fmt: skip
        _has_words("statuses", status, display.status_label(status))
    late = getattr(scheduling, "LATE_TIME_CRITICAL", None)
    skips = {"acknowledged", "expired", "opted_out", "enrollment_cancelled", "twiml"}
    for reason in sorted({*PLAN_REASONS, *skips, *filter(None, [late])}):
        _has_words("reasons", reason, display.reason_in_words(reason))
    assert display.reason_in_words("fallback_from_sms_failed_30006") == (
        "SMS failed (provider error 30006); sending it by email instead"
    )
    assert display.reason_in_words("retry_20429") == "will try again (provider error 20429)"


def test_every_parsed_field_the_triage_engine_produces() -> None:
    fields = parsed_fields()
    assert {"pain", "answer", "glucose_mg_dl", "temperature_c", "keyword", "triage_error"} <= fields
    for name in fields:
        _has_words("parsed", name, display.catalogue()["parsed"][name] if display.known(
            "parsed", name) else name)  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expects", "words"),
    [
        ("pain is 7", "pain_score", "pain 7/10"),
        ("245", "glucose", "glucose 245 mg/dL (13.6 mmol/L)"),
        ("13.6 mmol", "glucose", "glucose 13.6 mmol/L (245 mg/dL)"),
        ("meter says HI", "glucose", "glucose meter reads HI (above its range)"),
        ("I have a fever, 38.5", None, "temperature 38.5 °C (101.3 °F)"),
        ("no", "yes_no", "answered “no” to the numbness check"),
        ("STOP", None, "texted STOP (opt-out)"),
    ],
)
def test_what_the_engine_parses_reads_in_words_and_units(
    text: str, expects: str | None, words: str
) -> None:
    result = triage(text, expects=expects, lang="en", question="numbness_check")
    shown = display.parsed_in_words(result.parsed, question="numbness check")
    assert words in shown, (result.parsed, shown)
    assert not any("_" in phrase for phrase in shown)


def test_older_shapes_of_parsed_values_read_the_same() -> None:
    older: list[dict[str, Any]] = [{"pain_score": 7}, {"kind": "pain_score", "value": 7}]
    assert all(display.parsed_in_words(p) == ["pain 7/10"] for p in older)
    assert display.parsed_in_words({"glucose": 5.5, "unit": "mmol/L"}) == [
        "glucose 5.5 mmol/L (99 mg/dL)"
    ]


def test_composed_summaries_and_errors_read_in_words() -> None:
    assert display.summary_in_words("No answer to 'infection_check'") == (
        "No answer to the infection check"
    )
    assert display.summary_in_words("Urgent reply to 'flare_check': severe_pain, other") == (
        "Urgent reply to the pain flare check: severe pain, other"
    )
    assert display.summary_in_words("Could not deliver 'glucose_check' by sms (30003)") == (
        "Could not deliver the blood sugar check by SMS (30003)"
    )
    assert display.summary_in_words("pain 9/10") == "pain 9/10"  # free text stays
    assert display.error_in_words("patient.given_name", "Field required") == (
        "First name: required"
    )
    assert display.error_in_words("body", "patient.phone is required when channel is sms") == (
        "Mobile phone: is required when channel is sms"
    )
    assert display.names_in_words("must be after procedure.performed_at") == (
        "must be after injection time"
    )
