"""Periodic jobs, declared once and run by either front door.

Celery beat schedules each as a task (workers/app.py); the embedded runner calls them
in-process on the same intervals. A job takes the session factory and the clock and
returns how much it did, for logs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from reminders.clock import Clock
from reminders.delivery.send import SessionFactory

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    interval_seconds: float
    run: Callable[[SessionFactory, Clock], int]


def periodic_jobs() -> list[Job]:
    """Jobs besides the dispatcher (which both modes run on their own interval)."""
    # Imported here: they import Job from us.
    from reminders.conversations.jobs import JOBS
    from reminders.retention.jobs import JOB as PURGE
    from reminders.staff.cleanup import JOB as SIGN_IN_CLEANUP

    return [*JOBS, PURGE, SIGN_IN_CLEANUP]


def run_periodic(
    stop: threading.Event, sessions: SessionFactory, clock: Clock, jobs: list[Job] | None = None
) -> None:
    """The embedded mode's beat: run each job on its interval until ``stop`` is set."""
    jobs = periodic_jobs() if jobs is None else jobs
    last_run: dict[str, float] = {}
    while not stop.is_set():
        for job in jobs:
            if time.monotonic() - last_run.get(job.name, -1e9) < job.interval_seconds:
                continue
            last_run[job.name] = time.monotonic()
            try:
                job.run(sessions, clock)
            except Exception:
                # One failing job must not stop the others (or the next round of itself).
                log.exception("periodic job %s failed", job.name)
        stop.wait(1.0)
