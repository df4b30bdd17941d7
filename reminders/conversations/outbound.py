"""Messages the conversation code sends itself: staff pages, re-asks, email auto-replies.

Scheduled check-ins go through the delivery pipeline; these are few and immediate, so
they call a channel directly. SMS auto-replies need none of this: they ride back to
Twilio in the webhook's TwiML answer.
"""

from __future__ import annotations

import functools
import logging

from reminders.channels import build_email_channel, build_sms_channel
from reminders.channels.base import Channel, ChannelError, Outbound, SendResult, mask_address
from reminders.config import Settings, get_settings

log = logging.getLogger(__name__)
Channels = dict[str, Channel]


def build_channels(settings: Settings) -> Channels:
    return {"sms": build_sms_channel(settings), "email": build_email_channel(settings)}


@functools.cache
def default_channels() -> Channels:
    """Channels for worker processes and jobs, built once per process from settings."""
    return build_channels(get_settings())


def send(channels: Channels, channel: str, outbound: Outbound) -> SendResult | ChannelError:
    """Send, returning the provider's answer or the error; never raises ChannelError."""
    provider = channels.get(channel)
    if provider is None:
        return ChannelError(f"no {channel} channel configured", permanent=True, code="config")
    try:
        return provider.send(outbound)
    except ChannelError as exc:
        log.warning("%s to %s failed: %s", channel, mask_address(outbound.to), exc)
        return exc
