"""The staff pages in-process (both backends): inbox, timeline, enrol, CSV, reschedule and
cancel, protocol drafts, settings, staff, dashboard and audit log."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reminders.audit.models import AuditEvent
from reminders.clinics.models import Clinic, StaffMember
from reminders.conversations.models import Concern
from reminders.enrollments.models import Enrollment, ScheduledMessage
from reminders.patients.models import Patient
from reminders.protocols.models import ProtocolVersion
from tests.web.conftest import Cast, sign_in


def _actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def test_inbox_puts_the_emergency_first_and_acknowledging_is_audited(
    client: TestClient, cast: Cast, session: Session
) -> None:
    token = sign_in(client, "carl@riverside.test")
    page = client.get("/concerns").text
    first, second = page.index(f'id="concern-{cast.emergency.id}"'), page.index(
        f'id="concern-{cast.urgent.id}"')  # fmt: skip
    assert first < second
    assert "⚠ EMERGENCY" in page and "my throat feels tight" in page and "pain score" in page
    response = client.post(f"/concerns/{cast.emergency.id}/acknowledge",
                           data={"csrf_token": token})  # fmt: skip
    assert response.status_code == 303
    session.expire_all()
    concern = session.get_one(Concern, cast.emergency.id)
    assert concern.status == "acknowledged" and concern.acknowledged_by == cast.carl.id
    assert "concern.acknowledge" in _actions(session)
    assert "Concern acknowledged." in client.get(response.headers["location"]).text


def test_resolve_needs_a_note(client: TestClient, cast: Cast, session: Session) -> None:
    token = sign_in(client, "carl@riverside.test")
    url = f"/concerns/{cast.urgent.id}/resolve"
    empty = client.post(url, data={"csrf_token": token, "note": "  "})
    assert empty.status_code == 422 and "resolution note is required" in empty.text
    done = client.post(url, data={"csrf_token": token, "note": "Called; ice and rest."})
    assert done.status_code == 303
    session.expire_all()
    assert session.get_one(Concern, cast.urgent.id).resolution_note == "Called; ice and rest."
    assert "Called; ice and rest." in client.get("/concerns/resolved").text


def test_inbox_fragment_refreshes_without_the_layout(client: TestClient, cast: Cast) -> None:
    sign_in(client, "carl@riverside.test")
    fragment = client.get("/concerns/list").text
    assert "<html" not in fragment and f"concern-{cast.emergency.id}" in fragment


def test_timeline_shows_messages_replies_concerns_chart_and_is_audited(
    client: TestClient, cast: Cast, session: Session
) -> None:
    sign_in(client, "carl@riverside.test")
    page = client.get(f"/patients/{cast.alice_id}").text
    assert "numbness check" in page and "flare check" in page
    assert "my throat feels tight" in page and "Auto-reply" not in page
    assert "America/Chicago" in page and "CST" in page
    assert '<svg class="chart"' in page and "Pain scores" in page
    views = session.scalars(select(AuditEvent).where(AuditEvent.action == "patient.view")).all()
    assert [(v.subject_id, v.staff_id) for v in views] == [(cast.alice_id, cast.carl.id)]


def test_search_by_name_mrn_and_phone(client: TestClient, cast: Cast) -> None:
    sign_in(client, "carl@riverside.test")
    for q in ("ali", "MRN-1001", "555-0123", "Alice diabetes"):
        page = client.get("/patients", params={"q": q}).text
        expect = q != "Alice diabetes"
        assert (f"/patients/{cast.alice_id}" in page) is expect, q


def _enrol_form(**overrides: str) -> dict[str, str]:
    form = {"given_name": "Ben", "family_name": "Ortiz", "external_id": "MRN-3003",
            "phone": "+1 312 555 0145", "email": "", "timezone": "America/Chicago",
            "language": "es", "performed_at": "2026-11-20T13:30", "injectate": "prp",
            "side": "left", "follow_up_at": "", "channel": "sms"}  # fmt: skip
    return form | overrides


def test_enrol_form_shows_a_bad_phone_beside_the_field_and_stores_nothing(
    client: TestClient, cast: Cast, session: Session
) -> None:
    token = sign_in(client, "cora@riverside.test")
    before = session.scalar(select(func.count()).select_from(Patient))
    response = client.post("/enrol", data=_enrol_form(phone="555", csrf_token=token))
    assert response.status_code == 422
    error = re.search(r'<p class="field-error" id="f-phone-err">([^<]+)</p>', response.text)
    assert error and "phone" in error.group(1).lower()
    assert 'value="Ben"' in response.text  # what was typed is kept
    assert session.scalar(select(func.count()).select_from(Patient)) == before


def test_enrol_form_enrols_and_lands_on_the_timeline(
    client: TestClient, cast: Cast, session: Session
) -> None:
    token = sign_in(client, "cora@riverside.test")
    response = client.post("/enrol", data=_enrol_form(csrf_token=token, conditions="diabetes"))
    assert response.status_code == 303, response.text
    patient = session.scalars(select(Patient).where(Patient.external_id == "MRN-3003")).one()
    assert response.headers["location"] == f"/patients/{patient.id}?notice=enrolled"
    assert patient.language == "es" and patient.conditions == ["diabetes"]
    again = client.post("/enrol", data=_enrol_form(csrf_token=token, conditions="diabetes"))
    assert again.headers["location"].endswith("notice=already")
    assert "enrollment.create" in _actions(session)


def test_csv_upload_reports_bad_rows_and_imports_good_ones(
    client: TestClient, cast: Cast, session: Session
) -> None:
    token = sign_in(client, "cora@riverside.test")
    csv_text = ("external_id,given_name,phone,timezone,performed_at,injectate\n"
                "MRN-7,Gia,+13125550111,America/Chicago,2026-11-20T09:00:00-06:00,prp\n"
                "MRN-8,Hal,12,America/Chicago,2026-11-20T09:00:00-06:00,prp\n")  # fmt: skip
    response = client.post("/enrol/csv", data={"csrf_token": token},
                           files={"file": ("patients.csv", csv_text, "text/csv")})  # fmt: skip
    assert response.status_code == 422
    assert "1 enrolled" in response.text and "Row 3, Mobile phone" in response.text
    names = set(session.scalars(select(Patient.given_name)))
    assert "Gia" in names and "Hal" not in names


def test_reschedule_and_cancel_from_the_timeline(
    client: TestClient, cast: Cast, session: Session
) -> None:
    token = sign_in(client, "cora@riverside.test")
    url = f"/enrollments/{cast.alice_enrollment_id}"
    bad = client.post(f"{url}/reschedule", data={"csrf_token": token,
                                                  "performed_at": "2026-11-20T12:00",
                                                  "follow_up_at": "2026-11-19T09:00"})  # fmt: skip
    assert bad.status_code == 422 and "must be after the procedure" in bad.text
    moved = client.post(f"{url}/reschedule", data={"csrf_token": token,
                                                    "performed_at": "2026-11-20T12:00",
                                                    "follow_up_at": ""})  # fmt: skip
    assert moved.status_code == 303
    cancelled = client.post(f"{url}/cancel", data={"csrf_token": token, "reason": "moved away"})
    assert cancelled.status_code == 303
    session.expire_all()
    assert session.get_one(Enrollment, cast.alice_enrollment_id).status == "cancelled"
    pending = session.scalar(select(func.count()).where(
        ScheduledMessage.enrollment_id == cast.alice_enrollment_id,
        ScheduledMessage.status == "pending"))  # fmt: skip
    assert pending == 0
    assert {"enrollment.reschedule", "enrollment.cancel"} <= set(_actions(session))


def test_protocol_draft_preview_save_and_publish(
    client: TestClient, cast: Cast, session: Session
) -> None:
    token = sign_in(client, "cora@riverside.test")
    created = client.post("/protocols/prp/draft", data={"csrf_token": token})
    assert created.status_code == 303
    draft_url = created.headers["location"].split("?")[0]
    editor = client.get(draft_url).text
    assert "soreness_check_prp.es" in editor and "Preview" in editor
    steps = re.search(r'<textarea id="steps"[^>]*>([^<]*)</textarea>', editor)
    assert steps
    text = steps.group(1).replace("&#34;", '"').replace("&#39;", "'").replace("&amp;", "&")
    broken = client.post(f"{draft_url}/preview", data={
        "csrf_token": token, "steps": text + "- key: extra\n  when: someday\n  expires: 4h\n",
        "sample_lang": "es"})  # fmt: skip
    assert broken.status_code == 200 and "when &#39;someday&#39;" in broken.text
    assert re.search(r"<code>steps:\d+</code>", broken.text)
    added = text + ("- key: extra_check\n  when: day 5 at 10:00\n  template: extra_check\n"
                    "  expires: 12h\n")  # fmt: skip
    preview = client.post(f"{draft_url}/preview", data={
        "csrf_token": token, "steps": added, "tpl:extra_check.en": "Hi {{ first_name }}!",
        "tpl:extra_check.es": "¡Hola {{ first_name }}!"})  # fmt: skip
    assert "Hi Alex!" in preview.text and "No problems found" in preview.text
    saved = client.post(draft_url, data={
        "csrf_token": token, "steps": added, "action": "save",
        "tpl:extra_check.en": "Hi {{ first_name }}!", "tpl:extra_check.es": "¡Hola!"})  # fmt: skip
    assert saved.status_code == 303
    published = client.post(f"{draft_url}/publish", data={"csrf_token": token})
    assert published.status_code == 303
    version = session.scalars(select(ProtocolVersion).where(
        ProtocolVersion.clinic_id == cast.riverside.id, ProtocolVersion.key == "prp")
        .order_by(ProtocolVersion.version.desc())).first()  # fmt: skip
    assert version is not None and version.status == "published" and version.version == 2
    assert version.steps[-1]["key"] == "extra_check"
    # Published versions never change.
    again = client.post(draft_url, data={"csrf_token": token, "steps": text, "action": "save"})
    assert again.status_code == 409
    assert {"protocol.draft", "protocol.edit", "protocol.publish"} <= set(_actions(session))


def test_publishing_a_draft_with_problems_is_refused(client: TestClient, cast: Cast) -> None:
    token = sign_in(client, "cora@riverside.test")
    created = client.post("/protocols/prp/draft", data={"csrf_token": token})
    draft_url = created.headers["location"].split("?")[0]
    steps = "- key: lonely\n  when: 4h\n  template: nowhere\n  expires: 4h\n"
    assert client.post(draft_url, data={"csrf_token": token, "steps": steps,
                                        "action": "save"}).status_code == 303  # fmt: skip
    refused = client.post(f"{draft_url}/publish", data={"csrf_token": token})
    assert refused.status_code == 422 and "missing template nowhere.en" in refused.text


def test_settings_change_is_validated_and_audited(
    client: TestClient, cast: Cast, session: Session
) -> None:
    token = sign_in(client, "dana@riverside.test")
    page = client.get("/settings").text
    values = dict(re.findall(r'name="([a-z_]+)" type="[a-z]+" value="([^"]*)"', page))
    values |= {"csrf_token": token, "window_opens": "09:00", "timezone": "Mars/Olympus"}
    bad = client.post("/settings", data=values)
    assert bad.status_code == 422 and "not a known IANA time zone" in bad.text
    good = client.post("/settings", data=values | {"timezone": "America/Chicago"})
    assert good.status_code == 303
    session.expire_all()
    assert session.get_one(Clinic, cast.riverside.id).window_opens.hour == 9
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "clinic.settings")).one()
    assert event.details["changed"] == ["window_opens"] and event.staff_id == cast.dana.id


def test_admin_adds_staff_with_a_long_enough_password(
    client: TestClient, cast: Cast, session: Session
) -> None:
    token = sign_in(client, "dana@riverside.test")
    short = client.post("/staff", data={"csrf_token": token, "email": "nina@riverside.test",
                                        "role": "clinician", "password": "short"})  # fmt: skip
    assert short.status_code == 422 and "at least 12 characters" in short.text
    form = {"csrf_token": token, "email": "nina@riverside.test", "role": "clinician",
            "password": "a long passphrase"}
    ok = client.post("/staff", data=form)
    assert ok.status_code == 303
    nina = session.scalars(select(StaffMember).where(StaffMember.email == "nina@riverside.test"))
    assert nina.one().clinic_id == cast.riverside.id
    client.cookies.clear()
    sign_in(client, "nina@riverside.test", "a long passphrase")


def test_dashboard_and_audit_log(client: TestClient, cast: Cast) -> None:
    sign_in(client, "dana@riverside.test")
    client.get(f"/patients/{cast.alice_id}")
    board = client.get("/dashboard").text
    assert "open emergencies" in board and "Median time to acknowledge" in board
    audit = client.get("/audit").text
    assert "patient.view" in audit and "dana@riverside.test" in audit
    assert "patient.view" not in client.get("/audit", params={"subject": "concern"}).text


def test_a_clinician_may_preview_but_not_save_a_protocol(
    client: TestClient, cast: Cast, session: Session
) -> None:
    token = sign_in(client, "carl@riverside.test")
    query = select(ProtocolVersion).where(ProtocolVersion.clinic_id == cast.riverside.id,
                                          ProtocolVersion.key == "prp")
    version = session.scalars(query).one()
    url = f"/protocols/versions/{version.id}"
    page = client.get(url).text
    assert "readonly" in page and "Save draft" not in page
    preview = client.post(url, data={"csrf_token": token, "action": "preview",
                                     "sample_lang": "es"})  # fmt: skip
    assert preview.status_code == 200 and "Hola" in preview.text
    assert client.post(url, data={"csrf_token": token, "action": "save"}).status_code == 403
    assert client.post("/protocols/prp/draft", data={"csrf_token": token}).status_code == 403
