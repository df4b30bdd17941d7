"""HL7 v2 in: scheduling, registration and charge messages, read into the intake core.

One message in, one acknowledgement out (original mode):

* ``SIU^S12/S13/S14`` (booked, rescheduled, modified), ``SIU^S15`` (cancelled) and
  ``SIU^S26`` (no-show) move the follow-up visit: :func:`intake.update_appointment`.
* ``ADT^A04`` (registration) and ``ADT^A08`` (update) carry phone, email and language:
  :func:`intake.update_patient` for someone we know; a registration of someone we do not
  know is acknowledged and left alone (nothing to follow up until an injection is charged).
* ``DFT^P03`` with a charge line for CPT 20610/20611 (the injection happened) enrols:
  :func:`intake.intake`, one procedure per sitting (an RT and an LT line at the same time
  are one bilateral procedure); other charge lines are skipped.

Feeds carry every patient of the clinic: a scheduling or registration message for someone
we do not follow, or a credit for a charge never enrolled, is ``AA`` and changes nothing.

``AA`` means done (or nothing to do, or done before: the intake core is idempotent on the
sender's ids). ``AE`` means the content is wrong and resending it will not help; ``AR`` means
we do not take this message here (type, event, version, processing id, facility) or could
not process it now (a resend may work). Every ``AE``/``AR`` carries ``ERR`` segments naming
the field (``ERR-2`` ``PID^1^13``) and saying what is wrong in words (``ERR-8``). Nothing is
stored for a message that is not ``AA``: the whole message is one transaction.

The text of a message is patient data: it is never logged; log lines carry the message
type, control id, acknowledgement code and error locations only.
"""

from __future__ import annotations

import logging
import re
import traceback
import uuid
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import hl7
from sqlalchemy.orm import Session

from reminders.clinics.models import Clinic
from reminders.clock import Clock, SystemClock
from reminders.interop import codes
from reminders.interop.intake import (
    AppointmentIn,
    IntakeError,
    IntakeResult,
    PatientIn,
    ProcedureIn,
    in_words,
    intake,
    reduce_language,
    update_appointment,
    update_patient,
)

log = logging.getLogger("reminders.interop.hl7")

ACTOR = "hl7"
SOURCE = "hl7"
# CPT: arthrocentesis, aspiration and/or injection of a major joint (hip, knee, shoulder),
# without (20610) and with (20611) ultrasound guidance. Any other charge line is not ours.
INJECTION_CPT = frozenset({"20610", "20611"})
HCPCS = codes.system_of("HCPCS")
SIDE_MODIFIERS = {"LT": "left", "RT": "right", "50": "bilateral"}

# HL7 table 0357 (message error condition codes): the ones this listener uses.
SEGMENT_SEQUENCE = "100"
REQUIRED_MISSING = "101"
DATA_TYPE = "102"
TABLE_VALUE = "103"
UNSUPPORTED_TYPE = "200"
UNSUPPORTED_EVENT = "201"
UNSUPPORTED_PROCESSING_ID = "202"
UNSUPPORTED_VERSION = "203"
UNKNOWN_KEY = "204"
INTERNAL = "207"
ERROR_NAMES = {
    SEGMENT_SEQUENCE: "Segment sequence error",
    REQUIRED_MISSING: "Required field missing",
    DATA_TYPE: "Data type error",
    TABLE_VALUE: "Table value not found",
    UNSUPPORTED_TYPE: "Unsupported message type",
    UNSUPPORTED_EVENT: "Unsupported event code",
    UNSUPPORTED_PROCESSING_ID: "Unsupported processing id",
    UNSUPPORTED_VERSION: "Unsupported version id",
    UNKNOWN_KEY: "Unknown key identifier",
    INTERNAL: "Application internal error",
}

EVENTS = {
    "SIU": frozenset({"S12", "S13", "S14", "S15", "S26"}),
    "ADT": frozenset({"A04", "A08"}),
    "DFT": frozenset({"P03"}),
}
# What each SIU trigger means for the visit; S12-S14 may still say cancelled in SCH-25.
SIU_STATUS = {"S12": "booked", "S13": "booked", "S14": "booked", "S15": "cancelled",
              "S26": "noshow"}  # fmt: skip
FILLER_STATUS = {"cancelled": "cancelled", "deleted": "cancelled", "noshow": "noshow"}

# Field names in words for ERR-8 (a person at the sending end reads these).
FIELD_WORDS = {
    "MSH-6": "receiving facility", "MSH-9": "message type", "MSH-10": "message control id",
    "MSH-11": "processing id", "MSH-12": "version", "PID-3": "patient identifier (MRN)",
    "PID-5": "patient name", "PID-13": "home phone / email", "PID-15": "primary language",
    "FT1-2": "transaction id", "FT1-4": "date and time of service", "FT1-6": "transaction type",
    "FT1-7": "transaction code", "FT1-25": "procedure code", "FT1-26": "procedure modifier",
    "SCH-2": "appointment id", "SCH-11": "appointment start", "SCH-25": "appointment status",
    "DG1-3": "diagnosis code", "AIS-4": "appointment start",
}  # fmt: skip

DTM = re.compile(r"^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2}(\.\d{1,4})?)?([+-]\d{4})?$")
DATE_ONLY = re.compile(r"^\d{8}([+-]\d{4})?$")
MSH_START = re.compile(r"MSH[^A-Za-z0-9\s][^\r]{4}")


@dataclass(frozen=True)
class Problem:
    """One ERR segment: where (ERL, e.g. ``PID^1^13``), table 0357 code, what in words."""

    location: str
    code: str
    text: str


class Rejected(Exception):
    """The message is not taken: ``AE`` (its content) or ``AR`` (not ours / not now)."""

    def __init__(self, ack: str, problems: list[Problem]) -> None:
        super().__init__(f"{ack}: " + ", ".join(f"{p.code} at {p.location}" for p in problems))
        self.ack = ack
        self.problems = problems


def _error(location: str, code: str, text: str, ack: str = "AE") -> Rejected:
    return Rejected(ack, [Problem(location, code, text)])


def _words(location: str) -> str:
    """``PID^1^13`` -> ``PID-13 (home phone / email)``."""
    parts = location.split("^")
    if len(parts) < 3:
        return f"the {parts[0]} segment"
    name = f"{parts[0]}-{parts[2]}"
    words = FIELD_WORDS.get(name)
    return f"{name} ({words})" if words else name


# -- reading fields -------------------------------------------------------------------


def _value(segment: hl7.Segment, field_no: int, rep: int = 1, comp: int = 1, sub: int = 1) -> str:
    """The unescaped text at one position ('' when absent; HL7's "" null is absent too)."""
    try:
        text = segment.extract_field(1, field_no, rep, comp, sub)
    except (IndexError, KeyError):
        return ""
    text = str(text).strip()
    return "" if text == '""' else text


def _repeats(segment: hl7.Segment, field_no: int) -> int:
    if field_no >= len(segment):
        return 0
    return len(segment(field_no))


def _segments(message: hl7.Message, name: str) -> list[hl7.Segment]:
    return [s for s in message if str(s[0]) == name]


def _charge_system(system: str, code: str) -> str:
    """A charge line's code system: as sent, else CPT or HCPCS by the code's shape
    (a HCPCS Level II code begins with a letter: J3301)."""
    if system:
        return codes.system_of(system)
    return HCPCS if code[:1].isalpha() else codes.CPT


def _when(text: str, location: str, zone: str) -> datetime:
    """An HL7 DTM to the minute; without an offset it is read on the clinic's wall clock."""
    value = text.strip()
    if DATE_ONLY.match(value):
        raise _error(location, DATA_TYPE,
                     f"{_words(location)} has a date but no time of day; the follow-up "
                     "timeline starts at that time (YYYYMMDDHHMM)")  # fmt: skip
    if not DTM.match(value):
        raise _error(location, DATA_TYPE,
                     f"{_words(location)} is not a date and time "
                     "(YYYYMMDDHHMM[SS][+ZZZZ])")  # fmt: skip
    try:
        parsed = hl7.parse_datetime(value)
    except ValueError:
        raise _error(location, DATA_TYPE,
                     f"{_words(location)} is not a real date and time") from None  # fmt: skip
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=ZoneInfo(zone))
    return parsed.astimezone(UTC)


# -- the header -----------------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    kind: str  # "SIU"
    event: str  # "S12"
    control_id: str


def read_header(message: hl7.Message, *, facilities: frozenset[str], processing_id: str) -> Header:
    """MSH checks that decide whether the message is ours at all (``AR`` if not)."""
    msh = message.segment("MSH")
    control_id = _value(msh, 10)
    kind, event = _value(msh, 9, 1, 1).upper(), _value(msh, 9, 1, 2).upper()
    if not control_id:
        raise _error("MSH^1^10", REQUIRED_MISSING,
                     "MSH-10 (message control id) is empty; the acknowledgement "
                     "needs it")  # fmt: skip
    if kind not in EVENTS:
        raise _error("MSH^1^9^1^1", UNSUPPORTED_TYPE,
                     f"MSH-9 (message type) {kind or 'empty'} is not taken here; this listener "
                     "takes SIU, ADT and DFT", "AR")  # fmt: skip
    if event not in EVENTS[kind]:
        taken = ", ".join(sorted(EVENTS[kind]))
        raise _error("MSH^1^9^1^2", UNSUPPORTED_EVENT,
                     f"MSH-9 (message type) {kind}^{event or 'empty'} is not taken here; "
                     f"{kind} is taken for {taken}", "AR")  # fmt: skip
    sent_id = _value(msh, 11)
    if sent_id.upper() != processing_id.upper():
        raise _error("MSH^1^11", UNSUPPORTED_PROCESSING_ID,
                     f"MSH-11 (processing id) is {sent_id or 'empty'}; this listener takes "
                     f"{processing_id} messages only", "AR")  # fmt: skip
    version = _value(msh, 12)
    if not version.startswith("2."):
        raise _error("MSH^1^12", UNSUPPORTED_VERSION,
                     f"MSH-12 (version) is {version or 'empty'}; this listener takes HL7 v2.x",
                     "AR")  # fmt: skip
    facility = _value(msh, 6)
    if facilities and facility.casefold() not in {f.casefold() for f in facilities}:
        raise _error("MSH^1^6", TABLE_VALUE,
                     "MSH-6 (receiving facility) names a facility this listener does not "
                     "serve; check the interface's routing", "AR")  # fmt: skip
    return Header(kind, event, control_id)


# -- the patient (PID) ----------------------------------------------------------------


def _pid(message: hl7.Message) -> hl7.Segment:
    found = _segments(message, "PID")
    if not found:
        raise _error("PID", SEGMENT_SEQUENCE, "the message has no PID segment (the patient)")
    return found[0]


def _mrn(pid: hl7.Segment) -> str:
    """PID-3: the identifier typed MR (medical record number), else the first one."""
    ids = [(_value(pid, 3, r, 1), _value(pid, 3, r, 5).upper()) for r in
           range(1, _repeats(pid, 3) + 1)]  # fmt: skip
    ids = [(value, kind) for value, kind in ids if value]
    for value, kind in ids:
        if kind == "MR":
            return value
    if ids:
        return ids[0][0]
    raise _error("PID^1^3", REQUIRED_MISSING,
                 "PID-3 (patient identifier) has no medical record number")  # fmt: skip


def _name(pid: hl7.Segment) -> tuple[str, str | None]:
    """PID-5: the legal name (XPN-7 L), else the first; given is required."""
    reps = range(1, _repeats(pid, 5) + 1)
    chosen = next((r for r in reps if _value(pid, 5, r, 7).upper() == "L"), 1)
    given = _value(pid, 5, chosen, 2)
    family = _value(pid, 5, chosen, 1) or None
    if not given:
        raise _error(f"PID^1^5^{chosen}^2", REQUIRED_MISSING,
                     "PID-5 (patient name) has no given name")  # fmt: skip
    return given, family


# XTN equipment types that cannot take a text message or a call from us.
NOT_A_PHONE = frozenset({"FX", "MD", "BP", "X.400", "INTERNET", "TDD", "TTY"})
# Use codes whose number belongs to somebody else or to the patient's employer.
NOT_THEIRS = frozenset({"EMR", "WPN", "ASN", "BPN", "NET"})


def _contact(pid: hl7.Segment) -> tuple[str | None, str | None]:
    """PID-13 (XTN, repeating): the best number to text, and an email address.

    A cell phone (equipment CP) first, then a primary residence number (PRN), then any
    other residence (ORN) or unmarked one; never fax, pager, work or emergency numbers.
    The number is XTN-12 (unformatted), else country/area/local (XTN-5/6/7), else XTN-1.
    """
    ranked: list[tuple[int, str]] = []
    email = None
    for r in range(1, _repeats(pid, 13) + 1):
        use, kind = _value(pid, 13, r, 2).upper(), _value(pid, 13, r, 3).upper()
        address = _value(pid, 13, r, 4)
        if use == "NET" or kind == "INTERNET" or (address and "@" in address):
            email = email or address or None
            continue
        if kind in NOT_A_PHONE or use in NOT_THEIRS:
            continue
        number = _value(pid, 13, r, 12)
        if not number and _value(pid, 13, r, 7):
            country, area = _value(pid, 13, r, 5), _value(pid, 13, r, 6)
            number = (f"+{country.lstrip('+')}" if country else "") + area + _value(pid, 13, r, 7)
        number = number or _value(pid, 13, r, 1)
        if number:
            rank = 0 if kind == "CP" else 1 if use == "PRN" else 2
            ranked.append((rank, number))
    phone = min(ranked, key=lambda pair: pair[0])[1] if ranked else None
    return phone, email


def _language(pid: hl7.Segment) -> str | None:
    """PID-15 (CWE): an ISO 639 code or BCP-47 tag (PID-15.1), else the name (PID-15.2);
    the intake core reduces it to a language we have messages in."""
    code, name = _value(pid, 15, 1, 1), _value(pid, 15, 1, 2)
    return code if reduce_language(code) or not name else name


def _conditions(message: hl7.Message, clinic: Clinic) -> tuple[str, ...]:
    """Diagnoses (DG1-3 and FT1-19, ICD-10 or SNOMED) mapped to our condition words."""
    found: set[str] = set()
    for name, field_no in (("DG1", 3), ("FT1", 19)):
        for segment in _segments(message, name):
            for r in range(1, _repeats(segment, field_no) + 1):
                code = _value(segment, field_no, r, 1)
                if code:
                    system = _value(segment, field_no, r, 3) or "I10"  # US claims: ICD-10
                    found.update(codes.conditions_for(clinic=clinic, system=system, code=code))
    return tuple(sorted(found))


def read_patient(message: hl7.Message, clinic: Clinic, *, need_contact: bool) -> PatientIn:
    pid = _pid(message)
    mrn = _mrn(pid)
    given, family = _name(pid)
    phone, email = _contact(pid)
    if need_contact and not phone and not email:
        raise _error("PID^1^13", REQUIRED_MISSING,
                     "PID-13 (home phone / email) has no phone number or email address to "
                     "send the follow-up to")  # fmt: skip
    return PatientIn(
        source=SOURCE, source_id=mrn, mrn=mrn, given_name=given, family_name=family,
        phone=phone, email=email, language=_language(pid),
        conditions=_conditions(message, clinic),
    )  # fmt: skip


# -- the charge (DFT^P03) --------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One injection charge line: its FT1 set id (for error locations) and the procedure."""

    set_id: int
    procedure: ProcedureIn


def _codes_of(segment: hl7.Segment, field_no: int) -> Iterable[tuple[str, str, str]]:
    for r in range(1, _repeats(segment, field_no) + 1):
        code = _value(segment, field_no, r, 1)
        if code:
            yield code, _value(segment, field_no, r, 3), _value(segment, field_no, r, 2)


def _injection_code(ft1: hl7.Segment) -> str | None:
    """FT1-25 (procedure code), else FT1-7 (transaction code), when it is CPT 20610/20611."""
    for field_no in (25, 7):
        for code, system, _text in _codes_of(ft1, field_no):
            if code in INJECTION_CPT and _charge_system(system, code) in {codes.CPT, HCPCS}:
                return code
    return None


def _injectate(message: hl7.Message, clinic: Clinic) -> str | None:
    """The drug, from every coded line of the message: drug charge lines (HCPCS J-codes in
    FT1-7/FT1-25, NDC in FT1-29, the description FT1-8), RXA-5 (administered code) and
    PR1-3, through the clinic's code map; a steroid with lidocaine is a steroid."""
    found: list[str | None] = []
    for ft1 in _segments(message, "FT1"):
        for field_no in (25, 7, 29):
            for code, system, text in _codes_of(ft1, field_no):
                system = system if field_no == 29 else _charge_system(system, code)
                found.append(codes.injectate_for(clinic=clinic, system=system or "NDC",
                                                 code=code, text=text or None))  # fmt: skip
        description = _value(ft1, 8)
        if description:
            found.append(codes.injectate_in_text(clinic=clinic, text=description))
    for name, field_no in (("RXA", 5), ("PR1", 3)):
        for segment in _segments(message, name):
            for code, system, text in _codes_of(segment, field_no):
                found.append(codes.injectate_for(clinic=clinic, system=system, code=code,
                                                 text=text or None))  # fmt: skip
    return codes.pick(found)


def _set_id(ft1: hl7.Segment, position: int) -> int:
    text = _value(ft1, 1)
    return int(text) if text.isdigit() else position


def read_charges(message: hl7.Message, clinic: Clinic, mrn: str) -> list[Line]:
    """Every FT1 line that charges an injection, as a procedure (others are not ours).

    The idempotency key is FT1-2 (transaction id); without one it is the MRN, the time of
    service, the code and the side, so a resent charge finds the first. A credit (FT1-6
    ``CD``) or a negative quantity (FT1-10) reverses the charge: the procedure is cancelled.
    """
    lines: list[Line] = []
    injectate: str | None = None
    for position, ft1 in enumerate(_segments(message, "FT1"), start=1):
        cpt = _injection_code(ft1)
        if cpt is None:
            continue
        set_id = _set_id(ft1, position)
        kind = _value(ft1, 6).upper()
        quantity = _value(ft1, 10)
        cancelled = kind == "CD" or quantity.startswith("-")
        if kind not in {"", "CG", "CD"}:
            raise _error(f"FT1^{set_id}^6", TABLE_VALUE,
                         f"FT1-6 (transaction type) on the injection line is {kind}; "
                         "a charge (CG) or a credit (CD) was expected")  # fmt: skip
        when_text = _value(ft1, 4, 1, 1)
        location = f"FT1^{set_id}^4"
        if not when_text:
            raise _error(location, REQUIRED_MISSING,
                         "FT1-4 (date and time of service) is empty on the injection "
                         "line")  # fmt: skip
        performed_at = _when(when_text, location, clinic.timezone)
        side = None
        for code, _system_name, _text in _codes_of(ft1, 26):
            side = SIDE_MODIFIERS.get(code.upper(), side)
        if injectate is None:
            injectate = _injectate(message, clinic)
        key = _value(ft1, 2) or "|".join(
            (mrn, performed_at.astimezone(UTC).strftime("%Y%m%d%H%M"), cpt, side or "")
        )
        procedure = ProcedureIn(
            source_id=f"ft1:{key}", status="cancelled" if cancelled else "completed",
            performed_at=performed_at, injectate=injectate, side=side,
        )  # fmt: skip
        lines.append(Line(set_id, procedure))
    return _one_per_sitting(lines)


def _one_per_sitting(lines: list[Line]) -> list[Line]:
    """Both hips injected at one sitting are billed as two lines (RT and LT): that is one
    procedure, bilateral, known by the first line's id (the follow-up is one timeline)."""
    merged: dict[tuple[datetime | None, str], Line] = {}
    for line in lines:
        key = (line.procedure.performed_at, line.procedure.status)
        first = merged.get(key)
        if first is None:
            merged[key] = line
            continue
        sides = {first.procedure.side, line.procedure.side}
        side = ("bilateral" if {"left", "right"} <= sides or "bilateral" in sides
                else first.procedure.side or line.procedure.side)  # fmt: skip
        merged[key] = Line(first.set_id, replace(first.procedure, side=side))
    return list(merged.values())


# -- the visit (SIU) -------------------------------------------------------------------


def read_appointment(message: hl7.Message, clinic: Clinic, event: str) -> AppointmentIn:
    """SCH-2 (filler appointment id; else SCH-1, placer), the start (SCH-11.4, else TQ1-7,
    else AIS-4) and the status (the trigger; SCH-25 may still say cancelled or no-show)."""
    found = _segments(message, "SCH")
    if not found:
        raise _error("SCH", SEGMENT_SEQUENCE, "the message has no SCH segment (the appointment)")
    sch = found[0]
    source_id = _value(sch, 2) or _value(sch, 1)
    if not source_id:
        raise _error("SCH^1^2", REQUIRED_MISSING,
                     "SCH-2 (appointment id) is empty, and so is SCH-1")  # fmt: skip
    status = SIU_STATUS[event]
    if status == "booked":
        status = FILLER_STATUS.get(_value(sch, 25).casefold(), status)
    start = None
    places = [(sch, "SCH", 11, 4)]
    places += [(s, "TQ1", 7, 1) for s in _segments(message, "TQ1")[:1]]
    places += [(s, "AIS", 4, 1) for s in _segments(message, "AIS")[:1]]
    for segment, name, field_no, comp in places:
        text = _value(segment, field_no, 1, comp)
        if text:
            location = f"{name}^1^{field_no}" + (f"^1^{comp}" if comp > 1 else "")
            start = _when(text, location, clinic.timezone)
            break
    if start is None and status == "booked":
        raise _error("SCH^1^11^1^4", REQUIRED_MISSING,
                     "SCH-11 (appointment start) is empty, and so are TQ1-7 and AIS-4")  # fmt: skip
    return AppointmentIn(source_id=f"sch:{source_id}", start=start, status=status)


# -- from intake errors back to fields ---------------------------------------------------

INTAKE_FIELDS = {
    "patient.mrn": "PID^1^3", "patient.source_id": "PID^1^3",
    "patient.given_name": "PID^1^5^1^2", "patient.family_name": "PID^1^5^1^1",
    "patient.phone": "PID^1^13", "patient.email": "PID^1^13^1^4",
    "patient.language": "PID^1^15", "patient.conditions": "DG1^1^3",
    "appointment.source_id": "SCH^1^2", "appointment.start": "SCH^1^11^1^4",
    "appointment.status": "SCH^1^25",
}  # fmt: skip
PROCEDURE_FIELDS = {"performed_at": 4, "source_id": 2, "side": 26, "injectate": 7, "status": 6}


def _located(exc: IntakeError, set_id: int | None) -> Rejected:
    """The intake core's (field path, words) as ERR segments on the fields they came from."""
    problems = []
    for path, message in exc.errors:
        location = INTAKE_FIELDS.get(path)
        if location is None and path.startswith("procedure") and set_id is not None:
            leaf = path.rsplit(".", 1)[-1]
            location = f"FT1^{set_id}" + (f"^{PROCEDURE_FIELDS[leaf]}"
                                          if leaf in PROCEDURE_FIELDS else "")  # fmt: skip
        location = location or {"patient": "PID", "appointment": "SCH"}.get(
            path.split(".", 1)[0], "MSH"
        )
        problems.append(Problem(location, TABLE_VALUE,
                                f"{_words(location)}: {in_words(path, message)}"))  # fmt: skip
    return Rejected("AE", problems)


def _not_ours(exc: IntakeError, *, procedure: ProcedureIn | None = None) -> bool:
    """The intake core's "nothing here to update": a patient we do not know, one with no
    active follow-up, or a credit for a charge that was never enrolled. Feeds carry every
    patient of the clinic; those messages are acknowledged (AA) and left alone."""
    for path, message in exc.errors:
        if path in {"patient.mrn", "patient.source_id"} and message.startswith("matches no"):
            continue
        if path == "appointment" and message.startswith("has no active follow-up"):
            continue
        if (path == "procedure.status" and procedure is not None
                and procedure.status == "cancelled" and "never enrolled" in message):  # fmt: skip
            continue
        return False
    return bool(exc.errors)


# -- one message --------------------------------------------------------------------------

IGNORED = "ignored"


@dataclass(frozen=True)
class Outcome:
    header: Header
    actions: tuple[str, ...]  # the intake actions ("enrolled", "unchanged", ...) or "ignored"


def _actor(message: hl7.Message) -> str:
    """Audit actor: ``hl7:<sending facility>`` (MSH-4), so a trail names the feed."""
    facility = _value(message.segment("MSH"), 4) or "unknown"
    return f"{ACTOR}:{facility}"[:80]


def apply(message: hl7.Message, header: Header, *, session: Session, clinic: Clinic,
          now: datetime) -> Outcome:  # fmt: skip
    """Read the message's body and hand it to the intake core (raises :class:`Rejected`)."""
    actor = _actor(message)
    if header.kind == "SIU":
        patient = read_patient(message, clinic, need_contact=False)
        appointment = read_appointment(message, clinic, header.event)
        try:
            result = update_appointment(session=session, clinic=clinic, now=now, actor=actor,
                                        patient=patient, appointment=appointment)  # fmt: skip
        except IntakeError as exc:
            if _not_ours(exc):
                return Outcome(header, (IGNORED,))
            raise _located(exc, None) from None
        return Outcome(header, (result.action,))
    if header.kind == "ADT":
        patient = read_patient(message, clinic, need_contact=False)
        try:
            update_patient(session=session, clinic=clinic, now=now, actor=actor, patient=patient)
        except IntakeError as exc:
            if _not_ours(exc):
                return Outcome(header, (IGNORED,))  # enrolled by a charge, not a registration
            raise _located(exc, None) from None
        return Outcome(header, ("updated",))
    lines = read_charges(message, clinic, _mrn(_pid(message)))
    if not lines:
        return Outcome(header, (IGNORED,))  # a charge for something else
    completed = any(line.procedure.status == "completed" for line in lines)
    patient = read_patient(message, clinic, need_contact=completed)
    results: list[IntakeResult] = []
    for line in lines:
        try:
            results.append(intake(session=session, clinic=clinic, now=now, actor=actor,
                                  patient=patient, procedure=line.procedure))  # fmt: skip
        except IntakeError as exc:
            if _not_ours(exc, procedure=line.procedure):
                results.append(IntakeResult(IGNORED, 0, None))
                continue
            raise _located(exc, line.set_id) from None
    return Outcome(header, tuple(r.action for r in results))


# -- the acknowledgement ------------------------------------------------------------------


@dataclass(frozen=True)
class Encoding:
    """The sender's delimiters (MSH-1, MSH-2), so fields copied back read the same."""

    field: str = "|"
    component: str = "^"
    repetition: str = "~"
    escape: str = "\\"
    subcomponent: str = "&"

    def escaped(self, text: str) -> str:
        out = []
        for char in text.replace("\r", " ").replace("\n", " "):
            tag = {self.escape: "E", self.field: "F", self.component: "S",
                   self.repetition: "R", self.subcomponent: "T"}.get(char)  # fmt: skip
            out.append(f"{self.escape}{tag}{self.escape}" if tag else char)
        return "".join(out)


def _encoding(msh: hl7.Segment) -> Encoding:
    chars = str(msh(2)) + "^~\\&"[len(str(msh(2))) :]
    return Encoding(str(msh(1)) or "|", chars[0], chars[1], chars[2], chars[3])


def _raw(msh: hl7.Segment, field_no: int) -> str:
    """A field exactly as sent (already escaped in the sender's delimiters)."""
    return str(msh(field_no)) if field_no < len(msh) else ""


def build_ack(message: hl7.Message | None, code: str, problems: Iterable[Problem] = (),
              *, now: datetime | None = None) -> str:  # fmt: skip
    """An original-mode ACK: MSH (addresses swapped), MSA-1 code, MSA-2 the control id,
    one ERR per problem (ERR-1 for v2.3/2.4 readers, ERR-2/3/4/8 for v2.5+)."""
    problems = list(problems)
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%d%H%M%S+0000")
    if message is not None:
        msh = message.segment("MSH")
        enc = _encoding(msh)
        receiving_app, receiving_fac = _raw(msh, 3), _raw(msh, 4)
        our_fac = _raw(msh, 6)
        event = _value(msh, 9, 1, 2)
        control_id = _raw(msh, 10)
        processing = _raw(msh, 11) or "P"
        version = _raw(msh, 12) or "2.5.1"
    else:
        enc = Encoding()
        receiving_app = receiving_fac = our_fac = event = control_id = ""
        processing, version = "P", "2.5.1"
    f, c, s = enc.field, enc.component, enc.subcomponent
    header = "".join((enc.component, enc.repetition, enc.escape, enc.subcomponent))
    segments = [
        f.join(("MSH", header, "AFTERCARE", our_fac, receiving_app, receiving_fac, stamp, "",
                f"ACK{c}{enc.escaped(event)}{c}ACK", uuid.uuid4().hex[:20], processing,
                version)),
        f.join(["MSA", code, control_id]
               + ([enc.escaped(problems[0].text)] if problems else [])),
    ]  # fmt: skip
    for problem in problems:
        name = ERROR_NAMES.get(problem.code, "")
        parts = problem.location.split("^")
        coded = (problem.code, name, "HL70357")
        eld = c.join([*parts[:3], s.join(coded)]) if len(parts) >= 3 else ""
        erl = c.join(parts)
        segments.append(f.join(("ERR", eld, erl, c.join(coded), "E",
                                "", "", "", enc.escaped(problem.text))))  # fmt: skip
    return "\r".join(segments) + "\r"


# -- the receiver the transport calls -----------------------------------------------------

Sessions = Callable[[], AbstractContextManager[Session]]


def _default_sessions() -> AbstractContextManager[Session]:
    from reminders.db import session_scope

    return session_scope()


def decode(raw: bytes) -> str:
    """HL7 v2 text: UTF-8 when it is, else Latin-1 (older systems); CR between segments."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return text.replace("\r\n", "\r").replace("\n", "\r").strip("\r\n \t\x00")


@dataclass
class Receiver:
    """Turns one framed message into its ACK; one database transaction per message."""

    clinic_id: int
    sessions: Sessions = _default_sessions
    clock: Clock = field(default_factory=SystemClock)
    facilities: frozenset[str] = frozenset()
    processing_id: str = "P"

    def receive(self, raw: bytes) -> bytes:
        """The ACK for one message; never raises (a sender always gets an answer)."""
        try:
            return self.receive_text(decode(raw)).encode("utf-8")
        except Exception as exc:  # a bug of ours: still answer, and let the engine retry
            log.error("hl7 could not answer: %s", type(exc).__name__)
            problem = Problem("", INTERNAL, "the message could not be processed now; "
                              "nothing was stored; send it again later")  # fmt: skip
            return build_ack(None, "AR", [problem]).encode("utf-8")

    def receive_text(self, text: str) -> str:
        message = None
        # MSH, then its field separator (never a letter, digit or space), then MSH-2...MSH-9.
        if MSH_START.match(text):
            try:
                parsed = hl7.parse(text)
                if isinstance(parsed, hl7.Message) and len(parsed.segment("MSH")) > 9:
                    message = parsed
            except Exception:  # noqa: S110 - the library raises several kinds on non-HL7
                pass
        if message is None:
            problem = Problem("MSH", SEGMENT_SEQUENCE, "the message does not begin with a "
                              "readable MSH segment")  # fmt: skip
            log.warning("hl7 not a message: ack=AR errors=%s at %s", problem.code,
                        problem.location)  # fmt: skip
            return build_ack(None, "AR", [problem], now=self.clock.now())
        msh = message.segment("MSH")
        control = _value(msh, 10) or "-"
        kind = f"{_value(msh, 9, 1, 1)}^{_value(msh, 9, 1, 2)}"
        try:
            header = read_header(message, facilities=self.facilities,
                                 processing_id=self.processing_id)  # fmt: skip
            with self.sessions() as session:
                clinic = session.get(Clinic, self.clinic_id)
                if clinic is None:
                    raise _error("MSH^1^6", UNKNOWN_KEY,
                                 "this listener's clinic no longer exists", "AR")  # fmt: skip
                outcome = apply(message, header, session=session, clinic=clinic,
                                now=self.clock.now())  # fmt: skip
        except Rejected as exc:
            where = ", ".join(f"{p.code} at {p.location}" for p in exc.problems)
            log.info("hl7 %s control=%s ack=%s errors=%s", kind, control, exc.ack, where)
            return build_ack(message, exc.ack, exc.problems, now=self.clock.now())
        except Exception as exc:
            # The exception's text may quote patient data: name its class and place only.
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            log.error("hl7 %s control=%s ack=AR internal error %s at %s:%s", kind, control,
                      type(exc).__name__, frame.filename, frame.lineno)  # fmt: skip
            problem = Problem("", INTERNAL,
                              "the message could not be processed now; nothing was stored; "
                              "send it again later")  # fmt: skip
            return build_ack(message, "AR", [problem], now=self.clock.now())
        log.info("hl7 %s control=%s ack=AA %s", kind, control, ",".join(outcome.actions))
        return build_ack(message, "AA", now=self.clock.now())
