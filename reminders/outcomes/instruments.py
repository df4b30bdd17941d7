"""Outcome instruments (PROMs) as data files: items, answers, scoring, licence, languages.

A file is ``reminders/outcomes/instruments/<key>.yaml`` (built in) or one a clinic loads
for itself (``aftercare instruments load FILE --clinic ID``, stored in
``clinic_instruments``), so a clinic can use an instrument it holds a licence for, or a
corrected copy of a built-in one. Every file goes through :func:`parse`, which refuses a
file with a problem and names the file and the field in words; nothing is half-loaded.

Scoring is ``sum_then_table``: the answers' values are summed (every item answered,
else no score) and the sum is converted with the file's table. The table must cover
every possible sum, stay within 0 to 100 and never rise as the sum rises (higher sums
mean more trouble). ``verified: false`` marks a table not checked against its published
source: scores computed with it are shown as provisional.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

BUILT_IN = Path(__file__).parent / "instruments"
LANGUAGES = ("en", "es")


class InstrumentError(ValueError):
    """A file that cannot be used; the message names the file and the field in words."""


@dataclass(frozen=True)
class Item:
    id: str
    text: str
    section: str


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    prompt: str
    items: tuple[Item, ...]


@dataclass(frozen=True)
class Answer:
    value: int
    label: str


@dataclass(frozen=True)
class Instrument:
    key: str
    title: str
    version: str
    licence: str
    source: str
    languages: tuple[str, ...]
    language_note: str
    sections: tuple[Section, ...]
    answers: tuple[Answer, ...]
    table: dict[int, float]
    verified: bool
    table_source: str

    @property
    def items(self) -> tuple[Item, ...]:
        return tuple(item for section in self.sections for item in section.items)

    @property
    def max_raw(self) -> int:
        return len(self.items) * max(a.value for a in self.answers)


def _need(data: dict[str, Any], field: str, where: str, kind: type = str) -> Any:
    value = data.get(field)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InstrumentError(f"{where}: {field} is missing")
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise InstrumentError(f"{where}: {field} must be {_kind_words(kind)}")
    return value


def _kind_words(kind: type) -> str:
    return {str: "text", list: "a list", dict: "a set of fields", bool: "true or false",
            int: "a whole number"}.get(kind, kind.__name__)  # fmt: skip


def parse(data: object, *, name: str) -> Instrument:
    """Check one instrument definition (``name`` is the file, for messages) and build it."""
    if not isinstance(data, dict):
        raise InstrumentError(f"{name}: the file must hold the instrument's fields, not a list")
    key = _need(data, "key", name)
    if not key.replace("_", "").isalnum() or not key.islower() or len(key) > 40:
        raise InstrumentError(f"{name}: key must be lower-case letters, digits and _ (at most 40)")
    languages = tuple(_need(data, "languages", name, list))
    if "en" not in languages or any(lang not in LANGUAGES for lang in languages):
        raise InstrumentError(f"{name}: languages must include en and may add es")
    answers = []
    for i, raw in enumerate(_need(data, "answers", name, list), start=1):
        where = f"{name}: answer {i}"
        if not isinstance(raw, dict):
            raise InstrumentError(f"{where} must have a value and a label")
        answers.append(Answer(_need(raw, "value", where, int), str(_need(raw, "label", where))))
    values = [a.value for a in answers]
    if len(answers) < 2 or values != list(range(len(answers))):
        raise InstrumentError(f"{name}: answers must be valued 0, 1, 2, … in order")
    sections, seen = [], set()
    for i, raw in enumerate(_need(data, "sections", name, list), start=1):
        where = f"{name}: section {i}"
        if not isinstance(raw, dict):
            raise InstrumentError(f"{where} must have a key, a title, a prompt and items")
        skey = _need(raw, "key", where)
        items = []
        for j, item in enumerate(_need(raw, "items", where, list), start=1):
            iwhere = f"{where}, item {j}"
            if not isinstance(item, dict):
                raise InstrumentError(f"{iwhere} must have an id and a text")
            item_id = _need(item, "id", iwhere)
            if item_id in seen:
                raise InstrumentError(f"{iwhere}: id {item_id} is used twice")
            seen.add(item_id)
            items.append(Item(item_id, " ".join(_need(item, "text", iwhere).split()), skey))
        prompt = " ".join(_need(raw, "prompt", where).split())
        sections.append(Section(skey, _need(raw, "title", where), prompt, tuple(items)))
    if not seen:
        raise InstrumentError(f"{name}: sections have no items")
    scoring = _need(data, "scoring", name, dict)
    where = f"{name}: scoring"
    if scoring.get("method") != "sum_then_table":
        raise InstrumentError(f"{where}: method must be sum_then_table (the only one supported)")
    if scoring.get("missing", "no_score") != "no_score":
        raise InstrumentError(f"{where}: missing must be no_score (nothing is imputed)")
    verified = scoring.get("verified", False)
    if not isinstance(verified, bool):
        raise InstrumentError(f"{where}: verified must be true or false")
    table = _table(_need(scoring, "table", where, dict), where, len(seen) * values[-1])
    return Instrument(
        key=key, title=_need(data, "title", name), version=str(_need(data, "version", name)),
        licence=" ".join(_need(data, "licence", name).split()),
        source=" ".join(_need(data, "source", name).split()), languages=languages,
        language_note=" ".join(str(data.get("language_note") or "").split()),
        sections=tuple(sections), answers=tuple(answers), table=table, verified=verified,
        table_source=" ".join(str(scoring.get("table_source") or "").split()),
    )  # fmt: skip


def _table(raw: dict[Any, Any], where: str, max_raw: int) -> dict[int, float]:
    table: dict[int, float] = {}
    for k, v in raw.items():
        if not isinstance(k, int) or isinstance(k, bool) or not 0 <= k <= max_raw:
            raise InstrumentError(f"{where}: table: {k!r} is not a raw score from 0 to {max_raw}")
        if not isinstance(v, int | float) or isinstance(v, bool) or not 0 <= v <= 100:
            raise InstrumentError(f"{where}: table: the score for raw {k} must be from 0 to 100")
        table[k] = float(v)
    missing = [k for k in range(max_raw + 1) if k not in table]
    if missing:
        raise InstrumentError(f"{where}: table: no score for raw {missing[0]} (every sum from 0 "
                              f"to {max_raw} needs one)")  # fmt: skip
    for k in range(1, max_raw + 1):
        if table[k] > table[k - 1]:
            raise InstrumentError(f"{where}: table: the score for raw {k} is higher than for "
                                  f"raw {k - 1} (more trouble never scores better)")  # fmt: skip
    return table


def parse_text(text: str, *, name: str) -> Instrument:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        at = f" at line {line + 1}" if line is not None else ""
        raise InstrumentError(f"{name}: not readable as YAML{at}") from None
    return parse(data, name=name)


def load_file(path: Path) -> Instrument:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        raise InstrumentError(f"{path}: cannot be read as UTF-8 text") from None
    return parse_text(text, name=Path(path).name)


@functools.cache
def built_in(key: str) -> Instrument:
    path = BUILT_IN / f"{key}.yaml"
    if not path.is_file():
        raise InstrumentError(f"no built-in instrument {key!r}")
    return load_file(path)


def for_clinic(*, session: Any, clinic_id: int, key: str) -> Instrument:
    """The clinic's own copy of ``key`` if it loaded one, else the built-in file."""
    from reminders.outcomes.prom_models import ClinicInstrument

    row = session.query(ClinicInstrument).filter_by(clinic_id=clinic_id, key=key).one_or_none()
    if row is not None and row.definition is not None:
        return parse(row.definition, name=f"{key} (loaded by the clinic)")
    return built_in(key)
