"""Sign in and out. Failures are counted per account (lockout) and per address (throttle),
and every answer to a failed attempt is the same, so the page does not reveal which
emails have accounts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from reminders.config import Settings
from reminders.staff import service as staff_service
from reminders.staff import sessions
from reminders.staff.sessions import Viewer
from reminders.web.auth import (
    CurrentViewer,
    anonymous_csrf,
    check_csrf,
    clear_cookie,
    client_ip,
    optional_viewer,
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


def _form_page(
    request: Request,
    settings: Settings,
    *,
    error: str | None = None,
    email: str = "",
    next_url: str = "/",
    status_code: int = 200,
) -> HTMLResponse:
    token, fresh = anonymous_csrf(request, settings)
    notice = NOTICES.get(request.query_params.get("notice", ""))
    response = TEMPLATES.TemplateResponse(
        request, "signin.html",
        {"csrf_token": token, "error": error, "email": email, "next": next_url,
         "notice": notice},
        status_code=status_code,
    )  # fmt: skip
    response.headers.update(SECURITY_HEADERS)
    if fresh:
        write_cookie(request, response, settings, {"csrf": token})
    return response


@router.get("/signin", response_class=HTMLResponse)
def signin_form(
    request: Request,
    settings: SettingsDep,
    viewer: Annotated[Viewer | None, Depends(optional_viewer)],
    next: str = "/",
) -> Response:
    if viewer is not None:
        return redirect(safe_next(next))
    return _form_page(request, settings, next_url=safe_next(next))


@router.post("/signin", response_class=HTMLResponse)
async def signin(
    request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> Response:
    form = await request.form(max_files=0, max_fields=10)
    expected = read_cookie(request, settings).get("csrf")
    if not expected:
        # No pre-sign-in cookie at all (expired, or cookies blocked): a fresh form, not a 403.
        return _form_page(request, settings, error="Your session expired; please try again.",
                          status_code=403)  # fmt: skip
    check_csrf(request, form, expected)
    email = str(form.get("email") or "")[:200]
    password = str(form.get("password") or "")[:1000]
    next_url = safe_next(str(form.get("next") or "/"))
    now, ip, limiter = clock.now(), client_ip(request), throttle(request)
    if limiter.blocked(ip, now):
        wait = limiter.retry_after(ip, now)
        raise HTTPException(429, f"too many failed sign-ins from this address; wait {wait} s",
                            headers={"Retry-After": str(wait)})  # fmt: skip
    result = staff_service.authenticate(session=session, email=email, password=password, now=now)
    if result.staff is None:
        limiter.failed(ip, now)
        return _form_page(request, settings, error=FAILED, email=email, next_url=next_url,
                          status_code=401)  # fmt: skip
    # A brand-new session id at sign-in: whatever cookie came in is never promoted.
    token = sessions.start(
        session=session, staff=result.staff, now=now, ip=ip,
        user_agent=request.headers.get("user-agent"),
        replaces=read_cookie(request, settings).get("sid"),
    )  # fmt: skip
    response = redirect(next_url)
    write_cookie(request, response, settings, {"sid": token})
    return response


@router.post("/signout")
async def signout(
    request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep,
    viewer: CurrentViewer,
) -> Response:  # fmt: skip
    form = await request.form(max_files=0, max_fields=10)
    check_csrf(request, form, viewer.csrf_token)
    token = read_cookie(request, settings).get("sid")
    if token:
        sessions.end(session=session, token=token, now=clock.now())
    response = redirect("/signin", "signed_out")
    clear_cookie(request, response)
    return response
