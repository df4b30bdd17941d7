"""Pages that behave: a person who takes a wrong turn gets a page, not JSON; the API docs
work without internet; and on a phone nothing scrolls sideways, the navigation folds away,
and the inbox keeps Carl's half-typed note while new concerns arrive.

The API keeps answering JSON: an EHR that asks for a missing enrolment still gets
``{"detail": ...}``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders.clinics.models import Clinic
from reminders.conversations.concerns import open_concern, resolve
from reminders.conversations.models import Concern
from reminders.db import make_engine
from reminders.protocols.models import ProtocolVersion
from reminders.web.app import create_app
from reminders.web.pages import concerns as concerns_page
from tests.web.conftest import (
    PASSWORD,
    RIVERSIDE_KEY,
    Cast,
    bearer,
    build_cast,
    sign_in,
    web_settings,
)
from tests.web.live import chromium, live_server

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


def test_a_wrong_address_is_a_page_for_carl_and_json_for_the_ehr(client: TestClient) -> None:
    signed_out = client.get("/no-such-page", headers=BROWSER)
    assert signed_out.status_code == 404
    assert signed_out.headers["content-type"].startswith("text/html")
    assert "Page not found" in signed_out.text and 'href="/signin"' in signed_out.text
    assert "Riverside" not in signed_out.text  # no clinic data for a stranger

    sign_in(client, "carl@riverside.test")
    page = client.get("/no-such-page", headers=BROWSER)
    assert page.status_code == 404 and "Page not found" in page.text
    assert 'aria-label="Main"' in page.text and "Riverside Ortho" in page.text  # the layout
    assert 'href="/account"' in page.text

    api = client.get("/api/v1/no-such-thing", headers={**bearer(RIVERSIDE_KEY), **BROWSER})
    assert api.status_code == 404 and api.json() == {"detail": "Not Found"}
    missing = client.get("/api/v1/enrollments/999999", headers=bearer(RIVERSIDE_KEY))
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/json"


def test_a_role_refusal_and_a_wrong_method_are_pages_that_say_why(client: TestClient) -> None:
    sign_in(client, "carl@riverside.test")
    refused = client.get("/settings", headers=BROWSER)
    assert refused.status_code == 403
    assert "Not allowed" in refused.text and "Your role does not allow this." in refused.text
    assert "carl@riverside.test (clinician)" in refused.text

    wrong_method = client.get("/signout", headers=BROWSER)
    assert wrong_method.status_code == 405 and "POST" in wrong_method.headers["allow"]
    assert "does not work that way" in wrong_method.text

    api = client.post("/api/v1/protocols", headers=bearer(RIVERSIDE_KEY))
    assert api.status_code == 405 and api.json() == {"detail": "Method Not Allowed"}
    # Sign in first stays a redirect, not an error page.
    client.cookies.clear()
    assert client.get("/settings", headers=BROWSER).status_code == 303


def test_a_fault_shows_a_reference_and_never_the_traceback(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from reminders import dashboard
    from reminders.protocols import service as protocols

    def broken(**_: Any) -> None:
        raise RuntimeError("SECRET internals: column foo does not exist")

    monkeypatch.setattr(dashboard, "build", broken)
    monkeypatch.setattr(protocols, "list_versions", broken)
    faulty = TestClient(client.app, raise_server_exceptions=False, follow_redirects=False)
    sign_in(faulty, "dana@riverside.test")
    with caplog.at_level(logging.ERROR, logger="reminders.web.errors"):
        page = faulty.get("/dashboard", headers=BROWSER)
        api = faulty.get("/api/v1/protocols", headers=bearer(RIVERSIDE_KEY))
    assert page.status_code == 500 and page.headers["content-type"].startswith("text/html")
    assert "Something went wrong" in page.text and 'aria-label="Main"' in page.text
    assert "SECRET" not in page.text and "Traceback" not in page.text
    reference = re.search(r'<code class="reference">([0-9a-f]+)</code>', page.text)
    assert reference, "the page names the log entry"
    assert api.status_code == 500 and api.json()["detail"] == "internal error"
    logged = [r.getMessage() for r in caplog.records]
    assert any(reference.group(1) in line for line in logged)
    assert any(api.json()["reference"] in line for line in logged)


def test_the_api_docs_load_nothing_from_the_internet(client: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        html = client.get(path).text
        urls = re.findall(r'(?:src|href|spec-url)="([^"]+)"', html)
        urls += re.findall(r"url: '([^']+)'", html)
        assert urls and "openapi.json" in " ".join(urls), path
        assert "http://" not in html and "https://" not in html, path
        for url in urls:
            assert url.startswith("/") and not url.startswith("//"), url
            answer = client.get(url)
            assert answer.status_code == 200 and answer.content, url
    assert client.get("/docs/assets/../../app.py").status_code == 404


# --- in a real browser --------------------------------------------------------------------

PHONE = {"width": 390, "height": 844}
NARROW = {"width": 360, "height": 740}
LONG_NOTE = (
    "Called Alice back at 14:05; pain settled after ice and rest, advised to ring "
    "the clinic line if numbness returns or the pain climbs above 7 again tonight."
)


@dataclass
class Site:
    url: str
    cast: Cast
    engine: Any
    protocol_version_id: int


@pytest.fixture(scope="module")
def site(live_db_url: str) -> Iterator[Site]:
    engine = make_engine(live_db_url)
    with Session(engine, expire_on_commit=False) as session:
        cast = build_cast(session, datetime.now(UTC))
        # A resolved concern with a long note: the resolved list once wrapped a word a line.
        resolve(session=session, concern=cast.urgent, staff_id=cast.carl.id,
                now=datetime.now(UTC), note=LONG_NOTE, via="web")  # fmt: skip
        version_id = session.scalars(select(ProtocolVersion.id)
                                     .where(ProtocolVersion.clinic_id == cast.riverside.id)
                                     .order_by(ProtocolVersion.id)).first()  # fmt: skip
        session.commit()
    assert version_id is not None
    mp = pytest.MonkeyPatch()
    mp.setattr(concerns_page, "REFRESH_SECONDS", 1)  # the inbox story need not wait 20 s
    try:
        with live_server(create_app(web_settings(live_db_url))) as url:
            yield Site(url, cast, engine, version_id)
    finally:
        mp.undo()
        engine.dispose()


def _overflow(page: Any) -> int:
    """Pixels the page is wider than the screen. A phone browser widens ``innerWidth`` to fit
    an overflowing page, so the screen's own width is the yardstick."""
    width = page.viewport_size["width"]
    return int(page.evaluate("document.documentElement.scrollWidth")) - width


@pytest.mark.browser
@pytest.mark.postgres
def test_on_a_phone_nothing_scrolls_sideways_the_menu_folds_and_a_typed_note_survives(
    site: Site,
) -> None:
    from playwright.sync_api import expect

    with chromium() as browser:
        context = browser.new_context(base_url=site.url, viewport=NARROW, is_mobile=True,
                                      has_touch=True)  # fmt: skip
        context.set_default_timeout(10_000)
        page = context.new_page()

        page.goto("/signin")
        wide = {"/signin": _overflow(page)}
        page.get_by_label("Email").fill("dana@riverside.test")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/concerns")
        alice = site.cast.alice_id
        for path in ("/concerns", "/concerns/resolved", "/patients", f"/patients/{alice}",
                     "/enrol", "/protocols", f"/protocols/versions/{site.protocol_version_id}",
                     "/settings", "/staff", "/dashboard", "/audit", "/no-such-page"):  # fmt: skip
            page.goto(path)
            wide[path] = _overflow(page)
        assert {path: px for path, px in wide.items() if px > 0} == {}, "scrolls sideways"

        # A failed form: the summary at the top takes the focus and links to the field.
        page.goto("/enrol")
        page.get_by_label("First name").fill("Ben")
        page.get_by_label("Mobile phone").fill("555")
        page.get_by_role("button", name="Enrol and plan messages").click()
        summary = page.locator(".error-summary")
        expect(summary).to_be_focused()
        summary.get_by_role("link", name=re.compile("Mobile phone")).click()
        expect(page.get_by_label("Mobile phone")).to_be_focused()
        assert _overflow(page) <= 0

        # The header on a 390x844 phone: one short row; the rest behind Menu.
        page.set_viewport_size(PHONE)
        page.goto("/patients")
        header = page.locator("header.top")
        height = header.bounding_box()["height"]
        assert height < 0.15 * PHONE["height"], f"the header takes {height}px"
        quick = page.locator(".nav-quick")
        expect(quick.locator(".count-emergency")).to_be_visible()  # the emergency in sight
        staff_link = page.get_by_role("link", name="Staff")
        expect(staff_link).to_be_hidden()
        page.get_by_role("button", name="Menu").click()
        expect(staff_link).to_be_visible()
        page.keyboard.press("Escape")
        expect(staff_link).to_be_hidden()

        # Carl's half-typed note survives a refresh that brings a new concern.
        page.goto("/concerns")
        note = page.locator(f"#note-{site.cast.emergency.id}")
        note.click()
        page.keyboard.type("Called Alice, told her to")
        with Session(site.engine, expire_on_commit=False) as session:
            clinic = session.get(Clinic, site.cast.riverside.id)
            assert clinic is not None
            raised = open_concern(session=session, clinic=clinic, severity="urgent", kind="reply",
                                  summary="swelling at the injection site",
                                  now=datetime.now(UTC) - timedelta(seconds=1),
                                  patient_id=alice)  # fmt: skip
            session.commit()
        expect(page.locator(f"#concern-{raised.id}")).to_contain_text("swelling", timeout=5_000)
        expect(note).to_be_focused()
        page.keyboard.type(" call 911.")
        expect(note).to_have_value("Called Alice, told her to call 911.")

        # Cora resolves it from her desk meanwhile: Carl's note stays, and he is told.
        with Session(site.engine) as session:
            emergency = session.get(Concern, site.cast.emergency.id)
            assert emergency is not None
            resolve(session=session, concern=emergency, staff_id=site.cast.cora.id,
                    now=datetime.now(UTC), note="Called 911 for her", via="web")  # fmt: skip
            session.commit()
        card = page.locator(f"#concern-{site.cast.emergency.id}")
        expect(card.locator(".gone")).to_contain_text("resolved or closed by someone else")
        expect(note).to_have_value("Called Alice, told her to call 911.")
        expect(page.locator(f"#concern-{raised.id}")).to_be_visible()
        context.close()
