"""Validate every protocol and template: what `aftercare protocols check` runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from reminders import rendering
from reminders.protocols.loader import Problem, ProtocolDef, ProtocolError, load_protocols
from reminders.protocols.spec import ANSWER_KINDS, missing_concerning_answer

LANGUAGES = ("en", "es")


def check_all(dirs: Sequence[Path]) -> list[Problem]:
    try:
        protocols = load_protocols(dirs)
    except ProtocolError as exc:
        return exc.problems
    sources = rendering.load_template_sources(dirs)
    paths = _template_paths(dirs)
    problems: list[Problem] = []
    for protocol in protocols.values():
        problems.extend(check_protocol(protocol, sources, paths))
    return problems


def check_protocol(
    protocol: ProtocolDef, sources: Mapping[str, str], paths: Mapping[str, str] | None = None
) -> list[Problem]:
    """Unknown answer kinds, a yes/no question that does not say which answer means
    trouble, missing translations, unknown variables, > 3 SMS segments."""
    paths = paths or {}
    problems: list[Problem] = []
    where = f"protocols/{protocol.key}.yaml"
    for step in protocol.steps:
        if step.expects is not None and step.expects not in ANSWER_KINDS:
            problems.append(Problem(where, None, f"step {step.key}: unknown answer kind"))
        if (missing := missing_concerning_answer(step)) is not None:
            problems.append(Problem(where, None, missing))
        for lang in LANGUAGES:
            name = f"{step.template}.{lang}"
            source = sources.get(name)
            file = paths.get(name, f"messages/{name}.j2")
            if source is None:
                problems.append(Problem(file, None, f"step {step.key}: missing template {name}.j2"))
                continue
            found = rendering.check_template(source, name)
            problems.extend(Problem(file, p.line, p.message) for p in found)
            if found:
                continue
            try:
                rendered = rendering.render_text(
                    dict(sources), step.template, lang, rendering.sample_context(lang)
                )
            except rendering.RenderError as exc:
                problems.append(Problem(file, None, f"does not render: {exc}"))
                continue
            if rendered.segments.segments > rendering.MAX_SMS_SEGMENTS:
                problems.append(
                    Problem(
                        file,
                        None,
                        f"{rendered.segments.segments} SMS segments with sample "
                        f"values (at most {rendering.MAX_SMS_SEGMENTS})",
                    )
                )
    return problems


def _template_paths(dirs: Sequence[Path]) -> dict[str, str]:
    paths: dict[str, str] = {}
    for root in dirs:
        for path in sorted((root / "messages").glob("*.j2")):
            paths.setdefault(path.name.removesuffix(".j2"), str(path))
    return paths


def raise_on_problems(problems: list[Problem]) -> None:
    if problems:
        raise ProtocolError(problems)
