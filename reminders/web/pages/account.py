"""Your account (/account): change your password, set up or turn off an authenticator
app, see where you are signed in and sign those sessions out; admins also choose whether
the clinic's admins must use an authenticator. Signed out: forgot password (/forgot) and
the emailed reset link (/reset?token=…; in the query, which the access log drops).

Every change is audited; wrong passwords typed here count towards the account lockout.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from reminders.clinics.models import StaffMember
from reminders.enrollments.schemas import InputError
from reminders.staff import resets, sessions, totp
from reminders.staff import service as staff_service
from reminders.staff.models import StaffTotp
from reminders.staff.throttle import Throttle
from reminders.web.auth import (
    CsrfForm,
    NotSignedIn,
    check_csrf,
    clear_cookie,
    client_ip,
    read_cookie,
    safe_next,
)
from reminders.web.deps import ClockDep, SessionDep, SettingsDep
from reminders.web.pages.common import (
    NOTICES,
    AdminPage,
    AnyPage,
    Page,
    RowId,
    field_errors,
    redirect,
)
from reminders.web.pages.signin import SetupViewer, anonymous_page
from reminders.web.webhooks.kick import deliver_after_commit

router = APIRouter()
ACCOUNT = "/account"
TOTP_PAGE = "/account/totp"
ACCOUNT_NOTICES = NOTICES | {
    "password_changed": "Password changed. Your other sessions are signed out.",
    "totp_on": "Authenticator set up: sign-in will ask for its code.",
    "totp_off": "Authenticator turned off: sign-in asks for your password only.",
    "revoked": "That session is signed out.",
    "revoked_others": "Every other session is signed out.",
    "policy": "Saved.",
}
# "Forgot password" asks per address: enough for a few typos, not for mailing a list.
RESET_ASKS = 10
RESET_WINDOW = timedelta(minutes=15)
# Asks for delivery once this request's transaction has committed (see kick.py).
Kick = Callable[[], None]


def mail_kick(
    request: Request, background: BackgroundTasks, settings: SettingsDep, clock: ClockDep
) -> Kick:
    """Send the reset mail right after the commit, as every queued message goes. Its own
    dependency so in-process tests, whose writes are never committed, can run the
    pipeline themselves."""
    return lambda: deliver_after_commit(request, background, settings=settings, clock=clock)


# -- the account page -------------------------------------------------------------------


def _totp_state(page: Page) -> tuple[bool, bool]:
    """(set up and confirmed, required for this member)."""
    on = totp.enabled(session=page.session, staff_id=page.viewer.staff.id)
    return on, totp.required(page.viewer.staff, page.viewer.clinic)


def _admins_without_totp(page: Page) -> list[StaffMember]:
    confirmed = select(StaffTotp.staff_id).where(StaffTotp.confirmed_at.is_not(None))
    query = select(StaffMember).where(
        StaffMember.clinic_id == page.clinic_id, StaffMember.role == "admin",
        StaffMember.is_active.is_(True), StaffMember.id.not_in(confirmed),
    )  # fmt: skip
    return list(page.session.scalars(query.order_by(StaffMember.email)))


def render_account(page: Page, status_code: int = 200, **extra: Any) -> HTMLResponse:
    current = page.viewer.session_row.id
    rows = sessions.live(session=page.session, staff_id=page.viewer.staff.id, now=page.now)
    devices = [{"row": row, "device": sessions.describe_device(row.user_agent),
                "current": row.id == current} for row in rows]  # fmt: skip
    totp_on, totp_required = _totp_state(page)
    values: dict[str, Any] = {
        "devices": devices, "totp_on": totp_on, "totp_required": totp_required,
        "min_password": staff_service.MIN_PASSWORD, "errors": {},
        "notice": ACCOUNT_NOTICES.get(page.request.query_params.get("notice", "")),
        "admins_without_totp": (_admins_without_totp(page)
                                if page.viewer.staff.role == "admin" else []),
    } | extra  # fmt: skip
    return page.render("account.html", status_code, **values)


@router.get(ACCOUNT, response_class=HTMLResponse)
def account(page: AnyPage) -> Response:
    return render_account(page)


def _text(form: Any, name: str, limit: int = 1000) -> str:
    return str(form.get(name) or "").replace("\x00", "")[:limit]


@router.post(f"{ACCOUNT}/password", response_class=HTMLResponse)
def change_password(page: AnyPage, form: CsrfForm) -> Response:
    try:
        staff_service.change_password(
            session=page.session, member=page.viewer.staff, current=_text(form, "current_password"),
            new=_text(form, "new_password"), confirm=_text(form, "confirm_password"),
            now=page.now, keep_session=page.viewer.session_row.id,
        )  # fmt: skip
    except InputError as exc:
        # The failed-attempt count (and its audit) is kept; nothing else was changed.
        return render_account(page, 422, errors=field_errors(exc.errors))
    return redirect(ACCOUNT, "password_changed")


@router.post(f"{ACCOUNT}/totp/off", response_class=HTMLResponse)
def totp_off(page: AnyPage, form: CsrfForm) -> Response:
    if not staff_service.confirm_password(session=page.session, member=page.viewer.staff,
                                          password=_text(form, "password"), now=page.now,
                                          action="account.totp_off_failed"):  # fmt: skip
        return render_account(page, 422, errors={"totp_password": "is not your password"})
    try:
        totp.disable(session=page.session, staff=page.viewer.staff, actor=page.viewer.staff)
    except InputError:
        return render_account(page, 422, errors={"totp_password": "cannot turn it off: your "
                                                 "clinic requires it of admins"})  # fmt: skip
    return redirect(ACCOUNT, "totp_off")


@router.post(f"{ACCOUNT}/sessions/{{session_id}}/revoke")
def revoke_session(session_id: RowId, page: AnyPage, form: CsrfForm) -> Response:
    if not sessions.revoke(session=page.session, viewer=page.viewer, session_id=session_id,
                           now=page.now):  # fmt: skip
        return page.not_found("That session")
    if session_id == page.viewer.session_row.id:  # this very browser: signed out
        response = redirect("/signin", "signed_out")
        clear_cookie(page.request, response)
        return response
    return redirect(ACCOUNT, "revoked")


@router.post(f"{ACCOUNT}/sessions/others")
def revoke_other_sessions(page: AnyPage, form: CsrfForm) -> Response:
    sessions.revoke_others(session=page.session, viewer=page.viewer, now=page.now)
    return redirect(ACCOUNT, "revoked_others")


@router.post(f"{ACCOUNT}/policy", response_class=HTMLResponse)
def clinic_policy(page: AdminPage, form: CsrfForm) -> Response:
    """Admins of this clinic must use an authenticator (or no longer must)."""
    wanted = form.get("require_admin_totp") == "on"
    clinic = page.viewer.clinic
    if wanted and not totp.enabled(session=page.session, staff_id=page.viewer.staff.id):
        return render_account(page, 422, errors={
            "policy": "set up your own authenticator first, or you would be sent to do it "
            "before anything else"})  # fmt: skip
    if wanted != clinic.require_admin_totp:
        clinic.require_admin_totp = wanted
        page.audit("clinic.settings", "clinic", clinic.id, require_admin_totp=wanted)
    return redirect(ACCOUNT, "policy")


# -- authenticator set-up (open to an admin held there by the clinic's rule) -------------


def _setup_page(request: Request, session: SessionDep, clock: ClockDep,
                viewer: SetupViewer) -> Page:  # fmt: skip
    if viewer is None:
        raise NotSignedIn(request)
    return Page(request=request, session=session, viewer=viewer, now=clock.now())


SetupPage = Annotated[Page, Depends(_setup_page)]


def _render_setup(page: Page, next_url: str, status_code: int = 200,
                  error: str | None = None) -> HTMLResponse:  # fmt: skip
    row = totp.begin(session=page.session, staff=page.viewer.staff, now=page.now)
    held = page.viewer.must_set_up_totp
    return page.render(
        "totp.html", status_code, layout="account_plain.html" if held else "base.html",
        held=held, secret=totp.grouped(row.secret), next=next_url, error=error,
        uri=totp.provisioning_uri(row, page.viewer.staff, page.viewer.clinic),
    )  # fmt: skip


@router.get(TOTP_PAGE, response_class=HTMLResponse)
def totp_setup(page: SetupPage, next: str = "/") -> Response:
    if totp.enabled(session=page.session, staff_id=page.viewer.staff.id):
        return redirect(ACCOUNT)
    return _render_setup(page, safe_next(next))


async def _setup_form(page: Page) -> Any:
    form = await page.request.form(max_files=0, max_fields=10)
    check_csrf(page.request, form, page.viewer.csrf_token)
    return form


@router.post(TOTP_PAGE, response_class=HTMLResponse)
async def totp_confirm(page: SetupPage) -> Response:
    form = await _setup_form(page)
    next_url = safe_next(_text(form, "next", 2000))
    if totp.enabled(session=page.session, staff_id=page.viewer.staff.id):
        return redirect(ACCOUNT)
    if form.get("action") == "restart":
        totp.begin(session=page.session, staff=page.viewer.staff, now=page.now, fresh=True)
        return _render_setup(page, next_url)
    try:
        totp.confirm(session=page.session, staff=page.viewer.staff, code=_text(form, "code", 20),
                     now=page.now)  # fmt: skip
    except InputError as exc:
        return _render_setup(page, next_url, 422, field_errors(exc.errors).get("code"))
    if page.viewer.must_set_up_totp:
        return redirect(next_url)  # held until now: on to where they were going
    return redirect(ACCOUNT, "totp_on")


# -- forgot password, and the emailed link ------------------------------------------------


def _reset_throttle(request: Request) -> Throttle:
    found: Throttle | None = getattr(request.app.state, "reset_throttle", None)
    if found is None:
        found = Throttle(max_failures=RESET_ASKS, window=RESET_WINDOW)
        request.app.state.reset_throttle = found
    return found


async def _anonymous_form(request: Request, settings: SettingsDep) -> Any:
    form = await request.form(max_files=0, max_fields=10)
    expected = read_cookie(request, settings).get("csrf")
    if not expected:
        raise HTTPException(403, "your session expired; reload the page and try again")
    check_csrf(request, form, expected)
    return form


@router.get("/forgot", response_class=HTMLResponse)
def forgot_form(request: Request, settings: SettingsDep, viewer: SetupViewer) -> Response:
    if viewer is not None:
        return redirect(ACCOUNT)  # signed in: change it there, with the current one
    return anonymous_page(request, settings, "reset.html", {"mode": "ask", "email": ""})


@router.post("/forgot", response_class=HTMLResponse)
async def forgot(
    request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep,
    kick: Annotated[Kick, Depends(mail_kick)],
) -> Response:  # fmt: skip
    form = await _anonymous_form(request, settings)
    now, ip, limiter = clock.now(), client_ip(request), _reset_throttle(request)
    if limiter.blocked(ip, now):
        wait = limiter.retry_after(ip, now)
        raise HTTPException(429, f"too many reset requests from this address; wait {wait} s",
                            headers={"Retry-After": str(wait)})  # fmt: skip
    limiter.failed(ip, now)  # every ask counts, found or not
    email = _text(form, "email", 200)
    if resets.request(session=session, email=email, now=now, public_url=settings.public_url):
        kick()
    # The same answer whether or not the address has an account.
    return anonymous_page(request, settings, "reset.html", {"mode": "sent", "email": ""})


def _dead_link(request: Request, settings: SettingsDep) -> HTMLResponse:
    return anonymous_page(request, settings, "reset.html", {"mode": "dead"}, 410)


@router.get("/reset", response_class=HTMLResponse)
def reset_form(request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep,
               token: str = "") -> Response:  # fmt: skip
    # Only looked at: a mail scanner fetching the link must not spend it.
    if resets.find(session=session, token=token, now=clock.now()) is None:
        return _dead_link(request, settings)
    return anonymous_page(request, settings, "reset.html",
                          {"mode": "choose", "token": token, "errors": {},
                           "min_password": staff_service.MIN_PASSWORD})  # fmt: skip


@router.post("/reset", response_class=HTMLResponse)
async def reset(
    request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> Response:
    form = await _anonymous_form(request, settings)
    token = _text(form, "token", 200)
    try:
        member = resets.complete(
            session=session, token=token, new=_text(form, "new_password"),
            confirm=_text(form, "confirm_password"), now=clock.now(),
        )  # fmt: skip
    except InputError as exc:
        return anonymous_page(request, settings, "reset.html",
                              {"mode": "choose", "token": token,
                               "errors": field_errors(exc.errors),
                               "min_password": staff_service.MIN_PASSWORD}, 422)  # fmt: skip
    if member is None:
        return _dead_link(request, settings)
    return redirect("/signin", "password_reset")
