"""The audit log page: who did what, in sentences that name people, patients and
protocols ("Dana Lee viewed Alice Smith's timeline"), never row ids.

The names on a page are read in one query per kind (staff; patients, also behind the
enrolments and concerns the events name; protocol versions), all scoped to the clinic:
another clinic's record can never lend its name to a row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi.responses import Response
from markupsafe import Markup, escape
from sqlalchemy import literal, select, union_all

from reminders import display
from reminders.audit.models import AuditEvent
from reminders.clinics.models import StaffMember
from reminders.conversations.models import Concern
from reminders.enrollments.models import Enrollment
from reminders.patients.models import Patient
from reminders.protocols.models import ProtocolVersion
from reminders.web.pages.common import Page, local_time

AUDIT_PAGE = 100
SUBJECTS = ("patient", "enrollment", "concern", "protocol", "clinic", "staff")
# Row ids and message references: meaningless to a reader, and the sentence names them.
_INTERNAL = frozenset({"inbound_id", "message", "message_id", "concern", "staff_id"})
_SNAKE = re.compile(r"[a-z]+(?:_[a-z]+)+")


@dataclass(frozen=True)
class AuditRow:
    at: datetime
    key: str  # the action as stored ("patient.view"), for scripts reading the page
    sentence: Markup  # "Dana Admin viewed <a>Alice Smith</a>'s timeline"
    action: str  # the short label, e.g. "viewed patient"
    details: list[tuple[str, str]]


def render(page: Page, *, subject: str, before: int | None) -> Response:
    """The page of up to AUDIT_PAGE events before ``before``, newest first; ``subject``
    filters by kind (patient, concern, …)."""
    query = select(AuditEvent).where(AuditEvent.clinic_id == page.clinic_id)
    if subject:
        query = query.where(AuditEvent.subject_type == subject)
    if before:
        query = query.where(AuditEvent.id < before)
    events = list(page.session.scalars(query.order_by(AuditEvent.id.desc()).limit(AUDIT_PAGE)))
    names = _Names.load(page, events)
    zone = page.viewer.clinic.timezone
    rows = [AuditRow(e.at, e.action, names.sentence(e), display.action_label(e.action),
                     _details(e.details or {}, zone)) for e in events]  # fmt: skip
    older = events[-1].id if len(events) == AUDIT_PAGE else None
    return page.render("audit.html", rows=rows, subject=subject, older=older,
                       subjects=[(s, display.subject_label(s)) for s in SUBJECTS])  # fmt: skip


@dataclass
class _Names:
    """The names an audit page mentions, each kind read in one query scoped to the clinic
    (staff; patients, also behind enrolments and concerns; protocol versions)."""

    clinic_name: str
    staff: dict[int, tuple[str, str]]  # id → (name, email)
    patients: dict[tuple[str, int], tuple[int, str]]  # (subject type, id) → patient
    protocols: dict[int, str]

    @classmethod
    def load(cls, page: Page, events: list[AuditEvent]) -> _Names:
        clinic_id, session = page.clinic_id, page.session
        ids: dict[str, set[int]] = {}
        for event in events:
            if event.subject_id is not None:
                ids.setdefault(event.subject_type, set()).add(event.subject_id)
        staff = {m.id: (m.name or m.email, m.email) for m in session.scalars(
            select(StaffMember).where(StaffMember.clinic_id == clinic_id))}  # fmt: skip
        p = Patient
        named = [
            select(literal("patient"), p.id, p.id, p.given_name, p.family_name)
            .where(p.clinic_id == clinic_id, p.id.in_(ids.get("patient", ()))),
            select(literal("enrollment"), Enrollment.id, p.id, p.given_name, p.family_name)
            .join(p, p.id == Enrollment.patient_id)
            .where(Enrollment.clinic_id == clinic_id,
                   Enrollment.id.in_(ids.get("enrollment", ()))),
            select(literal("concern"), Concern.id, p.id, p.given_name, p.family_name)
            .join(p, p.id == Concern.patient_id)
            .where(Concern.clinic_id == clinic_id, Concern.id.in_(ids.get("concern", ()))),
        ]  # fmt: skip
        patients = {(kind, row_id): (patient_id, " ".join(filter(None, (given, family))))
                    for kind, row_id, patient_id, given, family
                    in session.execute(union_all(*named))}  # fmt: skip
        versions = select(ProtocolVersion).where(
            ProtocolVersion.clinic_id == clinic_id, ProtocolVersion.id.in_(ids.get("protocol", ()))
        )
        protocols = {v.id: f"{v.title or v.key} v{v.version}"
                     for v in session.scalars(versions)}  # fmt: skip
        return cls(page.viewer.clinic.name, staff, patients, protocols)

    def who(self, event: AuditEvent, capital: bool) -> Markup:
        """The staff member by name (their email on hover: two may share a name)."""
        staff_id = event.staff_id
        if staff_id is None and event.actor.startswith("staff:"):
            digits = event.actor.removeprefix("staff:")
            staff_id = int(digits) if digits.isdigit() else None
        if staff_id is not None and staff_id in self.staff:
            name, email = self.staff[staff_id]
            return Markup('<strong title="{}">{}</strong>').format(email, name)
        text = display.actor_label(event.actor) if staff_id is None else "a former staff member"
        text = display.sentence_case(text) if capital else text
        return Markup("<strong>{}</strong>").format(text)

    def subject(self, event: AuditEvent) -> Markup:
        kind, row_id = event.subject_type, event.subject_id
        if row_id is None:
            return Markup("")
        if kind in ("patient", "enrollment", "concern"):
            found = self.patients.get((kind, row_id))
            if found is None:  # a concern about an unknown number has no patient
                return escape("an unknown patient" if kind != "concern"
                              else "a message from an unknown number")  # fmt: skip
            patient_id, name = found
            return Markup('<a href="/patients/{}">{}</a>').format(patient_id, name)
        if kind == "staff":
            return escape(self.staff.get(row_id, ("a former staff member", ""))[0])
        if kind == "protocol":
            name = self.protocols.get(row_id, "a protocol")
            return Markup('<a href="/protocols/versions/{}">{}</a>').format(row_id, name)
        if kind == "clinic":
            return escape(self.clinic_name)
        return escape(display.subject_label(kind))

    def sentence(self, event: AuditEvent) -> Markup:
        template = display.action_sentence(event.action)
        # "The clinic's API key read …": a sentence starts with a capital.
        who = self.who(event, capital=template.startswith("{who}"))
        return escape(template).format(who=who, subject=self.subject(event))


def _details(details: dict[str, Any], zone: str) -> list[tuple[str, str]]:
    out = []
    for key, value in details.items():
        if key in _INTERNAL or value is None or value == "":
            continue
        out.append((display.field_label(key), _value_in_words(key, value, zone)))
    return out


def _value_in_words(key: str, value: Any, zone: str) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(_value_in_words(key, v, zone) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{display.humanise(k)} {_value_in_words(k, v, zone)}"
                         for k, v in value.items())  # fmt: skip
    if key == "channel":
        return display.channel_label(str(value))
    if isinstance(value, str) and "T" in value[:11]:
        try:
            return local_time(datetime.fromisoformat(value), zone)
        except ValueError:
            pass
    if isinstance(value, str) and _SNAKE.fullmatch(value):
        return display.humanise(value)  # "sms_rate_per_second", "no_on_call"…
    return str(value)
