"""A message from a known patient: keywords, the question it answers, triage, concern, reply."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders import audit
from reminders.clinics.models import Clinic
from reminders.conversations import matching, replies
from reminders.conversations.concerns import resolve
from reminders.conversations.flagging import raise_concern
from reminders.conversations.models import (
    ANSWER,
    FREE,
    REACTION,
    UNCLEAR,
    Concern,
    InboundMessage,
    QuestionFollowup,
)
from reminders.conversations.reading import (
    KeywordMatch,
    at_least,
    detect_keyword,
    rank,
    read_safely,
)
from reminders.enrollments.models import ScheduledMessage
from reminders.interop import push as fhir_push
from reminders.patients import consent
from reminders.patients.models import Patient
from reminders.protocols.spec import YES_NO_KINDS

ASKS_US = frozenset({"question", "reschedule"})


@dataclass
class Flow:
    replies: list[str] = field(default_factory=list)
    alert_ids: list[int] = field(default_factory=list)


def from_patient(
    *, session: Session, now: datetime, inbound: InboundMessage, patient: Patient,
    text: str, hint_message_id: int | None = None,
) -> Flow:  # fmt: skip
    clinic = session.get_one(Clinic, patient.clinic_id)
    enrollment = matching.current_enrollment(session=session, patient_id=patient.id)
    inbound.clinic_id, inbound.patient_id = clinic.id, patient.id
    inbound.enrollment_id = enrollment.id if enrollment is not None else None
    flow = Flow()
    keyword = detect_keyword(text, opted_out=_opted_out(patient, inbound.channel))
    if keyword is not None:
        _apply_keyword(session, now, inbound, patient, clinic, keyword, flow)
        # A bare HELP after an injection may be a plea: it gets the help text *and* is
        # read like any message (urgent), so a person calls back today.
        if not keyword.has_extra and keyword.kind != "help":
            return flow

    question = None
    if keyword is None:  # "STOP, my leg is numb" opts out; it answers nothing
        question = _question(session, now, patient, hint_message_id)
    # Only a yes/no answer needs the question's text (a re-render): not a pain score.
    asked = (matching.what_was_asked(session=session, message=question)
             if question is not None and question.expects in YES_NO_KINDS else None)  # fmt: skip
    reading = read_safely(
        text, expects=question.expects if question else None,
        question=question.step_key if question else None, lang=patient.language,
        hours_since_procedure=matching.hours_since_procedure(
            session=session, enrollment=enrollment, now=now),
        clinic=clinic, asked=asked.text if asked else None,
        concerning_answer=asked.concerning_answer if asked else None,
    )  # fmt: skip
    inbound.severity, inbound.categories = reading.severity, reading.categories
    inbound.parsed = reading.parsed
    severity, clarify, kind = reading.severity, False, "reply"
    if reading.reaction is not None:
        # A tapback quotes our own message back: it answers nothing. The question stays
        # open (unattached, so it can still be answered or re-asked), nothing is raised,
        # and severity "none" with no answer means no auto-reply either.
        severity = "none"
        if keyword is None:
            inbound.kind = REACTION
    elif question is not None and _asks_us(reading.categories):
        # A question back ("¿Puedo manejar mañana?") or a request to move the visit answers
        # nothing: the check stays open, and a person must answer it. It is never met
        # with "we did not understand your answer".
        inbound.kind = FREE
    elif question is not None:
        inbound.answers_message_id = question.id
        if reading.needs_clarification and rank(severity) < rank("urgent"):
            inbound.kind = UNCLEAR
            # One clarifying question that bothers no one; a second unreadable answer
            # goes to staff.
            clarify = not _asked_to_clarify(session, question.id, inbound.id)
            severity, kind = ("none", "reply") if clarify else (at_least(severity, "routine"),
                                                                 "unclear")  # fmt: skip
        else:
            inbound.kind = ANSWER
            _close_followup(session, now, question.id)
    elif keyword is None:
        inbound.kind = FREE

    if _asks_us(reading.categories) and reading.reaction is None:
        severity = at_least(severity, "routine")  # someone must answer it
    if rank(severity) >= rank("routine"):
        what = f"to '{question.step_key}'" if question else "(free message)"
        _concern, alerts = raise_concern(
            session=session, clinic=clinic, severity=severity, kind=kind, now=now,
            summary=f"{severity.capitalize()} reply {what}: {', '.join(reading.categories)}",
            categories=reading.categories, patient_id=patient.id,
            enrollment_id=inbound.enrollment_id, inbound=inbound,
        )  # fmt: skip
        flow.alert_ids.extend(a.id for a in alerts)

    fhir_push.reply_read(session=session, inbound=inbound, now=now)  # Observations to the chart

    # Self-harm is an emergency with its own reply (the crisis line), never a question to
    # clarify. A tapback quotes our own text back, so it is never a crisis of its own.
    categories = reading.categories if reading.reaction is None else ()
    if replies.is_crisis(categories):
        severity, clarify = at_least(severity, "emergency"), False
    # Urgent, emergency and crisis replies are exempt from loop protection.
    allowed = replies.may_reply(session=session, inbound=inbound, now=now, severity=severity,
                                categories=categories)  # fmt: skip
    # Opted out: say nothing more, unless the patient needs to act now.
    if _opted_out(patient, inbound.channel) and rank(severity) < rank("urgent"):
        allowed = False
    answer = None
    if allowed and clarify:
        answer = replies.clarify_reply(clinic=clinic, first_name=patient.given_name,
                                       lang=patient.language)  # fmt: skip
    elif allowed:
        answer = replies.severity_reply(
            session=session, clinic=clinic, first_name=patient.given_name, lang=patient.language,
            severity=severity, answered=inbound.kind == ANSWER, now=now, categories=categories,
        )  # fmt: skip
    if answer:
        flow.replies.append(answer)
    return flow


def _asks_us(categories: list[str]) -> bool:
    """A question or a reschedule request: something a person has to answer."""
    return not ASKS_US.isdisjoint(categories)


def _opted_out(patient: Patient, channel: str) -> bool:
    stamp = patient.sms_opted_out_at if channel == "sms" else patient.email_opted_out_at
    return stamp is not None


def _apply_keyword(
    session: Session, now: datetime, inbound: InboundMessage, patient: Patient, clinic: Clinic,
    keyword: KeywordMatch, flow: Flow,
) -> None:  # fmt: skip
    inbound.kind = keyword.kind
    inbound.categories = ["opt_out"] if keyword.kind == "opt_out" else []
    change = {"opt_out": consent.revoke, "opt_in": consent.restore}.get(keyword.kind)
    event = None
    if change is not None:
        # Twilio's OptOutType may already have opted the patient out (service.py): then
        # this changes nothing, like any second STOP.
        event = change(session=session, patient=patient, channel=inbound.channel, now=now,
                       via="patient_keyword", keyword=keyword.keyword,
                       inbound_message_id=inbound.id)  # fmt: skip
    changed = event is not None
    if changed:  # confirm once: a second STOP changes nothing and gets no answer
        audit.record(
            session=session, clinic_id=clinic.id, actor=f"patient:{inbound.channel}",
            action=f"patient.{keyword.kind.replace('_', '-')}", subject_type="patient",
            subject_id=patient.id,
        )  # fmt: skip
        confirm = replies.keyword_reply(clinic=clinic, lang=patient.language, kind=keyword.kind)
        flow.replies.extend([confirm] if confirm else [])
    elif keyword.kind == "help" and replies.may_reply(session=session, inbound=inbound, now=now):
        help_text = replies.keyword_reply(clinic=clinic, lang=patient.language, kind="help")
        flow.replies.extend([help_text] if help_text else [])


def _question(
    session: Session, now: datetime, patient: Patient, hint_message_id: int | None
) -> ScheduledMessage | None:
    if hint_message_id is not None:
        hinted = matching.question_if_open(session=session, message_id=hint_message_id,
                                           patient_id=patient.id, now=now)  # fmt: skip
        if hinted is not None:
            return hinted
    return matching.open_question(session=session, patient_id=patient.id, now=now)


def _asked_to_clarify(session: Session, message_id: int, inbound_id: int) -> bool:
    return session.scalar(
        select(InboundMessage.id).where(
            InboundMessage.answers_message_id == message_id, InboundMessage.kind == UNCLEAR,
            InboundMessage.id != inbound_id,
        ).limit(1)
    ) is not None  # fmt: skip


def _close_followup(session: Session, now: datetime, message_id: int) -> None:
    """An answer after a re-ask closes the follow-up and resolves its no-response concern."""
    followup = session.scalar(
        select(QuestionFollowup).where(QuestionFollowup.message_id == message_id)
    )
    if followup is None:
        return
    if followup.state != "closed":
        followup.state, followup.closed_reason, followup.updated_at = "closed", "answered", now
    concern = session.get(Concern, followup.concern_id) if followup.concern_id else None
    if concern is not None and concern.status != "resolved":
        resolve(session=session, concern=concern, staff_id=None, now=now, via="system",
                note="The patient answered after all.")  # fmt: skip
