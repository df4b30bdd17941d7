"""Alice's consent record (when and how she stopped or restarted the texts) and the
crisis reply she gets if she writes about harming herself."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders.clinics.models import Clinic
from reminders.conversations import patient as patient_flow
from reminders.conversations import replies, texts
from reminders.conversations.models import InboundMessage
from reminders.conversations.reading import Reading
from reminders.conversations.service import Handled, receive_sms
from reminders.enrollments.models import Enrollment
from reminders.patients import consent
from reminders.patients.models import ConsentEvent, Patient
from reminders.rendering import check_template
from tests.conversations.conftest import ALICE_PHONE, RIVERSIDE_NUMBER, hours

_sid = iter(range(10_000))


def text(session: Session, at: datetime, body: str, opt_out_type: str | None = None) -> Handled:
    return receive_sms(session=session, now=at, message_sid=f"SMc{next(_sid):031d}",
                       sender=ALICE_PHONE, to=RIVERSIDE_NUMBER, body=body,
                       opt_out_type=opt_out_type)  # fmt: skip


def events(session: Session) -> list[ConsentEvent]:
    return list(session.scalars(select(ConsentEvent).order_by(ConsentEvent.id)))


# -- consent record ------------------------------------------------------------------------


def test_stop_and_start_are_recorded_with_the_keyword_and_the_message(
    session: Session, alice: Enrollment, now: datetime
) -> None:
    stop = text(session, now + hours(1), "Please stop texting me")
    assert len(stop.replies) == 1 and "START" in stop.replies[0]
    start = text(session, now + hours(30), "START")
    assert len(start.replies) == 1

    revoked, restored = events(session)
    assert (revoked.channel, revoked.action, revoked.via) == ("sms", "revoked", "patient_keyword")
    assert revoked.keyword == "stop texting me"  # the phrase, never the whole message
    assert revoked.at == now + hours(1) and revoked.inbound_message_id == stop.inbound_id
    assert (restored.action, restored.keyword, restored.at) == ("restored", "start",
                                                                now + hours(30))  # fmt: skip
    assert revoked.patient_id == restored.patient_id == alice.patient_id


def test_a_second_stop_changes_nothing_records_nothing_and_gets_no_answer(
    session: Session, alice: Enrollment, now: datetime
) -> None:
    text(session, now + hours(1), "STOP")
    again = text(session, now + hours(2), "no más mensajes")
    assert again.replies == []
    assert [e.action for e in events(session)] == ["revoked"]
    patient = session.get_one(Patient, alice.patient_id)
    assert patient.sms_opted_out_at == now + hours(1)  # the first stop still stands


def test_a_plea_is_triaged_and_never_opts_alice_out(
    session: Session, alice: Enrollment, now: datetime
) -> None:
    handled = text(session, now + hours(3), "stop the pain please, it's 9/10")
    assert events(session) == []
    assert session.get_one(Patient, alice.patient_id).sms_opted_out_at is None
    assert session.get_one(InboundMessage, handled.inbound_id).kind != "opt_out"


def test_twilio_advanced_opt_out_is_recorded_as_the_carriers_and_not_confirmed_twice(
    session: Session, alice: Enrollment, now: datetime
) -> None:
    # A custom Twilio keyword we do not know ourselves: Twilio has already blocked the
    # number and sent its own confirmation.
    handled = text(session, now + hours(1), "ARRET", opt_out_type="STOP")
    [event] = events(session)
    assert (event.via, event.action, event.keyword) == ("carrier_opt_out", "revoked", "stop")
    assert event.inbound_message_id == handled.inbound_id
    assert handled.replies == []
    assert session.get_one(Patient, alice.patient_id).sms_opted_out_at == now + hours(1)

    text(session, now + hours(5), "START", opt_out_type="START")
    assert [(e.via, e.action) for e in events(session)][1] == ("carrier_opt_out", "restored")


def test_consent_changes_name_a_known_channel_and_way(
    session: Session, alice: Enrollment, now: datetime
) -> None:
    patient = session.get_one(Patient, alice.patient_id)
    with pytest.raises(ValueError, match="channel"):
        consent.revoke(session=session, patient=patient, channel="fax", now=now, via="staff")
    with pytest.raises(ValueError, match="via"):
        consent.revoke(session=session, patient=patient, channel="sms", now=now, via="guess")


# -- crisis reply --------------------------------------------------------------------------


def test_self_harm_gets_the_crisis_line_and_the_emergency_number_in_each_language(
    session: Session, riverside: Clinic, now: datetime
) -> None:
    english = replies.severity_reply(
        session=session, clinic=riverside, first_name="Alice", lang="en",
        severity="emergency", answered=False, now=now, categories=["self_harm"],
    )
    assert english is not None and "call or text 988" in english and "911" in english
    spanish = replies.severity_reply(
        session=session, clinic=riverside, first_name="Alicia", lang="es",
        severity="emergency", answered=False, now=now, categories=["self_harm", "other"],
    )
    assert spanish is not None
    assert "llame o envíe un mensaje de texto al 988" in spanish and "911" in spanish
    plain = replies.severity_reply(
        session=session, clinic=riverside, first_name="Alice", lang="en",
        severity="emergency", answered=False, now=now,
    )
    assert plain is not None and "988" not in plain  # other emergencies: "call 911 now"


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_crisis_templates_fit_three_texts_even_with_a_long_crisis_line(lang: str) -> None:
    name = f"{replies.CRISIS_TEMPLATE}.{lang}"
    long_line = "0800 123 456 789 (line 2)"
    assert check_template(texts.system_sources()[name], name, {"crisis_line": long_line}) == []


def test_a_clinic_can_name_its_own_crisis_line(riverside: Clinic) -> None:
    riverside.crisis_line, riverside.emergency_number = "116 123", "112"
    reply = replies.crisis_reply(clinic=riverside, first_name="Alice", lang="en")
    assert "call or text 116 123" in reply and "112" in reply
    assert "Lifeline" not in reply  # the 988 name belongs to 988 only


def _reading(severity: str, *categories: str) -> Any:
    def read_safely(text: str, **_: Any) -> Reading:
        return Reading(severity=severity, categories=list(categories))

    return read_safely


def test_a_self_harm_reply_through_the_service_gets_the_crisis_answer(
    session: Session, alice: Enrollment, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The engine does not emit self_harm yet (others are adding it) and offers no seam for a
    # made-up category, so the reading is replaced where from_patient looks it up.
    monkeypatch.setattr(patient_flow, "read_safely", _reading("urgent", "self_harm"))
    session.get_one(Patient, alice.patient_id).language = "es"
    handled = text(session, now + hours(20), "ya no quiero vivir")
    [answer] = handled.replies
    assert "llame o envíe un mensaje de texto al 988" in answer


def test_emergency_and_crisis_answers_are_exempt_from_loop_protection(
    session: Session, alice: Enrollment, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(patient_flow, "read_safely", _reading("routine", "question"))
    for minute in range(replies.MAX_PER_HOUR):
        assert text(session, now + hours(2 + minute / 60), "when can I shower?").replies
    assert text(session, now + hours(2.1), "and swim?").replies == []  # the limit holds

    monkeypatch.setattr(patient_flow, "read_safely", _reading("emergency", "breathing"))
    [call_now] = text(session, now + hours(2.2), "I can't breathe").replies
    assert "call 911 now" in call_now
    monkeypatch.setattr(patient_flow, "read_safely", _reading("emergency", "self_harm"))
    [crisis] = text(session, now + hours(2.3), "I want to end it").replies
    assert "call or text 988" in crisis


def test_an_opted_out_patient_in_crisis_still_gets_the_crisis_line(
    session: Session, alice: Enrollment, now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    text(session, now + hours(1), "STOP")
    monkeypatch.setattr(patient_flow, "read_safely", _reading("urgent", "self_harm"))
    [crisis] = text(session, now + hours(3), "nobody would miss me").replies
    assert "988" in crisis
