"""The sign-in cleanup job: sessions that can never work again and dead reset links are
removed (a reset mail's link text with them), so neither table only ever grows."""

from __future__ import annotations

import logging

from reminders.clock import Clock
from reminders.delivery.send import SessionFactory
from reminders.jobs import Job
from reminders.staff import resets, sessions

log = logging.getLogger(__name__)


def clean_up(session_factory: SessionFactory, clock: Clock) -> int:
    """Delete dead sessions and reset links; how many rows went."""
    now = clock.now()
    with session_factory() as session:
        ended = sessions.delete_dead(session=session, now=now)
        links = resets.scrub_dead(session=session, now=now)
    if ended or links:
        log.info("sign-in cleanup: removed %d sessions and %d reset links", ended, links)
    return ended + links


# Every 10 minutes: a reset link's text leaves the outbox soon after its 30 minutes.
JOB = Job(name="clean_up_sign_ins", interval_seconds=600.0, run=clean_up)
