"""System texts (auto-replies, keyword answers, staff alerts) rendered from templates.

These are not protocol steps, so they are not in a protocol version's snapshot; they come
from the template directories (clinic overrides first, then the built-in set).
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime

from sqlalchemy.orm import Session

from reminders import rendering
from reminders.clinics import office_hours
from reminders.clinics.models import DEFAULT_CRISIS_LINE, Clinic
from reminders.delivery.context import display_phone
from reminders.protocols.loader import template_dirs

log = logging.getLogger(__name__)


@functools.cache
def system_sources() -> dict[str, str]:
    return rendering.load_template_sources(template_dirs())


def clinic_context(clinic: Clinic, first_name: str = "") -> dict[str, object]:
    return {
        "first_name": first_name,
        "clinic_name": clinic.name,
        "clinic_phone": display_phone(clinic.contact_phone or clinic.sms_from),
        "emergency_number": clinic.emergency_number,
        "crisis_line": clinic.crisis_line or DEFAULT_CRISIS_LINE,
    }


def render(template: str, lang: str, context: dict[str, object]) -> str | None:
    """The rendered text, or None when the template is broken (a clinic override, say).

    A bad template must never cost us the patient's message: the caller stores it, flags
    it and pages staff whatever the reply text does.
    """
    try:
        return rendering.render_text(system_sources(), template, lang, context).text
    except rendering.RenderError as exc:
        log.error("system template %s.%s failed: %s", template, lang, exc)
        return None


def office_open(*, session: Session, clinic: Clinic, at: datetime) -> bool:
    """Whether someone answers the clinic phone at ``at``: its office hours and closed
    dates (not the send window, which is about quiet hours for our own texts)."""
    return office_hours.office_open(session=session, clinic=clinic, at=at)
