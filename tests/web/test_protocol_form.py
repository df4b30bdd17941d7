"""The protocol editor's form: Cora, Riverside's coordinator, edits a draft without YAML.

In-process (both backends): the form saves exactly what the YAML view would; a bad field
is refused with "Not saved", its problem beside it and everything typed kept; the advanced
YAML view reports a syntax error by line, in words; the buttons work without JavaScript.
In a real browser: Cora fixes a broken step, watches the preview, publishes; on a phone
the message box fits the screen and the protocol list fits 360 px.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders.audit.models import AuditEvent
from reminders.db import make_engine
from reminders.protocols import service as protocols
from reminders.protocols.models import ProtocolVersion
from reminders.web.app import create_app
from tests.web.conftest import PASSWORD, Cast, build_cast, sign_in, web_settings
from tests.web.live import chromium, live_server


class _FormFields(HTMLParser):
    """What a browser would post for ``form#protocol-editor`` (its controls, in order)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.items: list[tuple[str, str]] = []
        self._inside = 0  # depth inside the editor form
        self._template = 0  # inside <template>: inert, never posted
        self._select: tuple[str, list[tuple[str, bool]]] | None = None
        self._option: list[str] | None = None
        self._textarea: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "template":
            self._template += 1
        if tag == "form" and a.get("id") == "protocol-editor":
            self._inside = 1
            return
        if not self._inside or self._template:
            return
        name, live = a.get("name", ""), "disabled" not in a
        if tag == "input" and name and live:
            kind = a.get("type", "text")
            if kind == "checkbox":
                if "checked" in a:
                    self.items.append((name, a.get("value") or "on"))
            elif kind not in ("submit", "button"):
                self.items.append((name, a.get("value", "")))
        elif tag == "select" and name and live:
            self._select = (name, [])
        elif tag == "option" and self._select is not None:
            self._select[1].append((a.get("value", ""), "selected" in a))
        elif tag == "textarea" and name and live:
            self._textarea = (name, [])

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea[1].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "template":
            self._template -= 1
        elif tag == "form" and self._inside:
            self._inside = 0
        elif tag == "select" and self._select is not None:
            name, options = self._select
            chosen = [v for v, sel in options if sel] or [options[0][0] if options else ""]
            self.items.append((name, chosen[0]))
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            name, parts = self._textarea
            text = "".join(parts)
            self.items.append((name, text[1:] if text.startswith("\n") else text))
            self._textarea = None


def form_fields(page: str) -> list[tuple[str, str]]:
    parser = _FormFields()
    parser.feed(page)
    return parser.items


def replace(items: list[tuple[str, str]], name: str, value: str) -> list[tuple[str, str]]:
    assert any(n == name for n, _ in items), name
    return [(n, value if n == name else v) for n, v in items]


def uid_of(items: list[tuple[str, str]], key: str) -> str:
    uid = next(n.split("-")[1] for n, v in items if n.endswith("-key") and v == key)
    return uid


def post(client: TestClient, url: str, items: list[tuple[str, str]]) -> Any:
    body = "&".join(f"{_q(n)}={_q(v)}" for n, v in items)
    return client.post(url, content=body,
                       headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip


def _q(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def open_draft(client: TestClient, token: str, key: str = "prp") -> tuple[str, str]:
    created = client.post(f"/protocols/{key}/draft", data={"csrf_token": token})
    assert created.status_code == 303
    url = created.headers["location"].split("?")[0]
    return url, client.get(url).text


def stored_steps(session: Session, url: str) -> list[dict[str, Any]]:
    session.expire_all()
    version = session.get_one(ProtocolVersion, int(url.rsplit("/", 1)[1]))
    return list(version.steps)


def test_the_form_saves_exactly_what_the_yaml_view_would(
    client: TestClient, cast: Cast, session: Session
) -> None:
    token = sign_in(client, "cora@riverside.test")
    url, page = open_draft(client, token)
    before = stored_steps(session, url)
    items = form_fields(page)
    assert "Steps (YAML list" in page and "expects:" not in page.split('id="steps"')[0]

    # Untouched, the form stores every step exactly as it was (spellings included).
    assert post(client, url, [*items, ("action", "save")]).status_code == 303
    assert stored_steps(session, url) == before

    # Cora moves the soreness check to day 2 at 09:00, repeats it daily for 3 days and
    # sends it to diabetic patients only.
    uid = uid_of(items, "soreness_check")
    edited = replace(items, f"s-{uid}-when_kind", "day")
    edited = replace(edited, f"s-{uid}-when_day", "2")
    edited = replace(edited, f"s-{uid}-when_at", "09:00")
    edited = replace(edited, f"s-{uid}-repeat_kind", "daily")
    edited = replace(edited, f"s-{uid}-repeat_n", "3")
    edited = replace(edited, f"s-{uid}-cond_term", "has:diabetes")
    # The advanced view shows the same draft as YAML; saving that YAML stores the same.
    as_yaml = post(client, url, [*edited, ("action", "to_yaml")])
    assert as_yaml.status_code == 200 and 'name="steps"' in as_yaml.text
    yaml_items = form_fields(as_yaml.text)
    assert post(client, url, [*yaml_items, ("action", "save")]).status_code == 303
    via_yaml = stored_steps(session, url)
    assert post(client, url, [*edited, ("action", "save")]).status_code == 303
    via_form = stored_steps(session, url)
    assert via_form == via_yaml
    changed = next(s for s in via_form if s["key"] == "soreness_check")
    assert (changed["when"], changed["repeat"], changed["condition"]) == (
        "day 2 at 09:00", "daily for 3 days", "has:diabetes")  # fmt: skip
    assert [s for s in via_form if s["key"] != "soreness_check"] == [
        s for s in before if s["key"] != "soreness_check"]  # fmt: skip
    # Back to the form from YAML: the same fields again.
    back = post(client, url, [*yaml_items, ("action", "to_form")])
    assert dict(form_fields(back.text))[f"s-{uid}-when_day"] == "2"
    edits = session.scalars(select(AuditEvent).where(AuditEvent.action == "protocol.edit"))
    assert len(edits.all()) == 3


def test_a_bad_step_is_not_saved_and_every_typed_value_stays(
    client: TestClient, cast: Cast, session: Session
) -> None:
    token = sign_in(client, "cora@riverside.test")
    url, page = open_draft(client, token)
    before = stored_steps(session, url)
    items = form_fields(page)
    first = uid_of(items, before[0]["key"])
    items = replace(items, f"s-{first}-title", "Going home (renamed by Cora)")
    # A new question of the clinic's own: yes/no, but which answer is the worry is not
    # said; the Spanish text is empty; it expires before it would be sent.
    new = [("step", "n9"), ("s-n9-orig", "{}"), ("s-n9-title", "Evening insulin check"),
           ("s-n9-key", ""), ("s-n9-when_kind", "day"), ("s-n9-when_day", "0"),
           ("s-n9-when_at", "21:00"), ("s-n9-expects", "yes_no"), ("s-n9-concerning", ""),
           ("s-n9-expires", "-2 hours"), ("s-n9-channel", "sms"),
           ("s-n9-text_en", "Hi {{ first_name }}, did you take your insulin? Reply YES or NO"),
           ("s-n9-text_es", "  ")]  # fmt: skip
    refused = post(client, url, [*items, *new, ("action", "save")])
    assert refused.status_code == 422
    text = refused.text
    assert "Not saved." in text
    errors = dict(re.findall(r'<p class="field-error" id="s-n9-([a-z_]+)-err">([^<]*)</p>', text))
    assert "Say which answer means trouble" in errors["concerning"]
    assert errors["text_es"] == "Write the Spanish message."
    assert "expire before it is sent" in errors["expires"]
    assert 'aria-invalid="true"' in text and "Line " not in errors["expires"]
    # Everything typed is still there, the other step's edit included.
    kept = dict(form_fields(text))
    assert kept["s-n9-title"] == "Evening insulin check" and kept["s-n9-key"] == ""
    assert kept["s-n9-expires"] == "-2 hours" and kept["s-n9-when_at"] == "21:00"
    assert kept["s-n9-text_en"].startswith("Hi {{ first_name }}, did you take")
    assert kept[f"s-{first}-title"] == "Going home (renamed by Cora)"
    assert kept["s-n9-expects"] == "yes_no" and kept["s-n9-channel"] == "sms"
    # The preview's problem list links each problem to its field.
    assert 'href="#s-n9-concerning"' in text
    assert stored_steps(session, url) == before
    assert not session.scalars(select(AuditEvent).where(AuditEvent.action == "protocol.edit")
                               ).all()  # fmt: skip

    # Fixed as the messages say, it saves; the id comes from the title.
    fixed = replace(replace(replace(form_fields(text), "s-n9-concerning", "no"),
                            "s-n9-text_es", "¿Se puso la insulina? Responda SÍ o NO"),
                    "s-n9-expires", "3 hours")  # fmt: skip
    assert post(client, url, [*fixed, ("action", "save")]).status_code == 303
    saved = stored_steps(session, url)
    assert saved[-1] == {"key": "evening_insulin_check", "title": "Evening insulin check",
                         "when": "day 0 at 21:00", "channel": "sms", "expects": "yes_no",
                         "concerning_answer": "no", "expires": "3h"}  # fmt: skip
    assert saved[0]["title"] == "Going home (renamed by Cora)"


def test_yaml_with_a_syntax_error_reports_the_line_in_words(
    client: TestClient, cast: Cast, session: Session
) -> None:
    token = sign_in(client, "cora@riverside.test")
    url, _ = open_draft(client, token)
    before = stored_steps(session, url)
    broken = ("- key: discharge_summary\n  when: 0m\n  expires: 6h\n"
              "- key: oops\n  when: 4h\n    expires: 4h\n")  # fmt: skip
    yaml_view = [("csrf_token", token), ("editor", "yaml"), ("steps", broken)]
    refused = post(client, url, [*yaml_view, ("action", "save")])
    assert refused.status_code == 422 and "Not saved." in refused.text
    assert "Line 6: the indentation does not match the line above" in html.unescape(
        refused.text)  # fmt: skip
    assert html.unescape(refused.text).count(broken) == 1  # the text as typed, once
    assert stored_steps(session, url) == before
    # Switching back to the form is refused until the text reads as steps.
    stay = post(client, url, [*yaml_view, ("action", "to_form")])
    assert stay.status_code == 200 and 'name="steps"' in stay.text
    assert "fix the problems listed first" in stay.text
    colon = "- key: a_step\n  when: day 1 at 10:00\n  title: Note: bring ice\n  expires: 4h\n"
    words = html.unescape(post(client, url, [*yaml_view[:2], ("steps", colon),
                                             ("action", "preview")]).text)  # fmt: skip
    assert "Line 3: a colon (:) is in the wrong place" in words


def test_steps_are_added_moved_and_removed_without_javascript(
    client: TestClient, cast: Cast, session: Session
) -> None:
    token = sign_in(client, "cora@riverside.test")
    url, page = open_draft(client, token)
    items = form_fields(page)
    order = [v for n, v in items if n == "step"]
    added = post(client, url, [*items, ("action", "add")])
    grown = [v for n, v in form_fields(added.text) if n == "step"]
    assert added.status_code == 200 and grown[:-1] == order and len(grown) == len(order) + 1
    moved = post(client, url, [*items, ("action", f"up:{order[1]}")])
    assert [v for n, v in form_fields(moved.text) if n == "step"][:2] == [order[1], order[0]]
    removed = post(client, url, [*items, ("action", f"remove:{order[0]}")])
    assert [v for n, v in form_fields(removed.text) if n == "step"] == order[1:]
    # A long protocol (some 30 fields a step) still posts.
    many = [(f"s-m{i}-{name}", value) for i in range(30) for name, value in (
        ("orig", "{}"), ("key", f"extra_{i}"), ("when_kind", "after"), ("when_dur", "1 day"),
        ("expires", "4 hours"), ("text_en", "Hi"), ("text_es", "Hola"))]  # fmt: skip
    steps = [("step", f"m{i}") for i in range(30)]
    long = post(client, url, [*items, *steps, *many, ("action", "preview")])
    assert long.status_code == 200 and "extra_29" in long.text
    # None of that saved anything.
    session.expire_all()
    assert not session.scalars(select(AuditEvent).where(AuditEvent.action == "protocol.edit")
                               ).all()  # fmt: skip


# --- in a real browser -----------------------------------------------------------------


def _shots() -> Path | None:
    """The docs' screenshot folder when asked for (tests/conftest.py drops AFTERCARE_*
    settings but the AFTERCARE_TEST_ ones, so either name is read)."""
    where = os.environ.get("AFTERCARE_SCREENSHOTS") or os.environ.get("AFTERCARE_TEST_SCREENSHOTS")
    if not where:
        return None
    Path(where).mkdir(parents=True, exist_ok=True)
    return Path(where)


@pytest.fixture(scope="module")
def live(live_db_url: str) -> Iterator[str]:
    engine = make_engine(live_db_url)
    with Session(engine, expire_on_commit=False) as session:
        cast = build_cast(session, datetime.now(UTC))
        # Someone saved a clinic question in the advanced view without saying which
        # answer means trouble: the draft cannot be published until that is fixed.
        draft = protocols.create_draft(session=session, clinic_id=cast.riverside.id,
                                       key="hyaluronic_acid")  # fmt: skip
        protocols.update_draft(session=session, version=draft, steps=[*draft.steps, {
            "key": "ice_check", "title": "Ice check", "when": "day 1 at 18:00",
            "expects": "yes_no", "expires": "4h"}], templates={
            "ice_check.en": "Hi {{ first_name }}, did you ice your hip today? Reply YES or NO",
            "ice_check.es": ""})  # fmt: skip
        session.commit()
    with live_server(create_app(web_settings(live_db_url))) as url:
        yield url
    engine.dispose()


@pytest.mark.browser
@pytest.mark.postgres
def test_a_coordinator_fixes_a_broken_step_with_the_form_and_publishes(live: str) -> None:
    from playwright.sync_api import expect

    with chromium() as browser:
        context = browser.new_context(base_url=live, viewport={"width": 1366, "height": 900})
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.goto("/signin")
        page.get_by_label("Email").fill("cora@riverside.test")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/concerns")
        page.goto("/protocols")
        page.locator("form[action='/protocols/hyaluronic_acid/draft'] button").click()
        page.wait_for_url("**/protocols/versions/*")

        step = page.locator(".step-item", has_text="Ice check")
        preview = page.locator("#preview")
        expect(step.locator(".field-error").first).to_contain_text(
            "Say which answer means trouble")  # fmt: skip
        expect(preview.locator(".problems")).to_contain_text("Write the Spanish message")
        # The fields the chosen options do not use are out of the way.
        expect(step.get_by_label("How long")).to_be_hidden()

        step.get_by_label("Which answer means trouble").select_option("no")
        spanish = step.get_by_label("Message in Spanish")
        spanish.fill("Hola {{ first_name }}, ¿se puso hielo hoy? Responda SÍ o NO")
        expect(step.locator("output[id$='count-es']")).to_contain_text("UCS-2")
        expect(preview).to_contain_text("No problems found")
        expect(step.locator(".field-error")).to_have_count(0)
        # The preview follows the sample patient: an evening procedure in Spanish.
        page.get_by_label("Procedure time").fill("2026-03-02T19:30")
        page.get_by_label("Language").select_option("es")
        ice = preview.locator(".preview-item", has_text="Ice check")
        expect(ice).to_contain_text("Tue 03 Mar 18:00")
        expect(ice.locator("pre.msg")).to_contain_text("¿se puso hielo hoy?")
        if shots := _shots():
            step.evaluate("element => element.scrollIntoView()")
            page.screenshot(path=str(shots / "protocol-form.png"))

        page.get_by_role("button", name="Save draft").click()
        expect(page.get_by_role("status").first).to_contain_text("Saved.")
        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name=re.compile(r"^Publish v\d+$")).click()
        page.wait_for_url("**/protocols?notice=published")
        expect(page.get_by_role("status").first).to_contain_text("Published as a new version")

        # On a phone the message box is fully on screen, and the list fits 360 px.
        phone = browser.new_context(base_url=live, viewport={"width": 390, "height": 844},
                                    is_mobile=True, has_touch=True)  # fmt: skip
        phone.add_cookies(context.cookies())
        tab = phone.new_page()
        tab.goto("/protocols")
        tab.locator("form[action='/protocols/prp/draft'] button").click()
        tab.wait_for_url("**/protocols/versions/*")
        box = tab.locator("textarea[name$='-text_en']").first
        box.scroll_into_view_if_needed()
        bounds = box.bounding_box()
        assert bounds is not None and bounds["x"] >= 0 and bounds["x"] + bounds["width"] <= 390
        assert tab.evaluate("document.documentElement.scrollWidth") <= 390
        if shots := _shots():
            tab.screenshot(path=str(shots / "protocol-form-phone.png"))
        tab.set_viewport_size({"width": 360, "height": 740})
        tab.goto("/protocols")
        assert tab.evaluate("document.documentElement.scrollWidth") <= 360
        phone.close()
        context.close()
