"""When Twilio refuses a text with 21610 (the patient sent STOP to the carrier), the
patient's consent record says so: revoked, by a provider error, with no keyword we saw."""

from __future__ import annotations

from sqlalchemy import select

from reminders.delivery.engine import EmbeddedRunner
from reminders.patients.models import ConsentEvent, Patient
from tests.delivery.helpers import Db, add_patients, make_clinic, results
from tests.fakes import FakeTwilio


def test_a_21610_refusal_is_recorded_once_as_a_provider_error(
    db: Db, runner: EmbeddedRunner, twilio: FakeTwilio
) -> None:
    clinic = make_clinic(db)
    add_patients(db, clinic, messages_each=2)  # two texts refused: one revocation
    twilio.fail_for("+13125551000", code=21610)

    assert "failed" in results(runner)
    with db.sessions() as session:
        patient = session.scalars(select(Patient).where(Patient.phone == "+13125551000")).one()
        [event] = session.scalars(select(ConsentEvent))
        assert (event.patient_id, event.channel, event.action) == (patient.id, "sms", "revoked")
        assert (event.via, event.keyword, event.inbound_message_id) == ("provider_error", None,
                                                                        None)  # fmt: skip
        assert event.at == patient.sms_opted_out_at
