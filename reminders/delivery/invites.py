"""The follow-up visit as an iCalendar invite (RFC 5545, iTIP methods of RFC 5546).

Pure: no database, clock or network. The visit reminder email carries ``METHOD:REQUEST``;
a moved visit whose invite already went out gets a new ``REQUEST`` with a higher
``SEQUENCE``, and a cancelled one ``METHOD:CANCEL`` with the same ``UID`` — which is how a
calendar program knows to update or remove the entry it already has rather than add a
second one. Times are written in the patient's zone (``DTSTART;TZID=America/Chicago``)
with its ``VTIMEZONE``, so the entry stays at 10:30 local across a DST change.

Minimal PHI: the summary says "Follow-up visit" and the clinic, never the procedure or a
diagnosis; the patient's name is not in it. The only patient data is the ``ATTENDEE``
address, added at send time (:func:`addressed`) and never stored.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.utils import parseaddr
from typing import Literal
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, vCalAddress, vText

# No visit length is recorded; a calendar entry needs an end, and a follow-up slot at a
# hip clinic is typically half an hour.
VISIT_LENGTH = timedelta(minutes=30)
PRODID = "-//Aftercare//Follow-up visit//EN"
Method = Literal["REQUEST", "CANCEL"]
_TEXTS = {
    "en": ("Follow-up visit", "To change or cancel it, call {phone}."),
    "es": ("Cita de control", "Para cambiarla o cancelarla, llame al {phone}."),
}


@dataclass(frozen=True)
class Visit:
    """One follow-up appointment as the patient's calendar should show it."""

    uid: str  # stable for the appointment (enrollments.visit_uid)
    sequence: int  # how many times it changed (enrollments.visit_sequence)
    start: datetime  # aware
    timezone: str  # the patient's IANA zone
    clinic_name: str
    organizer: str  # the clinic's From address: "Riverside Ortho <care@…>" or a bare one
    clinic_phone: str = ""  # display form, for the description
    language: str = "en"


def invite(visit: Visit, *, method: Method, stamp: datetime) -> str:
    """The VCALENDAR text: one VTIMEZONE and one VEVENT; ``stamp`` is DTSTAMP (now)."""
    if visit.start.tzinfo is None:
        raise ValueError("the visit start must be an aware datetime")
    tz = ZoneInfo(visit.timezone)
    start = visit.start.astimezone(tz)
    summary, description = _TEXTS.get(visit.language, _TEXTS["en"])
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    calendar.add_component(_vtimezone(visit.timezone, start.year))
    event = Event()
    event.add("uid", visit.uid)
    event.add("sequence", visit.sequence)
    event.add("dtstamp", stamp.astimezone(UTC))
    event.add("dtstart", start)
    event.add("dtend", (start + VISIT_LENGTH).astimezone(tz))
    event.add("summary", f"{summary} - {visit.clinic_name}")
    event.add("location", visit.clinic_name)
    if visit.clinic_phone:
        event.add("description", description.format(phone=visit.clinic_phone))
    name, address = parseaddr(visit.organizer)
    if "@" not in address:
        raise ValueError("the organizer needs an email address")
    organizer = vCalAddress(f"mailto:{address}")
    organizer.params["cn"] = vText(name or visit.clinic_name)
    event.add("organizer", organizer)
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    event.add("transp", "OPAQUE")
    calendar.add_component(event)
    return calendar.to_ical().decode()


def addressed(ics: str, attendee: str) -> str:
    """``ics`` with the recipient as its ATTENDEE (iTIP: a REQUEST names who is invited,
    a CANCEL of the whole event every attendee). ``RSVP=FALSE``: the visit is booked,
    there is nothing to accept, and the organizer address takes no replies."""
    calendar = Calendar.from_ical(ics)
    address = vCalAddress(f"mailto:{parseaddr(attendee)[1] or attendee}")
    address.params["role"] = "REQ-PARTICIPANT"
    address.params["rsvp"] = "FALSE"
    for event in calendar.walk("VEVENT"):
        event.pop("ATTENDEE", None)
        event.add("attendee", address)
    return calendar.to_ical().decode()


@functools.lru_cache(maxsize=64)
def _vtimezone_text(name: str, year: int) -> bytes:
    # The zone's rules from a year before the visit to two after: enough for any
    # client to place it, and a few hundred bytes instead of every transition since 1970.
    component = Timezone.from_tzinfo(
        ZoneInfo(name), tzid=name, first_date=date(year - 1, 1, 1), last_date=date(year + 2, 1, 1)
    )
    return bytes(component.to_ical())


def _vtimezone(name: str, year: int) -> Timezone:
    # Cached as text and parsed per use: a component is mutable, and workers use threads.
    parsed = Timezone.from_ical(_vtimezone_text(name, year))
    assert isinstance(parsed, Timezone)
    return parsed
