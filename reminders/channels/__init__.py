"""Outbound channels: Twilio SMS, SMTP email, and a console stand-in for both."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reminders.channels.base import (
    Channel,
    ChannelError,
    Outbound,
    SendResult,
    mask_address,
    mask_email,
    mask_phone,
)
from reminders.channels.console import ConsoleChannel
from reminders.channels.smtp_email import SmtpEmail
from reminders.channels.twilio_sms import TwilioSms, error_for_code

if TYPE_CHECKING:
    from reminders.config import Settings

__all__ = [
    "Channel",
    "ChannelError",
    "ConsoleChannel",
    "Outbound",
    "SendResult",
    "SmtpEmail",
    "TwilioSms",
    "build_email_channel",
    "build_sms_channel",
    "error_for_code",
    "mask_address",
    "mask_email",
    "mask_phone",
]


def build_sms_channel(settings: Settings) -> Channel:
    if settings.sms_provider == "twilio":
        if not settings.twilio_account_sid or not settings.twilio_auth_token:
            # Settings.check_providers() normally catches this at start-up.
            raise ValueError("Twilio SMS needs AFTERCARE_TWILIO_ACCOUNT_SID and _AUTH_TOKEN")
        return TwilioSms(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            api_url=settings.twilio_api_url,
            messaging_service_sid=settings.twilio_messaging_service_sid,
            pool_size=settings.provider_concurrency,
        )
    return ConsoleChannel("sms")


def build_email_channel(settings: Settings) -> Channel:
    if settings.email_provider == "smtp":
        if not settings.smtp_url:
            raise ValueError("SMTP email needs AFTERCARE_SMTP_URL")
        return SmtpEmail(settings.smtp_url)
    return ConsoleChannel("email")
