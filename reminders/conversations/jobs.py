"""The conversation jobs Celery beat and the embedded runner run periodically.

Both are idempotent and safe to run concurrently; see escalation.py and no_response.py.
"""

from __future__ import annotations

from reminders.clock import Clock
from reminders.config import Settings, get_settings
from reminders.conversations.alerts import deliver_pending
from reminders.conversations.escalation import escalate_due
from reminders.conversations.no_response import run_no_response
from reminders.conversations.outbound import Channels, default_channels
from reminders.delivery.send import SessionFactory
from reminders.jobs import Job


def escalate_concerns(
    sessions: SessionFactory, clock: Clock, channels: Channels | None = None,
    settings: Settings | None = None,
) -> int:  # fmt: skip
    """Escalate overdue concerns, then send every alert still pending (new or retried)."""
    with sessions() as session:
        created = escalate_due(session=session, now=clock.now())
    deliver_pending(sessions=sessions, channels=channels or default_channels(),
                    settings=settings or get_settings(), clock=clock)  # fmt: skip
    return len(created)


def follow_up_unanswered(
    sessions: SessionFactory, clock: Clock, channels: Channels | None = None,
    settings: Settings | None = None,
) -> int:  # fmt: skip
    return run_no_response(sessions=sessions, channels=channels or default_channels(),
                           settings=settings or get_settings(), clock=clock)  # fmt: skip


JOBS: list[Job] = [
    # An emergency has five minutes before it escalates: check often.
    Job(name="escalate_concerns", interval_seconds=15.0, run=escalate_concerns),
    Job(name="follow_up_unanswered", interval_seconds=60.0, run=follow_up_unanswered),
]
