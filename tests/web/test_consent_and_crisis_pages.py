"""Staff see when and how Alice stopped the texts, and an admin sets the crisis line."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from reminders.clinics.models import Clinic
from reminders.patients import consent
from reminders.patients.models import Patient
from tests.web.conftest import NOW, Cast, sign_in


def test_the_timeline_shows_when_and_how_alice_stopped_and_restarted_texts(
    client: TestClient, cast: Cast, session: Session
) -> None:
    alice = session.get_one(Patient, cast.alice_id)
    consent.revoke(session=session, patient=alice, channel="sms", now=NOW - timedelta(hours=1),
                   via="patient_keyword", keyword="no mas mensajes")  # fmt: skip
    consent.restore(session=session, patient=alice, channel="sms", now=NOW, via="carrier_opt_out",
                    keyword="start")  # fmt: skip
    session.flush()
    sign_in(client, "carl@riverside.test")
    page = client.get(f"/patients/{cast.alice_id}").text
    rows = re.findall(r'<tr class="ev-consent">(.*?)</tr>', page, re.S)
    assert len(rows) == 2
    assert "SMS messages stopped" in rows[0] and "patient replied" in rows[0]
    assert "no mas mensajes" in rows[0] and "revoked" in rows[0]
    assert "SMS messages resumed" in rows[1] and "carrier opt-out" in rows[1]


def test_the_crisis_line_is_shown_edited_and_required_on_the_settings_page(
    client: TestClient, cast: Cast, session: Session
) -> None:
    token = sign_in(client, "dana@riverside.test")
    page = client.get("/settings").text
    values = dict(re.findall(r'name="([a-z_]+)" type="[a-z]+" value="([^"]*)"', page))
    assert values["crisis_line"] == "988"
    values["csrf_token"] = token
    empty = client.post("/settings", data=values | {"crisis_line": " "})
    assert empty.status_code == 422 and "crisis_line" in empty.text
    saved = client.post("/settings", data=values | {"crisis_line": "116 123"})
    assert saved.status_code == 303
    session.expire_all()
    assert session.get_one(Clinic, cast.riverside.id).crisis_line == "116 123"
