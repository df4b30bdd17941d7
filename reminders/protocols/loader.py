"""Read protocol YAML files and compose them from the shared step library.

Errors carry file and line so a coordinator editing YAML sees exactly where it broke.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from reminders.protocols.spec import INJECTATES, SpecError, Step, parse_step

LIBRARY_FILE = "_steps.yaml"


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


class ProtocolError(ValueError):
    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in problems))


@dataclass(frozen=True)
class ProtocolDef:
    key: str
    title: str
    injectate: str
    raw_steps: list[dict[str, Any]]  # composed, plain data: what a version snapshot stores
    steps: list[Step] = field(default_factory=list)

    @property
    def template_names(self) -> set[str]:
        return {s.template for s in self.steps}


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that remembers the line of every mapping as ``__line__``."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping  # type: ignore[return-value]


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def read_yaml(text: str, name: str) -> Any:
    try:
        return yaml.load(text, Loader=_LineLoader)  # noqa: S506 - SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        raise ProtocolError([Problem(name, line, f"invalid YAML: {reason}")]) from None


def strip_lines(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: strip_lines(v) for k, v in value.items() if k != "__line__"}
    if isinstance(value, list):
        return [strip_lines(v) for v in value]
    return value


def load_library(text: str, name: str = LIBRARY_FILE) -> dict[str, dict[str, Any]]:
    doc = read_yaml(text, name)
    steps = doc.get("steps") if isinstance(doc, dict) else None
    if not isinstance(steps, dict):
        raise ProtocolError([Problem(name, 1, "expected a top-level 'steps:' mapping")])
    library: dict[str, dict[str, Any]] = {}
    for key, body in steps.items():
        if key == "__line__":
            continue
        if not isinstance(body, dict):
            raise ProtocolError([Problem(name, steps["__line__"], f"step {key}: not a mapping")])
        library[key] = {"key": key, **body}
    return library


def compose(text: str, name: str, library: Mapping[str, dict[str, Any]]) -> ProtocolDef:
    """Parse one protocol file, resolving ``use:`` and bare names against the library."""
    doc = read_yaml(text, name)
    if not isinstance(doc, dict):
        raise ProtocolError([Problem(name, 1, "expected a mapping with key, injectate, steps")])
    problems: list[Problem] = []
    key, injectate = doc.get("key"), doc.get("injectate")
    if not isinstance(key, str) or not key:
        problems.append(Problem(name, doc["__line__"], "'key' is required"))
    if injectate not in INJECTATES:
        problems.append(
            Problem(name, doc["__line__"], f"injectate {injectate!r} is not one of {INJECTATES}")
        )
    entries = doc.get("steps")
    if not isinstance(entries, list) or not entries:
        problems.append(Problem(name, doc["__line__"], "'steps' must be a non-empty list"))
        entries = []
    raw_steps: list[dict[str, Any]] = []
    steps: list[Step] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        line = entry.get("__line__") if isinstance(entry, dict) else None
        try:
            raw = _resolve(entry, library)
            step = parse_step(raw)
        except SpecError as exc:
            problems.append(Problem(name, line or _guess_line(text, entry, index), str(exc)))
            continue
        if step.key in seen:
            problems.append(Problem(name, line, f"step {step.key}: appears twice"))
        seen.add(step.key)
        raw_steps.append(strip_lines(raw))
        steps.append(step)
    if problems:
        raise ProtocolError(problems)
    return ProtocolDef(
        key=str(key),
        title=str(doc.get("title") or key),
        injectate=str(injectate),
        raw_steps=raw_steps,
        steps=steps,
    )


def _resolve(entry: Any, library: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    if isinstance(entry, str):
        if entry not in library:
            raise SpecError(f"step {entry!r} is not in the step library")
        return dict(library[entry])
    if not isinstance(entry, dict):
        raise SpecError("a step must be a library step name or a mapping")
    if "use" in entry:
        base = entry["use"]
        if base not in library:
            raise SpecError(f"use: {base!r} is not in the step library")
        overrides = {k: v for k, v in entry.items() if k not in ("use", "__line__")}
        return {**library[base], **overrides, "key": entry.get("key", base)}
    return dict(entry)


def _guess_line(text: str, entry: Any, index: int) -> int | None:
    if isinstance(entry, str):
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip() == f"- {entry}":
                return number
    return None


def steps_from_snapshot(raw_steps: Sequence[Mapping[str, Any]]) -> list[Step]:
    return [parse_step(raw) for raw in raw_steps]


def checksum(raw_steps: Sequence[Mapping[str, Any]], templates: Mapping[str, str]) -> str:
    blob = json.dumps({"steps": raw_steps, "templates": templates}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def template_dirs(extra: Sequence[Path] = ()) -> list[Path]:
    """Template roots in lookup order: overrides first, then the built-in set.

    The built-in set is ``reminders/_templates`` in an installed wheel, or the
    repository's top-level ``templates/`` in a source checkout or editable install.
    """
    from reminders.config import get_settings

    settings = get_settings()
    here = Path(__file__).resolve().parent.parent
    candidates = [*extra, *settings.template_override_dirs]
    if settings.templates_dir is not None:
        candidates.append(settings.templates_dir)
    for builtin in (here / "_templates", here.parent / "templates"):
        if (builtin / "protocols").is_dir():
            candidates.append(builtin)
            break
    return [Path(p) for p in candidates]


def load_protocols(dirs: Sequence[Path]) -> dict[str, ProtocolDef]:
    """Every protocol found under ``<dir>/protocols``; an earlier dir's file wins."""
    library_text, library_name = None, LIBRARY_FILE
    files: dict[str, Path] = {}
    for root in dirs:
        folder = root / "protocols"
        if not folder.is_dir():
            continue
        if library_text is None and (folder / LIBRARY_FILE).exists():
            library_name = str(folder / LIBRARY_FILE)
            library_text = (folder / LIBRARY_FILE).read_text(encoding="utf-8")
        for path in sorted(folder.glob("*.yaml")):
            if path.name != LIBRARY_FILE:
                files.setdefault(path.stem, path)
    if library_text is None:
        raise ProtocolError([Problem(LIBRARY_FILE, None, "no step library found")])
    library = load_library(library_text, library_name)
    problems: list[Problem] = []
    protocols: dict[str, ProtocolDef] = {}
    for stem, path in sorted(files.items()):
        try:
            protocols[stem] = compose(path.read_text(encoding="utf-8"), str(path), library)
        except ProtocolError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ProtocolError(problems)
    return protocols
