"""The Celery app's configuration and the thin tasks that do not need a broker."""

from __future__ import annotations

import pytest

from reminders.clock import Clock
from reminders.config import get_settings
from reminders.db import get_engine
from reminders.delivery.send import SessionFactory
from reminders.jobs import Job, periodic_jobs
from workers import app as celery_app
from workers import tasks


def test_tasks_are_acknowledged_late_and_requeued_if_their_process_dies() -> None:
    conf = celery_app.app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.broker_connection_retry_on_startup is True
    assert conf.task_ignore_result is True
    # The Redis transport reads it from three places and the shortest wins.
    timeouts = {
        conf.broker_transport_options["visibility_timeout"],
        conf.result_backend_transport_options["visibility_timeout"],
        conf.visibility_timeout,
    }
    assert timeouts == {celery_app.VISIBILITY_TIMEOUT}
    assert conf.accept_content == ["json"]


def test_beat_runs_the_dispatcher_and_every_periodic_job() -> None:
    schedule = celery_app.app.conf.beat_schedule
    dispatcher = schedule["dispatch-due-messages"]
    assert dispatcher["task"] == celery_app.DISPATCH_TASK == tasks.dispatch.name
    assert dispatcher["schedule"] == get_settings().dispatch_interval_seconds
    jobs = {name: entry for name, entry in schedule.items() if name != "dispatch-due-messages"}
    assert {entry["args"] for entry in jobs.values()} == {(j.name,) for j in periodic_jobs()}
    assert {entry["task"] for entry in jobs.values()} <= {tasks.run_job.name}
    assert celery_app.beat_schedule(0.5)["dispatch-due-messages"]["options"] == {"expires": 0.5}


def test_run_job_runs_the_named_job_and_ignores_unknown_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ran: list[str] = []

    def work(sessions: SessionFactory, clock: Clock) -> int:
        ran.append(type(clock).__name__)
        return 7

    monkeypatch.setattr(tasks, "periodic_jobs", lambda: [Job("tidy", 60, work)])
    assert tasks.run_job("tidy") == 7
    assert tasks.run_job("nope") == 0
    assert ran == ["SystemClock"]


def test_a_forked_worker_process_starts_without_the_parents_engine() -> None:
    get_engine()
    assert get_engine.cache_info().currsize == 1
    celery_app._fresh_process()
    assert get_engine.cache_info().currsize == 0
