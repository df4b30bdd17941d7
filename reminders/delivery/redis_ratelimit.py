"""The per-sender rate limit shared by every worker process, kept in Redis.

Same rule as :class:`~reminders.delivery.ratelimit.LocalRateLimiter`: each send from a
sender takes the next free slot, ``1/rate`` seconds after the previous one. One Lua
script reads and advances the slot atomically, on Redis's own clock, so workers on
different machines (and with drifting clocks) still share one schedule.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

import redis

log = logging.getLogger(__name__)

# KEYS[1]: the sender's next free slot (microseconds on the Redis clock).
# ARGV[1]: spacing in microseconds. Returns how long the caller must wait, in µs.
# The key expires once idle, so numbers no longer in use leave nothing behind.
_TAKE_SLOT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local spacing = tonumber(ARGV[1])
local slot = tonumber(redis.call('GET', KEYS[1]) or '0')
if slot < now then slot = now end
local ttl = math.ceil((slot + spacing - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%d', slot + spacing), 'PX', ttl)
return slot - now
"""


class RedisRateLimiter:
    """At most ``rate`` sends per second per sender key, across all processes.

    ``overrides`` sets other rates for particular numbers (a toll-free number takes 3 a
    second, a short code far more). ``margin`` widens the spacing a little: the slot is
    granted here, but the request reaches the provider a few milliseconds later, and
    those delays vary; 2 % keeps any one-second window at the provider within the rate
    even when consecutive requests are delayed differently by up to 20 ms at 1/s.
    """

    def __init__(
        self,
        url: str,
        rate: float,
        *,
        overrides: Mapping[str, float] | None = None,
        prefix: str = "aftercare:rate:",
        margin: float = 0.02,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive; use NoLimit for none")
        if any(r <= 0 for r in (overrides or {}).values()):
            raise ValueError("override rates must be positive")
        self._rate = rate
        self._overrides = dict(overrides or {})
        self._prefix = prefix
        self._margin = margin
        self._client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        self._script = self._client.register_script(_TAKE_SLOT)

    def rate_for(self, key: str) -> float:
        return self._overrides.get(key, self._rate)

    def acquire(self, key: str) -> None:
        spacing_us = int(1_000_000 * (1 + self._margin) / self.rate_for(key))
        wait_us = int(self._script(keys=[self._prefix + key], args=[spacing_us]))
        if wait_us > 0:
            time.sleep(wait_us / 1_000_000)

    def close(self) -> None:
        self._client.close()
