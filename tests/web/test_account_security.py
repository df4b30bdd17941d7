"""Account security at Riverside Ortho, in-process on both backends: Dana changes her
password; Carl forgets his and resets it through a link that really arrives by SMTP (the
one delivery pipeline, a loopback mail server) and works once, for 30 minutes; Cora sets
up an authenticator and signs in with its codes; when the clinic requires one of admins,
Ada (a new admin) is held on the set-up page until she has one; everyone sees where they
are signed in and signs those sessions out; a periodic job clears what is dead. Bob at
Lakeside Spine touches none of it."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from email.message import EmailMessage

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reminders.audit.models import AuditEvent
from reminders.clock import SimulatedClock
from reminders.config import Settings
from reminders.conversations.outbound import build_channels, deliver_now
from reminders.delivery.models import SendAttempt
from reminders.delivery.send import SessionFactory
from reminders.enrollments.models import ScheduledMessage
from reminders.jobs import periodic_jobs
from reminders.staff import resets
from reminders.staff import service as staff_service
from reminders.staff.cleanup import JOB as CLEANUP
from reminders.staff.models import PasswordReset, StaffSession, StaffTotp
from reminders.web.auth import COOKIE
from reminders.web.pages.account import mail_kick
from tests.fakes import FakeSmtp
from tests.web.conftest import PASSWORD, SECRET, Cast, csrf_of, sign_in

NEW_PASSWORD = "a brand new correct horse"
PHONE = {"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) "
                       "AppleWebKit/605.1.15 Version/18.0 Mobile/15E148 Safari/604.1"}  # fmt: skip
DESKTOP = {"User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
                         "(KHTML, like Gecko) Chrome/131.0 Safari/537.36"}  # fmt: skip


def actions(session: Session, staff_id: int) -> list[str]:
    session.expire_all()
    query = select(AuditEvent.action).where(AuditEvent.subject_id == staff_id,
                                            AuditEvent.subject_type == "staff")  # fmt: skip
    return list(session.scalars(query.order_by(AuditEvent.id)))


def signed_in_as(client: TestClient, cookie: str | None) -> bool:
    client.cookies.set(COOKIE, cookie or "")
    return client.get("/account").status_code == 200


def password_works(client: TestClient, email: str, password: str) -> bool:
    client.cookies.clear()
    token = csrf_of(client.get("/signin").text)
    response = client.post("/signin", data={"email": email, "password": password,
                                            "csrf_token": token})  # fmt: skip
    return response.status_code == 303


# -- change password ---------------------------------------------------------------------


def test_dana_changes_her_password_and_her_other_sessions_end(
    client: TestClient, cast: Cast, session: Session
) -> None:
    sign_in(client, "dana@riverside.test")
    laptop = client.cookies.get(COOKIE)
    client.cookies.clear()
    token = sign_in(client, "dana@riverside.test")
    phone = client.cookies.get(COOKIE)

    def change(current: str, new: str, confirm: str | None = None) -> str:
        response = client.post("/account/password", data={
            "csrf_token": token, "current_password": current, "new_password": new,
            "confirm_password": new if confirm is None else confirm})  # fmt: skip
        assert response.status_code in (303, 422), response.text
        return response.text if response.status_code == 422 else response.headers["location"]

    wrong = change("guess guess guess", NEW_PASSWORD)
    assert "Current password is not your current password" in wrong
    assert "New password must be at least 12 characters" in change(PASSWORD, "short")
    assert "New password again does not match" in change(PASSWORD, NEW_PASSWORD, "something else!")
    assert change(PASSWORD, NEW_PASSWORD) == "/account?notice=password_changed"
    done = client.get("/account?notice=password_changed").text
    assert "Your other sessions are signed out" in done
    assert signed_in_as(client, phone), "the session that changed it stays"
    assert not signed_in_as(client, laptop), "every other session ended"
    assert not password_works(client, "dana@riverside.test", PASSWORD)
    assert password_works(client, "dana@riverside.test", NEW_PASSWORD)
    trail = actions(session, cast.dana.id)
    assert "account.password_change_failed" in trail and "account.password_changed" in trail


# -- reset by email ------------------------------------------------------------------------


@pytest.fixture
def smtp() -> Iterator[FakeSmtp]:
    with FakeSmtp() as server:
        yield server


@pytest.fixture
def send_mail(
    client: TestClient, session: Session, clock: SimulatedClock, smtp: FakeSmtp
) -> Callable[[], list[EmailMessage]]:
    """What the reset page queues, sent by the real pipeline to the loopback SMTP server.

    The test's writes are never committed (the rolled-back session), so the pipeline runs
    on that same session here rather than after a commit; the page's own kick is recorded.
    """
    kicked: list[str] = []
    client.app.dependency_overrides[mail_kick] = lambda: lambda: kicked.append("kick")  # type: ignore[attr-defined]
    url = str(session.get_bind().engine.url.render_as_string(hide_password=False))
    settings = Settings(
        database_url=url, secret_key=SECRET, environment="test", email_provider="smtp",
        smtp_url=smtp.url, sms_rate_per_second=0,
    )  # fmt: skip
    channels = build_channels(settings)

    @contextmanager
    def same_session() -> Iterator[Session]:
        yield session
        session.flush()

    def send() -> list[EmailMessage]:
        assert kicked, "the page asks for delivery after its commit"
        kicked.clear()
        deliver_now(sessions=same_session, channels=channels, settings=settings, clock=clock)
        return smtp.messages

    return send


def ask_for_link(client: TestClient, email: str) -> str:
    client.cookies.clear()
    token = csrf_of(client.get("/forgot").text)
    response = client.post("/forgot", data={"csrf_token": token, "email": email})
    assert response.status_code == 200, response.text
    return response.text.replace(token, "")


def link_in(mail: EmailMessage) -> str:
    body = mail.get_body(("plain",))
    assert body is not None
    found = re.search(r"https?://[^/\s]+(/reset\?token=[\w-]+)", body.get_content())
    assert found, "no reset link in the mail"
    return found.group(1)


def choose_password(client: TestClient, link: str, password: str,
                    confirm: str | None = None) -> int:  # fmt: skip
    page = client.get(link)
    if page.status_code != 200:
        return page.status_code
    token = link.split("token=", 1)[1]
    response = client.post("/reset", data={
        "csrf_token": csrf_of(page.text), "token": token, "new_password": password,
        "confirm_password": password if confirm is None else confirm})  # fmt: skip
    return response.status_code


def test_carl_resets_a_forgotten_password_through_an_emailed_link_that_works_once(
    client: TestClient, cast: Cast, session: Session, clock: SimulatedClock,
    send_mail: Callable[[], list[EmailMessage]],
) -> None:  # fmt: skip
    sign_in(client, "carl@riverside.test")
    old_session = client.cookies.get(COOKIE)
    answer = ask_for_link(client, "Carl@Riverside.test ")
    assert "If that address has an account here" in answer
    # Nobody can tell from the answer whether an address has an account.
    assert ask_for_link(client, "nobody@riverside.test") == answer
    [mail] = send_mail()
    assert mail["To"] == "carl@riverside.test"
    assert mail["Subject"] == "Reset your Aftercare password"
    link = link_in(mail)
    token = link.split("token=", 1)[1]
    # Through the pipeline: a message row, an attempt written before the SMTP call.
    message = session.scalars(select(ScheduledMessage).where(
        ScheduledMessage.step_key == resets.STEP_KEY)).one()  # fmt: skip
    assert (message.status, message.kind) == ("sent", "staff_text")
    assert message.recipient == "carl@riverside.test"
    assert session.scalars(select(SendAttempt).where(SendAttempt.message_id == message.id)).one()
    stored = session.scalars(select(PasswordReset)).one()
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()  # only its hash

    assert "Choose a new password" in client.get(link).text
    assert client.get(link).status_code == 200, "looking at the link does not spend it"
    assert choose_password(client, link, "too short") == 422
    assert choose_password(client, link, NEW_PASSWORD) == 303
    assert password_works(client, "carl@riverside.test", NEW_PASSWORD)
    assert not password_works(client, "carl@riverside.test", PASSWORD)
    assert not signed_in_as(client, old_session), "a reset signs every session out"
    # Used once: the link is dead, and its text has left the outbox.
    client.cookies.clear()
    dead = client.get(link)
    assert dead.status_code == 410 and "does not work any more" in dead.text
    assert choose_password(client, link, "yet another long password") == 410
    session.refresh(message)
    assert token not in (message.body or "") and message.body == resets.SCRUBBED

    # A second link, followed too late.
    ask_for_link(client, "carl@riverside.test")
    late = link_in(send_mail()[-1])
    clock.advance(timedelta(minutes=31))
    assert client.get(late).status_code == 410
    assert choose_password(client, late, "yet another long password") == 410
    assert password_works(client, "carl@riverside.test", NEW_PASSWORD)
    trail = actions(session, cast.carl.id)
    assert trail.count("account.password_reset_requested") == 2
    assert trail.count("account.password_reset") == 1


def test_reset_links_are_throttled_per_account_and_per_address(
    client: TestClient, cast: Cast, session: Session, send_mail: Callable[[], list[EmailMessage]]
) -> None:
    for _ in range(resets.PER_ACCOUNT + 2):
        assert "If that address has an account" in ask_for_link(client, "carl@riverside.test")
    sent = session.scalar(select(func.count()).select_from(PasswordReset)
                          .where(PasswordReset.staff_id == cast.carl.id))  # fmt: skip
    assert sent == resets.PER_ACCOUNT
    token = csrf_of(client.get("/forgot").text)
    codes = [client.post("/forgot", data={"csrf_token": token, "email": f"x{i}@x.test"}).status_code
             for i in range(10)]  # fmt: skip
    assert codes[-1] == 429, "one address cannot keep asking"


# -- authenticator ---------------------------------------------------------------------------


def secret_on(page: str) -> str:
    found = re.search(r'id="totp-secret"[^>]*>([A-Z2-7 ]+)<', page)
    assert found, "no set-up key on the page"
    return found.group(1).replace(" ", "")


def code_at(secret: str, when: datetime) -> str:
    return pyotp.TOTP(secret).at(when)


def set_up_totp(client: TestClient, clock: SimulatedClock, next_url: str = "/") -> str:
    page = client.get("/account/totp" + (f"?next={next_url}" if next_url != "/" else ""))
    assert page.status_code == 200, page.text
    secret = secret_on(page.text)
    assert "otpauth://totp/" in page.text
    wrong = client.post("/account/totp", data={"csrf_token": csrf_of(page.text), "next": next_url,
                                               "code": "000000", "action": "confirm"})  # fmt: skip
    assert wrong.status_code == 422 and "Code does not match" in wrong.text
    done = client.post("/account/totp", data={"csrf_token": csrf_of(page.text), "next": next_url,
                                              "code": code_at(secret, clock.now()),
                                              "action": "confirm"})  # fmt: skip
    assert done.status_code == 303, done.text
    return secret


def code_step(client: TestClient, code: str) -> int:
    form = client.get("/signin/code")
    assert form.status_code == 200 and 'autocomplete="one-time-code"' in form.text
    return client.post("/signin/code", data={"csrf_token": csrf_of(form.text),
                                             "code": code}).status_code  # fmt: skip


def test_cora_sets_up_an_authenticator_and_signs_in_with_its_codes(
    client: TestClient, cast: Cast, session: Session, clock: SimulatedClock
) -> None:
    sign_in(client, "cora@riverside.test")
    secret = set_up_totp(client, clock)
    assert "sign-in will ask for its code" in client.get("/account?notice=totp_on").text
    stored = session.get(StaffTotp, cast.cora.id)
    assert stored is not None and stored.confirmed_at is not None

    # The password alone is only half-way: no session yet, the code form next.
    client.cookies.clear()
    token = csrf_of(client.get("/signin").text)
    half = client.post("/signin", data={"email": "cora@riverside.test", "password": PASSWORD,
                                        "csrf_token": token})  # fmt: skip
    assert half.headers["location"] == "/signin/code"
    assert client.get("/concerns").status_code == 303
    assert code_step(client, "123 456") == 401
    used = code_at(secret, clock.now())
    assert code_step(client, used) == 401, "the code that confirmed set-up cannot sign in"
    clock.advance(timedelta(seconds=30))
    fresh = code_at(secret, clock.now())
    assert code_step(client, fresh) == 303
    assert client.get("/concerns").status_code == 200
    # That code is spent too, even within its 30 seconds.
    client.cookies.clear()
    assert password_works(client, "cora@riverside.test", PASSWORD)
    assert code_step(client, fresh) == 401
    trail = actions(session, cast.cora.id)
    assert "account.totp_enabled" in trail and trail.count("auth.totp_failed") == 3
    signed = session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.sign_in",
                                                      AuditEvent.subject_id == cast.cora.id)
                             .order_by(AuditEvent.id.desc())).first()  # fmt: skip
    assert signed is not None and signed.details == {"totp": True}

    # Wrong codes count towards the lockout, like wrong passwords (one failure so far).
    for _ in range(staff_service.MAX_FAILURES - 1):
        assert code_step(client, "000000") == 401
    assert "auth.locked" in actions(session, cast.cora.id)
    assert client.get("/signin/code").status_code == 303, "the half-way note is spent"
    assert not password_works(client, "cora@riverside.test", PASSWORD), "locked now"

    # Turned off (with her password), sign-in asks for the password only.
    clock.advance(timedelta(minutes=16))
    assert password_works(client, "cora@riverside.test", PASSWORD)
    assert code_step(client, code_at(secret, clock.now())) == 303
    token = csrf_of(client.get("/account").text)
    refused = client.post("/account/totp/off", data={"csrf_token": token, "password": "nope"})
    assert refused.status_code == 422 and "Your password is not your password" in refused.text
    off = client.post("/account/totp/off", data={"csrf_token": token, "password": PASSWORD})
    assert off.headers["location"] == "/account?notice=totp_off"
    client.cookies.clear()
    assert password_works(client, "cora@riverside.test", PASSWORD)
    assert client.get("/concerns").status_code == 200
    assert "account.totp_disabled" in actions(session, cast.cora.id)


def test_when_riverside_requires_it_an_admin_without_one_sets_it_up_before_anything_else(
    client: TestClient, cast: Cast, session: Session, clock: SimulatedClock
) -> None:
    token = sign_in(client, "dana@riverside.test")
    refused = client.post("/account/policy", data={"csrf_token": token, "require_admin_totp": "on"})
    assert refused.status_code == 422 and "set up your own authenticator first" in refused.text
    set_up_totp(client, clock)
    token = csrf_of(client.get("/account").text)
    on = client.post("/account/policy", data={"csrf_token": token, "require_admin_totp": "on"})
    assert on.status_code == 303
    session.refresh(cast.riverside)
    assert cast.riverside.require_admin_totp
    assert session.scalars(select(AuditEvent).where(AuditEvent.action == "clinic.settings")).one()
    assert "it stays on" in client.get("/account").text  # Dana cannot turn hers off
    staff_service.create_staff(
        session=session, clinic_id=cast.riverside.id, role="admin", email="ada@riverside.test",
        password=PASSWORD, name="Ada",
    )  # fmt: skip
    session.commit()

    # Ada, a new admin: signed in to the set-up page only.
    client.cookies.clear()
    token = csrf_of(client.get("/signin").text)
    signed = client.post("/signin", data={"email": "ada@riverside.test", "password": PASSWORD,
                                          "csrf_token": token, "next": "/concerns"})  # fmt: skip
    assert signed.headers["location"] == "/account/totp?next=%2Fconcerns"
    for path in ("/concerns", f"/patients/{cast.alice_id}", "/account", "/staff"):
        bounced = client.get(path)
        assert bounced.status_code == 303 and bounced.headers["location"].startswith("/signin")
        again = client.get(bounced.headers["location"])
        assert again.headers["location"].startswith("/account/totp")
    held = client.get("/account/totp?next=%2Fconcerns")
    assert "requires admins to sign in with an authenticator code" in held.text
    assert "breathing" not in held.text and 'href="/patients"' not in held.text
    set_up_totp(client, clock, next_url="/concerns")
    assert client.get("/concerns").status_code == 200
    # Carl (a clinician) and Bob (Lakeside's admin) were never asked.
    assert password_works(client, "carl@riverside.test", PASSWORD)
    assert client.get("/concerns").status_code == 200
    assert password_works(client, "bob@lakeside.test", PASSWORD)
    assert client.get("/concerns").status_code == 200


# -- sessions ----------------------------------------------------------------------------------


def test_carl_sees_where_he_is_signed_in_and_signs_those_sessions_out(
    client: TestClient, cast: Cast, session: Session, clock: SimulatedClock
) -> None:
    client.headers.update(PHONE)
    sign_in(client, "carl@riverside.test")
    phone = client.cookies.get(COOKIE)
    client.cookies.clear()
    clock.advance(timedelta(minutes=5))
    client.headers.update(DESKTOP)
    sign_in(client, "carl@riverside.test")
    desktop = client.cookies.get(COOKIE)
    page = client.get("/account").text
    assert "Safari on iPhone" in page and "Chrome on Windows" in page
    [this_device] = re.findall(r'<tr class="this-device">(.*?)</tr>', page, re.DOTALL)
    assert "Chrome on Windows" in this_device and "this device" in this_device
    phone_row = session.scalars(select(StaffSession).where(
        StaffSession.staff_id == cast.carl.id).order_by(StaffSession.id)).first()  # fmt: skip
    assert phone_row is not None

    # Bob at Lakeside cannot sign Carl's phone out: it is not his.
    client.cookies.clear()
    bob = sign_in(client, "bob@lakeside.test")
    assert client.post(f"/account/sessions/{phone_row.id}/revoke",
                       data={"csrf_token": bob}).status_code == 404  # fmt: skip
    assert signed_in_as(client, phone)

    client.cookies.set(COOKIE, desktop or "")
    token = csrf_of(client.get("/account").text)
    out = client.post(f"/account/sessions/{phone_row.id}/revoke", data={"csrf_token": token})
    assert out.headers["location"] == "/account?notice=revoked"
    assert not signed_in_as(client, phone), "the revoked cookie no longer works"
    assert signed_in_as(client, desktop)

    client.cookies.clear()
    sign_in(client, "carl@riverside.test")
    laptop = client.cookies.get(COOKIE)
    client.cookies.set(COOKIE, desktop or "")
    token = csrf_of(client.get("/account").text)
    assert client.post("/account/sessions/others", data={"csrf_token": token}).status_code == 303
    assert not signed_in_as(client, laptop)
    assert signed_in_as(client, desktop)
    trail = actions(session, cast.carl.id)
    assert "account.session_revoked" in trail and "account.sessions_revoked" in trail


# -- cleanup job -------------------------------------------------------------------------------


def test_the_cleanup_job_removes_dead_sessions_and_reset_links(
    session: Session, cast: Cast, clock: SimulatedClock
) -> None:
    assert CLEANUP in periodic_jobs()  # beat and the embedded runner both run it
    now = clock.now()

    def a_session(created: timedelta, revoked: bool = False) -> StaffSession:
        start = now - created
        row = StaffSession(
            token_hash=f"{created}{revoked}".ljust(64, "0")[:64], staff_id=cast.carl.id,
            clinic_id=cast.riverside.id, csrf_token="x", created_at=start, last_seen_at=start,
            expires_at=start + timedelta(hours=12), revoked_at=now if revoked else None,
        )  # fmt: skip
        session.add(row)
        return row

    live = a_session(timedelta(minutes=10))
    a_session(timedelta(hours=13))  # past its 12 hours
    a_session(timedelta(hours=3))  # idle for more than 2 hours
    a_session(timedelta(minutes=5), revoked=True)
    session.flush()
    for asked in (now - timedelta(hours=1), now):
        assert resets.request(session=session, email="carl@riverside.test", now=asked,
                              public_url="https://aftercare.example")  # fmt: skip
    expired, current = session.scalars(select(PasswordReset).order_by(PasswordReset.id)).all()
    old_mail = session.get_one(ScheduledMessage, expired.message_id)
    assert "token=" in (old_mail.body or "")

    @contextmanager
    def same_session() -> Iterator[Session]:
        yield session
        session.flush()

    factory: SessionFactory = same_session
    assert CLEANUP.run(factory, clock) >= 4  # three dead sessions, one dead link
    session.expire_all()
    carls = select(StaffSession.id).where(StaffSession.staff_id == cast.carl.id)
    assert session.scalars(carls).all() == [live.id]
    assert session.scalars(select(PasswordReset.id)).all() == [current.id]
    # The dead link's mail (never sent: its link died first) is cancelled and scrubbed.
    assert (old_mail.status, old_mail.body) == ("cancelled", resets.SCRUBBED)
    assert "token=" in (session.get_one(ScheduledMessage, current.message_id).body or "")
    assert CLEANUP.run(factory, clock) == 0


# -- a lost phone ------------------------------------------------------------------------------


def test_cora_loses_her_phone_and_dana_removes_her_authenticator_from_the_staff_page(
    client: TestClient, cast: Cast, session: Session, clock: SimulatedClock
) -> None:
    sign_in(client, "cora@riverside.test")
    set_up_totp(client, clock)
    lost_phone = client.cookies.get(COOKIE)  # still signed in, somewhere in a taxi
    remove = f"/staff/{cast.cora.id}/totp/remove"

    # Carl cannot do it, nor can Bob at Lakeside, nor a form without the page's token.
    client.cookies.clear()
    carl = sign_in(client, "carl@riverside.test")
    assert client.post(remove, data={"csrf_token": carl}).status_code == 403
    client.cookies.clear()
    bob = sign_in(client, "bob@lakeside.test")
    assert client.post(remove, data={"csrf_token": bob}).status_code == 404
    client.cookies.clear()
    sign_in(client, "dana@riverside.test")
    page = client.get("/staff").text
    assert page.count('<span class="pill">authenticator app</span>') == 1
    assert "Remove authenticator<span class=\"visually-hidden\"> of Cora Coordinator" in page
    assert client.post(remove, data={}).status_code == 403
    assert session.get(StaffTotp, cast.cora.id) is not None

    removed = client.post(remove, data={"csrf_token": csrf_of(page)})
    assert removed.headers["location"] == "/staff?notice=totp_removed"
    assert "Authenticator removed" in client.get(removed.headers["location"]).text
    session.expire_all()
    assert session.get(StaffTotp, cast.cora.id) is None
    assert not signed_in_as(client, lost_phone), "the lost phone is signed out too"
    [event] = session.scalars(select(AuditEvent).where(
        AuditEvent.action == "account.totp_disabled"))  # fmt: skip
    assert (event.staff_id, event.subject_id) == (cast.dana.id, cast.cora.id)
    client.cookies.clear()
    sign_in(client, "dana@riverside.test")
    row = re.search(r'<tr[^>]*data-action="account.totp_disabled".*?</tr>',
                    client.get("/audit").text, re.DOTALL)  # fmt: skip
    assert row and "Dana Admin</strong> turned off two-step sign-in for Cora Coordinator" in (
        row.group(0))  # fmt: skip
    again = client.post(remove, data={"csrf_token": csrf_of(client.get("/staff").text)})
    assert again.status_code == 422 and "Cora Coordinator has no authenticator" in again.text
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "account.totp_disabled")) == 1  # fmt: skip

    # Her password alone signs her in now (she can set up her new phone).
    client.cookies.clear()
    assert password_works(client, "cora@riverside.test", PASSWORD)
    assert client.get("/concerns").status_code == 200
