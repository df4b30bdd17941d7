"""After a webhook commits messages to send (pages, replies, retries): deliver them now.

With a broker the dispatcher task is queued, so a worker claims them within moments; in
embedded mode this process claims and sends them after the response. Either way the
rows are already committed: a kick that never runs only costs latency, since the
dispatcher's next tick claims them too.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable

from fastapi import BackgroundTasks, Request
from sqlalchemy.orm import Session, sessionmaker

from reminders.clock import Clock
from reminders.config import Settings
from reminders.conversations.inbox import read_pending
from reminders.conversations.outbound import Channels, build_channels, deliver_now
from reminders.db import transaction
from reminders.delivery.send import SessionFactory

log = logging.getLogger(__name__)


def deliver_after_commit(
    request: Request, background: BackgroundTasks, *, settings: Settings, clock: Clock
) -> None:
    if settings.broker_url:
        background.add_task(_queue_dispatch)
        return
    background.add_task(deliver_now, sessions=app_sessions(request),
                        channels=app_channels(request), settings=settings, clock=clock)  # fmt: skip


def queue_read() -> None:
    """Ask a worker to read the texts just stored (the sweep job covers a lost kick)."""
    from workers.app import READ_INBOUND_TASK, app

    app.send_task(READ_INBOUND_TASK)


class Throttled:
    """Call ``action`` at most once every ``every`` seconds, and always once after the
    last call (a timer catches the trailing one): a kick for every request of a burst
    would cost more than the reading it asks for."""

    def __init__(self, action: Callable[[], None], every: float) -> None:
        self._action, self._every = action, every
        self._lock = threading.Lock()
        self._last = -every
        self._timer: threading.Timer | None = None

    def __call__(self) -> None:
        with self._lock:
            wait = self._last + self._every - time.monotonic()
            if wait <= 0 and self._timer is None:
                self._last = time.monotonic()
            else:
                if self._timer is None:
                    self._timer = threading.Timer(max(wait, 0.0), self._trailing)
                    self._timer.daemon = True
                    self._timer.start()
                return
        self._action()

    def _trailing(self) -> None:
        with self._lock:
            self._timer, self._last = None, time.monotonic()
        try:
            self._action()
        except Exception:  # the sweep job reads them within seconds anyway
            log.warning("could not kick the inbound readers; the sweep will read them")


_reading = threading.Lock()
_wanted = threading.Event()


def read_here(
    *, sessions: SessionFactory, channels: Channels, settings: Settings, clock: Clock
) -> None:
    """Without a broker: read the stored texts in this process, then deliver what that
    queued. One reader at a time per process: a request that finds it busy leaves a
    note, and the reader goes round again before it stops."""
    _wanted.set()
    while _wanted.is_set() and _reading.acquire(blocking=False):
        try:
            _wanted.clear()
            while (done := read_pending(sessions=sessions, clock=clock)).read:
                if done.queued:
                    deliver_now(sessions=sessions, channels=channels, settings=settings,
                                clock=clock)  # fmt: skip
        finally:
            _reading.release()


def _queue_dispatch() -> None:
    from workers.app import DISPATCH_TASK, app  # the web process imports Celery only here

    try:
        app.send_task(DISPATCH_TASK)
    except Exception:  # broker down: beat's next tick dispatches the same rows
        log.warning("could not queue a dispatch after a webhook; beat will pick it up")


def app_sessions(request: Request) -> SessionFactory:
    """A session-scope factory on the app's engine, for work after the response."""
    maker: sessionmaker[Session] = request.app.state.sessionmaker
    return functools.partial(transaction, maker)


def app_channels(request: Request) -> Channels:
    """The app's SMS and email channels, built once from its settings."""
    state = request.app.state
    channels: Channels | None = getattr(state, "conversation_channels", None)
    if channels is None:
        channels = build_channels(state.settings)
        state.conversation_channels = channels
    return channels
