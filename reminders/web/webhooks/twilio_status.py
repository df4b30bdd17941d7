"""POST /webhooks/twilio/status: Twilio's delivery reports for the SMS we sent.

The signature is checked against the public URL Twilio was given (settings.public_url +
path + query), never the URL this process sees behind a proxy, over every posted field
with repeated keys kept. A missing or wrong signature, or no auth token configured to
check it with, gets 403 and nothing is stored. Unknown message ids get 200 (and a log
line): Twilio would otherwise report webhook errors for messages we cannot act on.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from starlette.datastructures import FormData
from twilio.request_validator import RequestValidator

from reminders.delivery.status import apply_status
from reminders.web.deps import ClockDep, SessionDep, SettingsDep

log = logging.getLogger(__name__)
router = APIRouter(tags=["webhooks"])
PATH = "/webhooks/twilio/status"


async def _signed_form(request: Request, settings: SettingsDep) -> FormData:
    form = await request.form()
    token = settings.twilio_auth_token
    if not token:
        log.warning("refused %s: AFTERCARE_TWILIO_AUTH_TOKEN is not set", PATH)
        raise HTTPException(403, "webhook signatures cannot be checked")
    url = settings.public_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    # The validator raises on a missing header; "" simply fails to match.
    signature = request.headers.get("X-Twilio-Signature", "")
    try:
        # FormData has getlist(), so repeated keys are signed as Twilio signs them.
        valid = RequestValidator(token).validate(url, form, signature)
    except TypeError:  # a file upload among the fields: never a Twilio callback
        valid = False
    if not valid:
        log.warning("refused %s: missing or invalid Twilio signature", PATH)
        raise HTTPException(403, "invalid Twilio signature")
    return form


@router.post(PATH, response_class=Response, include_in_schema=False)
def twilio_status(
    form: Annotated[FormData, Depends(_signed_form)], session: SessionDep, clock: ClockDep
) -> Response:
    sid = str(form.get("MessageSid") or form.get("SmsSid") or "")
    status = str(form.get("MessageStatus") or form.get("SmsStatus") or "")
    if not sid or not status:
        raise HTTPException(400, "MessageSid and MessageStatus are required")
    apply_status(
        session=session,
        provider_id=sid[:100],
        status=status,
        error_code=str(form.get("ErrorCode") or "") or None,
        now=clock.now(),
    )
    return Response(status_code=200)
