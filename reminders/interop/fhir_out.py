"""FHIR R4B resources built from our records: what the chart reads (and what we push).

Every resource is built as plain JSON and then validated by its ``fhir.resources`` R4B
model before it leaves (:func:`checked`), so an invalid resource is a bug caught here,
never a surprise at the EHR. The mapping:

* **Communication** — each message we sent the patient (``msg-{id}``: check-ins,
  re-asks, auto-replies, clinicians' texts, notices to the patient; ``sent``) and each
  message the patient sent us (``in-{id}``; ``received``). A reply that answered a
  question has ``inResponseTo`` that question; our auto-reply has ``inResponseTo`` the
  message it answered. ``payload`` is the text, left out once retention removed it.
* **Observation** — per reply, the pain score (LOINC 72514-3, "Pain severity - 0-10
  verbal numeric rating [Score] - Reported", https://loinc.org/72514-3) as
  ``valueInteger``, and the glucose reading in the unit the patient used: mg/dL as
  LOINC 2339-0 "Glucose [Mass/volume] in Blood" (https://loinc.org/2339-0), mmol/L as
  LOINC 15074-8 "Glucose [Moles/volume] in Blood" (https://loinc.org/15074-8), with
  UCUM units. "HI"/"LO" meter readings carry no number and are not emitted. % relief
  after a diagnostic injection (reminders/outcomes/diary.py) has no LOINC code: it is
  coded in our own code system, ``{base}/CodeSystem/aftercare-observation#relief-pct``,
  one Observation per answered diary point (``relief-{enrollment}-{minutes}``).
* **QuestionnaireResponse** — each scored HOOS JR (``hoos-{id}``): the item answers and
  the interval score (reminders/outcomes/hoos.py).
* **Flag** + **Task** — a concern about a patient is a Flag on the patient (``active``
  until resolved) and a Task to review it (``concern-{id}`` both): Task ``status``
  requested → in-progress (acknowledged) → completed (resolved), ``businessStatus``
  open / acknowledged / resolved, ``owner`` whoever acknowledged it, ``priority``
  routine / urgent / stat (emergency). Concerns with no patient (an unknown number,
  nobody on call) are the clinic's own business and are not emitted.

References: the read API (``push=False``) refers to our own ids (``Patient/{id}``);
what we push refers to the patient by identifier (the MRN when we have one, else our
id under ``{base}/sid/patient``), since the chart does not know our ids. Identifiers
of what we emit live under ``{base}/sid/…`` so a conditional create finds them again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.communication import Communication
from fhir.resources.R4B.flag import Flag
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from fhir.resources.R4B.task import Task
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from reminders.clinics.models import Clinic, StaffMember
from reminders.conversations.models import Concern, InboundMessage
from reminders.enrollments.models import PAGE, SENT, Enrollment, ScheduledMessage
from reminders.outcomes.diary import relief_for
from reminders.outcomes.hoos import responses
from reminders.patients.models import Patient

FHIR_VERSION = "4.3.0"  # R4B
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
FLAG_CATEGORY = "http://terminology.hl7.org/CodeSystem/flag-category"
PARTICIPATION_MODE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationMode"
ID_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
FHIR_KIND = "fhir"  # scheduled_messages.kind and channel of a push (never a Communication)

PAIN = ("72514-3", "Pain severity - 0-10 verbal numeric rating [Score] - Reported")
GLUCOSE = {
    "mg/dL": ("2339-0", "Glucose [Mass/volume] in Blood"),
    "mmol/L": ("15074-8", "Glucose [Moles/volume] in Blood"),
}
TASK_STATUS = {"open": "requested", "acknowledged": "in-progress", "resolved": "completed"}
TASK_PRIORITY = {"routine": "routine", "urgent": "urgent", "emergency": "stat"}
_MODELS: dict[str, Any] = {
    "Communication": Communication, "Observation": Observation, "Flag": Flag, "Task": Task,
    "QuestionnaireResponse": QuestionnaireResponse, "Bundle": Bundle,
}  # fmt: skip
# What the searches return, in the CapabilityStatement's words.
SEARCHABLE = ("Communication", "Observation", "QuestionnaireResponse", "Flag", "Task")


@dataclass(frozen=True)
class Urls:
    """Our FHIR base and the systems under it (``{public_url}/fhir``)."""

    base: str

    @classmethod
    def of(cls, public_url: str) -> Urls:
        return cls(public_url.rstrip("/") + "/fhir")

    def sid(self, kind: str) -> str:
        return f"{self.base}/sid/{kind}"

    @property
    def codes(self) -> str:
        return f"{self.base}/CodeSystem/aftercare-observation"

    @property
    def concern_codes(self) -> str:
        return f"{self.base}/CodeSystem/aftercare-concern"


def checked(resource: dict[str, Any]) -> dict[str, Any]:
    """Validate against the R4B model and return its canonical JSON (nulls dropped)."""
    model = _MODELS[resource["resourceType"]].model_validate(resource)
    return dict(json.loads(model.model_dump_json(exclude_none=True, by_alias=True)))


def instant(at: datetime) -> str:
    return at.isoformat(timespec="seconds")


def identifier(urls: Urls, kind: str, value: str) -> dict[str, str]:
    return {"system": urls.sid(kind), "value": value}


def patient_ref(patient: Patient, urls: Urls, *, push: bool) -> dict[str, Any]:
    if not push:
        return {"reference": f"Patient/{patient.id}"}
    if patient.external_id:
        mrn = {"coding": [{"system": ID_TYPE, "code": "MR"}]}
        return {"identifier": {"type": mrn, "value": patient.external_id}}
    return {"identifier": identifier(urls, "patient", str(patient.id))}


# -- Communication ---------------------------------------------------------------------


def _medium(channel: str) -> list[dict[str, Any]]:
    code, display = ("SMSWRIT", "SMS message") if channel == "sms" else ("EMAILWRIT", "email")
    return [{"coding": [{"system": PARTICIPATION_MODE, "code": code, "display": display}]}]


def sent_communication(
    m: ScheduledMessage, patient: Patient, clinic: Clinic, urls: Urls, *, push: bool = False
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Communication", "id": f"msg-{m.id}",
        "identifier": [identifier(urls, "communication", f"msg-{m.id}")],
        "status": "completed", "subject": patient_ref(patient, urls, push=push),
        "medium": _medium(m.channel), "recipient": [patient_ref(patient, urls, push=push)],
        "sender": {"display": clinic.name},
    }  # fmt: skip
    if m.sent_at is not None:
        resource["sent"] = instant(m.sent_at)
    if m.inbound_id is not None:  # an auto-reply answers what the patient wrote
        resource["inResponseTo"] = [{"reference": f"Communication/in-{m.inbound_id}"}]
    elif m.about_message_id is not None:  # a re-ask repeats a question
        resource["inResponseTo"] = [{"reference": f"Communication/msg-{m.about_message_id}"}]
    if m.body:
        resource["payload"] = [{"contentString": m.body}]
    return checked(resource)


def received_communication(
    r: InboundMessage, patient: Patient, clinic: Clinic, urls: Urls, *, push: bool = False
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Communication", "id": f"in-{r.id}",
        "identifier": [identifier(urls, "communication", f"in-{r.id}")],
        "status": "completed", "subject": patient_ref(patient, urls, push=push),
        "medium": _medium(r.channel), "sender": patient_ref(patient, urls, push=push),
        "recipient": [{"display": clinic.name}], "received": instant(r.received_at),
    }  # fmt: skip
    if r.answers_message_id is not None:
        resource["inResponseTo"] = [{"reference": f"Communication/msg-{r.answers_message_id}"}]
    if r.body:
        resource["payload"] = [{"contentString": r.body}]
    return checked(resource)


def communications(
    *, session: Session, clinic: Clinic, patient: Patient, urls: Urls
) -> list[dict[str, Any]]:
    """Every message sent to the patient and every message from them, oldest first."""
    m = ScheduledMessage
    enrollment_ids = select(Enrollment.id).where(Enrollment.clinic_id == clinic.id,
                                                 Enrollment.patient_id == patient.id)  # fmt: skip
    sent = session.scalars(
        select(m).where(
            m.clinic_id == clinic.id, m.status == SENT, m.recipient.is_(None),
            m.kind.not_in((PAGE, FHIR_KIND)),
            or_(m.enrollment_id.in_(enrollment_ids), m.patient_id == patient.id),
        )
    ).all()  # fmt: skip
    received = session.scalars(
        select(InboundMessage).where(
            InboundMessage.clinic_id == clinic.id, InboundMessage.patient_id == patient.id
        )
    ).all()
    timed: list[tuple[datetime, str, dict[str, Any]]] = []
    for msg in sent:
        at = msg.sent_at or msg.due_at
        timed.append((at, f"m{msg.id:012d}", sent_communication(msg, patient, clinic, urls)))
    for reply in received:
        timed.append((reply.received_at, f"r{reply.id:012d}",
                      received_communication(reply, patient, clinic, urls)))  # fmt: skip
    return [resource for _at, _key, resource in sorted(timed, key=lambda t: (t[0], t[1]))]


# -- Observation -----------------------------------------------------------------------


def _pain_of(parsed: dict[str, Any]) -> int | None:
    value = parsed.get("pain", parsed.get("pain_score"))
    return value if isinstance(value, int) and 0 <= value <= 10 else None


def reply_observations(
    r: InboundMessage, patient: Patient, urls: Urls, *, push: bool = False
) -> dict[str, dict[str, Any]]:
    """The Observations one reply carries, by id suffix ("pain", "glucose")."""
    parsed = dict(r.parsed or {})
    out: dict[str, dict[str, Any]] = {}
    at = instant(r.received_at)
    common = {"status": "final", "subject": patient_ref(patient, urls, push=push),
              "effectiveDateTime": at, "issued": at}  # fmt: skip
    pain = _pain_of(parsed)
    if pain is not None:
        out["pain"] = checked({
            "resourceType": "Observation", "id": f"reply-{r.id}-pain",
            "identifier": [identifier(urls, "observation", f"reply-{r.id}-pain")],
            "category": [{"coding": [{"system": OBS_CATEGORY, "code": "survey"}]}],
            "code": {"coding": [{"system": LOINC, "code": PAIN[0], "display": PAIN[1]}],
                     "text": "Pain 0-10"},
            "valueInteger": pain, **common,
        })  # fmt: skip
    unit = parsed.get("unit")
    value = {"mg/dL": parsed.get("glucose_mg_dl"), "mmol/L": parsed.get("glucose_mmol_l")}.get(
        unit if isinstance(unit, str) else ""
    )
    if isinstance(unit, str) and unit in GLUCOSE and isinstance(value, int | float):
        code, display = GLUCOSE[unit]
        out["glucose"] = checked({
            "resourceType": "Observation", "id": f"reply-{r.id}-glucose",
            "identifier": [identifier(urls, "observation", f"reply-{r.id}-glucose")],
            "category": [{"coding": [{"system": OBS_CATEGORY, "code": "laboratory"}]}],
            "code": {"coding": [{"system": LOINC, "code": code, "display": display}],
                     "text": "Blood glucose (patient's meter)"},
            "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
            **common,
        })  # fmt: skip
    return out


def relief_observations(
    *, session: Session, enrollment: Enrollment, patient: Patient, urls: Urls, push: bool = False
) -> dict[str, dict[str, Any]]:
    """% relief per answered diary point of a diagnostic injection, by id.

    From the pain diary (reminders/outcomes/diary.py).
    """
    result = relief_for(session=session, enrollment_id=enrollment.id)
    if result is None:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for point in result.points:
        if point.relief_pct is None or point.answered_at is None:
            continue
        rid = f"relief-{enrollment.id}-{point.minutes}"
        out[rid] = checked({
            "resourceType": "Observation", "id": rid,
            "identifier": [identifier(urls, "observation", rid)],
            "status": "final",
            "category": [{"coding": [{"system": OBS_CATEGORY, "code": "survey"}]}],
            "code": {"coding": [{"system": urls.codes, "code": "relief-pct",
                                 "display": "Pain relief after the injection (%)"}],
                     "text": f"Pain relief {point.label} after the injection"},
            "subject": patient_ref(patient, urls, push=push),
            "effectiveDateTime": instant(point.answered_at),
            "valueQuantity": {"value": round(point.relief_pct, 1), "unit": "%", "system": UCUM,
                              "code": "%"},
            "note": [{"text": f"Baseline pain {result.baseline}/10, pain {point.pain}/10"}],
        })  # fmt: skip
    return out


def observations(
    *, session: Session, clinic: Clinic, patient: Patient, urls: Urls
) -> list[dict[str, Any]]:
    replies = session.scalars(
        select(InboundMessage).where(InboundMessage.clinic_id == clinic.id,
                                     InboundMessage.patient_id == patient.id)
        .order_by(InboundMessage.received_at, InboundMessage.id)
    ).all()  # fmt: skip
    out = [obs for r in replies for obs in reply_observations(r, patient, urls).values()]
    for enrollment in _enrollments(session, clinic, patient):
        out += relief_observations(session=session, enrollment=enrollment, patient=patient,
                                   urls=urls).values()  # fmt: skip
    return sorted(out, key=lambda o: (o.get("effectiveDateTime", ""), o["id"]))


def _enrollments(session: Session, clinic: Clinic, patient: Patient) -> list[Enrollment]:
    return list(session.scalars(
        select(Enrollment).where(Enrollment.clinic_id == clinic.id,
                                 Enrollment.patient_id == patient.id).order_by(Enrollment.id)
    ))  # fmt: skip


# -- QuestionnaireResponse -------------------------------------------------------------


def questionnaire_responses(
    *, session: Session, clinic: Clinic, patient: Patient, urls: Urls
) -> list[dict[str, Any]]:
    """Scored PROMs (HOOS JR, reminders/outcomes/hoos.py)."""
    out = []
    for r in responses(session=session, clinic_id=clinic.id, patient_id=patient.id):
        items = [{"linkId": str(item), "answer": [{"valueInteger": int(value)}]}
                 for item, value in r.answers.items()]  # fmt: skip
        items += [
            {"linkId": "raw-score", "text": "Raw score", "answer": [{"valueInteger": r.raw}]},
            {"linkId": "interval-score", "text": "Interval score (0-100, 100 = perfect)",
             "answer": [{"valueDecimal": round(float(r.interval), 1)}]},
        ]  # fmt: skip
        out.append(checked({
            "resourceType": "QuestionnaireResponse", "id": f"hoos-{r.id}",
            "identifier": identifier(urls, "questionnaire-response", f"hoos-{r.id}"),
            "questionnaire": f"{urls.base}/Questionnaire/{r.instrument.replace('_', '-')}",
            "status": "completed", "subject": patient_ref(patient, urls, push=False),
            "authored": instant(r.completed_at), "item": items,
            "extension": [{"url": f"{urls.base}/StructureDefinition/timepoint",
                           "valueString": r.timepoint}],
        }))  # fmt: skip
    return out


# -- Flag and Task ---------------------------------------------------------------------


def _concern_text(c: Concern) -> str:
    what = ", ".join(c.categories or []) or c.kind.replace("_", " ")
    return f"{c.severity.capitalize()} concern: {what}"


def flag(c: Concern, patient: Patient, urls: Urls, *, push: bool = False) -> dict[str, Any]:
    period = {"start": instant(c.created_at)}
    if c.resolved_at is not None:
        period["end"] = instant(c.resolved_at)
    return checked({
        "resourceType": "Flag", "id": f"concern-{c.id}",
        "identifier": [identifier(urls, "concern", str(c.id))],
        "status": "inactive" if c.status == "resolved" else "active",
        "category": [{"coding": [{"system": FLAG_CATEGORY, "code": "clinical"}]}],
        "code": {"coding": [{"system": urls.concern_codes, "code": c.kind}],
                 "text": _concern_text(c)},
        "subject": patient_ref(patient, urls, push=push), "period": period,
    })  # fmt: skip


def task(
    c: Concern, patient: Patient, urls: Urls, *, owner: StaffMember | None, push: bool = False
) -> dict[str, Any]:
    changed = max(t for t in (c.created_at, c.acknowledged_at, c.resolved_at) if t is not None)
    resource: dict[str, Any] = {
        "resourceType": "Task", "id": f"concern-{c.id}",
        "identifier": [identifier(urls, "concern", str(c.id))],
        "status": TASK_STATUS.get(c.status, "requested"),
        "businessStatus": {"coding": [{"system": urls.concern_codes, "code": c.status}],
                           "text": c.status},
        "intent": "order", "priority": TASK_PRIORITY.get(c.severity, "routine"),
        "code": {"coding": [{"system": urls.concern_codes, "code": "review"}],
                 "text": "Review the patient's concern"},
        "description": c.summary or _concern_text(c),
        "focus": ({"identifier": identifier(urls, "concern", str(c.id))} if push
                  else {"reference": f"Flag/concern-{c.id}"}),
        "for": patient_ref(patient, urls, push=push),
        "authoredOn": instant(c.created_at), "lastModified": instant(changed),
    }  # fmt: skip
    if owner is not None:
        resource["owner"] = {"display": owner.name or "Clinic staff"}
    if c.acknowledged_at is not None:
        resource["executionPeriod"] = {"start": instant(c.acknowledged_at)}
        if c.resolved_at is not None:
            resource["executionPeriod"]["end"] = instant(c.resolved_at)
    if c.resolution_note:
        resource["note"] = [{"text": c.resolution_note,
                             "time": instant(c.resolved_at or changed)}]  # fmt: skip
    return checked(resource)


def owner_of(session: Session, c: Concern) -> StaffMember | None:
    if c.acknowledged_by is None:
        return None
    staff = session.get(StaffMember, c.acknowledged_by)
    return staff if staff is not None and staff.clinic_id == c.clinic_id else None


def _concerns(session: Session, clinic: Clinic, patient: Patient) -> list[Concern]:
    return list(session.scalars(
        select(Concern).where(Concern.clinic_id == clinic.id, Concern.patient_id == patient.id)
        .order_by(Concern.created_at, Concern.id)
    ))  # fmt: skip


def flags(
    *, session: Session, clinic: Clinic, patient: Patient, urls: Urls
) -> list[dict[str, Any]]:
    return [flag(c, patient, urls) for c in _concerns(session, clinic, patient)]


def tasks(
    *, session: Session, clinic: Clinic, patient: Patient, urls: Urls
) -> list[dict[str, Any]]:
    return [task(c, patient, urls, owner=owner_of(session, c))
            for c in _concerns(session, clinic, patient)]  # fmt: skip


Search = Callable[..., list[dict[str, Any]]]
SEARCHES: dict[str, Search] = {
    "Communication": communications, "Observation": observations,
    "QuestionnaireResponse": questionnaire_responses, "Flag": flags, "Task": tasks,
}  # fmt: skip


def searchset(
    resources: Iterable[dict[str, Any]], *, urls: Urls, total: int, self_url: str,
    next_url: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    links = [{"relation": "self", "url": self_url}]
    if next_url is not None:
        links.append({"relation": "next", "url": next_url})
    entries = [{"fullUrl": f"{urls.base}/{r['resourceType']}/{r['id']}", "resource": r,
                "search": {"mode": "match"}} for r in resources]  # fmt: skip
    bundle = {"resourceType": "Bundle", "type": "searchset", "total": total, "link": links}
    if entries:
        bundle["entry"] = entries
    return checked(bundle)
