"""The retention job: hourly is enough, each run purges only what has come due (at most
``DEFAULT_LIMIT`` enrolments), so a backlog drains over several runs."""

from __future__ import annotations

import logging

from reminders.clock import Clock
from reminders.delivery.send import SessionFactory
from reminders.jobs import Job
from reminders.retention.service import purge_due

log = logging.getLogger(__name__)


def purge_expired(sessions: SessionFactory, clock: Clock) -> int:
    """Remove the texts of enrolments past their clinic's retention period; how many."""
    with sessions() as session:
        done = purge_due(session=session, now=clock.now())
    if done:
        log.info("retention: removed the texts of %d enrolments", done)
    return done


JOB = Job(name="purge_expired_texts", interval_seconds=3600.0, run=purge_expired)
