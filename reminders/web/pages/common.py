"""What every page shares: the Jinja environment, the signed-in ``Page`` context, and the
response headers that keep patient data out of caches and other sites' frames."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import fastapi
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.orm import Session

from reminders import audit, display, inbox
from reminders.clock import Clock
from reminders.delivery.context import display_phone
from reminders.enrollments.schemas import InputError
from reminders.staff.sessions import Viewer
from reminders.web.auth import ADMINS, ALL_ROLES, COORDINATORS, require
from reminders.web.deps import get_clock, get_session

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent.parent / "templates"))
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",  # pages carry patient data: never cache them
}
# Redirects after a POST carry a code, never free text, so nothing can be reflected.
NOTICES = {
    "acknowledged": "Concern acknowledged.",
    "resolved": "Concern resolved.",
    "enrolled": "Patient enrolled; the timeline is below.",
    "already": "This patient was already enrolled for that procedure; showing the existing one.",
    "rescheduled": "Timeline recomputed for the new times.",
    "cancelled": "Enrolment cancelled; pending messages will not be sent.",
    "saved": "Saved.",
    "published": "Published as a new version. New enrolments use it; existing ones keep theirs.",
    "draft": "Draft created from the latest published version.",
    "staff_created": "Staff member created.",
    "signed_out": "You are signed out.",
}


def local_time(value: datetime | None, zone: str, fmt: str = "%a %d %b %H:%M %Z") -> str:
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(zone)).strftime(fmt)


def input_time(value: datetime | None, zone: str) -> str:
    """A ``datetime-local`` input's value, in ``zone``."""
    return local_time(value, zone, "%Y-%m-%dT%H:%M") if value else ""


TEMPLATES.env.filters["local"] = local_time
TEMPLATES.env.filters["input_time"] = input_time
TEMPLATES.env.filters["phone"] = display_phone
TEMPLATES.env.globals["age_text"] = inbox.age_text
display.install(TEMPLATES.env)  # words for step keys, categories, summaries (one catalogue)


@dataclass
class Page:
    request: Request
    session: Session
    viewer: Viewer
    now: datetime

    @property
    def clinic_id(self) -> int:
        return self.viewer.clinic.id

    def render(self, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        notice = NOTICES.get(self.request.query_params.get("notice", ""))
        values = {
            "viewer": self.viewer, "staff": self.viewer.staff, "clinic": self.viewer.clinic,
            "csrf_token": self.viewer.csrf_token, "now": self.now, "notice": notice,
            "open_counts": inbox.counts(session=self.session, clinic_id=self.clinic_id),
            "can_coordinate": self.viewer.staff.role in COORDINATORS,
            "is_admin": self.viewer.staff.role in ADMINS, "path": self.request.url.path,
        } | context  # fmt: skip
        response = TEMPLATES.TemplateResponse(self.request, template, values,
                                              status_code=status_code)  # fmt: skip
        response.headers.update(SECURITY_HEADERS)
        return response

    def audit(self, action: str, subject_type: str, subject_id: int | None, **details: Any) -> None:
        audit.record(
            session=self.session, clinic_id=self.clinic_id, actor=self.viewer.actor,
            staff_id=self.viewer.staff.id, action=action, subject_type=subject_type,
            subject_id=subject_id, **details,
        )  # fmt: skip

    def not_found(self, what: str = "That record") -> HTMLResponse:
        # The same page for a missing record and another clinic's: existence never leaks.
        return self.render("not_found.html", status_code=404, what=what)


def redirect(url: str, notice: str | None = None) -> Response:
    if notice:
        path, hash_mark, fragment = url.partition("#")
        url = path + ("&" if "?" in path else "?") + f"notice={notice}" + hash_mark + fragment
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)


def page(*roles: str) -> Callable[..., Page]:
    allowed = Depends(require(*roles))  # outside the annotation: those are strings here

    def dependency(
        request: Request,
        session: Annotated[Session, Depends(get_session, scope="function")],
        clock: Annotated[Clock, Depends(get_clock)],
        viewer: Viewer = allowed,
    ) -> Page:
        return Page(request=request, session=session, viewer=viewer, now=clock.now())

    return dependency


AnyPage = Annotated[Page, Depends(page(*ALL_ROLES))]
# Ids in paths are bounded so a huge number is a 422, not a database integer overflow.
RowId = Annotated[int, fastapi.Path(ge=1, le=2**31 - 1)]
CoordinatorPage = Annotated[Page, Depends(page(*COORDINATORS))]
AdminPage = Annotated[Page, Depends(page(*ADMINS))]


def field_errors(errors: list[tuple[str, str]], strip: tuple[str, ...] = ()) -> dict[str, str]:
    """InputError pairs keyed by form field: 'patient.phone' → 'phone' when stripping
    'patient.'; the first message per field wins. Shown beside its field, a message
    names other fields in words ("must be after injection time")."""
    out: dict[str, str] = {}
    for field, message in errors:
        for prefix in strip:
            field = field.removeprefix(prefix)
        out.setdefault(field, display.names_in_words(message))
    return out


def parse_local(value: str | None, zone: str, field: str) -> datetime | None:
    """A ``datetime-local`` value ('2026-11-20T14:10') read as wall-clock time in ``zone``;
    None when empty. A time inside a DST gap or overlap is read as scheduling.py does."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        naive = datetime.fromisoformat(text)
    except ValueError:
        raise InputError([(field, "is not a date and time")]) from None
    if naive.tzinfo is not None:
        return naive
    if not 1900 <= naive.year <= 2200:
        raise InputError([(field, "is not a plausible date")])
    return naive.replace(tzinfo=ZoneInfo(zone), fold=0)
