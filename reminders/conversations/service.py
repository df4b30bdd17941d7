"""Recording what people text or email us, and deciding what happens next.

The web handlers are thin. The SMS webhook authenticates Twilio's request, stores the
text (once, however often Twilio retries) and answers; the pipeline then reads it with
:func:`read_sms` (reminders.conversations.inbox). The email webhook calls
:func:`receive_email`, which stores and reads in one go. Reading returns the replies
(queued as outbound messages) and the staff alerts to deliver after commit.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from reminders.channels.base import mask_address
from reminders.clinics.models import Clinic
from reminders.conversations import matching, outbound, replies, staff
from reminders.conversations.flagging import raise_concern
from reminders.conversations.models import FREE, IGNORED, STAFF, UNKNOWN, InboundMessage
from reminders.conversations.patient import from_patient
from reminders.conversations.reading import at_least, detect_keyword, read_safely
from reminders.enrollments.models import NOTICE, PAGE, REPLY, ScheduledMessage
from reminders.patients import consent
from reminders.patients.models import Patient
from reminders.patients.service import patient_of_message

log = logging.getLogger(__name__)
MAX_BODY = 5000  # characters stored; a reply longer than a few SMS is still kept whole-ish
_SPANISH = re.compile(r"\b(?:hola|ayuda|alto|parar|baja|dolor|fiebre|gracias|tengo|no puedo)\b",
                      re.IGNORECASE)  # fmt: skip


@dataclass
class Handled:
    inbound_id: int
    clinic_id: int | None = None
    patient_id: int | None = None
    replies: list[str] = field(default_factory=list)
    alert_ids: list[int] = field(default_factory=list)
    duplicate: bool = False
    # SMS replies queued in the pipeline, in the order of replies.
    reply_ids: list[int] = field(default_factory=list)

    @property
    def queued(self) -> bool:
        """Whether anything waits in the pipeline for delivery right after commit."""
        return bool(self.alert_ids or self.reply_ids)


def receive_sms(
    *, session: Session, now: datetime, message_sid: str, sender: str, to: str, body: str,
    opt_out_type: str | None = None,
) -> Handled:  # fmt: skip
    """One inbound text, stored and read in one transaction. A repeated MessageSid changes
    nothing. (The webhook stores first and leaves the reading to the pipeline: inbox.py.)"""
    inbound = InboundMessage(**sms_row(now=now, message_sid=message_sid, sender=sender, to=to,
                                       body=body, opt_out_type=opt_out_type))  # fmt: skip
    existing = _store(session, inbound)
    if existing is not None:
        return _duplicate(session, existing)
    return read_sms(session=session, inbound=inbound)


def sms_row(
    *, now: datetime, message_sid: str, sender: str, to: str, body: str,
    opt_out_type: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The stored form of a text as it arrived, before anyone has read it."""
    return {"channel": "sms", "provider_id": message_sid[:100], "sender": sender[:200],
            "body": body[:MAX_BODY], "received_at": now, "to_address": to[:200] or None,
            "opt_out_type": (opt_out_type or "")[:20].upper() or None, "kind": FREE,
            "severity": "none", "categories": [], "parsed": {}}  # fmt: skip


def read_sms(*, session: Session, inbound: InboundMessage) -> Handled:
    """Read a stored text: who wrote, what it answers, triage, concern, reply (queued).

    Everything is judged as of ``received_at``: a question open when the patient wrote
    is the one answered, however late the reading.
    """
    now, sender, body = inbound.received_at, inbound.sender, inbound.body
    to = inbound.to_address or ""
    text, twilio_keyword = body, (inbound.opt_out_type or "").upper()
    if twilio_keyword in ("STOP", "START", "HELP") and detect_keyword(body) is None:
        # Twilio's Advanced Opt-Out matched a keyword we do not know (a custom one):
        # agree with it, and still read whatever else the message says.
        text = f"STOP. {body}" if twilio_keyword == "STOP" else twilio_keyword
    phones = staff.staff_phones(session=session, phone=sender)
    if phones:
        answer = staff.acknowledge_by_sms(session=session, phones=phones, text=body, now=now)
        if answer is not None:
            inbound.kind, inbound.clinic_id = STAFF, phones[0].clinic_id
            return _finish(session, now, inbound, [answer], [])
    patient = matching.patient_for_phone(session=session, phone=sender, to=to)
    if patient is None and phones:
        inbound.kind, inbound.clinic_id = STAFF, phones[0].clinic_id
        hint = "To acknowledge an alert, reply ACK and its code, like ACK K7QF."
        allowed = replies.may_reply(session=session, inbound=inbound, now=now)
        return _finish(session, now, inbound, [hint] if allowed else [], [])
    if patient is None:
        clinic = session.scalar(select(Clinic).where(Clinic.sms_from == to).limit(1))
        return _from_unknown(session, now, inbound, clinic, text)
    if twilio_keyword in ("STOP", "START"):
        _carrier_consent(session, now, inbound, patient, twilio_keyword, body)
    flow = from_patient(session=session, now=now, inbound=inbound, patient=patient, text=text)
    return _finish(session, now, inbound, flow.replies, flow.alert_ids)


def _carrier_consent(
    session: Session, now: datetime, inbound: InboundMessage, patient: Patient,
    twilio_keyword: str, body: str,
) -> None:  # fmt: skip
    """Twilio's Advanced Opt-Out has already blocked (or unblocked) the number: record it as
    the carrier's doing. Twilio sends its own confirmation, so the keyword handling that
    follows finds nothing left to change and sends none of ours."""
    match = detect_keyword(body, opted_out=twilio_keyword == "START")
    expected = "opt_out" if twilio_keyword == "STOP" else "opt_in"
    keyword = match.keyword if match is not None and match.kind == expected else None
    change = consent.revoke if twilio_keyword == "STOP" else consent.restore
    change(session=session, patient=patient, channel="sms", now=now, via="carrier_opt_out",
           keyword=keyword or twilio_keyword.lower(), inbound_message_id=inbound.id)  # fmt: skip


def receive_email(
    *, session: Session, now: datetime, sender: str, message_id: str | None, text: str,
    reply_to_message: int | None, automated: bool,
) -> Handled:  # fmt: skip
    """One inbound email, already authenticated and cleaned (quoted history removed).

    ``reply_to_message`` is the scheduled message named by the verified reply-to token.
    """
    inbound = InboundMessage(channel="email", provider_id=message_id[:100] if message_id else None,
                             sender=sender[:200].lower(), body=text[:MAX_BODY],
                             received_at=now)  # fmt: skip
    existing = _store(session, inbound)
    if existing is not None:
        return _duplicate(session, existing)
    member = staff.staff_by_email(session=session, address=sender)
    if member is not None and not automated:
        answer = staff.acknowledge_by_email(
            session=session, member=member, text=text, subject="", now=now,
            page_concern_id=_concern_of_page(session, reply_to_message),
        )  # fmt: skip
        if answer is not None:
            inbound.kind, inbound.clinic_id = STAFF, member.clinic_id
            return _finish(session, now, inbound, [answer], [])
    patient = None
    if reply_to_message is not None:
        patient = _patient_of_message(session, reply_to_message)
    if patient is None:
        patient = matching.patient_for_email(session=session, address=sender)
    if automated:
        # Out-of-office and bounce notices: keep them for the record, never answer them.
        inbound.kind = IGNORED
        if patient is not None:
            inbound.clinic_id, inbound.patient_id = patient.clinic_id, patient.id
        return _finish(session, now, inbound, [], [])
    if patient is None:
        return _from_unknown(session, now, inbound, None, text)
    flow = from_patient(session=session, now=now, inbound=inbound, patient=patient, text=text,
                        hint_message_id=reply_to_message)  # fmt: skip
    return _finish(session, now, inbound, flow.replies, flow.alert_ids)


def _store(session: Session, inbound: InboundMessage) -> InboundMessage | None:
    """Insert the message; if the provider already delivered it, return that one instead."""
    if inbound.provider_id is not None:
        existing = _by_provider_id(session, inbound.provider_id)
        if existing is not None:
            return existing
    try:
        # A concurrent retry inserting the same MessageSid loses on the unique index here.
        with session.begin_nested():
            session.add(inbound)
            session.flush()
    except IntegrityError:
        existing = _by_provider_id(session, inbound.provider_id or "")
        if existing is None:
            raise
        return existing
    return None


def _by_provider_id(session: Session, provider_id: str) -> InboundMessage | None:
    return session.scalar(select(InboundMessage).where(InboundMessage.provider_id == provider_id))


def _duplicate(session: Session, existing: InboundMessage) -> Handled:
    # The provider retried: the message is stored and read (or queued to be) already.
    # Nothing is re-read, re-flagged, re-paged or answered again.
    log.info("inbound %s delivered again; nothing to do", existing.id)
    return Handled(existing.id, existing.clinic_id, existing.patient_id,
                   [existing.auto_reply] if existing.auto_reply else [], duplicate=True)


def _concern_of_page(session: Session, message_id: int | None) -> int | None:
    message = session.get(ScheduledMessage, message_id) if message_id is not None else None
    return message.concern_id if message is not None and message.kind == PAGE else None


def _patient_of_message(session: Session, message_id: int) -> Patient | None:
    message = session.get(ScheduledMessage, message_id)
    if message is None or message.kind in (PAGE, NOTICE):
        return None  # staff mail: a reply to it is not a patient's
    return patient_of_message(session=session, message=message)


def _from_unknown(
    session: Session, now: datetime, inbound: InboundMessage, clinic: Clinic | None, text: str
) -> Handled:
    """Stored and shown to staff; one generic line a day at most, never a conversation."""
    inbound.kind, inbound.clinic_id = UNKNOWN, clinic.id if clinic else None
    lang = "es" if _SPANISH.search(text) else "en"
    alert_ids: list[int] = []
    keyword = detect_keyword(text)
    if clinic is not None and (keyword is None or keyword.has_extra):
        # Maybe a patient on a new phone: read it, and page if it sounds urgent.
        reading = read_safely(text, expects=None, question=None, lang=lang,
                       hours_since_procedure=None, clinic=clinic)  # fmt: skip
        inbound.severity, inbound.categories = reading.severity, reading.categories
        severity = at_least(reading.severity, "routine")
        _concern, alerts = raise_concern(
            session=session, clinic=clinic, severity=severity, kind="unknown_sender", now=now,
            summary=f"Message from an unknown number ({mask_address(inbound.sender)})",
            categories=reading.categories, inbound=inbound,
        )  # fmt: skip
        alert_ids = [a.id for a in alerts]
    answer: list[str] = []
    stopping = keyword is not None and keyword.kind == "opt_out"
    if not stopping and replies.may_greet_unknown(session=session, inbound=inbound, now=now):
        line = replies.unknown_sender_reply(clinic=clinic, lang=lang)
        answer = [line] if line else []
    log.info("%s message from unknown sender %s stored as %s", inbound.channel,
             mask_address(inbound.sender), inbound.id)  # fmt: skip
    return _finish(session, now, inbound, answer, alert_ids)


def _finish(
    session: Session, now: datetime, inbound: InboundMessage, answer: list[str],
    alert_ids: list[int],
) -> Handled:  # fmt: skip
    inbound.auto_reply = "\n\n".join(answer) if answer else None
    if inbound.processed_at is None:
        inbound.processed_at = now
    session.flush()
    reply_ids = []
    if inbound.channel == "sms" and inbound.clinic_id is not None:
        # Through the pipeline like every message we send (rate limit, attempt row,
        # status callback); the email webhook queues its own, with a subject line.
        for n, text in enumerate(answer):
            reply = outbound.queue(
                session=session, clinic_id=inbound.clinic_id, kind=REPLY, channel="sms",
                body=text, now=now, key=f"{inbound.id}:{n}", recipient=inbound.sender,
                patient_id=inbound.patient_id, inbound_id=inbound.id,
            )  # fmt: skip
            reply_ids.append(reply.id)
    log.info("inbound %s: kind=%s severity=%s replies=%d alerts=%d", inbound.id, inbound.kind,
             inbound.severity, len(answer), len(alert_ids))  # fmt: skip
    return Handled(inbound.id, inbound.clinic_id, inbound.patient_id, answer, alert_ids,
                   reply_ids=reply_ids)
