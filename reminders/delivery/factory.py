"""Build a Sender from settings: providers switched on by configuration."""

from __future__ import annotations

import importlib

from reminders.channels import build_email_channel, build_sms_channel
from reminders.channels.base import Channel
from reminders.clock import Clock, SystemClock
from reminders.config import Settings, get_settings
from reminders.db import session_scope
from reminders.delivery.ratelimit import LocalRateLimiter, NoLimit, RateLimiter
from reminders.delivery.send import Sender, SessionFactory
from reminders.interop.push import build_channel as build_fhir_channel


def rate_limiter_for(settings: Settings) -> RateLimiter:
    if settings.sms_rate_per_second <= 0:
        return NoLimit()
    if settings.rate_limit_redis_url:
        from reminders.delivery.redis_ratelimit import RedisRateLimiter

        return RedisRateLimiter(
            settings.rate_limit_redis_url,
            settings.sms_rate_per_second,
            prefix=settings.rate_limit_prefix,
        )
    return LocalRateLimiter(settings.sms_rate_per_second)


def build_sender(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    channels: dict[str, Channel] | None = None,
    sessions: SessionFactory = session_scope,
    rate_limiter: RateLimiter | None = None,
) -> Sender:
    settings = settings or get_settings()
    if settings.sms_provider == "twilio" and channels is None:
        # twilio-python imports its Messages API on first use (~80 ms). Paid here, not
        # between a rate-limit slot and the request it was granted for, where it would
        # bunch the first two sends of a process together at the provider.
        importlib.import_module("twilio.rest.api.v2010.account.message")
    return Sender(
        channels=channels
        or {"sms": build_sms_channel(settings), "email": build_email_channel(settings),
            "fhir": build_fhir_channel(settings)},
        clock=clock or SystemClock(),
        settings=settings,
        sessions=sessions,
        rate_limiter=rate_limiter or rate_limiter_for(settings),
    )
