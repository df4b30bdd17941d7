"""Periodic jobs, declared once and run by either front door.

Celery beat schedules each as a task (workers/app.py); the embedded runner calls them
in-process on the same intervals. A job takes the session factory and the clock and
returns how much it did, for logs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from reminders.clock import Clock
from reminders.delivery.send import SessionFactory


@dataclass(frozen=True)
class Job:
    name: str
    interval_seconds: float
    run: Callable[[SessionFactory, Clock], int]


def periodic_jobs() -> list[Job]:
    """Jobs besides the dispatcher (which both modes run on their own interval)."""
    jobs: list[Job] = []
    try:  # Step 3's escalation and no-response jobs, once present.
        from reminders.conversations.jobs import JOBS
    except ImportError:
        return jobs
    jobs.extend(JOBS)
    return jobs
