"""Dana, Riverside's admin, keeps the rota, closed dates, escalation policies and office
hours on the settings page; Cora the coordinator cannot; Bob at Lakeside never sees
Riverside's people."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders.audit.models import AuditEvent
from reminders.clinics.models import Clinic
from reminders.oncall.models import ClinicHoliday, OnCallShift
from reminders.oncall.policy import policy_for
from tests.web.conftest import Cast, csrf_of, sign_in

EVERY_DAY = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def main_form(page: str) -> dict[str, str]:
    return dict(re.findall(r'name="([a-z_]+)" type="[a-z]+" value="([^"]*)"', page))


def test_dana_adds_a_shift_sees_who_is_on_call_and_removes_it(
    client: TestClient, cast: Cast, session: Session
) -> None:
    cast.carl.phone = "+13125550111"
    session.commit()
    token = sign_in(client, "dana@riverside.test")
    page = client.get("/settings").text
    assert "No one is on call right now" in page
    assert 'name="on_call_phone"' not in page and 'name="backup_email"' not in page

    added = client.post("/settings/oncall/shifts", data={
        "csrf_token": token, "shift_days": EVERY_DAY, "shift_starts": "00:00",
        "shift_ends": "00:00", "shift_primary": "carl@riverside.test",
        "shift_backup": "dana@riverside.test"})  # fmt: skip
    assert added.status_code == 303
    page = client.get("/settings").text
    assert "Carl Clinician" in page and 'href="tel:+13125550111"' in page
    assert "mailto:carl@riverside.test" in page and "until Sat 21 Nov 00:00" in page

    shift = session.scalars(select(OnCallShift)).one()
    assert shift.created_by == cast.dana.id
    removed = client.post(f"/settings/oncall/shifts/{shift.id}/remove", data={"csrf_token": token})
    assert removed.status_code == 303
    assert "No one is on call right now" in client.get("/settings").text
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.subject_type == "oncall"))
    assert sorted(actions) == ["oncall.shift_add", "oncall.shift_remove"]


def test_a_bad_shift_names_its_fields_and_saves_nothing(
    client: TestClient, cast: Cast, session: Session
) -> None:
    token = sign_in(client, "dana@riverside.test")
    refused = client.post("/settings/oncall/shifts", data={
        "csrf_token": token, "shift_starts": "8 o'clock", "shift_ends": "17:00",
        "shift_primary": "bob@lakeside.test"})  # fmt: skip
    assert refused.status_code == 422
    assert "Starts use a 24-hour time like 08:00" in refused.text
    assert "Days: pick at least one day" in refused.text
    assert "Primary is not an active staff member of this clinic" in refused.text
    assert session.scalars(select(OnCallShift)).all() == []


def test_an_override_and_a_closed_date(client: TestClient, cast: Cast, session: Session) -> None:
    token = sign_in(client, "dana@riverside.test")
    ok = client.post("/settings/oncall/override", data={
        "csrf_token": token, "override_primary": "cora@riverside.test", "override_backup": "",
        "override_from": "", "override_until": "2026-11-20T20:00"})  # fmt: skip
    assert ok.status_code == 303
    page = client.get("/settings").text
    assert "Cora Coordinator" in page and "until Fri 20 Nov 20:00 CST" in page
    bad = client.post("/settings/oncall/override", data={
        "csrf_token": token, "override_primary": "cora@riverside.test",
        "override_from": "2026-11-21T10:00", "override_until": "2026-11-21T09:00"})  # fmt: skip
    assert bad.status_code == 422 and "Until must be after the start" in bad.text

    added = client.post("/settings/holidays", data={
        "csrf_token": token, "holiday_day": "2026-11-26", "holiday_name": "Thanksgiving"})
    assert added.status_code == 303
    assert "Thanksgiving" in client.get("/settings").text
    bad_day = client.post("/settings/holidays", data={"csrf_token": token, "holiday_day": "26/11"})
    assert bad_day.status_code == 422 and "Date is not a date like 2026-12-25" in bad_day.text
    holiday = session.scalars(select(ClinicHoliday)).one()
    gone = client.post(f"/settings/holidays/{holiday.id}/remove", data={"csrf_token": token})
    assert gone.status_code == 303 and session.scalars(select(ClinicHoliday)).all() == []


def test_the_escalation_policy_is_edited_step_by_step(
    client: TestClient, cast: Cast, session: Session
) -> None:
    token = sign_in(client, "dana@riverside.test")
    form = {"csrf_token": token, "emergency_step_0_target": "primary",
            "emergency_step_0_wait": "3", "emergency_step_1_target": "",
            "emergency_step_1_wait": "99", "emergency_step_2_target": "admins",
            "emergency_step_2_wait": "10"}  # fmt: skip
    assert client.post("/settings/escalation/emergency", data=form).status_code == 303
    policy = policy_for(session=session, clinic=cast.riverside, severity="emergency")
    steps = [(s.target, s.wait.seconds // 60) for s in policy.steps]
    assert steps == [("primary", 3), ("admins", 10)]
    assert not policy.repeat
    page = client.get("/settings").text
    second = r'name="emergency_step_1_target".*?<option value="admins" selected'
    assert re.search(second, page, re.S)

    bad = client.post("/settings/escalation/emergency", data=form | {"emergency_step_2_wait": "0",
                                                                     "emergency_repeat": "1"})
    assert bad.status_code == 422
    assert "Step 3 waits (minutes) must be between 1 and 1440 minutes" in bad.text
    policy = policy_for(session=session, clinic=cast.riverside, severity="emergency")
    assert not policy.repeat and len(policy.steps) == 2  # nothing half-saved


def test_office_hours_round_trip_and_a_bad_time_names_its_day(
    client: TestClient, cast: Cast, session: Session
) -> None:
    token = sign_in(client, "dana@riverside.test")
    values = main_form(client.get("/settings").text) | {"csrf_token": token}
    assert values["hours_mon_open"] == "08:00" and values["hours_sat_open"] == ""
    saved = client.post("/settings", data=values | {"hours_sat_open": "09:00",
                                                    "hours_sat_close": "12:00",
                                                    "hours_fri_open": "", "hours_fri_close": ""})
    assert saved.status_code == 303
    session.expire_all()
    hours = session.get_one(Clinic, cast.riverside.id).office_hours
    assert hours["sat"] == ["09:00", "12:00"] and "fri" not in hours
    again = main_form(client.get("/settings").text)
    assert again["hours_sat_close"] == "12:00" and again["hours_fri_open"] == ""

    bad = client.post("/settings", data=values | {"hours_mon_close": "07:00", "name": "Renamed"})
    assert bad.status_code == 422
    assert "Monday office hours: close must be after open" in bad.text
    session.expire_all()
    clinic = session.get_one(Clinic, cast.riverside.id)
    assert clinic.name == "Riverside Ortho" and clinic.office_hours == hours


def test_only_admins_edit_the_rota_and_bob_sees_only_lakeside(
    client: TestClient, cast: Cast, session: Session
) -> None:
    token = sign_in(client, "cora@riverside.test")
    form = {"csrf_token": token, "shift_days": ["mon"], "shift_starts": "08:00",
            "shift_ends": "17:00", "shift_primary": "cora@riverside.test"}  # fmt: skip
    assert client.post("/settings/oncall/shifts", data=form).status_code == 403
    client.cookies.clear()
    token = sign_in(client, "bob@lakeside.test")
    page = client.get("/settings").text
    assert "carl@riverside.test" not in page and "bob@lakeside.test" in page
    assert csrf_of(page) == token
    riverside_shift = OnCallShift(clinic_id=cast.riverside.id, kind="rota", days=["mon"],
                                  primary_staff_id=cast.carl.id)  # fmt: skip
    session.add(riverside_shift)
    session.commit()
    assert client.post(f"/settings/oncall/shifts/{riverside_shift.id}/remove",
                       data={"csrf_token": token}).status_code == 404
    session.refresh(riverside_shift)
    assert riverside_shift.removed_at is None
