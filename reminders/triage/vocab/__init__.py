"""The bilingual lexicon as data: one YAML file per language, loaded into ``Concept``s.

Each file names its language and maps concept names to the phrases that express them::

    lang: en                     # sources go in comments beside the words
    macros:                      # reusable fragments, written <NAME> in a phrase
      BREATHE: (?:breathe?|breathing|breath)
    concepts:
      breathing:
        match: ["short(?:ness)? (?:of )?breath", "cant (?:\\w+ )?<BREATHE>"]
        exclude: ["<BREATHE> (?:\\w+ ){0,3}nose"]   # a hit inside one of these is not it
        suppressed_by: [nose_only]                  # an overlapping hit of these wins

Phrases are regular expressions over the folded text (``text.fold``: lower case, no
accents or apostrophes, one space between tokens) and always match whole words: the
loader wraps every concept in ``\\b…\\b``, so "wrong number" can never read as "numb".
``(?:\\w+ )`` is one optional filler word that is never a negator. A concept may appear
in several files (English and Spanish words for fever); their phrases are merged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from reminders.triage.lexicon import Concept, rx

DIR = Path(__file__).resolve().parent
_MACRO = re.compile(r"<([A-Z][A-Z0-9_]*)>")
_FIELDS = frozenset({"match", "exclude", "suppressed_by"})


class VocabError(ValueError):
    """A lexicon file that does not follow the format; names the file and concept."""


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a key given twice is an error: PyYAML would keep
    the last one silently, dropping every phrase of the first."""


def _no_duplicates(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise VocabError(f"line {key_node.start_mark.line + 1}: {key!r} given twice")
        seen.add(key)
    return loader.construct_mapping(node)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def _expand(text: str, macros: dict[str, str], where: str) -> str:
    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in macros:
            raise VocabError(f"{where}: unknown macro <{name}>")
        return macros[name]

    for _ in range(5):  # macros may use macros, a few levels deep
        text, n = _MACRO.subn(sub, text)
        if not n:
            return text
    raise VocabError(f"{where}: macros nest too deep")


def _strings(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise VocabError(f"{where}: expected a list of strings")


def _load_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader) or {}  # noqa: S506
    except VocabError as exc:
        raise VocabError(f"{path.name}: {exc}") from None
    if not isinstance(data, dict) or data.get("lang") not in ("en", "es"):
        raise VocabError(f"{path.name}: needs 'lang: en' or 'lang: es'")
    return data


def _read(path: Path) -> tuple[dict[str, str], dict[str, dict[str, Any]]]:
    data = _load_yaml(path)
    macros = data.get("macros") or {}
    concepts = data.get("concepts") or {}
    if not isinstance(macros, dict) or not isinstance(concepts, dict):
        raise VocabError(f"{path.name}: 'macros' and 'concepts' must be mappings")
    return {str(k): str(v) for k, v in macros.items()}, concepts


def compile_files(paths: Iterable[Path]) -> tuple[Concept, ...]:
    """Concepts from the given files, in order of first appearance, phrases merged."""
    files = [(p, *_read(p)) for p in paths]
    macros: dict[str, str] = {}
    for path, file_macros, _ in files:
        for name, body in file_macros.items():
            if name in macros and macros[name] != body:
                raise VocabError(f"{path.name}: macro <{name}> defined twice differently")
            macros[name] = body
    merged: dict[str, dict[str, list[str]]] = {}
    for path, _, concepts in files:
        for name, spec in concepts.items():
            where = f"{path.name}: {name}"
            if not isinstance(spec, dict) or set(spec) - _FIELDS:
                raise VocabError(f"{where}: fields are {', '.join(sorted(_FIELDS))}")
            slot = merged.setdefault(str(name), {f: [] for f in _FIELDS})
            for field in _FIELDS:
                values = _strings(spec.get(field), f"{where}.{field}")
                if field != "suppressed_by":
                    values = [_expand(v, macros, where) for v in values]
                slot[field] += [v for v in values if v not in slot[field]]
    out: list[Concept] = []
    for name, slot in merged.items():
        if not slot["match"]:
            raise VocabError(f"{name}: no 'match' phrases in any file")
        try:
            out.append(Concept(
                name=name,
                pattern=rx(*slot["match"]),
                exclude=rx(*slot["exclude"]) if slot["exclude"] else None,
                suppressed_by=tuple(slot["suppressed_by"]),
            ))
        except re.error as exc:
            raise VocabError(f"{name}: bad pattern ({exc})") from None
    return tuple(out)


def _paths() -> list[Path]:
    return sorted(DIR.glob("*.yaml"), key=lambda p: (not p.name.startswith("en"), p.name))


@cache
def emoji() -> dict[str, str]:
    """Emoji that carry meaning, as the words they stand for ("🤒" -> "fever"); one code
    point each, from every file's ``emoji:`` mapping."""
    out: dict[str, str] = {}
    for path in _paths():
        for char, words in (_load_yaml(path).get("emoji") or {}).items():
            if len(str(char)) != 1:
                raise VocabError(f"{path.name}: emoji {char!r} must be one code point")
            out[str(char)] = str(words)
    return out


@cache
def concepts() -> tuple[Concept, ...]:
    """Every concept of every ``*.yaml`` file beside this module (English first)."""
    found = compile_files(_paths())
    known = {c.name for c in found}
    for c in found:
        unknown = [other for other in c.suppressed_by if other not in known]
        if unknown:
            raise VocabError(f"{c.name}: suppressed_by names unknown concept(s) {unknown}")
    return found


def concept(name: str) -> Concept:
    """The concept called ``name``, phrases merged from every vocabulary file."""
    return {c.name: c for c in concepts()}[name]
