"""A staff page's text, rendered when it goes out (the link needs this process's public URL).

Minimal PHI: the patient's first name, the severity, a link and the acknowledgement code.
Staff read English.
"""

from __future__ import annotations

from reminders import rendering
from reminders.config import Settings
from reminders.conversations.texts import system_sources
from reminders.delivery.context import display_phone
from reminders.delivery.rendered import RenderedMessage
from reminders.delivery.rows import MessageRow
from reminders.segments import count


def render_page(row: MessageRow, settings: Settings) -> RenderedMessage:
    severity, code = row.concern_severity or "urgent", row.concern_ack_code or ""
    link = f"{settings.public_url.rstrip('/')}/concerns/{row.concern_id}"
    context: dict[str, object] = {
        "first_name": row.given_name or "Unknown sender", "clinic_name": row.clinic_name,
        "clinic_phone": display_phone(row.contact_phone or row.sms_from),
        "emergency_number": row.emergency_number, "severity": severity, "link": link,
        "ack_code": code,
    }  # fmt: skip
    try:
        text = rendering.render_text(system_sources(), "staff_alert", "en", context).text
    except rendering.RenderError:  # a broken override must not cost a page
        text = (f"Aftercare {severity.upper()}: {context['first_name']} needs review. {link} "
                f"Reply ACK {code} to acknowledge.")  # fmt: skip
    if row.channel == "sms":
        return RenderedMessage(text=text, segments=count(text).segments)
    subject = f"Aftercare {severity.upper()}: a patient needs review ({code})"
    return RenderedMessage(text=text, segments=0, subject=subject)

