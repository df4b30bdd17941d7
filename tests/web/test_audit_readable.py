"""People and fields by name (both backends). The audit log reads "Dana Admin viewed
Alice's timeline", never "staff 2 / patient 6"; its names come from the reader's clinic
only, and a longer page costs no more queries than a short one. An API error reads
"First name: required", not "patient.given_name: Field required"."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from reminders import audit
from tests.conftest import alice_payload
from tests.web.conftest import RIVERSIDE_KEY, Cast, bearer, csrf_of, sign_in


def _sentences(page: str) -> list[str]:
    cells = re.findall(r"<tr data-action=\"[^\"]*\">\s*<td>[^<]*</td>\s*<td>(.*?)</td>", page,
                       re.S)  # fmt: skip
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", "", c)).split()) for c in cells]


def test_the_audit_log_reads_in_sentences_with_names(client: TestClient, cast: Cast) -> None:
    sign_in(client, "carl@riverside.test")
    page = client.get(f"/concerns/{cast.emergency.id}").text
    client.post(f"/concerns/{cast.emergency.id}/acknowledge", data={"csrf_token": csrf_of(page)})
    client.cookies.clear()
    sign_in(client, "dana@riverside.test")
    client.get(f"/patients/{cast.alice_id}")

    log = client.get("/audit").text
    sentences = _sentences(log)
    assert "Dana Admin viewed Alice's timeline" in sentences
    assert "Carl Clinician acknowledged the concern about Alice" in sentences
    assert "Carl Clinician signed in" in sentences
    assert f'<a href="/patients/{cast.alice_id}">Alice</a>' in log
    assert 'title="dana@riverside.test"' in log  # two people may share a name
    assert not re.search(r"\b(?:staff|concern|patient) \d+\b", " ".join(sentences))
    assert "patient.view" not in client.get("/audit", params={"subject": "concern"}).text


def test_another_clinics_row_never_lends_its_name(
    client: TestClient, cast: Cast, session: Session
) -> None:
    # A Lakeside event that (wrongly) points at Alice's row id: Bob must not learn her name.
    audit.record(session=session, clinic_id=cast.lakeside.id, actor=f"staff:{cast.bob.id}",
                 staff_id=cast.bob.id, action="patient.view", subject_type="patient",
                 subject_id=cast.alice_id)  # fmt: skip
    audit.record(session=session, clinic_id=cast.lakeside.id, actor=f"staff:{cast.dana.id}",
                 action="concern.view", subject_type="concern",
                 subject_id=cast.emergency.id)  # fmt: skip
    session.commit()
    sign_in(client, "bob@lakeside.test")
    log = client.get("/audit").text
    assert "Alice" not in log and "Dana" not in log
    assert "Bob Lakeside viewed an unknown patient's timeline" in _sentences(log)


def test_a_longer_page_costs_no_more_queries(
    client: TestClient, cast: Cast, session: Session
) -> None:
    sign_in(client, "dana@riverside.test")
    engine = session.get_bind()

    def queries_for_the_log() -> int:
        seen: list[str] = []

        def count(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
            seen.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            client.get("/audit")
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(seen)

    short = queries_for_the_log()
    for _ in range(20):
        client.get(f"/patients/{cast.alice_id}")
        client.get(f"/concerns/{cast.urgent.id}")
    assert queries_for_the_log() == short


def test_api_errors_name_the_field_in_words(client: TestClient, cast: Cast) -> None:
    payload = alice_payload()
    del payload["patient"]["given_name"]  # type: ignore[attr-defined]
    payload["patient"]["phone"] = "12"  # type: ignore[index]
    payload["channel"] = "pigeon"
    response = client.post("/api/v1/enrollments", json=payload, headers=bearer(RIVERSIDE_KEY))
    assert response.status_code == 422
    detail = {tuple(d["loc"]): d for d in response.json()["detail"]}
    given = detail[("body", "patient", "given_name")]  # programs keep the path
    assert given["field"] == "First name" and given["msg"] == "First name: required"
    assert detail[("body", "patient", "phone")]["msg"].startswith("Mobile phone: ")
    assert detail[("body", "channel")]["msg"] == "Channel: must be one of 'sms' or 'email'"
    # A rule about two fields (pydantic puts it on the whole request) names the first.
    late = alice_payload(follow_up_at="2026-11-01T10:00:00-06:00")
    response = client.post("/api/v1/enrollments", json=late, headers=bearer(RIVERSIDE_KEY))
    assert [d["msg"] for d in response.json()["detail"]] == [
        "Follow-up visit: must be after injection time"
    ]
