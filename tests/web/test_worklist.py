"""The worklist, as Cora the coordinator at Riverside Ortho uses it.

Alice answered her numbness check; Carol has not answered anything for two days (and
the no-response job opened a concern about her); Dan texted STOP yesterday; Eve's pain
is 9/10 and her urgent concern is open. Bob, at Lakeside, matches every filter and must
never appear. Each named view holds exactly the right people, every column sorts, the
dashboard's counts link to the filtered list, and a page costs the same number of SQL
statements for 5 patients as for 50.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select, update
from sqlalchemy.orm import Session

from reminders.clinics.models import Clinic
from reminders.conversations.concerns import open_concern
from reminders.conversations.models import Concern, InboundMessage
from reminders.db import make_engine
from reminders.delivery.models import SendAttempt
from reminders.enrollments.models import SENT, SKIPPED, Enrollment, ScheduledMessage
from reminders.enrollments.schemas import parse_enrollment
from reminders.enrollments.service import enroll
from reminders.patients import consent, worklist
from reminders.patients.models import Patient
from reminders.web.app import create_app
from reminders.web.pages.bars import stacked_columns, stacked_rows
from reminders.web.pages.dashboard import ANSWERS, SEVERITY_SERIES
from tests.conftest import alice_payload
from tests.web.conftest import PASSWORD, Cast, build_cast, sign_in, web_settings
from tests.web.live import chromium, live_server

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@dataclass
class Story:
    clinic: Clinic
    ids: dict[str, int]  # first name → patient id


def _enrol(session: Session, clinic: Clinic, name: str, mrn: str, phone: str, *,
           performed: datetime, email: str | None = None) -> Enrollment:  # fmt: skip
    payload = alice_payload()
    payload["patient"] = {**payload["patient"], "given_name": name,  # type: ignore[dict-item]
                          "external_id": mrn, "phone": phone, "email": email,
                          "conditions": []}  # fmt: skip
    payload["procedure"] = {**payload["procedure"],  # type: ignore[dict-item]
                            "performed_at": performed.isoformat()}  # fmt: skip
    payload["follow_up_at"] = (performed + timedelta(days=14)).isoformat()
    return enroll(parse_enrollment(payload), session=session, clinic=clinic, now=performed,
                  actor="test").enrollment  # fmt: skip


def _reply(session: Session, patient: Patient, enrollment_id: int, at: datetime, body: str,
           severity: str = "none", answers: int | None = None) -> InboundMessage:  # fmt: skip
    reply = InboundMessage(
        clinic_id=patient.clinic_id, patient_id=patient.id, enrollment_id=enrollment_id,
        answers_message_id=answers, channel="sms", provider_id=f"SM{uuid.uuid4().hex}",
        sender=patient.phone or "", body=body, kind="answer" if answers else "free",
        severity=severity, received_at=at,
    )  # fmt: skip
    session.add(reply)
    session.flush()
    return reply


def _play(session: Session, enrollment: Enrollment, until: datetime, *, answer: bool) -> None:
    """What the workers would have done by ``until``: every message due was sent, and
    every question answered ten minutes later (or never)."""
    patient = session.get_one(Patient, enrollment.patient_id)
    due = session.scalars(select(ScheduledMessage).where(
        ScheduledMessage.enrollment_id == enrollment.id, ScheduledMessage.due_at <= until,
    ).order_by(ScheduledMessage.due_at)).all()  # fmt: skip
    for message in due:
        message.status, message.sent_at = SENT, message.due_at
        if answer and message.expects:
            _reply(session, patient, enrollment.id, message.due_at + timedelta(minutes=10),
                   "yes", answers=message.id)  # fmt: skip
    session.flush()


def build_story(session: Session, cast: Cast, now: datetime) -> Story:
    clinic = cast.riverside
    # Alice's two concerns from the cast were dealt with; she answered her numbness check.
    session.execute(update(Concern).where(Concern.patient_id == cast.alice_id)
                    .values(status="resolved", resolved_at=now))  # fmt: skip
    alice = session.get_one(Patient, cast.alice_id)
    numbness = session.scalars(select(ScheduledMessage).where(
        ScheduledMessage.enrollment_id == cast.alice_enrollment_id,
        ScheduledMessage.step_key == "numbness_check")).one()  # fmt: skip
    numbness.status, numbness.sent_at = SENT, now - timedelta(hours=1)
    _reply(session, alice, cast.alice_enrollment_id, now - timedelta(minutes=50), "yes",
           answers=numbness.id)  # fmt: skip

    carol_e = _enrol(session, clinic, "Carol", "MRN-2002", "+13125550124",
                     performed=now - timedelta(days=3))  # fmt: skip
    _play(session, carol_e, now, answer=False)
    open_concern(session=session, clinic=clinic, severity="routine", kind="no_response",
                 summary="no answer to the numbness check", now=now - timedelta(days=2),
                 patient_id=carol_e.patient_id, enrollment_id=carol_e.id)  # fmt: skip

    dan_e = _enrol(session, clinic, "Dan", "MRN-3003", "+13125550125",
                   performed=now - timedelta(days=10), email="dan@example.org")  # fmt: skip
    _play(session, dan_e, now - timedelta(days=1), answer=True)
    dan = session.get_one(Patient, dan_e.patient_id)
    consent.revoke(session=session, patient=dan, channel="sms", now=now - timedelta(days=1),
                   via="patient_keyword", keyword="stop")  # fmt: skip

    eve_e = _enrol(session, clinic, "Eve", "MRN-4004", "+13125550126",
                   performed=now - timedelta(days=2))  # fmt: skip
    _play(session, eve_e, now - timedelta(hours=3), answer=True)
    eve = session.get_one(Patient, eve_e.patient_id)
    pain = _reply(session, eve, eve_e.id, now - timedelta(hours=2), "pain is 9 out of 10",
                  severity="urgent")  # fmt: skip
    open_concern(session=session, clinic=clinic, severity="urgent", kind="reply",
                 summary="pain 9/10", now=now - timedelta(hours=2), patient_id=eve.id,
                 enrollment_id=eve_e.id, inbound_id=pain.id)  # fmt: skip
    # Eve's number failed for good once; a message sent since got through: reachable.
    session.add_all([
        SendAttempt(clinic_id=clinic.id, channel="sms", provider="twilio", recipient=eve.phone,
                    status="failed", permanent=True, started_at=now - timedelta(days=1)),
        SendAttempt(clinic_id=clinic.id, channel="sms", provider="twilio", recipient=eve.phone,
                    status="delivered", started_at=now - timedelta(hours=3)),
    ])  # fmt: skip

    # Bob at Lakeside would be in every view, were it not for the clinic.
    bob_e = _enrol(session, cast.lakeside, "Bob", "MRN-9009", "+12125550177",
                   performed=now - timedelta(days=3))  # fmt: skip
    _play(session, bob_e, now, answer=False)
    bob = session.get_one(Patient, bob_e.patient_id)
    consent.revoke(session=session, patient=bob, channel="sms", now=now - timedelta(hours=5),
                   via="patient_keyword", keyword="stop")  # fmt: skip
    for kind, severity in (("no_response", "routine"), ("reply", "emergency")):
        open_concern(session=session, clinic=cast.lakeside, severity=severity, kind=kind,
                     summary="Bob", now=now, patient_id=bob.id, enrollment_id=bob_e.id)  # fmt: skip
    session.add(SendAttempt(clinic_id=cast.lakeside.id, channel="sms", provider="twilio",
                            recipient=bob.phone, status="failed", permanent=True))  # fmt: skip
    session.commit()
    ids = {"Alice": cast.alice_id, "Carol": carol_e.patient_id, "Dan": dan.id, "Eve": eve.id,
           "Bob": bob.id}  # fmt: skip
    return Story(clinic, ids)


@pytest.fixture
def story(session: Session, cast: Cast, clock: Any) -> Story:
    return build_story(session, cast, clock.now())


_ROW = re.compile(r'<td class="who" data-label="Patient"><a href="/patients/(\d+)">')


def names_on(page: str, story: Story) -> list[str]:
    by_id = {v: k for k, v in story.ids.items()}
    return [by_id[int(i)] for i in _ROW.findall(page)]


def test_each_named_view_holds_the_right_people_and_never_bob(
    client: TestClient, story: Story
) -> None:
    sign_in(client, "cora@riverside.test")
    everyone = client.get("/patients")
    assert everyone.status_code == 200
    assert sorted(names_on(everyone.text, story)) == ["Alice", "Carol", "Dan", "Eve"]
    expected = {
        "unanswered": ["Carol"], "opted_out": ["Dan"], "no_response": ["Carol"],
        "open": ["Eve", "Carol"], "urgent": ["Eve"], "enrolled": ["Eve", "Carol", "Alice"],
    }  # fmt: skip
    for named in worklist.NAMED:
        page = client.get(named.url).text
        assert names_on(page, story) == expected[named.key], named.label
        assert 'aria-current="true">' + named.label in page
    assert names_on(client.get("/patients", params={"q": "555-0124"}).text, story) == ["Carol"]
    for q in ("Bob", "MRN-9009", "555-0177"):
        found = client.get("/patients", params={"q": q}).text
        assert names_on(found, story) == [] and "No patient matches" in found, q


def test_the_row_says_where_each_patient_stands(client: TestClient, story: Story) -> None:
    sign_in(client, "carl@riverside.test")
    page = client.get("/patients", params={"sort": "name"}).text
    rows = dict(zip(names_on(page, story), page.split('<td class="who"')[1:], strict=True))
    assert "Corticosteroid hip injection" in rows["Carol"] and "day 3" in rows["Carol"]
    assert "<strong>4</strong> <span class=\"nowrap\">(oldest 2 d 20 h)" in rows["Carol"]
    assert "no response" in rows["Carol"] and "no reply yet" in rows["Carol"]
    assert "opted out of SMS 19 Nov" in rows["Dan"] and "no email" not in rows["Dan"]
    assert "pain is 9 out of 10" in rows["Eve"] and 'badge sev-urgent">urgent' in rows["Eve"]
    assert "undeliverable" not in rows["Eve"]  # a later send got through
    assert "Going-home advice" in rows["Alice"] and "Fri 20 Nov 14:10" in rows["Alice"]
    assert "Unanswered\"><span class=\"muted\">none" in rows["Alice"]  # she answered
    assert "no email" not in rows["Alice"] and "reachable" in rows["Alice"]


def test_every_column_sorts_and_a_second_click_reverses(client: TestClient, story: Story) -> None:
    sign_in(client, "cora@riverside.test")

    def order(sort: str) -> list[str]:
        return names_on(client.get("/patients", params={"sort": sort}).text, story)

    assert order("name") == ["Alice", "Carol", "Dan", "Eve"]
    assert order("-name") == ["Eve", "Dan", "Carol", "Alice"]
    assert order("day") == ["Alice", "Eve", "Carol", "Dan"]
    assert order("-day") == ["Dan", "Carol", "Eve", "Alice"]
    assert order("unanswered")[0] == "Carol"
    assert order("concern")[:2] == ["Eve", "Carol"]
    assert order("channel")[0] == "Dan"
    assert order("reply")[0] == "Alice"  # the newest reply
    assert order("enrolled")[-1] == "Dan"
    assert order("")[:2] == ["Eve", "Carol"]  # needs attention: worst concern first
    header = client.get("/patients", params={"sort": "day"}).text
    assert 'aria-sort="ascending">\n  <a href="/patients?sort=-day">' in header


def test_filters_combine_live_in_the_link_and_page(
    client: TestClient, story: Story, session: Session, cast: Cast, clock: Any
) -> None:
    sign_in(client, "cora@riverside.test")
    page = client.get("/patients", params={"concern": "open", "sort": "name"}).text
    assert names_on(page, story) == ["Carol", "Eve"]
    assert names_on(client.get("/patients?concern=open&reply=urgent").text, story) == ["Eve"]
    assert names_on(client.get("/patients?day=3-7&sort=name").text, story) == ["Carol"]
    assert names_on(client.get("/patients?channel=no_email&sort=name").text, story) == [
        "Carol", "Eve"]  # fmt: skip
    assert names_on(client.get("/patients?next=none").text, story) == []
    # Three a page: the second page holds the fourth patient, the links keep the view.
    second = worklist.Filters(sort="name", page=2)
    clinic_view = worklist.build(session=session, clinic=cast.riverside, now=clock.now(),
                                 filters=second, per_page=3)  # fmt: skip
    assert [r.given_name for r in clinic_view.rows] == ["Eve"]
    assert clinic_view.total == 4 and clinic_view.pages == 2
    assert worklist.Filters(concern="open", page=3).url(sort="-day") == (
        "/patients?concern=open&sort=-day")  # fmt: skip


def test_bad_filters_are_named_in_words_and_left_out(client: TestClient, story: Story) -> None:
    sign_in(client, "cora@riverside.test")
    response = client.get("/patients?concern=maybe&day=soon&sort=shoe+size&page=0&q=Carol")
    assert response.status_code == 400
    text = response.text
    for words in ("Open concern: “maybe” is not one of any open, urgent or worse",
                  "Day since procedure: “soon” is not a day", "Sort: “shoe size” is not a column",
                  "Page: “0” is not a page number"):  # fmt: skip
        assert words in text
    assert names_on(text, story) == ["Carol"]  # the search itself still applies
    filters, errors = worklist.parse({"day": "7-3", "unanswered": "1d", "reply": "\x00urgent"})
    assert filters.unanswered == "1d" and filters.reply == "urgent" and not filters.day
    assert errors == ["Day since procedure: “7-3” is not a day (write 3, 3-7 or 15+)."]


def test_a_dashboard_count_links_to_the_worklist_with_that_many_rows(
    client: TestClient, story: Story
) -> None:
    sign_in(client, "carl@riverside.test")
    board = client.get("/dashboard").text
    cards = re.findall(r'<a class="card[^"]*" href="(/patients\?[^"]+)">\s*'
                       r'<span class="card-n">(\d+)</span>', board)  # fmt: skip
    assert len(cards) == len(worklist.NAMED)
    for href, number in cards:
        listed = names_on(client.get(href.replace("&amp;", "&")).text, story)
        assert len(listed) == int(number), href
    assert ("/patients?unanswered=1d", "1") in cards
    assert "<svg" in board and "Numbness check" in board  # words, not keys
    assert "numbness_check" not in board


def test_bar_charts_say_their_numbers_in_words_and_escape_every_label() -> None:
    rows = stacked_rows(["Numbness <check>"], ANSWERS, [(3, 1)], title="Responses", ident="r")
    assert 'role="img" aria-labelledby="r-t r-d"' in rows and '<title id="r-t">Responses' in rows
    assert '<desc id="r-d">Numbness &lt;check&gt;: 3 answered, 1 unanswered</desc>' in rows
    assert "<title>Numbness &lt;check&gt;: 1 unanswered</title>" in rows and "<check>" not in rows
    days = stacked_columns(["Mon 30 Nov", "Tue 01 Dec"], SEVERITY_SERIES,
                           [[0, 0, 0, 0], [1, 2, 0, 0]], title="Concerns", ident="c",
                           ticks=["30 Nov", ""], summary="In 2 days: 3.")  # fmt: skip
    assert "In 2 days: 3. Tue 01 Dec: 1 emergency, 2 urgent, 0 routine, 0 no severity" in days
    assert days.count('<rect class="s-') == len(SEVERITY_SERIES) + 2  # the legend, two segments
    assert stacked_rows([], ANSWERS, [], title="x", ident="x") == ""


# -- statements per page ---------------------------------------------------------------


@contextmanager
def counting(session: Session) -> Iterator[list[str]]:
    statements: list[str] = []
    engine = session.get_bind().engine

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


def _crowd(session: Session, clinic: Clinic, now: datetime, start: int, count: int) -> None:
    for n in range(start, start + count):
        enrollment = _enrol(session, clinic, f"Pat{n:03d}", f"MRN-X{n:03d}",
                            f"+1312555{1000 + n:04d}",
                            performed=now - timedelta(days=n % 9))  # fmt: skip
        _play(session, enrollment, now, answer=n % 2 == 0)
        if n % 3 == 0:
            open_concern(session=session, clinic=clinic, severity="urgent", kind="reply",
                         summary="x", now=now, patient_id=enrollment.patient_id,
                         enrollment_id=enrollment.id)  # fmt: skip
    session.commit()


def test_a_page_costs_the_same_statements_for_5_patients_as_for_50(
    client: TestClient, session: Session, cast: Cast, clock: Any
) -> None:
    sign_in(client, "cora@riverside.test")
    now = clock.now()
    views = ("/patients", "/patients?sort=next&concern=open", "/dashboard")

    def cost() -> list[int]:
        out = []
        for view in views:
            with counting(session) as statements:
                assert client.get(view).status_code == 200
            out.append(len(statements))
        return out

    _crowd(session, cast.riverside, now, 0, 4)  # Alice and four more
    small = cost()
    _crowd(session, cast.riverside, now, 4, 45)
    assert cost() == small
    page = client.get("/patients?sort=name").text
    assert "Patients 1–50 of 50" in page and 'rel="next"' not in page
    session.execute(update(ScheduledMessage).where(ScheduledMessage.status == "pending")
                    .values(status=SKIPPED))  # fmt: skip
    assert "nothing scheduled" in client.get("/patients").text


# -- in a real browser -------------------------------------------------------------------


def _folder(variable: str) -> Path | None:
    where = os.environ.get(variable)
    if where:
        Path(where).mkdir(parents=True, exist_ok=True)
    return Path(where) if where else None


@pytest.mark.browser
@pytest.mark.postgres
def test_from_the_dashboard_the_unanswered_count_opens_the_worklist_with_carol(
    live_db_url: str,
) -> None:
    from playwright.sync_api import expect

    engine = make_engine(live_db_url)
    with Session(engine, expire_on_commit=False) as session:
        now = datetime.now(UTC)
        cast = build_cast(session, now)
        session.commit()
        build_story(session, cast, now)
    # The docs' pictures when the lead asks for them; a phone one for a human look.
    docs = _folder("AFTERCARE_SCREENSHOTS") or _folder("AFTERCARE_TEST_SCREENSHOTS")
    look = _folder("AFTERCARE_TEST_SCREENSHOTS")
    with live_server(create_app(web_settings(live_db_url))) as url, chromium() as browser:
        for viewport in (DESKTOP, PHONE):
            phone = viewport is PHONE
            context = browser.new_context(base_url=url, viewport=viewport, is_mobile=phone,
                                          has_touch=phone)  # fmt: skip
            context.set_default_timeout(10_000)
            page = context.new_page()
            page.goto("/signin")
            page.get_by_label("Email").fill("cora@riverside.test")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url("**/concerns")
            page.goto("/dashboard")
            expect(page.locator("svg.bars").first).to_be_visible()
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"], f"the dashboard scrolls sideways ({width}px)"
            if docs and not phone:
                page.screenshot(path=str(docs / "dashboard.png"), full_page=True)
            page.get_by_role("link", name=re.compile("Unanswered for more than a day")).click()
            page.wait_for_url("**/patients?unanswered=1d")
            rows = page.locator("table.worklist tbody tr")
            expect(rows).to_have_count(1)
            expect(rows.first).to_contain_text("Carol")
            expect(rows.first).to_contain_text("oldest 2 d")
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"], f"the worklist scrolls sideways ({width}px)"
            folder, name = (look, "worklist-phone.png") if phone else (docs, "worklist.png")
            if folder:
                page.goto("/patients")
                page.screenshot(path=str(folder / name), full_page=True)
            if phone:
                page.set_viewport_size({"width": 360, "height": 800})
                page.goto("/patients")
                width = page.evaluate("document.documentElement.scrollWidth")
                assert width <= 360, f"the worklist scrolls sideways at 360 px ({width}px)"
            context.close()
    engine.dispose()
