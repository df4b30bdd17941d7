"""Sign in and out. Failures are counted per account (lockout) and per address (throttle),
and every answer to a failed attempt is the same, so the page does not reveal which
emails have accounts.

With an authenticator set up, the right password leads to a second form for the code
(``/signin/code``); until then the browser holds no session, only a signed note in its
pre-sign-in cookie naming the account, valid for ``CODE_WINDOW``. Wrong codes count
towards the same lockout as wrong passwords. An admin whose clinic requires an
authenticator and who has none is signed in to one page only: setting it up.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from reminders.clinics.models import Clinic, StaffMember
from reminders.config import Settings
from reminders.staff import service as staff_service
from reminders.staff import sessions, totp
from reminders.staff.sessions import Viewer
from reminders.web.auth import (
    NotSignedIn,
    anonymous_csrf,
    check_csrf,
    clear_cookie,
    client_ip,
    read_cookie,
    safe_next,
    throttle,
    write_cookie,
)
from reminders.web.deps import ClockDep, SessionDep, SettingsDep
from reminders.web.pages.common import NOTICES, SECURITY_HEADERS, TEMPLATES, redirect

router = APIRouter()
FAILED = (f"Email or password is incorrect. After {staff_service.MAX_FAILURES} failed attempts "
          f"an account is locked for {int(staff_service.LOCK_FOR.total_seconds() // 60)} "
          "minutes.")  # fmt: skip
WRONG_CODE = ("That code is not right, or was already used. Type the 6 digits your "
              "authenticator app shows now.")  # fmt: skip
CODE_WINDOW = timedelta(minutes=5)
TOTP_SETUP = "/account/totp"
# Notices of the signed-out pages (codes in the redirect, never free text).
SIGNED_OUT_NOTICES = NOTICES | {
    "password_reset": "Your password is changed and every session signed out. Sign in with "
    "the new password.",
    "code_expired": "That took too long; please sign in again.",
}


def anonymous_page(
    request: Request, settings: Settings, template: str, context: dict[str, Any],
    status_code: int = 200,
) -> HTMLResponse:  # fmt: skip
    """A page for someone not signed in, with the pre-sign-in CSRF token (set if new)."""
    token, fresh = anonymous_csrf(request, settings)
    notice = SIGNED_OUT_NOTICES.get(request.query_params.get("notice", ""))
    response = TEMPLATES.TemplateResponse(request, template,
                                          {"csrf_token": token, "notice": notice} | context,
                                          status_code=status_code)  # fmt: skip
    response.headers.update(SECURITY_HEADERS)
    if fresh:
        write_cookie(request, response, settings, {"csrf": token})
    return response


def _form_page(
    request: Request,
    settings: Settings,
    *,
    error: str | None = None,
    email: str = "",
    next_url: str = "/",
    status_code: int = 200,
) -> HTMLResponse:
    return anonymous_page(request, settings, "signin.html",
                          {"error": error, "email": email, "next": next_url, "step": "password"},
                          status_code)  # fmt: skip


def setup_viewer(request: Request, session: SessionDep, clock: ClockDep,
                 settings: SettingsDep) -> Viewer | None:  # fmt: skip
    """The signed-in viewer, including an admin held on the authenticator set-up page."""
    token = read_cookie(request, settings).get("sid")
    if not token:
        return None
    return sessions.resolve(session=session, token=token, now=clock.now(), setup_ok=True)


SetupViewer = Annotated[Viewer | None, Depends(setup_viewer)]


def _after_sign_in(must_set_up_totp: bool, next_url: str) -> str:
    if must_set_up_totp:
        return TOTP_SETUP + (f"?next={quote(next_url, safe='')}" if next_url != "/" else "")
    return next_url


@router.get("/signin", response_class=HTMLResponse)
def signin_form(
    request: Request, settings: SettingsDep, viewer: SetupViewer, next: str = "/"
) -> Response:
    if viewer is not None:
        # Signed in already, or held on the set-up page (every other page sends them here).
        return redirect(_after_sign_in(viewer.must_set_up_totp, safe_next(next)))
    return _form_page(request, settings, next_url=safe_next(next))


def _password_mark(member: StaffMember) -> str:
    """Ties a half-finished sign-in to the password it was made with: changed since, void."""
    return hashlib.sha256((member.password_hash or "").encode()).hexdigest()[:16]


def _start_session(
    request: Request, session: SessionDep, settings: Settings, now: datetime,
    member: StaffMember, next_url: str, second_factor: bool,
) -> Response:  # fmt: skip
    # A brand-new session id at sign-in: whatever cookie came in is never promoted.
    token = sessions.start(
        session=session, staff=member, now=now, ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
        replaces=read_cookie(request, settings).get("sid"), second_factor=second_factor,
    )  # fmt: skip
    clinic = session.get_one(Clinic, member.clinic_id)
    held = totp.must_set_up(session=session, staff=member, clinic=clinic)
    response = redirect(_after_sign_in(held, next_url))
    write_cookie(request, response, settings, {"sid": token})
    return response


def _throttled(request: Request, now: datetime) -> None:
    ip, limiter = client_ip(request), throttle(request)
    if limiter.blocked(ip, now):
        wait = limiter.retry_after(ip, now)
        raise HTTPException(429, f"too many failed sign-ins from this address; wait {wait} s",
                            headers={"Retry-After": str(wait)})  # fmt: skip


@router.post("/signin", response_class=HTMLResponse)
async def signin(
    request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> Response:
    form = await request.form(max_files=0, max_fields=10)
    cookie = read_cookie(request, settings)
    expected = cookie.get("csrf")
    if not expected:
        # No pre-sign-in cookie at all (expired, or cookies blocked): a fresh form, not a 403.
        return _form_page(request, settings, error="Your session expired; please try again.",
                          status_code=403)  # fmt: skip
    check_csrf(request, form, expected)
    email = str(form.get("email") or "")[:200]
    password = str(form.get("password") or "")[:1000]
    next_url = safe_next(str(form.get("next") or "/"))
    now = clock.now()
    _throttled(request, now)
    result = staff_service.authenticate(session=session, email=email, password=password, now=now)
    if result.staff is None:
        throttle(request).failed(client_ip(request), now)
        return _form_page(request, settings, error=FAILED, email=email, next_url=next_url,
                          status_code=401)  # fmt: skip
    if result.needs_code:
        response = redirect("/signin/code")
        until = str(int((now + CODE_WINDOW).timestamp()))
        write_cookie(request, response, settings,
                     {"csrf": expected, "mfa": str(result.staff.id), "mfa_until": until,
                      "mfa_pw": _password_mark(result.staff), "next": next_url})  # fmt: skip
        return response
    return _start_session(request, session, settings, now, result.staff, next_url, False)


def _half_signed_in(request: Request, session: SessionDep, settings: Settings,
                    now: datetime) -> tuple[StaffMember, dict[str, str]] | None:  # fmt: skip
    """The account whose password was right a moment ago in this browser, if still fresh."""
    cookie = read_cookie(request, settings)
    staff_id, until = cookie.get("mfa", ""), cookie.get("mfa_until", "")
    if not staff_id.isdigit() or not until.isdigit() or int(until) < now.timestamp():
        return None
    member = session.get(StaffMember, int(staff_id))
    if member is None or not member.is_active or cookie.get("mfa_pw") != _password_mark(member):
        return None
    return member, cookie


def _code_page(request: Request, settings: Settings, next_url: str, error: str | None = None,
               status_code: int = 200) -> HTMLResponse:  # fmt: skip
    return anonymous_page(request, settings, "signin.html",
                          {"step": "code", "error": error, "next": next_url},
                          status_code)  # fmt: skip


@router.get("/signin/code", response_class=HTMLResponse)
def code_form(request: Request, session: SessionDep, clock: ClockDep,
              settings: SettingsDep) -> Response:  # fmt: skip
    found = _half_signed_in(request, session, settings, clock.now())
    if found is None:
        return redirect("/signin", "code_expired")
    return _code_page(request, settings, safe_next(found[1].get("next")))


@router.post("/signin/code", response_class=HTMLResponse)
async def code_signin(
    request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> Response:
    form = await request.form(max_files=0, max_fields=10)
    expected = read_cookie(request, settings).get("csrf")
    if not expected:
        return redirect("/signin", "code_expired")
    check_csrf(request, form, expected)
    now = clock.now()
    _throttled(request, now)
    found = _half_signed_in(request, session, settings, now)
    if found is None:
        return redirect("/signin", "code_expired")
    member, cookie = found
    next_url = safe_next(cookie.get("next"))
    code = str(form.get("code") or "")[:20]
    result = staff_service.check_code(session=session, member=member, code=code, now=now)
    if result.staff is None:
        throttle(request).failed(client_ip(request), now)
        if result.locked or staff_service.is_locked(member, now):
            response = _form_page(request, settings, error=FAILED, status_code=401)
            write_cookie(request, response, settings, {"csrf": expected})  # the note is spent
            return response
        return _code_page(request, settings, next_url, WRONG_CODE, 401)
    return _start_session(request, session, settings, now, result.staff, next_url, True)


@router.post("/signout")
async def signout(
    request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep,
    viewer: SetupViewer,
) -> Response:  # fmt: skip
    if viewer is None:
        raise NotSignedIn(request)
    form = await request.form(max_files=0, max_fields=10)
    check_csrf(request, form, viewer.csrf_token)
    token = read_cookie(request, settings).get("sid")
    if token:
        sessions.end(session=session, token=token, now=clock.now())
    response = redirect("/signin", "signed_out")
    clear_cookie(request, response)
    return response
