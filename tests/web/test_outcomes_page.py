"""The outcomes page and its CSV: what Riverside's coordinator sees about how patients did.

Grace had a diagnostic (anaesthetic-only) injection at Riverside three hours ago with pain
8 before it; she answered 2 at 30 minutes and 1 at an hour: 87.5 % relief, "≥ 80 %".
Hank had the same at Lakeside with complete relief: Riverside's figures never count him,
and Bob (Lakeside's admin) sees only Hank.
"""

from __future__ import annotations

import csv
import io
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders.audit.models import AuditEvent
from reminders.clinics.models import Clinic
from reminders.conversations.models import ANSWER, Concern, InboundMessage
from reminders.db import make_engine
from reminders.enrollments.models import SENT, Enrollment, ScheduledMessage
from reminders.enrollments.schemas import parse_enrollment
from reminders.enrollments.service import enroll
from reminders.web.app import create_app
from tests.conftest import NOW, alice_payload
from tests.web.conftest import (
    LAKESIDE_KEY,
    PASSWORD,
    RIVERSIDE_KEY,
    Cast,
    bearer,
    build_cast,
    sign_in,
    web_settings,
)
from tests.web.live import chromium, live_server


def diagnostic(session: Session, clinic: Clinic, now: datetime, name: str, phone: str,
               baseline: int, answers: dict[str, int]) -> Enrollment:  # fmt: skip
    """A diagnostic injection three hours ago, its diary questions sent on time and
    answered (``answers``: step key → pain) a few minutes after each."""
    performed = now - timedelta(hours=3)
    payload = alice_payload(patient={"external_id": f"MRN-{name}", "given_name": name,
                                     "phone": phone, "timezone": "America/Chicago"})  # fmt: skip
    payload["procedure"] = {"performed_at": performed.isoformat(), "injectate": "anesthetic_only",
                            "diagnostic": True, "baseline_pain": baseline}  # fmt: skip
    payload["follow_up_at"] = None
    enrollment = enroll(parse_enrollment(payload), session=session, clinic=clinic, now=performed,
                        actor="test").enrollment  # fmt: skip
    for message in session.scalars(select(ScheduledMessage).where(
            ScheduledMessage.enrollment_id == enrollment.id,
            ScheduledMessage.step_key.in_(list(answers)))):  # fmt: skip
        message.status, message.sent_at = SENT, message.planned_at
        session.add(InboundMessage(
            clinic_id=clinic.id, patient_id=enrollment.patient_id, enrollment_id=enrollment.id,
            answers_message_id=message.id, channel="sms", provider_id=f"SM{uuid.uuid4().hex}",
            sender=phone, body=str(answers[message.step_key]), kind=ANSWER,
            parsed={"pain": answers[message.step_key]},
            received_at=message.planned_at + timedelta(minutes=4),
        ))  # fmt: skip
    session.flush()
    return enrollment


def seed(session: Session, cast: Cast, now: datetime) -> tuple[Enrollment, Enrollment]:
    grace = diagnostic(session, cast.riverside, now, "Grace", "+13125550166", 8,
                       {"pain_diary_30m": 2, "pain_diary_1h": 1})  # fmt: skip
    hank = diagnostic(session, cast.lakeside, now, "Hank", "+12125550167", 10,
                      {"pain_diary_30m": 0})  # fmt: skip
    # Carl acknowledged the urgent concern 12 minutes after it was raised.
    urgent = session.get_one(Concern, cast.urgent.id)
    urgent.status = "acknowledged"
    urgent.acknowledged_at = urgent.created_at + timedelta(minutes=12)
    session.commit()
    return grace, hank


@pytest.fixture
def seeded(session: Session, cast: Cast) -> tuple[Enrollment, Enrollment]:
    return seed(session, cast, NOW)


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_coordinator_sees_graces_relief_and_response_rates(
    client: TestClient, cast: Cast, seeded: tuple[Enrollment, Enrollment]
) -> None:
    sign_in(client, "cora@riverside.test")
    page = client.get("/outcomes")
    assert page.status_code == 200
    html = page.text
    assert '<a href="/outcomes" aria-current="page">Outcomes</a>' in html
    assert 'role="img"' in html and "Peak % relief of diagnostic injections" in html
    assert "80-89 % relief: 1 diagnostic injections" in html  # the chart's tooltip
    assert "100 % relief: 1" not in html  # Hank is Lakeside's
    assert '<span class="card-n">1</span><span class="card-l">≥ 80 % relief</span>' in html
    assert "Pain diary at 30 minutes" in html  # response rates, steps in words
    assert "Median minutes to acknowledge" in html and "12 min" in html
    assert "Grace" not in html and "+13125550166" not in html  # figures, not people

    other = client.get("/outcomes", params={"injectate": "prp"}).text
    assert '<span class="card-n">0</span><span class="card-l">≥ 80 % relief</span>' in other
    assert "No diagnostic pain diaries here." in other

    bad = client.get("/outcomes", params={"month": "2026-13", "injectate": "steroid"})
    assert bad.status_code == 400
    assert "Month must be a month like 2026-11" in bad.text
    assert "Injectate must be one of: corticosteroid" in bad.text


def test_the_csv_has_the_same_numbers_and_is_audited(
    client: TestClient, session: Session, cast: Cast, seeded: tuple[Enrollment, Enrollment]
) -> None:
    grace, _hank = seeded
    sign_in(client, "carl@riverside.test")
    month = NOW.astimezone(ZoneInfo("America/Chicago")).strftime("%Y-%m")
    response = client.get("/outcomes.csv", params={"injectate": "anesthetic_only",
                                                   "month": month})  # fmt: skip
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert f"outcomes-anesthetic_only-{month}.csv" in response.headers["content-disposition"]
    rows = rows_of(response.text)
    histogram = {r["item"]: int(r["n"]) for r in rows if r["section"] == "relief_histogram"}
    assert histogram["80-89 %"] == 1 and histogram["100 %"] == 0 and sum(histogram.values()) == 1
    diaries = [r for r in rows if r["section"] == "diagnostic_diary"]
    assert [(d["item"], d["value"], d["detail"]) for d in diaries] == [
        (f"enrolment {grace.id}", "87.5", "baseline 8; ≥ 80 % relief")]
    rates = {r["item"]: (r["n"], r["value"]) for r in rows if r["section"] == "response_rate"}
    assert rates["Pain diary at 30 minutes"] == ("1", "1")
    assert "Grace" not in response.text and "5550166" not in response.text
    export = session.scalars(select(AuditEvent).where(AuditEvent.action == "outcomes.export")).one()
    assert export.clinic_id == cast.riverside.id


def test_bob_sees_only_lakeside_and_the_api_answers_per_clinic(
    client: TestClient, cast: Cast, seeded: tuple[Enrollment, Enrollment]
) -> None:
    grace, hank = seeded
    sign_in(client, "bob@lakeside.test")
    rows = rows_of(client.get("/outcomes.csv").text)
    diaries = [r["item"] for r in rows if r["section"] == "diagnostic_diary"]
    assert diaries == [f"enrolment {hank.id}"]

    relief = client.get(f"/api/v1/enrollments/{grace.id}/relief", headers=bearer(RIVERSIDE_KEY))
    assert relief.status_code == 200
    body = relief.json()
    assert (body["baseline"], body["peak_pct"], body["label"]) == (8, 87.5, "≥ 80 % relief")
    assert [(p["label"], p["pain"], p["relief_pct"]) for p in body["points"][:3]] == [
        ("30 min", 2, 75.0), ("1 h", 1, 87.5), ("2 h", None, None)]  # fmt: skip
    elsewhere = client.get(f"/api/v1/enrollments/{grace.id}/relief", headers=bearer(LAKESIDE_KEY))
    assert elsewhere.status_code == 404
    alice = client.get(f"/api/v1/enrollments/{cast.alice_enrollment_id}/relief",
                       headers=bearer(RIVERSIDE_KEY))  # fmt: skip
    assert alice.status_code == 404


def test_graces_timeline_shows_the_diagnostic_result(
    client: TestClient, seeded: tuple[Enrollment, Enrollment]
) -> None:
    grace, _ = seeded
    sign_in(client, "carl@riverside.test")
    html = client.get(f"/patients/{grace.patient_id}").text
    assert "Diagnostic result" in html
    assert "Peak relief <strong>87.5 %</strong> against a baseline of 8/10." in html
    assert '<th scope="row">30 min</th>' in html and "75 %" in html


def test_the_settings_page_shows_the_diary(client: TestClient) -> None:
    sign_in(client, "dana@riverside.test")
    html = client.get("/settings").text
    assert "Diagnostic pain diary" in html and 'value="30m, 1h, 2h, 4h, 6h"' in html


# -- one look in a real browser ---------------------------------------------------------


@pytest.fixture(scope="module")
def live_site(live_db_url: str) -> Iterator[str]:
    engine = make_engine(live_db_url)
    now = datetime.now(UTC)
    with Session(engine, expire_on_commit=False) as session:
        seed(session, build_cast(session, now), now)
    with live_server(create_app(web_settings(live_db_url))) as url:
        yield url
    engine.dispose()


@pytest.mark.browser
@pytest.mark.postgres
def test_the_outcomes_page_in_a_browser_on_a_desk_and_a_phone(live_site: str) -> None:
    from playwright.sync_api import expect

    folder = os.environ.get("AFTERCARE_SCREENSHOTS") or os.environ.get(
        "AFTERCARE_TEST_SCREENSHOTS")  # fmt: skip
    with chromium() as browser:
        for width, height in ((1366, 900), (360, 800)):
            context = browser.new_context(base_url=live_site,
                                          viewport={"width": width, "height": height})  # fmt: skip
            page: Any = context.new_page()
            page.goto("/signin")
            page.get_by_label("Email").fill("cora@riverside.test")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.goto("/outcomes")
            heading = page.get_by_role("heading", name="Diagnostic injections: peak % relief")
            expect(heading).to_be_visible()
            expect(page.locator("svg.bars").first).to_be_visible()
            # No sideways scrolling, even at 360 px.
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            if folder and width > 1000:
                Path(folder).mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(Path(folder) / "outcomes.png"), full_page=True)
            context.close()
