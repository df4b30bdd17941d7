"""What we text back, in the patient's language, and when we hold our tongue.

Loop protection: another robot (an auto-responder, a carrier bot) can answer our
auto-reply with its own, forever. The rule: a patient's reply read as routine or none
gets at most ``MAX_PER_HOUR`` auto-replies an hour per number; a reply read as urgent or
emergency (or a crisis) is never suppressed, because a patient who has already had three
answers this hour and now reports a fever or a bleed still needs to hear what to do. A
loop cannot feed on it, since a robot's chatter is not read as urgent. An unknown number
(no patient) gets the hourly cap whatever it says, and one generic line a day at most
(:func:`may_greet_unknown`). Opt-out and opt-in confirmations are exempt: they only
follow a change of state, so they cannot loop.

Which wording goes out follows the clinic's office hours (reminders.clinics.office_hours),
not its send window: after hours an urgent reply says the on-call clinician has been
paged instead of "call us now".

A reply about self-harm (category ``self_harm``) is a crisis: its own reply names the
clinic's crisis line (US default 988, call or text) and the emergency number.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reminders.clinics.models import Clinic
from reminders.conversations import texts
from reminders.conversations.models import InboundMessage

MAX_PER_HOUR = 3
CRISIS_CATEGORIES = frozenset({"self_harm"})
# Severities whose reply is never held back by loop protection (known patients only).
NEVER_SUPPRESSED = frozenset({"urgent", "emergency"})
CRISIS_TEMPLATE = "auto_reply_crisis"
UNKNOWN_SENDER_EVERY = timedelta(hours=24)
_BY_SEVERITY = {
    "emergency": "auto_reply_emergency",
    "urgent": "auto_reply_urgent",
    "routine": "auto_reply_routine",
    "none": "auto_reply_none",
}


def recent_replies(
    *, session: Session, sender: str, now: datetime, within: timedelta, exclude_id: int
) -> int:
    return int(
        session.scalar(
            select(func.count()).where(
                InboundMessage.sender == sender,
                InboundMessage.auto_reply.is_not(None),
                InboundMessage.received_at > now - within,
                InboundMessage.id != exclude_id,
            )
        )
        or 0
    )


def is_crisis(categories: Collection[str]) -> bool:
    return not CRISIS_CATEGORIES.isdisjoint(categories)


def may_reply(
    *, session: Session, inbound: InboundMessage, now: datetime, severity: str | None = None,
    categories: Collection[str] = (),
) -> bool:  # fmt: skip
    """At most MAX_PER_HOUR auto-replies an hour for routine and none; a known patient's
    urgent, emergency or crisis reply always goes out. Unknown senders are always capped."""
    known = inbound.patient_id is not None
    if known and (severity in NEVER_SUPPRESSED or is_crisis(categories)):
        return True
    sent = recent_replies(session=session, sender=inbound.sender, now=now,
                          within=timedelta(hours=1), exclude_id=inbound.id)  # fmt: skip
    return sent < MAX_PER_HOUR


def may_greet_unknown(*, session: Session, inbound: InboundMessage, now: datetime) -> bool:
    sent = recent_replies(session=session, sender=inbound.sender, now=now,
                          within=UNKNOWN_SENDER_EVERY, exclude_id=inbound.id)  # fmt: skip
    return sent == 0


def severity_reply(
    *, session: Session, clinic: Clinic, first_name: str, lang: str, severity: str,
    answered: bool, now: datetime, categories: Collection[str] = (),
) -> str | None:  # fmt: skip
    """Crisis (self-harm): the crisis line and the emergency number, whatever the severity.
    Emergency: call now. Urgent: call us now while the office is open; after hours, the
    on-call clinician has been paged and will call. Routine: thanks, the team will reply.
    None: a short thanks for an answer, nothing for chit-chat."""
    if is_crisis(categories):
        return crisis_reply(clinic=clinic, first_name=first_name, lang=lang)
    if severity == "none" and not answered:
        return None
    template = _BY_SEVERITY.get(severity, "auto_reply_routine")
    after_hours = f"{template}_after_hours"
    if (f"{after_hours}.en" in texts.system_sources()
            and not texts.office_open(session=session, clinic=clinic, at=now)):  # fmt: skip
        template = after_hours
    text = texts.render(template, lang, texts.clinic_context(clinic, first_name))
    if text is None and severity == "emergency":
        # The one answer that must go out even with a broken template.
        text = f"If you feel very unwell or cannot breathe, call {clinic.emergency_number} now."
    return text


def crisis_reply(*, clinic: Clinic, first_name: str, lang: str) -> str:
    """The crisis line and the emergency number, in the patient's language."""
    context = texts.clinic_context(clinic, first_name)
    text = texts.render(CRISIS_TEMPLATE, lang, context)
    if text is None:
        # Like the emergency reply, this one goes out even with a broken template.
        line, emergency = context["crisis_line"], clinic.emergency_number
        text = (f"Llame o envíe un mensaje de texto al {line}. Si corre peligro, llame al "
                f"{emergency}." if lang == "es" else
                f"Call or text {line} now. If you are in danger, call {emergency}.")  # fmt: skip
    return text


def keyword_reply(*, clinic: Clinic, lang: str, kind: str) -> str | None:
    template = {"opt_out": "opt_out_confirm", "opt_in": "opt_in_confirm", "help": "help"}[kind]
    return texts.render(template, lang, texts.clinic_context(clinic))


def clarify_reply(*, clinic: Clinic, first_name: str, lang: str) -> str | None:
    return texts.render("clarify", lang, texts.clinic_context(clinic, first_name))


def unknown_sender_reply(*, clinic: Clinic | None, lang: str) -> str | None:
    if clinic is None:
        return None
    return texts.render("unknown_sender", lang, texts.clinic_context(clinic))
