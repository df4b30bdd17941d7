"""The Celery application: configured from settings, one beat entry per periodic job.

The database is the schedule; Redis only carries short-lived work (a dispatch tick, a
batch of claims to send now). Nothing is ever published with an ETA or countdown, so the
Redis transport's visibility-timeout redelivery cannot turn a far-future task into a
duplicate, and workers hold no growing set of postponed tasks in memory.

``celery -A workers.app worker`` / ``beat`` (or ``aftercare worker`` / ``aftercare beat``).

Beat touches ``AFTERCARE_BEAT_HEARTBEAT_FILE`` after every pass of its loop and wakes at
least every ``HEARTBEAT_EVERY`` seconds, so the file's age says whether beat is ticking
(``aftercare healthcheck beat``); a live process that is wedged goes stale too.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from celery import Celery
from celery.beat import PersistentScheduler
from celery.signals import worker_process_init, worker_process_shutdown

from reminders.config import get_settings
from reminders.jobs import periodic_jobs

# How long a reserved-but-unacked task may stay with a worker before Redis hands it to
# another. Longer than any task runs (a send batch is bounded by its claims' lease), so
# live workers never see their tasks duplicated; a dead worker's tasks are recovered
# sooner by the database lease anyway, and a redelivered stale batch does nothing.
VISIBILITY_TIMEOUT = 3600

DISPATCH_TASK = "aftercare.dispatch"
SEND_BATCH_TASK = "aftercare.send_batch"
RUN_JOB_TASK = "aftercare.run_job"
READ_INBOUND_TASK = "aftercare.read_inbound"
# Beat's longest sleep, whatever the schedule: the heartbeat is at most this old while
# beat is alive (compose allows 60 s, four missed beats).
HEARTBEAT_EVERY = 15.0

log = logging.getLogger(__name__)


def beat_schedule(interval: float) -> dict[str, dict[str, Any]]:
    """The dispatcher every ``interval`` seconds, then each periodic job on its own.

    ``expires`` drops ticks that waited longer than one interval (workers busy or down):
    the next tick does the same work, so a pile of stale ticks would only add load.
    """
    schedule: dict[str, dict[str, Any]] = {
        "dispatch-due-messages": {
            "task": DISPATCH_TASK,
            "schedule": interval,
            "options": {"expires": interval},
        }
    }
    for job in periodic_jobs():
        schedule[f"job-{job.name}"] = {
            "task": RUN_JOB_TASK,
            "schedule": job.interval_seconds,
            "args": (job.name,),
            "options": {"expires": job.interval_seconds},
        }
    return schedule


def make_app() -> Celery:
    settings = get_settings()
    app = Celery("aftercare", include=["workers.tasks"])
    transport = {"visibility_timeout": VISIBILITY_TIMEOUT}
    app.conf.update(
        broker_url=settings.broker_url,
        broker_connection_retry_on_startup=True,
        # Keep trying however long Redis is away (Celery's default gives up after 100
        # tries, about 46 minutes, and the worker exits): the rows wait in the database.
        broker_connection_max_retries=None,
        # No result backend: tasks report through the database, and a backend would
        # only be one more thing to fill up.
        result_backend=None,
        task_ignore_result=True,
        task_default_queue=settings.celery_queue,
        task_serializer="json",
        accept_content=["json"],
        # A send task is idempotent (every state change is fenced by the claim token),
        # so it is acknowledged only once done and re-queued if its process dies.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # The Redis transport reads the timeout from all three places, and the
        # shortest one wins; keep them equal.
        broker_transport_options=transport,
        result_backend_transport_options=transport,
        visibility_timeout=VISIBILITY_TIMEOUT,
        # On a warm shutdown give running batches time to finish and re-queue the rest.
        worker_soft_shutdown_timeout=10.0,
        timezone="UTC",
        enable_utc=True,
        beat_schedule=beat_schedule(settings.dispatch_interval_seconds),
        beat_scheduler="workers.app:HeartbeatScheduler",
        beat_max_loop_interval=HEARTBEAT_EVERY,
    )
    return app


class HeartbeatScheduler(PersistentScheduler):
    """Celery's file-backed scheduler, touching the heartbeat file after every tick.

    Written by beat itself (no worker, no broker round trip), so a beat whose loop has
    stopped (dead, or stuck publishing to an unreachable broker) stops touching it.
    At most once a second: a tick that sends several due entries loops without sleeping.
    """

    _last_beat = float("-inf")
    _failing = False

    def tick(self, *args: Any, **kwargs: Any) -> float:
        interval: float = super().tick(*args, **kwargs)
        now = time.monotonic()
        if now - self._last_beat >= 1.0:
            self._last_beat = now
            self._touch_heartbeat()
        return interval

    def _touch_heartbeat(self) -> None:
        path = get_settings().beat_heartbeat_file
        if path is None:
            return
        try:
            path.touch()
        except OSError as exc:
            # Keep scheduling: a stale heartbeat makes the health check say so.
            if not self._failing:
                log.warning("beat heartbeat %s not writable (%s)", path, type(exc).__name__)
            self._failing = True
        else:
            self._failing = False


app = make_app()


@worker_process_init.connect
def _fresh_process(**_: Any) -> None:
    # A forked child must not share the parent's pooled DB sockets, Redis connections
    # or HTTP sessions; everything is rebuilt lazily in the child.
    from reminders.db import reset_engine
    from workers import tasks

    reset_engine()
    tasks.reset_process_state()


@worker_process_shutdown.connect
def _close_process(**_: Any) -> None:
    from workers import tasks

    tasks.reset_process_state()
