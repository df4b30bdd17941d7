"""Stories in a real browser (Debian's Chromium through Playwright) against a real uvicorn
server over PostgreSQL: what a nurse or coordinator actually does.

Screenshots land in $AFTERCARE_TEST_SCREENSHOTS (or a pytest temp dir) for a human look.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from reminders.db import make_engine
from reminders.patients.models import Patient
from reminders.web.app import create_app
from tests.web.conftest import PASSWORD, build_cast, web_settings
from tests.web.live import chromium, live_server

pytestmark = [pytest.mark.browser, pytest.mark.postgres]


@dataclass
class Site:
    url: str
    engine: Engine
    shots: Path
    alice_id: int
    emergency_id: int


@pytest.fixture(scope="module")
def site(live_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    engine = make_engine(live_db_url)
    with Session(engine, expire_on_commit=False) as session:
        cast = build_cast(session, datetime.now(UTC))
        session.commit()
    shots = Path(os.environ.get("AFTERCARE_TEST_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    shots.mkdir(parents=True, exist_ok=True)
    with live_server(create_app(web_settings(live_db_url))) as url:
        yield Site(url, engine, shots, cast.alice_id, cast.emergency.id)
    engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Any, site: Site) -> Iterator[Any]:
    context = browser.new_context(base_url=site.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    tab = context.new_page()
    yield tab
    context.close()


def sign_in(page: Any, email: str) -> None:
    page.goto("/concerns")
    assert "/signin" in page.url
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/concerns")


def test_sign_in_see_the_emergency_on_top_acknowledge_and_find_it_in_the_audit_log(
    page: Any, site: Site
) -> None:
    from playwright.sync_api import expect

    sign_in(page, "carl@riverside.test")
    first = page.locator("article.concern").first
    expect(first).to_have_class("concern sev-emergency status-open")
    expect(first.locator(".badge")).to_have_text("⚠ EMERGENCY")
    expect(first).to_contain_text("my throat feels tight")
    assert page.title().startswith("(1 EMERGENCY)")
    page.screenshot(path=str(site.shots / "inbox.png"), full_page=True)

    first.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_role("status").first).to_contain_text("Concern acknowledged.")
    expect(page.locator(f"#concern-{site.emergency_id}")).to_contain_text("acknowledged")

    page.context.clear_cookies()
    page.goto("/signin")
    page.get_by_label("Email").fill("dana@riverside.test")  # the admin reads the log
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto("/audit")
    # Rows read as sentences naming people; the action code stays in an attribute.
    row = page.locator('table.audit tbody tr[data-action="concern.acknowledge"]').first
    expect(row).to_contain_text("Carl Clinician acknowledged the concern about Alice")
    page.screenshot(path=str(site.shots / "audit.png"), full_page=True)


def test_enrol_with_a_bad_phone_shows_the_error_beside_the_field_and_stores_nothing(
    page: Any, site: Site
) -> None:
    from playwright.sync_api import expect

    with Session(site.engine) as session:
        before = session.scalar(select(func.count()).select_from(Patient))
    sign_in(page, "cora@riverside.test")
    page.get_by_role("link", name="Enrol").click()
    page.get_by_label("First name").fill("Ben")
    page.get_by_label("MRN / external id").fill("MRN-4004")
    page.get_by_label("Mobile phone").fill("555")
    page.get_by_label("Injectate").select_option("prp")
    page.get_by_role("button", name="Enrol and plan messages").click()
    error = page.locator("#f-phone-err")
    expect(error).to_be_visible()
    expect(error).to_contain_text("phone")
    expect(page.get_by_label("Mobile phone")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("First name")).to_have_value("Ben")
    # The message sits with its field, not only in a banner at the top.
    field = page.locator(".field", has=page.get_by_label("Mobile phone"))
    expect(field.locator(".field-error")).to_be_visible()
    page.screenshot(path=str(site.shots / "enrol-error.png"), full_page=True)
    with Session(site.engine) as session:
        assert session.scalar(select(func.count()).select_from(Patient)) == before


def test_protocol_preview_updates_as_the_coordinator_edits(page: Any, site: Site) -> None:
    from playwright.sync_api import expect

    sign_in(page, "cora@riverside.test")
    page.goto("/protocols")
    page.locator("form[action='/protocols/corticosteroid/draft'] button").click()
    page.wait_for_url("**/protocols/versions/*")
    preview = page.locator("#preview")
    expect(preview).to_contain_text("No problems found")
    expect(preview.locator('[data-step="glucose_check"]')).to_have_count(0)
    page.get_by_label("Diabetic").check()
    expect(preview.locator('[data-step="glucose_check"]').first).to_be_visible()
    page.get_by_label("Language").select_option("es")
    expect(preview.locator("pre.msg").first).to_contain_text("Hola")
    page.get_by_text("Advanced: the steps as YAML").click()
    page.get_by_role("button", name="Edit as YAML instead of the form").click()
    steps = page.get_by_label("Steps (YAML list)")
    steps.press("Control+End")
    steps.type("\n- key: bad_step\n  when: someday\n  expires: 4h\n", delay=5)
    expect(preview.locator(".problems")).to_contain_text("someday")
    page.screenshot(path=str(site.shots / "protocol-preview.png"), full_page=True)


def test_usable_on_a_phone_and_by_keyboard(browser: Any, site: Site) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(base_url=site.url, viewport={"width": 390, "height": 844},
                                  is_mobile=True, has_touch=True)  # fmt: skip
    page = context.new_page()
    try:
        sign_in(page, "dana@riverside.test")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, "the inbox must not scroll sideways on a phone"
        page.screenshot(path=str(site.shots / "inbox-phone.png"), full_page=True)
        page.goto(f"/patients/{site.alice_id}")
        expect(page.locator("svg.chart").first).to_be_visible()
        page.screenshot(path=str(site.shots / "timeline-phone.png"), full_page=True)
        page.keyboard.press("Tab")
        focused = page.evaluate("document.activeElement.textContent")
        assert focused == "Skip to content"
    finally:
        context.close()


def test_timeline_on_a_desktop(page: Any, site: Site) -> None:
    from playwright.sync_api import expect

    sign_in(page, "cora@riverside.test")
    page.goto(f"/patients/{site.alice_id}")
    expect(page.locator("table.timeline")).to_contain_text("numbness check")
    page.screenshot(path=str(site.shots / "timeline.png"), full_page=True)
    page.goto("/dashboard")
    page.screenshot(path=str(site.shots / "dashboard.png"), full_page=True)
