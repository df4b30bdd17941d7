"""The concern page in a real browser (Debian's Chromium through Playwright) on a phone
screen, against a real uvicorn server over PostgreSQL: Carl gets paged, taps the link
signed out, signs in, lands on Alice's concern, acknowledges it and texts her back.

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
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from reminders.db import make_engine
from reminders.enrollments.models import ScheduledMessage
from reminders.web.app import create_app
from tests.web.conftest import PASSWORD, build_cast, web_settings
from tests.web.live import chromium, live_server

pytestmark = [pytest.mark.browser, pytest.mark.postgres]
PHONE = {"width": 390, "height": 844}


@dataclass
class Site:
    url: str
    engine: Engine
    shots: Path
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
        yield Site(url, engine, shots, cast.emergency.id)
    engine.dispose()


@pytest.fixture
def phone(site: Site) -> Iterator[Any]:
    with chromium() as browser:
        context = browser.new_context(base_url=site.url, viewport=PHONE, is_mobile=True,
                                      has_touch=True)  # fmt: skip
        context.set_default_timeout(10_000)
        yield context.new_page()
        context.close()


def _no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the concern page scrolls sideways on a phone ({width}px)"


def _tap_height(page: Any, locator: Any) -> float:
    box = locator.bounding_box()
    assert box is not None
    return float(box["height"])


def test_the_paged_link_signs_in_lands_on_the_concern_acknowledges_and_texts_back(
    phone: Any, site: Site
) -> None:
    from playwright.sync_api import expect

    page = phone
    url = f"/concerns/{site.emergency_id}"
    page.goto(url)  # the link in the page, tapped signed out
    assert "/signin" in page.url
    page.get_by_label("Email").fill("carl@riverside.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**{url}")

    expect(page.locator("blockquote.reply").first).to_contain_text("my throat feels tight")
    expect(page.locator(".badge").first).to_have_text("⚠ EMERGENCY")
    call = page.locator('a[href="tel:+13125550123"]')
    expect(call).to_be_visible()
    assert _tap_height(page, call) >= 44
    _no_sideways_scroll(page)
    page.screenshot(path=str(site.shots / "concern-phone.png"), full_page=True)

    acknowledge = page.get_by_role("button", name="Acknowledge")
    assert _tap_height(page, acknowledge) >= 44
    acknowledge.click()
    page.wait_for_url("**notice=acknowledged")
    expect(page.locator("#ack-by")).to_contain_text("Acknowledged by Carl Clinician")
    expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)

    text = "Alice, this is Carl at Riverside: please call 911 now. We are calling you too."
    page.get_by_label("Message to Alice").fill(text)
    send = page.get_by_role("button", name="Send text")
    assert _tap_height(page, send) >= 44
    send.click()
    page.wait_for_url("**notice=texted*")
    recent = page.locator("#recent")
    expect(recent).to_contain_text("Carl Clinician:")
    expect(recent).to_contain_text("please call 911 now")
    _no_sideways_scroll(page)
    page.screenshot(path=str(site.shots / "concern-texted-phone.png"), full_page=True)
    with Session(site.engine) as session:
        message = session.scalars(select(ScheduledMessage)
                                  .where(ScheduledMessage.kind == "staff_text")).one()  # fmt: skip
        assert message.body == text and message.concern_id == site.emergency_id
