"""The baseline for the delivery benchmark: our Celery app plus one task that does nothing."""

from __future__ import annotations

from reminders.channels.base import Outbound
from reminders.channels.twilio_sms import TwilioSms
from tests.fakes import ACCOUNT_SID, AUTH_TOKEN
from workers.app import app


@app.task(name="bench.noop")
def noop() -> None:
    return None


_channels: dict[str, TwilioSms] = {}


@app.task(name="bench.http")
def http_send(api_url: str, to: str) -> str:
    """The same provider call ours makes for one message, one task per message."""
    channel = _channels.get(api_url)
    if channel is None:  # one pooled client per worker process, as ours keeps
        channel = _channels[api_url] = TwilioSms(ACCOUNT_SID, AUTH_TOKEN, api_url=api_url)
    sent = channel.send(Outbound(to=to, body="Bench: how is the hip today?",
                                 sender="+13125550100"))  # fmt: skip
    return sent.provider_id
