"""What a rendered message is, and rendering one template for a channel."""

from __future__ import annotations

from dataclasses import dataclass

from reminders import rendering


@dataclass(frozen=True)
class RenderedMessage:
    text: str
    segments: int
    subject: str | None = None
    html: str | None = None
    calendar: str | None = None  # an iCalendar invite for the email (delivery/invites.py)


def render_template(
    sources: dict[str, str], template: str, lang: str, context: dict[str, object], channel: str
) -> RenderedMessage:
    if channel == "email":
        email = rendering.render_email(sources, template, lang, context)
        return RenderedMessage(text=email.text, segments=0, subject=email.subject, html=email.html)
    text = rendering.render_text(sources, template, lang, context)
    return RenderedMessage(text=text.text, segments=text.segments.segments)
