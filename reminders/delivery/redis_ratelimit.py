"""The per-sender rate limit shared by every worker process, kept in Redis.

Same rule as :mod:`reminders.delivery.ratelimit` (reserve a slot, sleep, confirm), with
each step one Lua script that reads and advances its key atomically, on Redis's own
clock, so workers on different machines (and with drifting clocks) share one schedule
and one record of when each number last sent.

The rate is each sender's own (the clinic's setting, passed with every acquire): the
scripts take the spacing as an argument. The slot key holds the sender's next free
slot, as it did before per-number rates, so a worker still running the old code during
a deploy keeps to the same schedule.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

import redis

from reminders.delivery.ratelimit import MARGIN, spacing

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

# KEYS[1]: when the sender last really sent (µs on the Redis clock). ARGV[1]: the
# interval (1/rate) in µs. Records the send and returns 0 if a full interval has passed
# since, else returns how much longer to wait (and records nothing).
_CONFIRM = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
if last + interval > now then return last + interval - now end
redis.call('SET', KEYS[1], string.format('%d', now), 'PX', math.ceil(interval / 1000) + 1000)
return 0
"""


class RedisRateLimiter:
    """At most ``rate`` sends per second per sender key, across all processes.

    ``acquire(key, rate)`` uses the rate given (the clinic's); without one, the rate in
    ``overrides`` for that number, else the default ``rate``; a rate <= 0 means none.
    ``margin`` widens the spacing a little: the slot is granted here, but the request
    reaches the provider a few milliseconds later, and those delays vary; 2 % keeps any
    one-second window at the provider within the rate even when consecutive requests
    are delayed differently by up to 20 ms at 1/s.
    """

    def __init__(
        self,
        url: str,
        rate: float,
        *,
        overrides: Mapping[str, float] | None = None,
        prefix: str = "aftercare:rate:",
        margin: float = MARGIN,
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
        self._take_slot = self._client.register_script(_TAKE_SLOT)
        self._confirm = self._client.register_script(_CONFIRM)

    def rate_for(self, key: str, rate: float | None = None) -> float:
        return self._overrides.get(key, self._rate) if rate is None else rate

    def acquire(self, key: str, rate: float | None = None) -> None:
        rate = self.rate_for(key, rate)
        if rate <= 0:
            return  # this sender is not limited: no round trip to Redis
        slot_us = max(1, int(1_000_000 * spacing(rate, self._margin)))
        wait_us = int(self._take_slot(keys=[self._prefix + key], args=[slot_us]))
        interval_us = max(1, int(1_000_000 / rate))
        while True:
            if wait_us > 0:
                time.sleep(wait_us / 1_000_000)
            wait_us = int(self._confirm(keys=[self._prefix + key + ":sent"], args=[interval_us]))
            if wait_us <= 0:
                return

    def close(self) -> None:
        self._client.close()
