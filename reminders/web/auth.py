"""Staff sign-in for the pages: signed session cookie, CSRF tokens, roles, throttling.

- The cookie (``aftercare_session``) is signed with ``settings.secret_key`` (itsdangerous)
  and is HttpOnly, SameSite=Lax, and Secure whenever the request came over https. Signed
  in, it carries a random session token whose hash is a row in ``staff_sessions``; before
  sign-in it carries only a CSRF token for the sign-in form.
- Every POST from a page must carry ``csrf_token`` equal to the session's token (403
  otherwise). A cross-site Origin header is refused as well, belt and braces.
- Roles: admin (everything), coordinator (enrolments, protocols), clinician (concerns,
  patients). What each page needs is declared where the page is defined.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote, urlsplit

from fastapi import Depends, HTTPException, Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from reminders.clock import Clock
from reminders.config import Settings
from reminders.staff import sessions
from reminders.staff.sessions import ABSOLUTE_LIFETIME, Viewer
from reminders.staff.throttle import Throttle
from reminders.web.deps import get_clock, get_session, get_settings_dep

COOKIE = "aftercare_session"
CSRF_FIELD = "csrf_token"
ALL_ROLES = ("admin", "coordinator", "clinician")
COORDINATORS = ("admin", "coordinator")
ADMINS = ("admin",)


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt="aftercare.session.v1")


def read_cookie(request: Request, settings: Settings) -> dict[str, str]:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return {}
    try:
        data = _serializer(settings).loads(raw, max_age=int(ABSOLUTE_LIFETIME.total_seconds()))
    except BadSignature:  # also covers SignatureExpired
        return {}
    return {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}


def write_cookie(request: Request, response: Response, settings: Settings,
                 data: dict[str, str]) -> None:  # fmt: skip
    response.set_cookie(
        COOKIE, _serializer(settings).dumps(data), max_age=int(ABSOLUTE_LIFETIME.total_seconds()),
        path="/", httponly=True, samesite="lax", secure=request.url.scheme == "https",
    )  # fmt: skip


def clear_cookie(request: Request, response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax",
                           secure=request.url.scheme == "https")  # fmt: skip


def anonymous_csrf(request: Request, settings: Settings) -> tuple[str, bool]:
    """The pre-sign-in CSRF token from the cookie, or a new one (True: set the cookie)."""
    token = read_cookie(request, settings).get("csrf")
    if token:
        return token, False
    return secrets.token_urlsafe(32), True


def client_ip(request: Request) -> str:
    # uvicorn's --proxy-headers (with --forwarded-allow-ips) rewrites this behind a proxy.
    return request.client.host if request.client else "unknown"


def throttle(request: Request) -> Throttle:
    found: Throttle | None = getattr(request.app.state, "signin_throttle", None)
    if found is None:
        found = Throttle()
        request.app.state.signin_throttle = found
    return found


class NotSignedIn(HTTPException):
    def __init__(self, request: Request) -> None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        location = f"/signin?next={quote(target, safe='')}"
        super().__init__(303, "sign in first", headers={"Location": location})


def optional_viewer(
    request: Request,
    session: Annotated[Session, Depends(get_session, scope="function")],
    clock: Annotated[Clock, Depends(get_clock)],
    settings: Annotated[Settings, Depends(get_settings_dep)],
) -> Viewer | None:
    token = read_cookie(request, settings).get("sid")
    if not token:
        return None
    return sessions.resolve(session=session, token=token, now=clock.now())


def current_viewer(
    request: Request, viewer: Annotated[Viewer | None, Depends(optional_viewer)]
) -> Viewer:
    if viewer is None:
        raise NotSignedIn(request)
    return viewer


def require(*roles: str) -> Callable[..., Viewer]:
    """A dependency: the signed-in viewer, if their role is one of ``roles`` (else 403)."""

    def dependency(viewer: Annotated[Viewer, Depends(current_viewer)]) -> Viewer:
        if viewer.staff.role not in roles:
            raise HTTPException(403, "your role does not allow this")
        return viewer

    return dependency


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not sent by every browser on same-origin posts; the token decides
    return urlsplit(origin).netloc == request.headers.get("host", "")


def check_csrf(request: Request, form: FormData, expected: str) -> None:
    sent = form.get(CSRF_FIELD)
    if not isinstance(sent, str) or not sent or not hmac.compare_digest(sent, expected):
        raise HTTPException(403, "missing or invalid CSRF token; reload the page and try again")
    if not _same_origin(request):
        raise HTTPException(403, "cross-site form submissions are refused")


async def csrf_form(
    request: Request, viewer: Annotated[Viewer, Depends(current_viewer)]
) -> FormData:
    """The posted form, once its CSRF token matched the session's."""
    form = await request.form(max_files=1, max_fields=400)
    check_csrf(request, form, viewer.csrf_token)
    return form


def safe_next(target: str | None) -> str:
    """Only same-site paths: '/patients/3' yes, '//evil.example' or 'https://…' no.

    Backslashes and control characters are refused anywhere: browsers read a backslash as
    a slash and drop tabs and newlines, so '/<tab>/evil.example' would leave the site too.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target or any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return "/"
    return target


CurrentViewer = Annotated[Viewer, Depends(current_viewer)]
CsrfForm = Annotated[FormData, Depends(csrf_form)]
AnyStaff = Annotated[Viewer, Depends(require(*ALL_ROLES))]
Coordinator = Annotated[Viewer, Depends(require(*COORDINATORS))]
Admin = Annotated[Viewer, Depends(require(*ADMINS))]
