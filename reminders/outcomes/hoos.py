"""HOOS, JR. (and any ``sum_then_table`` instrument): scoring, form links, invitations,
responses and the change summary.

Scoring rule (published with the form): every item is answered 0 (None) to 4 (Extreme);
the six answers are summed (raw 0-24) and the sum is converted with the instrument's
raw-to-interval table to a score from 0 (total hip disability) to 100 (perfect hip
health). The table converts the sum of *all* items, so a response with any item
missing has no score: nothing is imputed. The table comes from the instrument's data
file (instruments.py), which says whether it was verified against its published source.

Form links are signed (itsdangerous, with the app's secret key), expire (``LIFETIME``
after the invitation is due) and work once: only the SHA-256 of the random part is
stored (``form_tokens``), and submitting sets ``used_at`` in a conditional UPDATE, so
two submissions of one link can never both count.
"""

from __future__ import annotations

import hashlib
import secrets
import statistics
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, Signer
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from reminders import audit, rendering
from reminders.clinics.models import Clinic
from reminders.conversations.texts import clinic_context, system_sources
from reminders.enrollments.models import PENDING, STEP, Enrollment, ScheduledMessage
from reminders.outcomes.instruments import Instrument, for_clinic
from reminders.outcomes.prom_models import ClinicInstrument, FormToken, PromResponse
from reminders.patients.models import Patient, Procedure

KEY = "hoos_jr"
LIFETIME = timedelta(days=14)
INVITE_TEMPLATE = "prom_invite"
BASELINE = "baseline"
SCRUBBED = "(A form link was here; it has been used.)"


# -- scoring (pure) ---------------------------------------------------------------------


def raw_score(instrument: Instrument, answers: Mapping[str, int]) -> int | None:
    """The sum of every item's answer; None when any item is unanswered (no score)."""
    values = {a.value for a in instrument.answers}
    total = 0
    for item in instrument.items:
        value = answers.get(item.id)
        if value is None:
            return None
        if value not in values:
            raise ValueError(f"{item.id}: {value!r} is not one of the answers")
        total += value
    return total


def interval_score(instrument: Instrument, raw: int) -> float:
    """The raw sum converted with the instrument's table (0 worst, 100 best)."""
    return instrument.table[raw]


def score(instrument: Instrument, answers: Mapping[str, int]) -> tuple[int, float] | None:
    raw = raw_score(instrument, answers)
    return None if raw is None else (raw, interval_score(instrument, raw))


# -- form links ---------------------------------------------------------------------------


def _signer(secret: str) -> Signer:
    return Signer(secret, salt="aftercare.prom-form.v1")


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_token(
    *, session: Session, patient: Patient, enrollment_id: int | None, instrument: str,
    timepoint: str, expires_at: datetime, now: datetime, secret: str,
) -> tuple[FormToken, str]:  # fmt: skip
    """A new link token (the string for the URL) and its row (only the hash stored)."""
    raw = secrets.token_urlsafe(24)
    row = FormToken(clinic_id=patient.clinic_id, patient_id=patient.id,
                    enrollment_id=enrollment_id, instrument=instrument, timepoint=timepoint,
                    token_hash=_digest(raw), created_at=now, expires_at=expires_at)  # fmt: skip
    session.add(row)
    session.flush()
    return row, _signer(secret).sign(raw).decode()


@dataclass(frozen=True)
class Opened:
    state: str  # "ok" | "invalid" | "expired" | "used"
    token: FormToken | None = None


def open_token(*, session: Session, token: str, now: datetime, secret: str) -> Opened:
    """What a link is worth now. A forged or altered link is "invalid" before any lookup."""
    if not token or len(token) > 200:
        return Opened("invalid")
    try:
        raw = _signer(secret).unsign(token.encode()).decode()
    except (BadSignature, UnicodeDecodeError):
        return Opened("invalid")
    row = session.scalar(select(FormToken).where(FormToken.token_hash == _digest(raw)))
    if row is None:
        return Opened("invalid")
    if row.used_at is not None:
        return Opened("used", row)
    if row.expires_at <= now:
        return Opened("expired", row)
    return Opened("ok", row)


@dataclass(frozen=True)
class Submitted:
    state: str  # "saved" | "errors" | "invalid" | "expired" | "used"
    errors: dict[str, str]
    answers: dict[str, int]
    response: PromResponse | None = None


def submit(
    *, session: Session, token: str, form: Mapping[str, str], now: datetime, secret: str
) -> Submitted:
    """Check the answers, store them with their score and spend the link, or store nothing.

    Each item needs one of the answers; a missing or unknown one is named in words, the
    link stays usable and nothing is saved. Audited as the patient's own submission.
    """
    opened = open_token(session=session, token=token, now=now, secret=secret)
    if opened.state != "ok" or opened.token is None:
        return Submitted(opened.state, {}, {})
    row = opened.token
    instrument = for_clinic(session=session, clinic_id=row.clinic_id, key=row.instrument)
    answers, errors = read_answers(instrument, form)
    if errors:
        return Submitted("errors", errors, answers)
    spent = session.execute(
        update(FormToken).where(FormToken.id == row.id, FormToken.used_at.is_(None))
        .values(used_at=now).execution_options(synchronize_session=False)
    )  # fmt: skip
    if not spent.rowcount:  # type: ignore[attr-defined]
        return Submitted("used", {}, {})
    scored = score(instrument, answers)
    response = PromResponse(
        clinic_id=row.clinic_id, patient_id=row.patient_id, enrollment_id=row.enrollment_id,
        token_id=row.id, instrument=instrument.key, instrument_version=instrument.version,
        timepoint=row.timepoint, answers=answers, raw=scored[0] if scored else None,
        interval=scored[1] if scored else None, verified=instrument.verified,
        completed_at=now,
    )  # fmt: skip
    session.add(response)
    session.flush()
    if row.message_id is not None:  # the link's only other copy: the invitation's text
        session.execute(
            update(ScheduledMessage)
            .where(ScheduledMessage.id == row.message_id, ScheduledMessage.status != PENDING)
            .values(body=SCRUBBED)
            .execution_options(synchronize_session=False)
        )
    audit.record(session=session, clinic_id=row.clinic_id, actor="patient",
                 action="prom.submitted", subject_type="patient", subject_id=row.patient_id,
                 instrument=instrument.key, timepoint=row.timepoint,
                 response=response.id)  # fmt: skip
    return Submitted("saved", {}, answers, response)


def read_answers(
    instrument: Instrument, form: Mapping[str, str]
) -> tuple[dict[str, int], dict[str, str]]:
    """Each item's answer from the form, and what is wrong (item id → words)."""
    labels = {str(a.value): a.value for a in instrument.answers}
    answers: dict[str, int] = {}
    errors: dict[str, str] = {}
    for item in instrument.items:
        value = (form.get(item.id) or "").strip()
        if value in labels:
            answers[item.id] = labels[value]
        elif not value:
            errors[item.id] = "Choose one answer for this question."
        else:
            errors[item.id] = "That answer is not one of the choices; choose one of them."
    return answers, errors


# -- invitations ---------------------------------------------------------------------------


def timepoint_label(days: int) -> str:
    return f"{days // 7} weeks" if days % 7 == 0 else f"{days} days"


def setting(*, session: Session, clinic_id: int, key: str = KEY) -> ClinicInstrument | None:
    return session.scalar(select(ClinicInstrument).where(
        ClinicInstrument.clinic_id == clinic_id, ClinicInstrument.key == key))  # fmt: skip


def schedule_invites(
    *, session: Session, clinic: Clinic, enrollment: Enrollment, now: datetime,
    public_url: str, secret: str,
) -> list[ScheduledMessage]:  # fmt: skip
    """Queue the HOOS JR invitations of a new enrolment when the clinic uses it: one due
    now (baseline) and one ``follow_up_days`` after the procedure, each with its own link
    that works for ``LIFETIME`` after it is due. They go through the delivery pipeline as
    step messages carrying their text, so quiet hours, opt-outs and a cancelled enrolment
    hold them like any check-in; a re-plan leaves them alone (they carry their text)."""
    config = setting(session=session, clinic_id=clinic.id)
    if config is None or not config.enabled:
        return []
    patient = session.get_one(Patient, enrollment.patient_id)
    procedure = session.get_one(Procedure, enrollment.procedure_id)
    instrument = for_clinic(session=session, clinic_id=clinic.id, key=KEY)
    follow_up = procedure.performed_at + timedelta(days=config.follow_up_days)
    plans = [(BASELINE, now)]
    if follow_up > now:
        plans.append((timepoint_label(config.follow_up_days), follow_up))
    messages = []
    for timepoint, due in plans:
        token, signed = issue_token(session=session, patient=patient,
                                    enrollment_id=enrollment.id, instrument=KEY,
                                    timepoint=timepoint, expires_at=due + LIFETIME, now=now,
                                    secret=secret)  # fmt: skip
        link = f"{public_url.rstrip('/')}/forms/{signed}"
        lang = patient.language if patient.language in instrument.languages else (
            patient.language if patient.language == "es" else "en")  # fmt: skip
        context = clinic_context(clinic, patient.given_name) | {"link": link}
        body = rendering.render_text(system_sources(), INVITE_TEMPLATE, lang, context).text
        step_key = f"{KEY}_{BASELINE if timepoint == BASELINE else 'follow_up'}"
        message = ScheduledMessage(
            clinic_id=clinic.id, enrollment_id=enrollment.id, patient_id=patient.id, kind=STEP,
            body=body, step_key=step_key, template=INVITE_TEMPLATE, channel=enrollment.channel,
            idempotency_key=f"prom:{enrollment.id}:{step_key}", time_critical=False,
            planned_at=due, due_at=due, expires_at=due + LIFETIME, status=PENDING,
            created_at=now, updated_at=now,
        )  # fmt: skip
        session.add(message)
        session.flush()
        token.message_id = message.id
        messages.append(message)
    return messages


# -- reading (contract §3) ---------------------------------------------------------------


@dataclass(frozen=True)
class ScoredResponse:
    id: int
    patient_id: int
    enrollment_id: int | None
    instrument: str
    timepoint: str
    completed_at: datetime
    answers: dict[str, int]
    raw: int
    interval: float
    verified: bool = False  # the table was checked against its published source


def responses(*, session: Session, clinic_id: int, patient_id: int) -> list[ScoredResponse]:
    """The patient's scored responses, oldest first (only the clinic's own records)."""
    rows = session.scalars(
        select(PromResponse)
        .where(PromResponse.clinic_id == clinic_id, PromResponse.patient_id == patient_id,
               PromResponse.raw.is_not(None), PromResponse.interval.is_not(None))
        .order_by(PromResponse.completed_at, PromResponse.id)
    )  # fmt: skip
    return [
        ScoredResponse(
            r.id, r.patient_id, r.enrollment_id, r.instrument, r.timepoint, r.completed_at,
            dict(r.answers), int(r.raw or 0), float(r.interval or 0), r.verified,
        )
        for r in rows
    ]


def change_summary(*, session: Session, clinic_id: int) -> list[dict[str, object]]:
    """Per injectate and month of the procedure: how many enrolments have a baseline and
    a later score, and the median change (later minus baseline; positive is better).
    The latest follow-up response of an enrolment counts; enrolments without both don't."""
    rows = session.execute(
        select(PromResponse.enrollment_id, PromResponse.timepoint, PromResponse.interval,
               PromResponse.verified, Procedure.injectate, Procedure.performed_at)
        .join(Enrollment, Enrollment.id == PromResponse.enrollment_id)
        .join(Procedure, Procedure.id == Enrollment.procedure_id)
        .where(PromResponse.clinic_id == clinic_id, PromResponse.instrument == KEY,
               PromResponse.interval.is_not(None))
        .order_by(PromResponse.completed_at, PromResponse.id)
    ).all()  # fmt: skip
    by_enrollment: dict[int, dict[str, object]] = {}
    for enrollment_id, timepoint, interval, verified, injectate, performed_at in rows:
        month = performed_at.strftime("%Y-%m")
        entry = by_enrollment.setdefault(
            enrollment_id, {"injectate": injectate, "month": month, "verified": True}
        )
        entry["baseline" if timepoint == BASELINE else "follow_up"] = float(interval)
        entry["verified"] = bool(entry["verified"]) and bool(verified)
    groups: dict[tuple[str, str], list[tuple[float, bool]]] = defaultdict(list)
    for entry in by_enrollment.values():
        if "baseline" in entry and "follow_up" in entry:
            change = float(entry["follow_up"]) - float(entry["baseline"])  # type: ignore[arg-type]
            groups[(str(entry["injectate"]), str(entry["month"]))].append(
                (change, bool(entry["verified"])))
    return [
        {"injectate": injectate, "month": month, "n": len(changes),
         "median_change": round(statistics.median(c for c, _ in changes), 3),
         "verified": all(v for _, v in changes)}
        for (injectate, month), changes in sorted(groups.items())
    ]  # fmt: skip
