"""(c) of the delivery benchmark: an idle worker and the claim query over a big backlog."""

from __future__ import annotations

import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.orm import Session

from bench import seed
from bench.harness import Worker, log, our_env
from reminders.delivery.dispatch import candidates_query, claim_due, pending_due
from reminders.enrollments.models import ScheduledMessage
from tests.fakes import FakeTwilio


def _count(engine: Engine, status: str) -> int:
    with Session(engine) as session:
        m = ScheduledMessage
        return int(session.scalar(select(func.count()).where(m.status == status)) or 0)


def backlog(
    engine: Engine, url: str, redis_url: str, fake: FakeTwilio, size: int, concurrency: int
) -> dict[str, Any]:
    result: dict[str, Any] = {"before": _idle(engine, url, redis_url, fake, concurrency)}
    now = datetime.now(UTC)
    with Session(engine) as session:
        enrollments = list(session.scalars(select(text("id")).select_from(text("enrollments"))))
    each = -(-size // len(enrollments))
    t = time.perf_counter()
    rows = seed.message_rows(
        _clinic(engine),
        enrollments,
        tag="backlog",
        each=each,
        first_due=now + timedelta(hours=1),
        spacing=timedelta(minutes=43),
        created=now,
    )
    written = seed.copy_messages(engine, (r for i, r in enumerate(rows) if i < size))
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    log(f"(c) {written} future messages in {time.perf_counter() - t:.0f}s")
    result["size"] = written
    result["after"] = _idle(engine, url, redis_url, fake, concurrency)
    return result


def _clinic(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.min(ScheduledMessage.clinic_id))) or 0)


def _idle(
    engine: Engine, url: str, redis_url: str, fake: FakeTwilio, concurrency: int
) -> dict[str, Any]:
    """Pending rows, a fresh idle worker's memory after 10 dispatch ticks, claim timings."""
    queue = f"bench-idle-{uuid.uuid4().hex[:6]}"
    worker = Worker(
        "workers.app", our_env(url, redis_url, fake, queue), queue, concurrency, beat=True
    )
    try:
        time.sleep(12)  # ten ticks of the dispatcher over the backlog
        memory = worker.rss_mb()
    finally:
        worker.stop()
        redis.Redis.from_url(redis_url).delete(queue)
    pending = _count(engine, "pending")
    return {"pending": pending, "memory": memory, "claims": _claim_timings(engine)}


def _claim_timings(engine: Engine) -> dict[str, Any]:
    """claim_due and EXPLAIN ANALYZE of its candidate query, with none and with 200 due.

    Everything runs in transactions that are rolled back: the backlog stays as it was.
    """
    result: dict[str, Any] = {}
    for due in (0, 200):
        with Session(engine) as session:
            now = datetime.now(UTC)
            if due:  # the 200 earliest future messages become due, in this transaction only
                m = ScheduledMessage
                first = select(m.id).where(m.status == "pending").order_by(m.due_at).limit(due)
                session.execute(update(m).where(m.id.in_(first)).values(due_at=now))
            session.execute(text("SAVEPOINT timing"))
            timings = []
            for _ in range(20):
                started = time.perf_counter()
                claimed = claim_due(
                    session=session, now=now, limit=200, lease=timedelta(seconds=60)
                )
                timings.append((time.perf_counter() - started) * 1000)
                session.execute(text("ROLLBACK TO SAVEPOINT timing"))
            assert len(claimed) == due
            query = candidates_query(pending_due(now), now, 200)
            compiled = query.compile(
                dialect=engine.dialect, compile_kwargs={"render_postcompile": True}
            )
            plan = session.connection().exec_driver_sql(
                f"EXPLAIN (ANALYZE, BUFFERS) {compiled}", compiled.params
            )
            result[due] = {"claim_ms": statistics.median(timings), "plan": [r[0] for r in plan]}
            session.rollback()
    return result
