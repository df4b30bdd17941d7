"""POST /webhooks/twilio/sms: a text from a patient (or staff), signed by Twilio.

The signature is checked over the public URL Twilio was given (settings.public_url +
path), never the URL we see behind a proxy, and over every posted field, repeated keys
included. A missing or bad signature gets 403 and nothing is stored.

The webhook stores the text and answers with empty TwiML; reading it (matching,
triage, concern, pages, the auto-reply) is the pipeline's job, within seconds and
exactly once (reminders.conversations.inbox). The auto-reply goes out like every
message we send, through the delivery pipeline.
"""

from __future__ import annotations

import logging
from hmac import compare_digest
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from starlette.background import BackgroundTask
from starlette.datastructures import FormData
from twilio.request_validator import RequestValidator, get_signature_algorithm

from reminders.clock import Clock
from reminders.config import Settings
from reminders.conversations.service import sms_row
from reminders.web.deps import SettingsDep
from reminders.web.webhooks.inbound_writer import InboundWriter
from reminders.web.webhooks.kick import (
    Throttled,
    app_channels,
    app_sessions,
    queue_read,
    read_here,
)

log = logging.getLogger(__name__)
router = APIRouter(tags=["webhooks"])
PATH = "/webhooks/twilio/sms"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'


async def signed_form(request: Request, settings: SettingsDep) -> FormData:
    """The posted form, if Twilio signed it; 403 otherwise (before anything is stored)."""
    return await verified_form(request, settings)


async def verified_form(request: Request, settings: Settings) -> FormData:
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
        valid = bool(token) and _signed(RequestValidator(token or ""), url, form, signature,
                                         algorithm)  # fmt: skip
    except (TypeError, ValueError):  # a file upload among the fields, or an unknown algorithm
        valid = False
    if not valid:
        log.warning("rejected %s with a missing or invalid Twilio signature", request.url.path)
        raise HTTPException(403, "invalid Twilio signature")
    return form


def _signed(
    validator: RequestValidator, url: str, form: FormData, signature: str, algorithm: str | None
) -> bool:
    """Twilio's check, one HMAC for the usual request: the URL exactly as configured is
    tried first; only a mismatch pays for the validator's with- and without-port tries."""
    if compare_digest(validator.compute_signature(url, form, algorithm), signature):
        return True
    return bool(validator.validate(url, form, signature, algorithm))


SignedForm = Annotated[FormData, Depends(signed_form)]


@router.post(PATH, response_class=Response)
async def inbound_sms(request: Request) -> Response:
    # Only the request as a parameter: on the busiest path, dependency resolution is a
    # cost of its own (the app's settings and clock are read straight off its state).
    settings: Settings = request.app.state.settings
    clock: Clock = request.app.state.clock
    form = await verified_form(request, settings)
    sid = str(form.get("MessageSid") or form.get("SmsSid") or "")
    if not sid:
        raise HTTPException(400, "MessageSid is required")
    row = sms_row(
        now=clock.now(), message_sid=sid, sender=str(form.get("From") or ""),
        to=str(form.get("To") or ""), body=str(form.get("Body") or ""),
        opt_out_type=str(form.get("OptOutType") or "") or None,
    )  # fmt: skip
    # Stored (committed) before we answer: Twilio retries anything we fail to take.
    await writer(request, settings).store(row)
    background = None
    if not settings.broker_url:
        # No workers: this process reads it, right after answering.
        background = BackgroundTask(read_here, sessions=app_sessions(request),
                                    channels=app_channels(request), settings=settings,
                                    clock=clock)  # fmt: skip
    # The reply, if any, follows through the delivery pipeline like every message we send.
    return Response(EMPTY_TWIML, media_type="application/xml", background=background)


def writer(request: Request, settings: Settings) -> InboundWriter:
    state = request.app.state
    found: InboundWriter | None = getattr(state, "inbound_writer", None)
    if found is None:
        # One kick per 500 ms at most, and one after the last batch: a reader keeps
        # reading until nothing is unread, so more kicks in a burst add only load.
        kick = Throttled(queue_read, every=0.5) if settings.broker_url else None
        found = InboundWriter(state.engine, kick)
        state.inbound_writer = found
    return found
