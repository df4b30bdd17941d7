"""One concern, on the phone of whoever was paged: the patient's words, why it was flagged,
the number to call, who was paged and whether it arrived, acknowledge and resolve, and a
box to text the patient back (queued through the one delivery pipeline, audited).

Signed out, the link in a page leads to sign-in and back here (``/signin?next=…``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Request
from fastapi.responses import HTMLResponse, Response

from reminders import inbox
from reminders.conversations import pages_view
from reminders.conversations.models import Concern
from reminders.conversations.outbound import MAX_TEXT, TextRefused, text_patient
from reminders.enrollments.service import NotFound
from reminders.patients.models import Patient
from reminders.web.auth import CsrfForm
from reminders.web.deps import ClockDep, SettingsDep
from reminders.web.pages.common import AnyPage, Page, RowId, redirect
from reminders.web.webhooks.kick import deliver_after_commit

router = APIRouter()
# Asks for delivery once this request's transaction has committed (see kick.py).
Kick = Callable[[], None]
# Notices this page adds to the shared ones (codes, never free text, in the redirect).
TEXT_QUEUED = "texted"
ACK_LOST = "taken"


def concern_path(concern_id: int) -> str:
    return f"/concerns/{concern_id}"


def back_to_concern(form: Any, concern_id: int) -> str | None:
    """The concern page, when the form asked to come back to it (``next``); else None.
    Only this concern's own path is accepted: nothing else can be smuggled in."""
    target = str(form.get("next") or "")
    return target if target == concern_path(concern_id) else None


def cannot_text(patient: Patient | None) -> str | None:
    """Why the text-back box is hidden, or None when the patient can be texted."""
    if patient is None:
        return "This concern came from an unknown sender: there is no patient to text."
    sms_ok = bool(patient.phone) and patient.sms_opted_out_at is None
    email_ok = bool(patient.email) and patient.email_opted_out_at is None
    if sms_ok or email_ok:
        return None
    if patient.sms_opted_out_at is not None or patient.email_opted_out_at is not None:
        return f"{patient.given_name} has opted out of messages; call instead."
    return f"{patient.given_name} has no mobile phone or email on file."


def render_concern(
    page: Page, concern: Concern, status_code: int = 200, **extra: Any
) -> HTMLResponse:
    """The concern page; ``extra`` carries form errors and the text being typed."""
    item = inbox.item(session=page.session, concern=concern)
    patient = item.patient
    call = patient.phone if patient and patient.phone else None
    if call is None and item.reply is not None and item.reply.channel == "sms":
        call = item.reply.sender  # an unknown number: calling back is all that can be done

    def name(staff_id: int | None) -> str | None:
        return pages_view.staff_name(session=page.session, clinic_id=page.clinic_id,
                                     staff_id=staff_id)  # fmt: skip

    notice_code = page.request.query_params.get("notice", "")
    lost = notice_code == ACK_LOST and concern.acknowledged_by != page.viewer.staff.id
    values: dict[str, Any] = {
        "c": concern, "item": item, "patient": patient, "call": call,
        "words": pages_view.words_of(session=page.session, concern=concern),
        "pages": pages_view.pages_of(session=page.session, concern=concern),
        "recent": pages_view.recent_timeline(session=page.session, concern=concern),
        "acked_by": name(concern.acknowledged_by) or concern.acknowledged_via,
        "resolved_by": name(concern.resolved_by),
        "ack_lost": lost, "texted": notice_code == TEXT_QUEUED,
        "cannot_text": cannot_text(patient), "max_text": MAX_TEXT,
        "errors": {}, "text_body": "", "next": concern_path(concern.id),
    } | extra  # fmt: skip
    return page.render("concern.html", status_code, **values)


def _concern(page: Page, concern_id: int) -> Concern | None:
    try:
        return inbox.get_concern(session=page.session, clinic_id=page.clinic_id,
                                 concern_id=concern_id)  # fmt: skip
    except NotFound:
        return None


def delivery_kick(
    request: Request, background: BackgroundTasks, settings: SettingsDep, clock: ClockDep
) -> Kick:
    """Deliver what this request queued right after its commit, as the webhooks do. A
    dependency of its own so in-process tests, whose writes are never committed, can
    leave delivery to the dispatcher (which claims the row on its next tick anyway)."""
    return lambda: deliver_after_commit(request, background, settings=settings, clock=clock)


# ``:int`` in the path: /concerns/list and /concerns/resolved never reach this route.
@router.get("/concerns/{concern_id:int}", response_class=HTMLResponse)
def concern_page(concern_id: RowId, page: AnyPage) -> Response:
    concern = _concern(page, concern_id)
    if concern is None:
        return page.not_found("That concern")
    page.audit("concern.view", "concern", concern.id)
    return render_concern(page, concern)


@router.post("/concerns/{concern_id:int}/text")
def text_back(
    concern_id: RowId, page: AnyPage, form: CsrfForm,
    deliver: Annotated[Kick, Depends(delivery_kick)],
) -> Response:  # fmt: skip
    """Text the patient back. Queued in this request's transaction (text_patient audits
    it) and delivered right after the commit, the way every other message goes."""
    concern = _concern(page, concern_id)
    if concern is None:
        return page.not_found("That concern")
    body = str(form.get("body") or "").replace("\x00", "")
    try:
        text_patient(session=page.session, clinic=page.viewer.clinic, concern=concern,
                     staff_id=page.viewer.staff.id, body=body, now=page.now)  # fmt: skip
    except TextRefused as exc:
        return render_concern(page, concern, 422, errors={"body": str(exc)},
                              text_body=body[: MAX_TEXT * 2])  # fmt: skip
    deliver()
    return redirect(f"{concern_path(concern.id)}#recent", TEXT_QUEUED)
