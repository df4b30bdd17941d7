"""Codes an EHR sends, in Aftercare's vocabulary: which injectate a medication or procedure
code means, which conditions a diagnosis code means.

The defaults are data (``codes.yaml``, with the source of every code); a clinic's own
mappings (``clinics.interop_codes``, the same shape) are laid over them, and a code
mapped to ``null`` there removes a default. Systems are compared by their canonical URI,
so ``I10`` in an HL7 message and ``http://hl7.org/fhir/sid/icd-10-cm`` in a FHIR Bundle
are the same system. ICD-10 and HCPCS entries match by prefix ("E11" matches "E11.65").
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy.orm import Session

from reminders import audit
from reminders.clinics.models import Clinic
from reminders.enrollments.schemas import InputError
from reminders.protocols.spec import CONDITION_VOCABULARY, INJECTATES

PATH = Path(__file__).with_name("codes.yaml")
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CPT = "http://www.ama-assn.org/go/cpt"
SECTIONS = ("injectates", "conditions", "text")


@functools.cache
def defaults() -> dict[str, Any]:
    with PATH.open(encoding="utf-8") as handle:
        data: dict[str, Any] = yaml.safe_load(handle)
    return data


@functools.cache
def _aliases() -> dict[str, str]:
    out: dict[str, str] = {}
    for canonical, names in defaults()["aliases"].items():
        out[canonical.lower()] = canonical
        for name in names:
            out[str(name).lower()] = canonical
    return out


def system_of(name: str | None) -> str:
    """The canonical URI of a code system named any way we know ('I10' → ICD-10-CM's);
    an unknown one as given."""
    text = (name or "").strip()
    return _aliases().get(text.lower(), text)


def _code(system: str, code: str) -> str:
    text = (code or "").strip().upper()
    # ICD-10 codes are written with and without their dot ("E11.9", "E119").
    return text.replace(".", "") if system == ICD10 else text


def _table(clinic: Clinic | None, section: str) -> dict[str, Any]:
    """The section's defaults with the clinic's own mappings laid over them."""
    merged: dict[str, Any] = {}
    for source in (defaults().get(section) or {}, (clinic.interop_codes or {}).get(section)
                   if clinic is not None else None):  # fmt: skip
        for key, value in (source or {}).items():
            if section == "text":
                merged[str(key).lower()] = value
                continue
            table = merged.setdefault(system_of(key), {})
            for code, mapped in (value or {}).items():
                table[_code(system_of(key), str(code))] = mapped
    return merged


def _lookup(table: dict[str, Any], system: str, code: str) -> Any:
    entries = table.get(system) or {}
    wanted = _code(system, code)
    if wanted in entries:
        return entries[wanted]
    if system in defaults().get("prefix_systems", []):
        # The longest prefix wins: a clinic's "E11.65" over the default "E11".
        for length in range(len(wanted) - 1, 2, -1):
            if wanted[:length] in entries:
                return entries[wanted[:length]]
    return None


def injectate_for(*, clinic: Clinic | None, system: str, code: str,
                  text: str | None = None) -> str | None:  # fmt: skip
    """The injectate a code means (its text's words when the code means nothing here)."""
    found = _lookup(_table(clinic, "injectates"), system_of(system), code) if code else None
    if found is None and text:
        found = injectate_in_text(clinic=clinic, text=text)
    return found if found in INJECTATES else None


def injectate_in_text(*, clinic: Clinic | None, text: str) -> str | None:
    """The injectate named in free text ("Kenalog 40 mg + lidocaine 1 %"), by priority."""
    words = _table(clinic, "text")
    folded = " ".join(text.lower().split())
    found = [mapped for word, mapped in words.items() if mapped
             and re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", folded)]  # fmt: skip
    return pick(found)


def pick(injectates: Iterable[str | None]) -> str | None:
    """The one that decides the protocol when several were given (codes.yaml priority)."""
    given = {i for i in injectates if i}
    return next((i for i in defaults()["priority"] if i in given), None)


def conditions_for(*, clinic: Clinic | None, system: str, code: str) -> tuple[str, ...]:
    """Our conditions for a diagnosis code; () for a code that means none of ours."""
    found = _lookup(_table(clinic, "conditions"), system_of(system), code) if code else None
    if isinstance(found, str):
        found = [found]
    return tuple(sorted(c for c in (found or []) if c in CONDITION_VOCABULARY))


def validate_overrides(data: object) -> dict[str, Any]:
    """A clinic's mappings, checked: {"injectates": {system: {code: injectate|null}},
    "conditions": {system: {code: [condition]|null}}, "text": {word: injectate|null}}.
    InputError naming each bad entry."""
    errors: list[tuple[str, str]] = []
    if not isinstance(data, dict):
        raise InputError([("interop_codes", "must be an object with injectates, conditions "
                           "and/or text")])  # fmt: skip
    out: dict[str, Any] = {}
    for section, value in data.items():
        if section not in SECTIONS:
            errors.append((f"interop_codes.{section}", f"must be one of {', '.join(SECTIONS)}"))
            continue
        if not isinstance(value, dict):
            errors.append((f"interop_codes.{section}", "must be an object"))
            continue
        if section == "text":
            for word, mapped in value.items():
                if mapped is not None and mapped not in INJECTATES:
                    errors.append((f"interop_codes.text.{word}",
                                   f"must be one of {', '.join(INJECTATES)} or null"))  # fmt: skip
            out[section] = {str(k).lower(): v for k, v in value.items()}
            continue
        out[section] = {}
        for system, codes in value.items():
            if not isinstance(codes, dict):
                errors.append((f"interop_codes.{section}.{system}", "must map codes to values"))
                continue
            for code, mapped in codes.items():
                where = f"interop_codes.{section}.{system}.{code}"
                if section == "injectates" and mapped is not None and mapped not in INJECTATES:
                    errors.append((where, f"must be one of {', '.join(INJECTATES)} or null"))
                if section == "conditions" and mapped is not None and (
                        not isinstance(mapped, list)
                        or any(c not in CONDITION_VOCABULARY for c in mapped)):  # fmt: skip
                    known = ", ".join(sorted(CONDITION_VOCABULARY))
                    errors.append((where, f"must be a list of conditions ({known}) or null"))
            out[section][system_of(str(system))] = dict(codes)
    if errors:
        raise InputError(errors)
    return out


def set_overrides(*, session: Session, clinic: Clinic, data: object, actor: str,
                  staff_id: int | None = None) -> None:  # fmt: skip
    """Replace the clinic's own mappings (validated, audited); ``{}`` returns to the
    defaults."""
    clinic.interop_codes = validate_overrides(data) or None
    audit.record(session=session, clinic_id=clinic.id, actor=actor, staff_id=staff_id,
                 action="clinic.settings", subject_type="clinic", subject_id=clinic.id,
                 fields=["interop_codes"])  # fmt: skip
    session.flush()
