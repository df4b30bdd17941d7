"""Alice answers the HOOS JR on her phone (390x844, Debian's Chromium) through the link
from her message: no sign-in, one screen, big choices; a question left out is named
beside it; then "Thank you", and the same link again says it was already used.

Screenshot "hoos-form" in $AFTERCARE_SCREENSHOTS (docs) or $AFTERCARE_TEST_SCREENSHOTS.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from reminders.db import make_engine
from reminders.outcomes import hoos
from reminders.patients.models import Patient
from reminders.web.app import create_app
from tests.web.conftest import SECRET, build_cast, web_settings
from tests.web.live import chromium, live_server

pytestmark = [pytest.mark.browser, pytest.mark.postgres]
PHONE = {"width": 390, "height": 844}


def _shot(page: Any, name: str, tmp_path: Path) -> None:
    for env in ("AFTERCARE_SCREENSHOTS", "AFTERCARE_TEST_SCREENSHOTS"):
        if folder := os.environ.get(env):
            Path(folder).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)
            return
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)


def test_alice_answers_the_hip_questionnaire_on_her_phone(live_db_url: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    engine = make_engine(live_db_url)
    now = datetime.now(UTC)
    with Session(engine, expire_on_commit=False) as session:
        cast = build_cast(session, now)
        alice = session.get_one(Patient, cast.alice_id)
        _, token = hoos.issue_token(session=session, patient=alice,
                                    enrollment_id=cast.alice_enrollment_id, instrument="hoos_jr",
                                    timepoint="baseline", expires_at=now + timedelta(days=14),
                                    now=now, secret=SECRET)  # fmt: skip
        session.commit()
    try:
        with live_server(create_app(web_settings(live_db_url))) as url, chromium() as browser:
            context = browser.new_context(base_url=url, viewport=PHONE, is_mobile=True,
                                          has_touch=True)  # fmt: skip
            context.set_default_timeout(10_000)
            page = context.new_page()
            page.goto(f"/forms/{token}")
            expect(page.get_by_role("heading", name="HOOS, JR.")).to_be_visible()
            expect(page.get_by_text("Alice, Riverside Ortho asks about your hip.")).to_be_visible()
            assert page.locator("nav").count() == 0  # no staff navigation on a patient's page
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"the form scrolls sideways on a phone ({width}px)"
            choice = page.locator("label.prom-choice").first.bounding_box()
            assert choice is not None and choice["height"] >= 44  # a thumb-sized target
            picks = {"Going up or down stairs": "Moderate", "Walking on an uneven surface": "Mild",
                     "Rising from sitting": "Mild", "Bending to floor/pick up an object": "Severe",
                     "Lying in bed (turning over, maintaining hip position)": "None"}  # fmt: skip
            for question, answer in picks.items():
                page.get_by_role("group", name=question).get_by_label(answer).check()
            page.get_by_role("button", name="Send my answers").click()
            sitting = page.get_by_role("group", name="6. Sitting")
            expect(sitting.locator(".field-error")).to_have_text(
                "Choose one answer for this question."
            )
            expect(
                page.get_by_role("group", name="Going up or down stairs").get_by_label("Moderate")
            ).to_be_checked()  # what she chose is kept
            _shot(page, "hoos-form", tmp_path)
            sitting.get_by_label("Mild").check()
            page.get_by_role("button", name="Send my answers").click()
            expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
            page.goto(f"/forms/{token}")
            expect(page.get_by_role("heading", name="Already answered")).to_be_visible()
            page.goto(f"/forms/{token[:-2]}xx")
            expect(page.get_by_role("heading", name="This link does not work")).to_be_visible()
            context.close()
        with Session(engine) as session:
            [scored] = hoos.responses(session=session, clinic_id=cast.riverside.id,
                                      patient_id=cast.alice_id)  # fmt: skip
            assert scored.raw == 2 + 1 + 1 + 3 + 0 + 1 and scored.timepoint == "baseline"
    finally:
        engine.dispose()


def test_alices_timeline_shows_her_score_as_provisional_and_bob_cannot_see_it(
    client: Any, session: Session, cast: Any, clock: Any
) -> None:
    from tests.web.conftest import sign_in

    alice = session.get_one(Patient, cast.alice_id)
    _, token = hoos.issue_token(session=session, patient=alice,
                                enrollment_id=cast.alice_enrollment_id, instrument="hoos_jr",
                                timepoint="baseline", expires_at=clock.now() + timedelta(days=1),
                                now=clock.now(), secret=SECRET)  # fmt: skip
    form = dict.fromkeys(["stairs", "uneven_surface", "rising_from_sitting", "bending",
                          "lying_in_bed", "sitting"], "1")  # fmt: skip
    assert client.post(f"/forms/{token}", data=form).status_code == 200
    assert client.post(f"/forms/{token}", data=form).status_code == 410  # used
    sign_in(client, "dana@riverside.test")
    page = client.get(f"/patients/{cast.alice_id}").text
    assert "Hip questionnaire (HOOS JR)" in page and "provisional" in page
    client.post("/signout", data={"csrf_token": ""})
    client.cookies.clear()
    sign_in(client, "bob@lakeside.test")
    assert client.get(f"/patients/{cast.alice_id}").status_code == 404
