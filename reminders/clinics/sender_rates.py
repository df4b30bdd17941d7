"""How fast a clinic's sender number may send: presets per kind of number, and the rule.

Twilio releases a sender's messages at a fixed rate per number and queues the rest; we
space our own requests to match (delivery.ratelimit), so nothing queues at the provider
and a message's quiet-hours check stays close to when it really goes out. Twilio's
published defaults, in message segments per second (MPS), US and Canada:

- long code (an ordinary 10-digit number): 1 MPS;
- toll-free number: 3 MPS, more on request ("High-Throughput Toll-Free");
- short code: 100 MPS (US short codes; older Canadian and UK ones 30).

Sources: https://www.twilio.com/docs/api/errors/30001 ("a US long code number can send
one message segment per second, and a short code may send over 100 message segments
per second") and
https://support.twilio.com/hc/en-us/articles/4411046744987-Toll-Free-SMS-and-MMS-messaging-throughput-MPS
("any US Toll-Free number ... offers an SMS sending throughput of 3 MPS").

A clinic's ``sms_rate_per_second`` is None for the deployment's default
(``AFTERCARE_SMS_RATE_PER_SECOND``) or a rate with 0 < rate <= 1000, whether chosen by
preset or typed in (a number whose rate was raised by the provider).
"""

from __future__ import annotations

from reminders.enrollments.schemas import InputError

PRESETS: dict[str, float] = {"long_code": 1.0, "toll_free": 3.0, "short_code": 100.0}
LABELS: dict[str, str] = {
    "long_code": "Long code (1 a second)",
    "toll_free": "Toll-free number (3 a second)",
    "short_code": "Short code (100 a second)",
}
DEFAULT = "default"  # no rate of its own: the deployment's
CUSTOM = "custom"
MAX_RATE = 1000.0


def validate(rate: float, field: str = "sms_rate_per_second") -> float:
    """``rate`` if 0 < rate <= 1000, else InputError naming ``field``."""
    # NaN fails both comparisons and is refused with the rest.
    if not 0 < rate <= MAX_RATE:
        raise InputError([(field, f"must be more than 0 and at most {MAX_RATE:g} a second")])
    return float(rate)


def parse(raw: str, field: str = "sms_rate_per_second") -> float:
    """A typed rate ("3", "2.5") validated; InputError naming ``field`` otherwise."""
    try:
        value = float(raw.strip())
    except ValueError:
        raise InputError([(field, "must be a number of messages a second")]) from None
    return validate(value, field)


def from_preset(name: str, field: str = "preset") -> float:
    """The rate of preset ``name``; InputError naming ``field`` for an unknown one."""
    if name not in PRESETS:
        raise InputError([(field, "must be one of " + ", ".join(PRESETS))])
    return PRESETS[name]


def preset_of(rate: float | None) -> str:
    """The preset a stored rate matches, ``default`` for None, else ``custom``."""
    if rate is None:
        return DEFAULT
    return next((name for name, value in PRESETS.items() if value == rate), CUSTOM)
