"""A coordinator's day and a nurse's day at Riverside Ortho, in Chromium, at a desk
(1366x900) and on a phone (390x844).

Cora signs in, follows the dashboard's "Unanswered for more than a day" count to the
worklist, opens a patient who has not answered (Carol at the desk, Cathy on the phone),
moves her to a new mobile number, records that she phoned to stop the texts, and sees the
opt-out on her timeline and consent record; then she fixes a protocol draft someone left
broken (a question without its concerning answer, a Spanish text missing) with the form
editor and publishes it. Carl the clinician goes from the inbox to Eve's timeline, where
the newest event comes first on a phone. No page on the way scrolls sideways at 360 px.

With $AFTERCARE_TEST_SCREENSHOTS (or $AFTERCARE_SCREENSHOTS) set, the docs' pictures are
saved there: worklist.png (desk), timeline.png (phone), protocol-form.png (desk).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders.audit.models import AuditEvent
from reminders.db import make_engine
from reminders.enrollments.models import Enrollment
from reminders.patients.models import Patient
from reminders.protocols import service as protocols
from reminders.protocols.models import ProtocolVersion
from reminders.web.app import create_app
from tests.web.conftest import PASSWORD, build_cast, web_settings
from tests.web.live import chromium, live_server
from tests.web.test_worklist import _enrol, _play, build_story

pytestmark = [pytest.mark.browser, pytest.mark.postgres]

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
NARROW = {"width": 360, "height": 800}


@dataclass(frozen=True)
class Day:
    """What changes between the desk run and the phone run (each leaves its mark)."""

    viewport: dict[str, int]
    patient: str  # the unanswered patient Cora opens
    phone_typed: str
    phone_shown: str
    protocol: str  # the broken draft she fixes

    @property
    def on_phone(self) -> bool:
        return self.viewport is PHONE


DAYS = [
    Day(DESKTOP, "Carol", "+1 312 555 0190", "+1 312-555-0190", "hyaluronic_acid"),
    Day(PHONE, "Cathy", "(312) 555-0191", "+1 312-555-0191", "prp"),
]


@dataclass
class Site:
    url: str
    ids: dict[str, int]  # first name → patient id
    engine: Any


def _break_a_draft(session: Session, clinic_id: int, key: str) -> None:
    """Someone saved a clinic question in the advanced view without saying which answer
    means trouble and without its Spanish text: it cannot be published as it stands."""
    draft = protocols.create_draft(session=session, clinic_id=clinic_id, key=key)
    protocols.update_draft(session=session, version=draft, steps=[*draft.steps, {
        "key": "ice_check", "title": "Ice check", "when": "day 1 at 18:00",
        "expects": "yes_no", "expires": "4h"}], templates={
        "ice_check.en": "Hi {{ first_name }}, did you ice the joint today? Reply YES or NO",
        "ice_check.es": ""})  # fmt: skip


@pytest.fixture(scope="module")
def site(live_db_url: str) -> Iterator[Site]:
    engine = make_engine(live_db_url)
    with Session(engine, expire_on_commit=False) as session:
        now = datetime.now(UTC)
        cast = build_cast(session, now)
        session.commit()
        story = build_story(session, cast, now)
        # A second patient who has not answered for days: the phone run's.
        cathy = _enrol(session, cast.riverside, "Cathy", "MRN-2012", "+13125550127",
                       performed=now - timedelta(days=3))  # fmt: skip
        _play(session, cathy, now, answer=False)
        # The workers kept sending Eve's check-ins after her pain report.
        _play(session, session.scalars(select(Enrollment).where(
            Enrollment.patient_id == story.ids["Eve"])).one(), now, answer=False)  # fmt: skip
        for day in DAYS:
            _break_a_draft(session, cast.riverside.id, day.protocol)
        session.commit()
        ids = {**story.ids, "Cathy": cathy.patient_id}
    with live_server(create_app(web_settings(live_db_url))) as url:
        yield Site(url, ids, engine)
    engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def _shots() -> Path | None:
    # tests/conftest.py drops AFTERCARE_* settings but the AFTERCARE_TEST_ ones.
    where = os.environ.get("AFTERCARE_TEST_SCREENSHOTS") or os.environ.get("AFTERCARE_SCREENSHOTS")
    if not where:
        return None
    Path(where).mkdir(parents=True, exist_ok=True)
    return Path(where)


def fits(page: Any, day: Day, what: str) -> None:
    """The page does not scroll sideways at this size, nor (phone run) at 360 px."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= day.viewport["width"], f"{what} scrolls sideways ({width}px)"
    if day.on_phone:
        page.set_viewport_size(NARROW)
        width = page.evaluate("document.documentElement.scrollWidth")
        page.set_viewport_size(day.viewport)
        assert width <= NARROW["width"], f"{what} scrolls sideways at 360 px ({width}px)"


def go(page: Any, day: Day, name: str) -> None:
    """Follow a link in the main navigation (behind Menu on a phone)."""
    if day.on_phone:
        page.get_by_role("button", name="Menu").click()
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()


def sign_in(page: Any, email: str) -> None:
    page.goto("/signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/concerns")


def sign_out(page: Any, day: Day) -> None:
    if day.on_phone:
        page.get_by_role("button", name="Menu").click()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/signin*")


def coordinators_day(page: Any, day: Day, site: Site, shots: Path | None) -> None:
    from playwright.sync_api import expect

    sign_in(page, "cora@riverside.test")
    fits(page, day, "the inbox")
    go(page, day, "Dashboard")
    page.wait_for_url("**/dashboard")
    fits(page, day, "the dashboard")

    # Who needs chasing: the count links to the filtered worklist.
    page.get_by_role("link", name=re.compile("Unanswered for more than a day")).click()
    page.wait_for_url("**/patients?unanswered=1d")
    rows = page.locator("table.worklist tbody tr")
    expect(rows).to_have_count(2)
    expect(page.locator("table.worklist")).not_to_contain_text("Eve")
    fits(page, day, "the worklist")
    if shots and not day.on_phone:
        page.screenshot(path=str(shots / "worklist.png"), full_page=True)  # both rows
    rows.filter(has_text=day.patient).get_by_role("link", name=day.patient).click()
    patient_id = site.ids[day.patient]
    page.wait_for_url(f"**/patients/{patient_id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(day.patient)
    fits(page, day, "the timeline")

    # A new mobile number.
    page.get_by_role("link", name="Edit contact details or record an opt-out").click()
    page.wait_for_url(f"**/patients/{patient_id}/edit")
    fits(page, day, "the patient edit page")
    page.get_by_label("Mobile phone").fill(day.phone_typed)
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_url(f"**/patients/{patient_id}?notice=saved")
    expect(page.get_by_role("status").first).to_contain_text("Saved.")
    expect(page.locator(".patient-facts")).to_contain_text(day.phone_shown)

    # She phoned: stop the texts.
    page.get_by_role("link", name="Edit contact details or record an opt-out").click()
    consent = page.locator("form.consent-form")
    consent.get_by_label("Opt out or in").select_option("opt_out")
    consent.get_by_label("Channel").select_option("sms")
    consent.get_by_label("Source", exact=True).select_option("patient phoned")
    consent.get_by_role("button", name="Record").click()
    page.wait_for_url(f"**/patients/{patient_id}/edit?notice=saved#consent")
    record = page.locator("ol.ledger li").first
    expect(record).to_contain_text("SMS")
    expect(record).to_contain_text("patient phoned; by Cora Coordinator")
    expect(page.locator(".consent-state")).to_contain_text("opted out")
    page.get_by_role("link", name=re.compile(": timeline$")).click()
    page.wait_for_url(f"**/patients/{patient_id}")
    expect(page.locator(".patient-facts")).to_contain_text("opted out")
    expect(page.locator("tr.ev-consent").first).to_contain_text(
        "SMS messages stopped · changed by staff")  # fmt: skip
    expect(page.locator("tbody.tl-planned").get_by_text("won't send (opted out)").first
           ).to_be_visible()  # fmt: skip

    # The broken draft, fixed with the form and published.
    go(page, day, "Protocols")
    page.wait_for_url("**/protocols")
    fits(page, day, "the protocol list")
    page.locator(f"form[action='/protocols/{day.protocol}/draft'] button").click()
    page.wait_for_url("**/protocols/versions/*")
    step = page.locator(".step-item", has_text="Ice check")
    preview = page.locator("#preview")
    expect(step.locator(".field-error").first).to_contain_text("Say which answer means trouble")
    expect(preview.locator(".problems")).to_contain_text("Write the Spanish message")
    step.get_by_label("Which answer means trouble").select_option("no")
    step.get_by_label("Message in Spanish").fill(
        "Hola {{ first_name }}, ¿se puso hielo hoy? Responda SÍ o NO")  # fmt: skip
    expect(preview).to_contain_text("No problems found")
    expect(step.locator(".field-error")).to_have_count(0)
    fits(page, day, "the protocol form")
    if shots and not day.on_phone:
        step.evaluate("element => element.scrollIntoView()")
        page.screenshot(path=str(shots / "protocol-form.png"))
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("status").first).to_contain_text("Saved.")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=re.compile(r"^Publish v\d+$")).click()
    page.wait_for_url("**/protocols?notice=published")
    expect(page.get_by_role("status").first).to_contain_text("Published as a new version")
    sign_out(page, day)


def nurses_day(page: Any, day: Day, site: Site, shots: Path | None) -> None:
    from playwright.sync_api import expect

    sign_in(page, "carl@riverside.test")
    urgent = page.locator("article.concern", has_text="pain is 9 out of 10").first
    expect(urgent).to_contain_text("Eve")
    urgent.get_by_role("link", name="Eve").click()
    page.wait_for_url(f"**/patients/{site.ids['Eve']}")
    past = page.locator("table.timeline tbody.tl-past tr:not(.tl-group)")
    if not day.on_phone:  # a desk shows the story in order, with a way to flip it
        expect(page.locator(".tl-order span")).to_have_text("Oldest first")
        page.get_by_role("link", name="show newest first").click()
        page.wait_for_url("**order=newest*")
    expect(page.locator(".tl-order span")).to_have_text("Newest first")
    # Her 9/10 pain reply (two hours ago) comes before the day-0 check-ins it followed.
    reply = past.filter(has_text="pain is 9 out of 10")
    expect(reply).to_have_count(1)
    texts = past.all_inner_texts()
    first_check = next(i for i, text in enumerate(texts) if "numbness check" in text)
    assert texts.index(reply.inner_text()) < first_check, texts
    if day.on_phone:  # the newest is on the first screen
        box = past.first.bounding_box()
        assert box is not None and box["y"] + min(box["height"], 120) <= PHONE["height"], box
        if shots:
            page.screenshot(path=str(shots / "timeline.png"))
    fits(page, day, "the nurse's timeline")
    sign_out(page, day)


@pytest.mark.parametrize("day", DAYS, ids=["desk", "phone"])
def test_a_coordinators_day_then_a_nurses_day(browser: Any, site: Site, day: Day) -> None:
    phone = day.on_phone
    context = browser.new_context(base_url=site.url, viewport=day.viewport, is_mobile=phone,
                                  has_touch=phone)  # fmt: skip
    context.set_default_timeout(10_000)
    page = context.new_page()
    shots = _shots()
    try:
        coordinators_day(page, day, site, shots)
        nurses_day(page, day, site, shots)
    finally:
        context.close()
    # What she did is stored and audited, once each.
    with Session(site.engine) as session:
        patient = session.get_one(Patient, site.ids[day.patient])
        assert patient.phone == "+1312555" + day.phone_typed[-4:]
        assert patient.sms_opted_out_at is not None
        actions = session.scalars(select(AuditEvent.action).where(
            AuditEvent.subject_id == patient.id,
            AuditEvent.action.in_(("patient.edit", "patient.opt-out")))).all()  # fmt: skip
        assert sorted(actions) == ["patient.edit", "patient.opt-out"]
        published = session.scalars(select(ProtocolVersion).where(
            ProtocolVersion.key == day.protocol, ProtocolVersion.status == "published",
        ).order_by(ProtocolVersion.version.desc())).first()  # fmt: skip
        assert published is not None
        ice = next(s for s in published.steps if s["key"] == "ice_check")
        assert ice["concerning_answer"] == "no"
