"""A protocol's timeline for a sample patient, rendered: what `aftercare protocols preview`
prints and what the web editor shows beside a draft as it is typed.

Also parses the editor's YAML steps list, so a coordinator sees every problem (with its
line) before publishing. No database, no clock: the procedure time is part of the sample.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from reminders.delivery.context import message_context
from reminders.delivery.rendered import render_template
from reminders.protocols.check import check_protocol
from reminders.protocols.loader import Problem, ProtocolDef, ProtocolError, read_yaml, strip_lines
from reminders.protocols.spec import Facts, SpecError, Step, parse_step
from reminders.rendering import RenderError
from reminders.scheduling import Anchors, SendWindow, plan

STEPS_FILE = "steps"  # how the editor's textarea is named in problems


@dataclass(frozen=True)
class SamplePatient:
    performed_at: datetime
    tz: ZoneInfo
    lang: str = "en"
    diabetic: bool = False
    diagnostic: bool = False
    follow_up_at: datetime | None = None
    channel: str = "sms"
    window: SendWindow = field(default_factory=SendWindow)
    first_name: str = "Alex"
    clinic_name: str = "Riverside Ortho"
    clinic_phone: str | None = "+13125550100"
    emergency_number: str = "911"


@dataclass(frozen=True)
class PreviewRow:
    step: str
    occurrence: int
    due_at: datetime  # in the sample patient's zone
    moved: bool  # deferred out of quiet hours
    channel: str
    expects: str | None
    time_critical: bool
    status: str
    reason: str | None
    text: str
    segments: int
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "step": self.step, "occurrence": self.occurrence, "due_at": self.due_at.isoformat(),
            "channel": self.channel, "expects": self.expects, "time_critical": self.time_critical,
            "status": self.status, "text": self.text, "segments": self.segments,
        }  # fmt: skip
        if self.error:
            row["error"] = self.error
        return row


def preview(
    steps: Sequence[Step], *, injectate: str, sources: Mapping[str, str], sample: SamplePatient
) -> list[PreviewRow]:
    """Every message of the timeline, rendered; a template that fails sets ``error``."""
    planned = plan(
        steps,
        facts=Facts(
            conditions=frozenset({"diabetes"} if sample.diabetic else set()),
            diagnostic=sample.diagnostic or injectate == "anesthetic_only",
            follow_up_booked=sample.follow_up_at is not None,
            injectate=injectate,
        ),
        anchors=Anchors(
            performed_at=sample.performed_at, tz=sample.tz, follow_up_at=sample.follow_up_at
        ),
        window=sample.window,
        preferred_channel=sample.channel,
        available_channels=frozenset({sample.channel}),
        # The timeline as seen at the moment of the procedure: a preview of a past
        # procedure shows every message rather than skipping them as late.
        now=sample.performed_at,
    )
    repeats = {s.key: (s.repeat.count if s.repeat else 1) for s in steps}
    rows = []
    for item in planned:
        context = message_context(
            first_name=sample.first_name, clinic_name=sample.clinic_name,
            clinic_phone=sample.clinic_phone, emergency_number=sample.emergency_number,
            language=sample.lang, tz=sample.tz, performed_at=sample.performed_at,
            follow_up_at=sample.follow_up_at, occurrence=item.occurrence,
            occurrences=repeats[item.step_key], at=item.due_at,
        )  # fmt: skip
        text, segments, error = "", 0, None
        try:
            rendered = render_template(dict(sources), item.template, sample.lang, context,
                                       item.channel)  # fmt: skip
            text, segments = rendered.text, rendered.segments
        except RenderError as exc:
            error = str(exc)
        rows.append(
            PreviewRow(
                step=item.step_key, occurrence=item.occurrence,
                due_at=item.due_at.astimezone(sample.tz), moved=item.due_at != item.planned_at,
                channel=item.channel, expects=item.expects, time_critical=item.time_critical,
                status=item.status, reason=item.reason, text=text, segments=segments,
                error=error,
            )
        )  # fmt: skip
    return rows


@dataclass(frozen=True)
class ParsedSteps:
    raw: list[dict[str, Any]]
    steps: list[Step]
    problems: list[Problem]


def parse_steps_yaml(text: str) -> ParsedSteps:
    """The editor's YAML (a list of step mappings) as raw snapshots and parsed steps.

    Every bad step is reported with its line; good ones are still returned so the
    preview can show as much as it can while the coordinator types.
    """
    try:
        doc = read_yaml(text, STEPS_FILE)
    except ProtocolError as exc:
        return ParsedSteps([], [], exc.problems)
    if not isinstance(doc, list) or not doc:
        problem = Problem(STEPS_FILE, 1, "expected a list of steps ('- key: …')")
        return ParsedSteps([], [], [problem])
    raw_steps: list[dict[str, Any]] = []
    steps: list[Step] = []
    problems: list[Problem] = []
    seen: set[str] = set()
    for entry in doc:
        line = entry.get("__line__") if isinstance(entry, dict) else None
        if not isinstance(entry, dict):
            problems.append(Problem(STEPS_FILE, line, "each step must be a mapping with a key"))
            continue
        raw = strip_lines(entry)
        try:
            step = parse_step(raw)
        except (SpecError, TypeError, ValueError) as exc:
            problems.append(Problem(STEPS_FILE, line, str(exc)))
            continue
        except OverflowError:
            problems.append(Problem(STEPS_FILE, line, "a duration or count is far too large"))
            continue
        if step.key in seen:
            problems.append(Problem(STEPS_FILE, line, f"step {step.key}: appears twice"))
            continue
        seen.add(step.key)
        raw_steps.append(raw)
        steps.append(step)
    return ParsedSteps(raw_steps, steps, problems)


def steps_yaml(raw_steps: Sequence[Mapping[str, Any]]) -> str:
    """The editor's starting text for a version's steps."""
    return yaml.safe_dump(list(raw_steps), sort_keys=False, allow_unicode=True, width=88)


def draft_problems(
    *, key: str, injectate: str, parsed: ParsedSteps, sources: Mapping[str, str]
) -> list[Problem]:
    """Step problems plus template problems (unknown variables, > 3 SMS segments, missing
    translations), exactly as `aftercare protocols check` reports them."""
    protocol = ProtocolDef(key=key, title=key, injectate=injectate, raw_steps=parsed.raw,
                           steps=parsed.steps)  # fmt: skip
    found = check_protocol(protocol, sources)
    # Template problems are named after the template, not a file the coordinator has.
    return [*parsed.problems, *(Problem(p.file.removeprefix("messages/"), p.line, p.message)
                                for p in found)]  # fmt: skip
