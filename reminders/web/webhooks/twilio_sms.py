"""POST /webhooks/twilio/sms: a text from a patient (or staff), signed by Twilio.

The signature is checked over the public URL Twilio was given (settings.public_url +
path), never the URL we see behind a proxy, and over every posted field, repeated keys
included. A missing or bad signature gets 403 and nothing is stored. The answer is
TwiML carrying the auto-reply, if any; staff alerts go out right after commit.
"""

from __future__ import annotations

import functools
import logging
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Request, Response
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import FormData
from twilio.request_validator import RequestValidator, get_signature_algorithm
from twilio.twiml.messaging_response import MessagingResponse

from reminders.conversations.alerts import deliver_pending
from reminders.conversations.outbound import Channels, build_channels
from reminders.conversations.service import receive_sms
from reminders.db import transaction
from reminders.delivery.send import SessionFactory
from reminders.web.deps import ClockDep, SessionDep, SettingsDep

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
    if not token or not RequestValidator(token).validate(url, form, signature, algorithm):
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
    if handled.alert_ids:
        background.add_task(
            deliver_pending, sessions=app_sessions(request), channels=app_channels(request),
            settings=settings, clock=clock, only=handled.alert_ids,
        )  # fmt: skip
    twiml = MessagingResponse()
    for text in handled.replies:
        twiml.message(text)
    return Response(str(twiml), media_type="application/xml")


def app_sessions(request: Request) -> SessionFactory:
    """A session-scope factory on the app's engine, for work after the response."""
    maker: sessionmaker[Session] = request.app.state.sessionmaker
    return functools.partial(transaction, maker)


def app_channels(request: Request) -> Channels:
    """The app's SMS and email channels for staff alerts, built once from its settings."""
    state = request.app.state
    channels: Channels | None = getattr(state, "conversation_channels", None)
    if channels is None:
        channels = build_channels(state.settings)
        state.conversation_channels = channels
    return channels
