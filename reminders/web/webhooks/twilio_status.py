"""POST /webhooks/twilio/status: Twilio's delivery reports for the SMS we sent.

The signature is checked against the public URL Twilio was given (settings.public_url +
path + query), never the URL this process sees behind a proxy, over every posted field
with repeated keys kept, with the account's signature algorithm. A missing or wrong
signature, or no auth token configured to check it with, gets 403 and nothing is
stored. Unknown message ids get 200 (and a log line): Twilio would otherwise report
webhook errors for messages we cannot act on.

A report of ``undelivered`` or ``failed`` acts like a failure at send time (retry,
email fallback, a concern, an opt-out, or the next escalation step for a page); what
that queues goes out right after commit.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, BackgroundTasks, HTTPException, Request, Response

from reminders.delivery.failures import after_report
from reminders.delivery.status import WITH_ERROR, apply_status
from reminders.web.deps import ClockDep, SessionDep, SettingsDep
from reminders.web.webhooks.kick import deliver_after_commit
from reminders.web.webhooks.twilio_sms import SignedForm

log = logging.getLogger(__name__)
router = APIRouter(tags=["webhooks"])
PATH = "/webhooks/twilio/status"


@router.post(PATH, response_class=Response, include_in_schema=False)
def twilio_status(
    form: SignedForm, request: Request, background: BackgroundTasks, session: SessionDep,
    clock: ClockDep, settings: SettingsDep,
) -> Response:  # fmt: skip
    sid = str(form.get("MessageSid") or form.get("SmsSid") or "")[:100]
    status = str(form.get("MessageStatus") or form.get("SmsStatus") or "")
    if not sid or not status:
        raise HTTPException(400, "MessageSid and MessageStatus are required")
    code = str(form.get("ErrorCode") or "") or None
    now = clock.now()
    result = apply_status(session=session, provider_id=sid, status=status, error_code=code,
                          now=now)  # fmt: skip
    acted = None
    if result == "updated" and status.strip().lower() in WITH_ERROR:
        acted = after_report(session=session, provider_id=sid, code=code, now=now,
                             email_possible=bool(settings.email_provider))  # fmt: skip
    session.commit()
    if acted is not None:
        deliver_after_commit(request, background, settings=settings, clock=clock)
    return Response(status_code=200)
