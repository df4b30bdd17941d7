"""POST /webhooks/twilio/sms: a text from a patient (or staff), signed by Twilio.

The signature is checked over the public URL Twilio was given (settings.public_url +
path), never the URL we see behind a proxy, and over every posted field, repeated keys
included. A missing or bad signature gets 403 and nothing is stored. The answer is
TwiML carrying the auto-reply, if any; staff alerts go out right after commit.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Request, Response
from starlette.datastructures import FormData
from twilio.request_validator import RequestValidator, get_signature_algorithm
from twilio.twiml.messaging_response import MessagingResponse

from reminders.conversations.service import receive_sms
from reminders.web.deps import ClockDep, SessionDep, SettingsDep
from reminders.web.webhooks.kick import deliver_after_commit

log = logging.getLogger(__name__)
router = APIRouter(tags=["webhooks"])
PATH = "/webhooks/twilio/sms"


async def signed_form(request: Request, settings: SettingsDep) -> FormData:
    """The posted form, if Twilio signed it; 403 otherwise (before anything is stored)."""
    form = await request.form()
    url = settings.public_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    token = settings.twilio_auth_token
    # The validator raises on a missing header; "" simply fails to match.
    signature = request.headers.get("X-Twilio-Signature", "")
    algorithm = get_signature_algorithm(request.headers.get("X-Twilio-Webhooks-Signature-Settings"))
    # FormData has getlist(), so repeated keys take part in the signature as Twilio signs them.
    try:
        valid = bool(token) and RequestValidator(token).validate(url, form, signature, algorithm)
    except TypeError:  # a file upload among the fields: never Twilio
        valid = False
    if not valid:
        log.warning("rejected %s with a missing or invalid Twilio signature", request.url.path)
        raise HTTPException(403, "invalid Twilio signature")
    return form


SignedForm = Annotated[FormData, Depends(signed_form)]


@router.post(PATH, response_class=Response)
def inbound_sms(
    form: SignedForm, request: Request, background: BackgroundTasks, session: SessionDep,
    clock: ClockDep, settings: SettingsDep,
) -> Response:  # fmt: skip
    sid = str(form.get("MessageSid") or form.get("SmsSid") or "")
    if not sid:
        raise HTTPException(400, "MessageSid is required")
    handled = receive_sms(
        session=session, now=clock.now(), message_sid=sid, sender=str(form.get("From") or ""),
        to=str(form.get("To") or ""), body=str(form.get("Body") or ""),
        opt_out_type=str(form.get("OptOutType") or "") or None,
    )  # fmt: skip
    session.commit()  # before answering: a reply must never go out for an unsaved message
    if handled.queued:
        deliver_after_commit(request, background, settings=settings, clock=clock)
    twiml = MessagingResponse()
    status_url = settings.public_url.rstrip("/") + "/webhooks/twilio/status"
    for text, attempt_id in zip(handled.replies, handled.attempt_ids, strict=False):
        # The action URL gets Twilio's delivery reports for this reply (status.py binds the
        # MessageSid to our attempt row).
        twiml.message(text, action=f"{status_url}?attempt={attempt_id}", method="POST")
    for text in handled.replies[len(handled.attempt_ids):]:
        twiml.message(text)
    return Response(str(twiml), media_type="application/xml")
