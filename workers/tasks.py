"""Thin Celery tasks: ids in, their own sessions, all logic in ``reminders.delivery``.

``dispatch`` claims due messages and, after each claiming transaction has committed,
enqueues ``send_batch`` tasks carrying (message id, claim token) pairs. A send task
holding a stale token changes nothing, so a redelivered or duplicated task is harmless.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from reminders.clock import SystemClock
from reminders.config import get_settings
from reminders.conversations.inbox import read_pending
from reminders.db import session_scope
from reminders.delivery import engine
from reminders.delivery.dispatch import Claim
from reminders.delivery.send import Sender
from reminders.jobs import periodic_jobs
from workers.app import DISPATCH_TASK, READ_INBOUND_TASK, RUN_JOB_TASK, SEND_BATCH_TASK, app

log = logging.getLogger(__name__)

# One Sender per worker process, built on first use after the fork (it holds pooled
# HTTP connections and a Redis client that must not be shared with the parent).
_state: dict[str, Sender] = {}


def sender() -> Sender:
    if "sender" not in _state:
        from reminders.delivery.factory import build_sender

        _state["sender"] = build_sender(get_settings())
    return _state["sender"]


def reset_process_state() -> None:
    built = _state.pop("sender", None)
    if built is not None:
        built.close()
        for channel in built.channels.values():
            channel.close()


def enqueue(claims: list[Claim]) -> None:
    """Publish committed claims as send tasks of one batch each.

    ``expires``: a task still queued when its claims' lease runs out is dropped; the
    dispatcher has reclaimed (or will reclaim) those messages under new tokens.
    """
    settings = get_settings()
    size = engine.batch_size(settings)
    for chunk in engine.chunks(claims, size):
        send_batch.apply_async(
            args=[[[c.message_id, c.token] for c in chunk]],
            expires=settings.claim_lease_seconds,
        )


@app.task(name=DISPATCH_TASK)
def dispatch() -> int:
    """Beat's tick: claim what is due, slice by slice, and hand it to send tasks."""
    claimed = engine.dispatch_due(
        sessions=session_scope, clock=SystemClock(), settings=get_settings(), submit=enqueue
    )
    if claimed:
        log.info("dispatched %d messages", claimed)
    return claimed


@app.task(name=SEND_BATCH_TASK)
def send_batch(claims: list[list[int]]) -> dict[str, int]:
    parsed = [Claim(message_id=int(mid), token=int(token)) for mid, token in claims]
    outcomes = engine.send_batch(sender(), parsed)
    counts = dict(Counter(o.result for o in outcomes))
    log.info("batch of %d: %s", len(parsed), counts)
    settings = get_settings()
    if len(parsed) >= engine.batch_size(settings):
        # A full batch hints at a backlog: claim the next slice now rather than wait
        # for beat's next tick, so delivery keeps pace with the workers.
        engine.dispatch_round(
            sessions=session_scope,
            clock=SystemClock(),
            settings=settings,
            submit=enqueue,
            limit=len(parsed),  # one batch in for one batch out: the pipeline keeps its depth
        )
    return counts


@app.task(name=READ_INBOUND_TASK)
def read_inbound() -> int:
    """Kicked by the SMS webhook after each stored batch: read the unread texts, then
    dispatch the replies and pages that queued (claimed ahead of check-ins)."""
    done = read_pending(sessions=session_scope, clock=SystemClock())
    if done.more:
        # A burst bigger than one round: carry on in another task (any worker process)
        # rather than hold this one; the replies and pages already queued go out now.
        read_inbound.delay()
    if done.queued:
        dispatch()
    return done.read


@app.task(name=RUN_JOB_TASK)
def run_job(name: str) -> Any:
    """Run the periodic job ``name`` from ``reminders.jobs.periodic_jobs()``."""
    job = next((j for j in periodic_jobs() if j.name == name), None)
    if job is None:
        log.warning("unknown periodic job %r", name)
        return 0
    return job.run(session_scope, SystemClock())
