"""Security of the staff pages: tenancy, CSRF, session fixation, lockout and throttling,
cookie flags, roles, redirects and headers."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders.audit.models import AuditEvent
from reminders.clock import SimulatedClock
from reminders.conversations.models import Concern
from reminders.protocols.models import ProtocolVersion
from reminders.staff.service import MAX_FAILURES
from reminders.web.auth import COOKIE
from tests.web.conftest import PASSWORD, Cast, csrf_of, sign_in


def test_bob_at_lakeside_cannot_see_or_touch_alice_at_riverside(
    client: TestClient, cast: Cast, session: Session
) -> None:
    token = sign_in(client, "bob@lakeside.test")
    page = client.get(f"/patients/{cast.alice_id}")
    assert page.status_code == 404 and "Alice" not in page.text
    # Exactly the page a record that never existed gets: existence does not leak.
    assert client.get("/patients/999999").text == page.text
    found = client.get("/patients", params={"q": "Alice"}).text
    assert f"/patients/{cast.alice_id}" not in found and "No patient matches" in found
    assert "throat" not in client.get("/concerns").text
    ack = client.post(f"/concerns/{cast.emergency.id}/acknowledge", data={"csrf_token": token})
    assert ack.status_code == 404
    cancel = client.post(f"/enrollments/{cast.alice_enrollment_id}/cancel",
                         data={"csrf_token": token})  # fmt: skip
    assert cancel.status_code == 404
    riverside_protocol = session.scalars(select(ProtocolVersion).where(
        ProtocolVersion.clinic_id == cast.riverside.id)).first()  # fmt: skip
    assert riverside_protocol is not None
    assert client.get(f"/protocols/versions/{riverside_protocol.id}").status_code == 404
    session.expire_all()
    assert session.get(Concern, cast.emergency.id).status == "open"  # type: ignore[union-attr]


def test_a_post_without_or_with_a_wrong_csrf_token_is_refused(
    client: TestClient, cast: Cast, session: Session
) -> None:
    token = sign_in(client, "carl@riverside.test")
    url = f"/concerns/{cast.emergency.id}/acknowledge"
    assert client.post(url, data={}).status_code == 403
    assert client.post(url, data={"csrf_token": token[:-2] + "xx"}).status_code == 403
    cross = client.post(url, data={"csrf_token": token},
                        headers={"Origin": "https://evil.example"})  # fmt: skip
    assert cross.status_code == 403
    session.expire_all()
    assert session.get(Concern, cast.emergency.id).status == "open"  # type: ignore[union-attr]
    assert client.post(url, data={"csrf_token": token}).status_code == 303


def test_another_sessions_token_does_not_work(client: TestClient, cast: Cast) -> None:
    other = sign_in(client, "carl@riverside.test")
    client.cookies.clear()
    sign_in(client, "dana@riverside.test")
    response = client.post(f"/concerns/{cast.emergency.id}/acknowledge",
                           data={"csrf_token": other})  # fmt: skip
    assert response.status_code == 403


def test_the_sign_in_form_itself_needs_its_csrf_token(client: TestClient, cast: Cast) -> None:
    client.get("/signin")
    response = client.post("/signin", data={"email": "dana@riverside.test",
                                            "password": PASSWORD})  # fmt: skip
    assert response.status_code == 403 and COOKIE not in response.cookies


def test_session_id_changes_at_sign_in_and_a_planted_cookie_stays_anonymous(
    client: TestClient, cast: Cast
) -> None:
    form = client.get("/signin")
    planted = client.cookies.get(COOKIE)
    assert planted
    signed_in = client.post("/signin", data={"email": "dana@riverside.test", "password": PASSWORD,
                                             "csrf_token": csrf_of(form.text)})  # fmt: skip
    assert signed_in.status_code == 303
    session_cookie = client.cookies.get(COOKIE)
    assert session_cookie and session_cookie != planted
    assert client.get("/concerns").status_code == 200
    # The pre-sign-in cookie (say, one an attacker planted) never became a session.
    client.cookies.set(COOKIE, planted)
    assert client.get("/concerns").status_code == 303


def test_sign_out_ends_the_session_server_side(client: TestClient, cast: Cast) -> None:
    token = sign_in(client, "dana@riverside.test")
    cookie = client.cookies.get(COOKIE)
    assert client.post("/signout", data={"csrf_token": token}).status_code == 303
    client.cookies.set(COOKIE, cookie or "")
    assert client.get("/concerns").status_code == 303


def test_lockout_after_repeated_failures_then_unlocks_after_the_window(
    client: TestClient, cast: Cast, clock: SimulatedClock, session: Session
) -> None:
    def attempt(password: str) -> int:
        token = csrf_of(client.get("/signin").text)
        return client.post("/signin", data={"email": "carl@riverside.test", "password": password,
                                            "csrf_token": token}).status_code  # fmt: skip

    for _ in range(MAX_FAILURES):
        assert attempt("wrong password!!") == 401
    locked = attempt(PASSWORD)
    assert locked == 401, "the right password must not work during the lockout"
    events = [e.action for e in session.scalars(select(AuditEvent).where(
        AuditEvent.subject_type == "staff", AuditEvent.subject_id == cast.carl.id))]  # fmt: skip
    assert "auth.locked" in events
    clock.advance(timedelta(minutes=16))
    assert attempt(PASSWORD) == 303


def test_one_address_spraying_many_accounts_is_throttled(client: TestClient, cast: Cast) -> None:
    token = csrf_of(client.get("/signin").text)
    codes = [client.post("/signin", data={"email": f"nobody{i}@x.test", "password": "nope",
                                          "csrf_token": token}).status_code
             for i in range(21)]  # fmt: skip
    assert codes[:20] == [401] * 20 and codes[20] == 429


def test_cookie_flags_and_secure_over_https(client: TestClient, cast: Cast) -> None:
    response = client.get("/signin")
    header = response.headers["set-cookie"].lower()
    assert "httponly" in header and "samesite=lax" in header and "secure" not in header
    client.cookies.clear()
    secure = client.get("https://testserver/signin").headers["set-cookie"].lower()
    assert "secure" in secure


def test_roles_limit_what_each_person_can_open(client: TestClient, cast: Cast) -> None:
    token = sign_in(client, "carl@riverside.test")  # clinician
    assert client.get("/concerns").status_code == 200
    assert client.get(f"/patients/{cast.alice_id}").status_code == 200
    for path in ("/enrol", "/settings", "/staff", "/audit"):
        assert client.get(path).status_code == 403, path
    assert client.post("/settings", data={"csrf_token": token}).status_code == 403
    client.cookies.clear()
    sign_in(client, "cora@riverside.test")  # coordinator
    assert client.get("/enrol").status_code == 200
    assert client.get("/settings").status_code == 403


def test_pages_need_sign_in_and_next_is_never_off_site(client: TestClient, cast: Cast) -> None:
    response = client.get("/patients?q=x")
    assert response.status_code == 303
    assert response.headers["location"] == "/signin?next=%2Fpatients%3Fq%3Dx"
    token = csrf_of(client.get("/signin").text)
    form = {"email": "dana@riverside.test", "password": PASSWORD, "csrf_token": token,
            "next": "//evil.example/x"}
    evil = client.post("/signin", data=form)
    assert evil.headers["location"] == "/"


def test_pages_carry_protective_headers(client: TestClient, cast: Cast) -> None:
    sign_in(client, "dana@riverside.test")
    headers = client.get("/concerns").headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["cache-control"] == "no-store"
    assert headers["x-content-type-options"] == "nosniff"


def test_odd_input_is_refused_politely_never_a_500(client: TestClient, cast: Cast) -> None:
    token = csrf_of(client.get("/signin").text)
    odd = client.post("/signin", data={"email": "da\x00na@riverside.test", "password": "x\x00",
                                       "csrf_token": token})  # fmt: skip
    assert odd.status_code == 401
    token = sign_in(client, "dana@riverside.test")
    assert client.get("/patients", params={"q": "al\x00ice%_"}).status_code == 200
    assert client.get("/patients/99999999999").status_code == 422
    assert client.get("/audit", params={"subject": "pa\x00tient"}).status_code == 422
    assert client.post("/protocols/pr%00p/draft", data={"csrf_token": token}).status_code == 422
    assert client.post("/concerns/0/acknowledge", data={"csrf_token": token}).status_code == 422
    steps = client.post("/protocols/versions/1/preview", data={
        "csrf_token": token, "steps": "- key: a\x00b\n  expires: 99999999999999d\n"})  # fmt: skip
    assert steps.status_code in (200, 404)
