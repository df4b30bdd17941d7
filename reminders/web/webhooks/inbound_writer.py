"""Group commit for the SMS webhook: concurrent requests' texts share one INSERT.

Each request waits until its own text is committed (a text is never answered before it
is stored), but requests that arrive while a write is in flight go to the database
together in the next one. Under a burst the writes get wider, not more numerous, so the
webhook's cost per text falls as concurrency rises instead of queueing on the pool.

After each committed batch the readers are kicked once: the Celery read task with a
broker, nothing here without one (the webhook then reads in-process after answering).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import anyio.to_thread
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from reminders.conversations.inbox import store_texts

log = logging.getLogger(__name__)


class InboundWriter:
    def __init__(self, engine: Engine, after_commit: Callable[[], None] | None = None) -> None:
        self._engine = engine
        self._after_commit = after_commit
        self._waiting: list[tuple[dict[str, Any], asyncio.Future[int]]] = []
        self._in_flight: asyncio.Future[None] | None = None
        self._connection: Connection | None = None

    async def store(self, row: dict[str, Any]) -> int:
        """Store one text (a ``service.sms_row``); its id, once committed."""
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._waiting.append((row, future))
        while not future.done():
            if self._in_flight is None:
                await self._write_batch()  # this request writes everyone's waiting text
            else:
                await self._in_flight  # the next batch starts when this one is done
        return future.result()

    async def _write_batch(self) -> None:
        batch, self._waiting = self._waiting, []
        done = self._in_flight = asyncio.get_running_loop().create_future()
        try:
            # Not abandoned on cancel: the rows' fate is known before anyone moves on.
            ids = await anyio.to_thread.run_sync(self._write, [row for row, _ in batch])
        except Exception as exc:  # each request answers 500; Twilio retries them
            log.exception("could not store %d inbound texts", len(batch))
            for _, future in batch:
                future.set_exception(exc)
        else:
            for (_, future), inbound_id in zip(batch, ids, strict=True):
                future.set_result(inbound_id)
        finally:
            self._in_flight = None
            done.set_result(None)

    def _store(self, rows: list[dict[str, Any]]) -> list[int]:
        if self._engine.dialect.name != "postgresql":
            # (pysqlite's autocommit did not keep the rows; SQLite's own transaction costs
            # no round trip anyway.)
            with self._engine.begin() as conn:
                return store_texts(connection=conn, rows=rows)
        # PostgreSQL: one autocommit connection kept for the writer (batches never
        # overlap). The one INSERT is atomic by itself, so BEGIN and COMMIT would be two
        # more round trips per batch, and a pool checkout per batch costs a reset.
        for attempt in (1, 2):
            if self._connection is None or self._connection.closed:
                self._connection = self._engine.connect().execution_options(
                    isolation_level="AUTOCOMMIT")
            try:
                return store_texts(connection=self._connection, rows=rows)
            except DBAPIError as exc:
                self._connection.close()  # never kept broken
                self._connection = None
                # A connection that died while idle (the database restarted) is retried
                # once on a fresh one; the INSERT is idempotent (ON CONFLICT DO NOTHING).
                if attempt == 2 or not exc.connection_invalidated:
                    raise
        raise AssertionError("unreachable")

    def _write(self, rows: list[dict[str, Any]]) -> list[int]:
        ids = self._store(rows)
        if self._after_commit is not None:
            try:
                self._after_commit()
            except Exception:  # the sweep job reads them within seconds anyway
                log.warning("could not kick the inbound readers; the sweep will read them")
        return ids
