"""Dana moves Riverside to a toll-free number and says so on the settings page; the
clinic's integration does the same over the API. Bob's Lakeside key changes Lakeside
only. A bad rate is refused with the field named, and nothing is saved."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders.audit.models import AuditEvent
from reminders.clinics.models import Clinic
from tests.web.conftest import LAKESIDE_KEY, RIVERSIDE_KEY, Cast, bearer, sign_in

URL = "/api/v1/clinic/sending"


def settings_form(client: TestClient) -> dict[str, str]:
    """The main settings form as the browser would post it: inputs and the rate select."""
    page = client.get("/settings").text
    values = dict(re.findall(r'name="([a-z_]+)" type="[a-z]+" value="([^"]*)"', page))
    select = re.search(r'name="sms_rate_preset".*?</select>', page, re.S)
    assert select, "no sending-rate select on the settings page"
    chosen = re.search(r'<option value="([a-z_]+)" selected>', select.group(0))
    assert chosen
    values["sms_rate_preset"] = chosen.group(1)
    return values


def rate_of(session: Session, clinic: Clinic) -> float | None:
    session.expire_all()
    return session.get_one(Clinic, clinic.id).sms_rate_per_second


def settings_events(session: Session) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.action == "clinic.settings")
    return list(session.scalars(query.order_by(AuditEvent.id)))


def test_dana_picks_the_toll_free_preset_and_it_round_trips(
    client: TestClient, cast: Cast, session: Session
) -> None:
    token = sign_in(client, "dana@riverside.test")
    form = settings_form(client) | {"csrf_token": token}
    assert form["sms_rate_preset"] == "default" and form["sms_rate_custom"] == ""
    assert "Deployment default (1 a second)" in client.get("/settings").text

    saved = client.post("/settings", data=form | {"sms_rate_preset": "toll_free"})
    assert saved.status_code == 303
    assert rate_of(session, cast.riverside) == 3.0
    again = settings_form(client)
    assert again["sms_rate_preset"] == "toll_free" and again["sms_rate_custom"] == "3"
    event = settings_events(session)[-1]
    assert event.details["changed"] == ["sms_rate_per_second"] and event.staff_id == cast.dana.id
    assert event.details["sms_rate_per_second"] == {"from": None, "to": 3.0}

    # Posting the page back unchanged changes nothing and records nothing.
    assert client.post("/settings", data=again | {"csrf_token": token}).status_code == 303
    assert len(settings_events(session)) == 1

    custom = client.post("/settings", data=again | {"csrf_token": token,
                         "sms_rate_preset": "custom", "sms_rate_custom": "12.5"})  # fmt: skip
    assert custom.status_code == 303 and rate_of(session, cast.riverside) == 12.5
    assert settings_form(client)["sms_rate_preset"] == "custom"
    # Lakeside's own number is untouched by any of it.
    assert rate_of(session, cast.lakeside) is None


def test_a_bad_rate_or_retention_names_the_field_and_saves_nothing(
    client: TestClient, cast: Cast, session: Session
) -> None:
    token = sign_in(client, "dana@riverside.test")
    form = settings_form(client) | {"csrf_token": token, "name": "Riverside Renamed"}

    for custom, message in (("0", "must be more than 0 and at most 1000"),
                            ("fast", "must be a number"), ("", "is required for a custom")):
        refused = client.post("/settings", data=form | {"sms_rate_preset": "custom",
                                                        "sms_rate_custom": custom})  # fmt: skip
        assert refused.status_code == 422, custom
        assert f"Custom rate (messages a second) {message}" in refused.text
        assert 'id="f-sms_rate_custom-err"' in refused.text
    unknown = client.post("/settings", data=form | {"sms_rate_preset": "carrier_pigeon"})
    assert unknown.status_code == 422 and 'id="f-sms_rate_preset-err"' in unknown.text
    short = client.post("/settings", data=form | {"retention_days": "3"})
    assert short.status_code == 422
    assert "after N days must be a whole number from 7 to 3650" in short.text

    session.expire_all()
    riverside = session.get_one(Clinic, cast.riverside.id)
    assert riverside.name == "Riverside Ortho" and riverside.sms_rate_per_second is None
    assert settings_events(session) == []


def test_retention_days_round_trip(client: TestClient, cast: Cast, session: Session) -> None:
    token = sign_in(client, "dana@riverside.test")
    form = settings_form(client) | {"csrf_token": token}
    assert form["retention_days"] == "90"
    assert "Remove message texts of finished enrolments after N days" in client.get(
        "/settings").text  # fmt: skip
    assert client.post("/settings", data=form | {"retention_days": "30"}).status_code == 303
    session.expire_all()
    assert session.get_one(Clinic, cast.riverside.id).retention_days == 30
    assert settings_form(client)["retention_days"] == "30"
    assert settings_events(session)[-1].details["changed"] == ["retention_days"]


def test_the_api_reads_and_sets_the_rate_by_preset_or_number(
    client: TestClient, cast: Cast, session: Session
) -> None:
    riverside = bearer(RIVERSIDE_KEY)
    got = client.get(URL, headers=riverside)
    assert got.status_code == 200
    assert got.json() == {
        "sms_from": "+13125550100", "preset": "default", "sms_rate_per_second": None,
        "effective_rate_per_second": 1.0,
        "presets": {"long_code": 1.0, "toll_free": 3.0, "short_code": 100.0},
    }  # fmt: skip

    put = client.put(URL, headers=riverside, json={"preset": "toll_free"})
    assert put.status_code == 200
    assert put.json()["preset"] == "toll_free" and put.json()["effective_rate_per_second"] == 3.0
    assert rate_of(session, cast.riverside) == 3.0
    event = settings_events(session)[-1]
    assert event.actor == "api-key" and event.clinic_id == cast.riverside.id
    assert event.details["sms_rate_per_second"] == {"from": None, "to": 3.0}

    number = client.put(URL, headers=riverside, json={"sms_rate_per_second": 25})
    assert number.json()["preset"] == "custom" and rate_of(session, cast.riverside) == 25.0
    back = client.put(URL, headers=riverside, json={"preset": "default"})
    assert back.json()["sms_rate_per_second"] is None and back.json()["preset"] == "default"
    assert rate_of(session, cast.riverside) is None


def test_bad_api_input_is_a_422_naming_the_field(client: TestClient, cast: Cast) -> None:
    riverside = bearer(RIVERSIDE_KEY)
    cases = [
        ({"sms_rate_per_second": 0}, ["body", "sms_rate_per_second"]),
        ({"sms_rate_per_second": 5000}, ["body", "sms_rate_per_second"]),
        ({"sms_rate_per_second": "fast"}, ["body", "sms_rate_per_second"]),
        ({"preset": "carrier_pigeon"}, ["body", "preset"]),
        ({"preset": "toll_free", "sms_rate_per_second": 3}, ["body"]),
        ({}, ["body"]),
        ({"rate": 3}, ["body", "rate"]),
    ]
    for body, loc in cases:
        refused = client.put(URL, headers=riverside, json=body)
        assert refused.status_code == 422, body
        assert loc in [d["loc"] for d in refused.json()["detail"]], refused.json()
    assert client.get(URL).status_code == 401
    assert client.put(URL, json={"preset": "toll_free"}).status_code == 401


def test_lakesides_key_changes_lakeside_only(
    client: TestClient, cast: Cast, session: Session
) -> None:
    changed = client.put(URL, headers=bearer(LAKESIDE_KEY), json={"preset": "short_code"})
    assert changed.status_code == 200 and changed.json()["sms_from"] == "+12125550100"
    assert rate_of(session, cast.lakeside) == 100.0
    assert rate_of(session, cast.riverside) is None
    assert client.get(URL, headers=bearer(RIVERSIDE_KEY)).json()["preset"] == "default"
    event = settings_events(session)[-1]
    assert event.clinic_id == cast.lakeside.id


def test_a_rate_set_over_the_api_survives_the_page_posted_back(
    client: TestClient, cast: Cast, session: Session
) -> None:
    assert client.put(URL, headers=bearer(RIVERSIDE_KEY),
                      json={"sms_rate_per_second": 1 / 3}).status_code == 200  # fmt: skip
    token = sign_in(client, "dana@riverside.test")
    form = settings_form(client)
    assert form["sms_rate_preset"] == "custom"
    assert client.post("/settings", data=form | {"csrf_token": token}).status_code == 303
    assert rate_of(session, cast.riverside) == 1 / 3
    assert len(settings_events(session)) == 1  # the API's change only
