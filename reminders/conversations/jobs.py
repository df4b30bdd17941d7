"""The conversation jobs Celery beat and the embedded runner run periodically.

All are idempotent and safe to run concurrently; see escalation.py, no_response.py and
oncall/coverage.py. What they queue (pages, re-asks) is delivered at once, in the same
run, through the delivery pipeline; the dispatcher would claim it on its next tick too.
"""

from __future__ import annotations

from reminders.clock import Clock
from reminders.config import Settings, get_settings
from reminders.conversations.escalation import escalate_due
from reminders.conversations.inbox import read_pending
from reminders.conversations.no_response import run_no_response
from reminders.conversations.outbound import Channels, default_channels, deliver_now
from reminders.delivery.send import SessionFactory
from reminders.jobs import Job
from reminders.oncall.coverage import check_coverage


def escalate_concerns(
    sessions: SessionFactory, clock: Clock, channels: Channels | None = None,
    settings: Settings | None = None,
) -> int:  # fmt: skip
    """Page the next step of every overdue concern, then deliver what is due."""
    with sessions() as session:
        created = escalate_due(session=session, now=clock.now())
    if created:
        deliver_now(sessions=sessions, channels=channels or default_channels(),
                    settings=settings or get_settings(), clock=clock)  # fmt: skip
    return len(created)


def follow_up_unanswered(
    sessions: SessionFactory, clock: Clock, channels: Channels | None = None,
    settings: Settings | None = None,
) -> int:  # fmt: skip
    done = run_no_response(sessions=sessions, clock=clock)
    if done:
        deliver_now(sessions=sessions, channels=channels or default_channels(),
                    settings=settings or get_settings(), clock=clock)  # fmt: skip
    return done


def read_stored_texts(
    sessions: SessionFactory, clock: Clock, channels: Channels | None = None,
    settings: Settings | None = None,
) -> int:  # fmt: skip
    """The sweep behind the webhook's kick: read any stored text still unread, then
    deliver the replies and pages that reading queued."""
    read = 0
    while True:  # until nothing is unread: a sweep after a lost kick may find a burst
        done = read_pending(sessions=sessions, clock=clock)
        read += done.read
        if done.queued:
            deliver_now(sessions=sessions, channels=channels or default_channels(),
                        settings=settings or get_settings(), clock=clock)  # fmt: skip
        if not done.more:
            return read


JOBS: list[Job] = [
    # Each stored text kicks a reader at once; this only catches a kick that was lost.
    Job(name="read_stored_texts", interval_seconds=5.0, run=read_stored_texts),
    # An emergency step may wait only a few minutes: check often.
    Job(name="escalate_concerns", interval_seconds=15.0, run=escalate_concerns),
    Job(name="follow_up_unanswered", interval_seconds=60.0, run=follow_up_unanswered),
    Job(name="check_on_call_coverage", interval_seconds=60.0, run=check_coverage),
]
