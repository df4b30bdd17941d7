"""What a message template may see: plain values only, never ORM objects."""

from __future__ import annotations

import functools
from datetime import datetime
from zoneinfo import ZoneInfo

import phonenumbers

from reminders.scheduling import local_day_number

_DAYS = {
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
    "es": ("lun", "mar", "mié", "jue", "vie", "sáb", "dom"),
}
_MONTHS = {
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    "es": ("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic"),
}


@functools.lru_cache(maxsize=1024)
def display_phone(e164: str | None) -> str:
    """``+13125550100`` → ``+1 312-555-0100`` (cached: it is the clinic's number, per send)."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def local_date_text(instant: datetime, tz: ZoneInfo, lang: str) -> str:
    local = instant.astimezone(tz)
    lang = lang if lang in _DAYS else "en"
    return f"{_DAYS[lang][local.weekday()]} {local.day} {_MONTHS[lang][local.month - 1]}"


def message_context(
    *,
    first_name: str,
    clinic_name: str,
    clinic_phone: str | None,
    emergency_number: str,
    language: str,
    tz: ZoneInfo,
    performed_at: datetime,
    follow_up_at: datetime | None,
    occurrence: int,
    occurrences: int,
    at: datetime,
) -> dict[str, object]:
    return {
        "first_name": first_name,
        "clinic_name": clinic_name,
        "clinic_phone": display_phone(clinic_phone),
        "emergency_number": emergency_number,
        "follow_up_date": local_date_text(follow_up_at, tz, language) if follow_up_at else None,
        "follow_up_time": follow_up_at.astimezone(tz).strftime("%H:%M") if follow_up_at else None,
        "occurrence": occurrence,
        "occurrences": occurrences,
        "day_number": local_day_number(performed_at, at, tz),
    }
