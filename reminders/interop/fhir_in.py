"""FHIR R4 in: a Bundle read into intake's plain values, and the answers built back.

The only module (with the FHIR router) that knows FHIR: resources are parsed with
``fhir.resources``' R4B models (R4B's Patient, Procedure, MedicationAdministration,
Condition, Appointment and Bundle are R4's), read into :mod:`reminders.interop.intake`'s
PatientIn / ProcedureIn / AppointmentIn, and every problem is reported with the FHIRPath
of what caused it (``Bundle.entry[1].resource.performedDateTime``) so the sender can find
it. What is read:

- **Patient** (exactly one): ``id``; the MRN (the identifier typed MR, else the one used
  as "usual"); the official (else first) name; ``telecom`` ``sms``, or ``phone`` with
  ``use`` mobile, and ``email``; ``communication.language`` (preferred first); the
  time-zone extension, else the clinic's zone.
- **Procedure** (at most one): its identifier (else ``id``) is the idempotency key;
  ``status`` completed enrols, entered-in-error or not-done cancels; ``performedDateTime``
  (or ``performedPeriod.start``) with its UTC offset; ``bodySite`` laterality (SNOMED CT
  left/right/bilateral, or the words); the injectate from the MedicationAdministrations
  ``partOf`` it, else from its own ``code`` (codes.py).
- **Condition**s of the patient (not resolved, not refuted): our conditions by code.
- **Observation** of pain before the injection (LOINC 72514-3, 0-10): the diary baseline.
- **Appointment** (at most one): the follow-up visit, by identifier (else ``id``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pydantic import ValidationError

from reminders.clinics.models import Clinic
from reminders.interop import codes
from reminders.interop.intake import (
    BOOKED,
    CANCELLED,
    COMPLETED,
    NOSHOW,
    AppointmentIn,
    IntakeResult,
    PatientIn,
    ProcedureIn,
    in_words,
)

TIMEZONE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/timezone"
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
LOINC = "http://loinc.org"
PAIN_SCORE = "72514-3"  # LOINC: pain severity, 0-10 verbal numeric rating, reported
LATERALITY = {"7771000": "left", "24028007": "right", "51440002": "bilateral"}  # SNOMED CT
SIDE_WORDS = (("bilateral", "bilateral"), ("both", "bilateral"), ("left", "left"),
              ("right", "right"))  # fmt: skip
BUNDLE_TYPES = ("transaction", "collection")
PROCEDURE_STATUS = {"completed": COMPLETED, "entered-in-error": CANCELLED,
                    "not-done": CANCELLED}  # fmt: skip
APPOINTMENT_STATUS = {
    "booked": BOOKED, "arrived": BOOKED, "checked-in": BOOKED, "fulfilled": BOOKED,
    # Not (or no longer) a visit the patient will come to.
    "cancelled": CANCELLED, "entered-in-error": CANCELLED, "proposed": CANCELLED,
    "pending": CANCELLED, "waitlist": CANCELLED, "noshow": NOSHOW,
}  # fmt: skip
READ = frozenset({"Patient", "Procedure", "MedicationAdministration", "Medication",
                  "Condition", "Observation", "Appointment"})  # fmt: skip


class FhirError(ValueError):
    """The Bundle cannot be read: (FHIRPath or None, message in words, issue code) for each
    problem, and the HTTP status to answer with (400 unreadable, 422 not acceptable)."""

    def __init__(self, issues: list[tuple[str | None, str, str]], status: int = 422) -> None:
        self.issues = issues
        self.status = status
        super().__init__("; ".join(message for _, message, _ in issues))


@dataclass
class Entry:
    index: int
    type: str
    resource: Any  # a fhir.resources model
    full_url: str | None

    @property
    def path(self) -> str:
        return f"Bundle.entry[{self.index}].resource"

    def refers(self, reference: Any) -> bool:
        """Whether a Reference points at this entry (its fullUrl or Type/id)."""
        ref = getattr(reference, "reference", None) if reference is not None else None
        if not ref:
            return False
        own = f"{self.type}/{self.resource.id}" if self.resource.id else None
        return ref == self.full_url or (own is not None
                                        and (ref == own or ref.endswith("/" + own)))  # fmt: skip


@dataclass
class Parsed:
    patient: PatientIn
    procedure: ProcedureIn | None
    appointment: AppointmentIn | None
    entries: list[Entry]
    # intake's neutral field → the FHIRPath it was read from.
    paths: dict[str, str] = field(default_factory=dict)

    def path_of(self, neutral: str) -> str:
        found = self.paths.get(neutral)
        while found is None and "." in neutral:
            neutral = neutral.rsplit(".", 1)[0]
            found = self.paths.get(neutral)
        return found or "Bundle"


def read_json(raw: bytes) -> object:
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FhirError([(None, f"The body is not JSON ({exc.__class__.__name__})",
                          "structure")], 400) from None  # fmt: skip


def parse_bundle(data: object, *, clinic: Clinic) -> Parsed:
    """The Bundle's patient, procedure and appointment, or FhirError naming every problem."""
    bundle = _validate(data)
    if bundle.type not in BUNDLE_TYPES:
        raise FhirError([("Bundle.type", f"must be transaction or collection, not {bundle.type}",
                          "not-supported")])  # fmt: skip
    entries = [Entry(i, e.resource.get_resource_type(), e.resource, e.fullUrl)
               for i, e in enumerate(bundle.entry or []) if e.resource is not None]  # fmt: skip
    issues: list[tuple[str | None, str, str]] = []
    for entry in entries:
        if entry.type not in READ:
            issues.append((entry.path, f"is a {entry.type}, which is not read here; send "
                           f"{', '.join(sorted(READ))}", "not-supported"))  # fmt: skip
    patients = [e for e in entries if e.type == "Patient"]
    if not patients:
        issues.append(("Bundle.entry", "needs a Patient", "required"))
    issues += [(e.path, "is a second Patient: send one patient per Bundle", "business-rule")
               for e in patients[1:]]  # fmt: skip
    for kind in ("Procedure", "Appointment"):
        issues += [(e.path, f"is a second {kind}: send one per Bundle", "business-rule")
                   for e in [e for e in entries if e.type == kind][1:]]  # fmt: skip
    if issues:
        raise FhirError(issues)
    reader = _Reader(clinic, entries, patients[0])
    parsed = reader.read()
    if reader.issues:
        raise FhirError(reader.issues)
    return parsed


def _validate(data: object) -> Any:
    from fhir.resources.R4B import get_fhir_model_class
    from fhir.resources.R4B.bundle import Bundle

    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        raise FhirError([(None, "The body must be a FHIR Bundle (resourceType Bundle)",
                          "structure")], 400)  # fmt: skip
    issues: list[tuple[str | None, str, str]] = []
    for i, entry in enumerate(data.get("entry") or [] if isinstance(data.get("entry"), list)
                              else []):  # fmt: skip
        resource = entry.get("resource") if isinstance(entry, dict) else None
        kind = resource.get("resourceType") if isinstance(resource, dict) else None
        path = f"Bundle.entry[{i}].resource"
        if resource is None:
            continue
        if not isinstance(kind, str):
            issues.append((path, "needs a resourceType", "structure"))
            continue
        try:
            get_fhir_model_class(kind)
        except (ValueError, KeyError):
            issues.append((f"{path}.resourceType", f"{kind!r} is not a FHIR resource type",
                           "structure"))  # fmt: skip
    if issues:
        raise FhirError(issues, 400)
    try:
        return Bundle.model_validate(data)
    except ValidationError as exc:
        raise FhirError([(_fhirpath(err["loc"]), _message(err), "structure")
                         for err in exc.errors()], 400) from None  # fmt: skip


def _fhirpath(loc: tuple[Any, ...]) -> str:
    path = "Bundle"
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in ("resource_type", "__root__"):
            continue
        else:
            path += f".{part}"
    return path


def _message(err: Any) -> str:
    message = str(err.get("msg", "is not valid")).removeprefix("Value error, ")
    if err.get("type") == "extra_forbidden":
        return "is not an element of this resource in FHIR R4"
    if err.get("type") == "missing":
        return "is required"
    return message.split("\n")[0].strip()


class _Reader:
    """Reads one Bundle's resources; problems are collected, not raised one by one."""

    def __init__(self, clinic: Clinic, entries: list[Entry], patient: Entry) -> None:
        self.clinic = clinic
        self.entries = entries
        self.patient_entry = patient
        self.issues: list[tuple[str | None, str, str]] = []
        self.paths: dict[str, str] = {}

    def problem(self, path: str, message: str, code: str = "value") -> None:
        self.issues.append((path, message, code))

    def of(self, kind: str) -> list[Entry]:
        return [e for e in self.entries if e.type == kind]

    def read(self) -> Parsed:
        procedures = self.of("Procedure")
        appointments = self.of("Appointment")
        procedure = self.procedure(procedures[0]) if procedures else None
        appointment = self.appointment(appointments[0]) if appointments else None
        patient = self.patient(self.patient_entry)
        return Parsed(patient, procedure, appointment, self.entries, self.paths)

    # -- Patient -------------------------------------------------------------------------

    def patient(self, entry: Entry) -> PatientIn:
        p, path = entry.resource, entry.path
        self.paths.update({"patient": path, "patient.source_id": f"{path}.id",
                           "patient.phone": f"{path}.telecom",
                           "patient.email": f"{path}.telecom",
                           "patient.language": f"{path}.communication",
                           "patient.timezone": f"{path}.extension"})  # fmt: skip
        mrn = None
        for i, ident in enumerate(p.identifier or []):
            typed = any(c.system in (None, IDENTIFIER_TYPE) and c.code == "MR"
                        for c in (ident.type.coding or [] if ident.type else []))  # fmt: skip
            if ident.value and (typed or (mrn is None and ident.use == "usual"
                                          and ident.type is None)):  # fmt: skip
                mrn = ident.value
                self.paths["patient.mrn"] = f"{path}.identifier[{i}]"
                if typed:
                    break
        given, family = self.name(entry)
        phone = email = None
        telecom = sorted(enumerate(p.telecom or []), key=lambda t: (t[1].rank or 1_000_000, t[0]))
        for i, point in telecom:
            if point.period is not None and point.period.end is not None:
                continue  # an old number or address
            mobile = point.system == "sms" or (point.system == "phone" and point.use == "mobile")
            if mobile and phone is None and point.value:
                phone = point.value
                self.paths["patient.phone"] = f"{path}.telecom[{i}]"
            if point.system == "email" and email is None and point.value:
                email = point.value
                self.paths["patient.email"] = f"{path}.telecom[{i}]"
        language = None
        communication = sorted(enumerate(p.communication or []),
                               key=lambda t: (not t[1].preferred, t[0]))  # fmt: skip
        for i, item in communication:
            concept = item.language
            code = next((c.code for c in concept.coding or [] if c.code), None) or concept.text
            if code:
                language = code
                self.paths["patient.language"] = f"{path}.communication[{i}].language"
                break
        zone = None
        for i, ext in enumerate(p.extension or []):
            if ext.url == TIMEZONE_EXTENSION:
                zone = ext.valueCode
                self.paths["patient.timezone"] = f"{path}.extension[{i}].valueCode"
        return PatientIn(source="fhir", source_id=p.id, mrn=mrn, given_name=given or "",
                         family_name=family, phone=phone, email=email, language=language,
                         timezone=zone, conditions=self.conditions(entry))  # fmt: skip

    def name(self, entry: Entry) -> tuple[str | None, str | None]:
        names = list(enumerate(entry.resource.name or []))
        if not names:
            self.paths["patient.given_name"] = f"{entry.path}.name"
            return None, None
        chosen = next((n for n in names if n[1].use == "official"),
                      next((n for n in names if n[1].use == "usual"), names[0]))  # fmt: skip
        i, name = chosen
        self.paths["patient.given_name"] = f"{entry.path}.name[{i}].given"
        self.paths["patient.family_name"] = f"{entry.path}.name[{i}].family"
        given = (name.given or [None])[0]
        if not given and name.text:
            given = name.text.split()[0]
        return given, name.family

    def conditions(self, patient: Entry) -> tuple[str, ...]:
        found: set[str] = set()
        for entry in self.of("Condition"):
            c = entry.resource
            if c.subject is not None and not patient.refers(c.subject):
                self.problem(f"{entry.path}.subject", "must refer to the Patient in this "
                             "Bundle", "business-rule")  # fmt: skip
                continue
            if _has_code(c.clinicalStatus, {"inactive", "resolved", "remission"}) or \
                    _has_code(c.verificationStatus, {"refuted", "entered-in-error"}):  # fmt: skip
                continue
            for coding in c.code.coding or [] if c.code else []:
                mapped = codes.conditions_for(clinic=self.clinic, system=coding.system or "",
                                              code=coding.code or "")  # fmt: skip
                if mapped:
                    found.update(mapped)
                    self.paths.setdefault("patient.conditions", f"{entry.path}.code")
        return tuple(sorted(found))

    # -- Procedure -----------------------------------------------------------------------

    def procedure(self, entry: Entry) -> ProcedureIn:
        p, path = entry.resource, entry.path
        self.paths.update({"procedure": path, "procedure.status": f"{path}.status",
                           "procedure.performed_at": f"{path}.performedDateTime",
                           "procedure.side": f"{path}.bodySite",
                           "procedure.site": f"{path}.bodySite",
                           "procedure.injectate": f"{path}.code"})  # fmt: skip
        if p.subject is None or not self.patient_entry.refers(p.subject):
            self.problem(f"{path}.subject", "must refer to the Patient in this Bundle",
                         "business-rule")  # fmt: skip
        source_id = self.identifier(entry, "procedure")
        status = PROCEDURE_STATUS.get(p.status or "")
        if status is None:
            self.problem(f"{path}.status", "must be completed (or entered-in-error or not-done "
                         f"to cancel the follow-up), not {p.status or 'missing'}",
                         "business-rule" if p.status else "required")  # fmt: skip
        performed = None
        if p.performedDateTime is not None:
            performed = self.instant(p.performedDateTime, f"{path}.performedDateTime")
        elif p.performedPeriod is not None and p.performedPeriod.start is not None:
            self.paths["procedure.performed_at"] = f"{path}.performedPeriod.start"
            performed = self.instant(p.performedPeriod.start, f"{path}.performedPeriod.start")
        elif status == COMPLETED:
            self.problem(f"{path}.performedDateTime", "is required: when the injection was "
                         "given, with its UTC offset", "required")  # fmt: skip
        side = self.side(p.bodySite or [])
        injectate = self.injectate(entry)
        return ProcedureIn(source_id=source_id or "", status=status or COMPLETED,
                           performed_at=performed, injectate=injectate, side=side,
                           baseline_pain=self.baseline_pain(entry))  # fmt: skip

    def identifier(self, entry: Entry, neutral: str) -> str | None:
        """The sender's stable identifier: system|value of the first identifier, else id."""
        resource, path = entry.resource, entry.path
        for i, ident in enumerate(resource.identifier or []):
            if ident.value:
                self.paths[f"{neutral}.source_id"] = f"{path}.identifier[{i}]"
                return f"{ident.system}|{ident.value}" if ident.system else ident.value
        if resource.id:
            self.paths[f"{neutral}.source_id"] = f"{path}.id"
            return f"{entry.type}/{resource.id}"
        self.problem(f"{path}.identifier", "is required: an identifier (or an id) that stays "
                     "the same when this is sent again", "required")  # fmt: skip
        return None

    def instant(self, value: Any, path: str) -> datetime | None:
        if isinstance(value, datetime) and value.tzinfo is not None:
            return value
        if isinstance(value, datetime | date):
            self.problem(path, "needs a time with its UTC offset, e.g. "
                         "2026-11-20T14:10:00-06:00")  # fmt: skip
        return None

    def side(self, sites: list[Any]) -> str | None:
        for concept in sites:
            for coding in concept.coding or []:
                if coding.system in (None, codes.SNOMED) and coding.code in LATERALITY:
                    return LATERALITY[coding.code]
            words = " ".join([concept.text or "", *[c.display or "" for c in concept.coding or []]])
            for word, side in SIDE_WORDS:
                if word in words.lower().split():
                    return side
        return None

    def injectate(self, procedure: Entry) -> str | None:
        found: list[str | None] = []
        for entry in self.of("MedicationAdministration"):
            m = entry.resource
            if not any(procedure.refers(ref) for ref in m.partOf or []):
                self.problem(f"{entry.path}.partOf", "must refer to the Procedure in this "
                             "Bundle", "business-rule")  # fmt: skip
                continue
            if m.status in ("entered-in-error", "not-done"):
                continue
            concept, where = m.medicationCodeableConcept, f"{entry.path}.medicationCodeableConcept"
            if concept is None and m.medicationReference is not None:
                medication = next((e for e in self.of("Medication")
                                   if e.refers(m.medicationReference)), None)  # fmt: skip
                concept = medication.resource.code if medication else None
                where = f"{medication.path}.code" if medication else \
                    f"{entry.path}.medicationReference"  # fmt: skip
            self.paths["procedure.injectate"] = where
            found.append(self.concept_injectate(concept))
        if not any(found):
            found.append(self.concept_injectate(procedure.resource.code))
        return codes.pick(found)

    def concept_injectate(self, concept: Any) -> str | None:
        if concept is None:
            return None
        found = [codes.injectate_for(clinic=self.clinic, system=c.system or "",
                                     code=c.code or "", text=c.display)
                 for c in concept.coding or []]  # fmt: skip
        if concept.text:
            found.append(codes.injectate_in_text(clinic=self.clinic, text=concept.text))
        return codes.pick(found)

    def baseline_pain(self, procedure: Entry) -> int | None:
        for entry in self.of("Observation"):
            o = entry.resource
            coded = any(c.system == LOINC and c.code == PAIN_SCORE
                        for c in (o.code.coding or [] if o.code else []))  # fmt: skip
            if not coded or o.status in ("entered-in-error", "cancelled"):
                continue
            value = o.valueInteger
            if value is None and o.valueQuantity is not None and o.valueQuantity.value is not None:
                value = o.valueQuantity.value
            where = "valueInteger" if o.valueInteger is not None else "valueQuantity"
            self.paths["procedure.baseline_pain"] = f"{entry.path}.{where}"
            if value is None or value != int(value):
                self.problem(f"{entry.path}.{where}", "must be a whole number from 0 to 10")
                return None
            return int(value)
        return None

    # -- Appointment ---------------------------------------------------------------------

    def appointment(self, entry: Entry) -> AppointmentIn:
        a, path = entry.resource, entry.path
        self.paths.update({"appointment": path, "appointment.start": f"{path}.start",
                           "appointment.status": f"{path}.status"})  # fmt: skip
        actors = [p.actor for p in a.participant or [] if p.actor is not None]
        if not any(self.patient_entry.refers(ref) for ref in actors):
            self.problem(f"{path}.participant", "must include the Patient in this Bundle",
                         "business-rule")  # fmt: skip
        status = APPOINTMENT_STATUS.get(a.status or "")
        if status is None:
            self.problem(f"{path}.status", f"is not an appointment status: {a.status}")
        start = self.instant(a.start, f"{path}.start") if a.start is not None else None
        source_id = self.identifier(entry, "appointment")
        return AppointmentIn(source_id=source_id or "", start=start, status=status or BOOKED)


def _has_code(concept: Any, wanted: set[str]) -> bool:
    return concept is not None and any(c.code in wanted for c in concept.coding or [])


# -- answers ---------------------------------------------------------------------------------


def outcome(issues: list[tuple[str | None, str, str]]) -> dict[str, Any]:
    """An OperationOutcome with one error issue per problem, each naming its FHIRPath."""
    from fhir.resources.R4B.operationoutcome import OperationOutcome

    built = OperationOutcome(issue=[
        {"severity": "error", "code": code, "diagnostics": message,
         "details": {"text": message}, **({"expression": [path]} if path else {})}
        for path, message, code in issues
    ])  # fmt: skip
    return built.model_dump(mode="json", exclude_none=True)


def intake_issues(parsed: Parsed,
                  errors: list[tuple[str, str]]) -> list[tuple[str | None, str, str]]:  # fmt: skip
    """intake's (neutral field, message) errors at the FHIRPaths they were read from."""
    issues: list[tuple[str | None, str, str]] = []
    for neutral, message in errors:
        code = "required" if message.startswith("is required") else "business-rule"
        issues.append((parsed.path_of(neutral), in_words(neutral, message), code))
    return issues


def transaction_response(parsed: Parsed, result: IntakeResult,
                         procedure_id: int | None) -> dict[str, Any]:  # fmt: skip
    """One response entry per Bundle entry, in order: what became of each."""
    from fhir.resources.R4B.bundle import Bundle

    said = {
        "enrolled": "Enrolled", "unchanged": "Already up to date: nothing changed",
        "rescheduled": "Rescheduled: messages not yet sent follow the new times",
        "updated": "Updated", "cancelled": "The follow-up was cancelled",
    }[result.action]  # fmt: skip
    enrolment = f" (enrolment {result.enrollment_id})" if result.enrollment_id else ""
    entries = []
    for entry in parsed.entries:
        status, location = "200 OK", None
        if entry.type == "Patient":
            location = f"Patient/{result.patient_id}"
        elif entry.type == "Procedure" and procedure_id is not None:
            location = f"Procedure/{procedure_id}"
            status = "201 Created" if result.action == "enrolled" else "200 OK"
        response: dict[str, Any] = {"status": status}
        if location:
            response["location"] = location
        if entry.type in ("Patient", "Procedure", "Appointment"):
            response["outcome"] = {"resourceType": "OperationOutcome", "issue": [
                {"severity": "information", "code": "informational",
                 "diagnostics": f"{said}{enrolment}"}]}  # fmt: skip
        entries.append({"response": response})
    built = Bundle(type="transaction-response", entry=entries)
    return built.model_dump(mode="json", exclude_none=True)
