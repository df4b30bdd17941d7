"""The concern inbox: the home page. Emergencies first, then urgent, oldest first within a
level; acknowledge and resolve through the same service the API and SMS ACKs use."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from reminders import inbox
from reminders.conversations.concerns import ConcernStateError, acknowledge, resolve
from reminders.enrollments.service import NotFound
from reminders.web.auth import CsrfForm
from reminders.web.pages import concern as concern_page
from reminders.web.pages.common import AnyPage, Page, RowId, redirect

router = APIRouter()
REFRESH_SECONDS = 20


def _inbox(page: Page, template: str, status_code: int = 200, **extra: object) -> HTMLResponse:
    active = inbox.concerns(session=page.session, clinic_id=page.clinic_id,
                            statuses=inbox.UNRESOLVED)  # fmt: skip
    return page.render(template, status_code, items=active, refresh=REFRESH_SECONDS,
                       has_emergency=any(i.concern.severity == "emergency" and
                                         i.concern.status == "open" for i in active),
                       **extra)  # fmt: skip


@router.get("/", response_class=HTMLResponse)
def home(page: AnyPage) -> Response:
    return redirect("/concerns")


@router.get("/concerns", response_class=HTMLResponse)
def concern_inbox(page: AnyPage) -> Response:
    return _inbox(page, "concerns.html")


@router.get("/concerns/list", response_class=HTMLResponse)
def concern_list(page: AnyPage) -> Response:
    """Just the list, for the page's own refresh (a small fetch, no full reload, so a note
    being typed is not lost)."""
    return _inbox(page, "_concern_list.html")


@router.get("/concerns/resolved", response_class=HTMLResponse)
def resolved(page: AnyPage) -> Response:
    items = inbox.concerns(session=page.session, clinic_id=page.clinic_id,
                           statuses=("resolved",), limit=100)  # fmt: skip
    return page.render("concerns_resolved.html", items=items)


@router.post("/concerns/{concern_id}/acknowledge")
def acknowledge_concern(concern_id: RowId, page: AnyPage, form: CsrfForm) -> Response:
    try:
        concern = inbox.get_concern(session=page.session, clinic_id=page.clinic_id,
                                    concern_id=concern_id)  # fmt: skip
    except NotFound:
        return page.not_found("That concern")
    acknowledge(session=page.session, concern=concern, staff_id=page.viewer.staff.id,
                now=page.now, via="web")  # fmt: skip
    back = concern_page.back_to_concern(form, concern.id)
    if back:
        # Two people at once: the one whose acknowledge lost is told who took it.
        won = concern.acknowledged_by == page.viewer.staff.id
        return redirect(back, "acknowledged" if won else concern_page.ACK_LOST)
    return redirect(f"/concerns#concern-{concern.id}", "acknowledged")


@router.post("/concerns/{concern_id}/resolve")
def resolve_concern(concern_id: RowId, page: AnyPage, form: CsrfForm) -> Response:
    try:
        concern = inbox.get_concern(session=page.session, clinic_id=page.clinic_id,
                                    concern_id=concern_id)  # fmt: skip
    except NotFound:
        return page.not_found("That concern")
    note = str(form.get("note") or "").replace("\x00", "")
    try:
        resolve(session=page.session, concern=concern, staff_id=page.viewer.staff.id,
                now=page.now, note=note, via="web")  # fmt: skip
    except ConcernStateError as exc:
        if concern_page.back_to_concern(form, concern.id):
            return concern_page.render_concern(page, concern, 422, errors={"note": str(exc)})
        return _inbox(page, "concerns.html", status_code=422,
                      errors={concern.id: str(exc)})  # fmt: skip
    back = concern_page.back_to_concern(form, concern.id)
    return redirect(back or "/concerns", "resolved")
