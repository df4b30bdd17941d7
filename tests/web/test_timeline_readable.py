"""Alice's timeline reads in words (both backends).

Alice at Riverside Ortho had a second corticosteroid injection yesterday morning and was
enrolled today at 14:10, too late for the first steps: those are skipped, dated when the
protocol planned them, with the reason. Her blood sugar check went out and she answered
"245"; the pain flare check went out and nobody answered it; the flushing note went out
in the evening. Carl opens her timeline the next morning.
"""

from __future__ import annotations

import html
import os
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders.clinics.models import Clinic
from reminders.clock import SimulatedClock
from reminders.conversations.models import InboundMessage
from reminders.db import make_engine
from reminders.delivery.models import SendAttempt
from reminders.enrollments.models import ScheduledMessage
from reminders.enrollments.schemas import parse_enrollment
from reminders.enrollments.service import enroll
from reminders.patients import consent
from reminders.patients.models import Patient
from reminders.protocols.loader import load_protocols, template_dirs
from reminders.segments import count
from reminders.web.app import create_app
from tests.conftest import NOW, alice_payload
from tests.web.conftest import Cast, sign_in

STEP_KEYS = sorted({s.key for p in load_protocols(template_dirs()).values() for s in p.steps})


def _visible_text(page: str) -> str:
    """What a person reads: the body without tags, scripts or attribute values."""
    body = page.split("<main", 1)[1]
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def _row(page: str, *needles: str) -> str:
    """The first timeline row (its class and cells) holding every one of ``needles``."""
    rows = re.findall(r"<tr (class=\"ev-.*?)</tr>", page, re.S)
    found = [r for r in rows if all(n in r for n in needles)]
    assert found, f"no timeline row with {needles!r}"
    return found[0]


def alices_story(session: Session, cast: Cast, now: datetime) -> dict[str, ScheduledMessage]:
    """Her second injection 30 hours before ``now``, enrolled at ``now``; the blood sugar
    check (answered "245"), the flare check (never answered) and the flushing note sent.
    Returns her messages by step key (the first occurrence of each)."""
    riverside = session.get_one(Clinic, cast.riverside.id)
    payload = alice_payload()
    payload["procedure"] = {**payload["procedure"],  # type: ignore[dict-item]
                            "performed_at": (now - timedelta(hours=30)).isoformat()}  # fmt: skip
    enrollment = enroll(parse_enrollment(payload), session=session, clinic=riverside, now=now,
                        actor="test").enrollment  # fmt: skip
    rows = session.scalars(select(ScheduledMessage).where(
        ScheduledMessage.enrollment_id == enrollment.id)).all()  # fmt: skip
    first = {m.step_key: m for m in sorted(rows, key=lambda m: m.occurrence, reverse=True)}

    def sent(message: ScheduledMessage, at: datetime, text: str) -> None:
        message.status, message.sent_at = "sent", at
        session.add(SendAttempt(clinic_id=riverside.id, message_id=message.id, channel="sms",
                                provider="console", recipient="+13125550123",
                                status="delivered", segments=count(text).segments,
                                started_at=at))  # fmt: skip

    glucose, flare = first["glucose_check"], first["flare_check"]
    sent(glucose, now, "x" * 200)  # two segments
    sent(flare, now, "short")
    sent(first["flushing_reassurance"], now + timedelta(hours=4), "short")
    session.add(InboundMessage(
        clinic_id=riverside.id, patient_id=cast.alice_id, enrollment_id=enrollment.id,
        answers_message_id=glucose.id, channel="sms", provider_id=f"SM-245-{enrollment.id}",
        sender="+13125550123", body="245", kind="answer", severity="routine",
        categories=["glucose_high"], received_at=now + timedelta(minutes=20),
        parsed={"glucose_mg_dl": 245, "glucose_mmol_l": 13.6, "unit": "mg/dL"},
    ))  # fmt: skip
    session.flush()
    return first


@pytest.fixture
def story(session: Session, cast: Cast, clock: SimulatedClock) -> dict[str, ScheduledMessage]:
    first = alices_story(session, cast, NOW)
    session.commit()
    clock.set(NOW + timedelta(hours=19))  # 09:10 the next morning in Chicago
    return first


def test_alices_timeline_reads_in_words(
    client: TestClient, cast: Cast, story: dict[str, ScheduledMessage]
) -> None:
    sign_in(client, "carl@riverside.test")
    page = client.get(f"/patients/{cast.alice_id}").text
    text = _visible_text(page)

    glucose = _row(page, "blood sugar check", "st-sent")
    assert "SMS · 2 segments" in glucose and "Hi Alice" in glucose  # the text as sent
    assert "answered" in glucose
    reply = _row(page, "to the blood sugar check")
    assert "glucose 245 mg/dL (13.6 mmol/L)" in reply and "high blood sugar" in reply
    assert "unanswered" in _row(page, "pain flare check", "st-sent")

    # Skipped at enrolment, but shown when the protocol planned it, with why.
    numbness = story["numbness_check"]
    skipped = _row(page, "numbness check", "st-skipped")
    assert "Thu 19 Nov 12:10 CST" in skipped and "(planned)" in skipped
    assert numbness.status == "skipped" and "Its time had passed before the enrolment" in skipped

    for key in STEP_KEYS:
        assert not re.search(rf"\b{key}\b", text), f"step key {key} shows on the page"


def test_oldest_first_unless_asked_and_opted_out_messages_say_so(
    client: TestClient, cast: Cast, session: Session, story: dict[str, ScheduledMessage]
) -> None:
    alice = session.get_one(Patient, cast.alice_id)
    consent.revoke(session=session, patient=alice, channel="sms", now=NOW + timedelta(hours=5),
                   via="patient_keyword", keyword="STOP")  # fmt: skip
    session.commit()
    sign_in(client, "carl@riverside.test")
    plain = client.get(f"/patients/{cast.alice_id}").text
    newest = client.get(f"/patients/{cast.alice_id}?order=newest").text
    # With no order asked for, a phone's script may turn it around (and says so).
    assert 'data-phone-order="newest"' in plain and "data-phone-order" not in newest
    assert ">Oldest first</span>" in plain and ">Newest first</span>" in newest

    def times(page: str, group: str) -> list[datetime]:
        section = page.split(f'<tbody class="{group}"', 1)[1].split("</tbody>", 1)[0]
        shown = re.findall(r'data-label="Patient">([A-Z][a-z]{2} \d\d [A-Z][a-z]{2} \d\d:\d\d)',
                           section)  # fmt: skip
        return [datetime.strptime(f"2026 {t}", "%Y %a %d %b %H:%M") for t in shown]

    happened = times(newest, "tl-past")
    assert happened == sorted(happened, reverse=True) and len(happened) > 5
    assert times(plain, "tl-past") == happened[::-1]
    # The newest event is what happened last, not the last message planned.
    assert happened[0] <= datetime(2026, 11, 21, 9, 10)
    planned = times(newest, "tl-planned")
    assert planned == sorted(planned) and planned[0] > happened[0]
    later = _row(newest, "infection check", "st-pending")
    assert "won&#39;t send (opted out)" in later or "won't send (opted out)" in later
    assert client.get(f"/patients/{cast.alice_id}?order=sideways").status_code == 422


def test_concern_summaries_name_the_step_in_words(
    client: TestClient, cast: Cast, session: Session
) -> None:
    from reminders.conversations.concerns import open_concern

    riverside = session.get_one(Clinic, cast.riverside.id)
    open_concern(session=session, clinic=riverside, severity="routine", kind="no_response",
                 summary="No answer to 'infection_check'", now=NOW, patient_id=cast.alice_id,
                 enrollment_id=cast.alice_enrollment_id)  # fmt: skip
    session.commit()
    sign_in(client, "carl@riverside.test")
    page = client.get(f"/patients/{cast.alice_id}").text
    assert "No answer to the infection check" in page and "infection_check" not in page


@pytest.mark.browser
@pytest.mark.postgres
def test_on_a_phone_the_newest_event_is_above_the_fold(live_db_url: str) -> None:
    """Carl opens Alice's timeline from a page on his phone (390x844): the latest event
    is on the first screen, and nothing scrolls sideways."""
    from playwright.sync_api import expect

    from tests.web.conftest import PASSWORD, build_cast, web_settings
    from tests.web.live import chromium, live_server

    engine = make_engine(live_db_url)
    with Session(engine, expire_on_commit=False) as session:
        cast = build_cast(session, NOW)
        alices_story(session, cast, NOW)
        session.commit()
    app = create_app(web_settings(live_db_url), clock=SimulatedClock(NOW + timedelta(hours=5)))
    try:
        with live_server(app) as url, chromium() as browser:
            context = browser.new_context(base_url=url, viewport={"width": 390, "height": 844},
                                          is_mobile=True, has_touch=True)  # fmt: skip
            page = context.new_page()
            page.goto("/signin")
            page.get_by_label("Email").fill("carl@riverside.test")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url("**/concerns")
            page.goto(f"/patients/{cast.alice_id}")
            expect(page.locator(".tl-order span")).to_have_text("Newest first")
            newest = page.locator("table.timeline tbody.tl-past tr").nth(1)  # after the heading
            expect(newest).to_contain_text("flushing reassurance")  # sent an hour ago
            box = newest.bounding_box()
            assert box is not None and box["y"] + min(box["height"], 120) <= 844, box
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            # tests/conftest.py drops AFTERCARE_* settings but the AFTERCARE_TEST_ ones.
            shots = (os.environ.get("AFTERCARE_SCREENSHOTS")
                     or os.environ.get("AFTERCARE_TEST_SCREENSHOTS"))  # fmt: skip
            if shots:
                Path(shots).mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(Path(shots) / "timeline.png"))
            context.close()
    finally:
        engine.dispose()
