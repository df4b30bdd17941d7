"""A page behind a backlog: what claiming pages and replies ahead of check-ins costs.

Seeds a PostgreSQL database with a backlog of check-ins already due (a 9 a.m. round
nobody has sent yet) and far more pending in the future, queues one staff page, and
measures, in the same run:

- (a) baseline: the ordinary candidate query alone (the claim before pages jumped the
  queue), LIMIT one batch, rolled back;
- (b) ``claim_due`` as it is now (urgent kinds first, then the rest, then the UPDATE of
  the claimed rows), one batch, rolled back;
- (c) the urgent-kinds candidate query alone: what putting pages first added to (b);
- where the page lands: in the first batch now; behind how many batches by due order.

Usage: ``python -m bench.pages [--due 20000] [--future 200000] [--repeat 50]``
(needs PostgreSQL at AFTERCARE_BENCH_PG, default the test server). Prints Markdown.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
from sqlalchemy import Engine, and_, select
from sqlalchemy.orm import Session

from bench import seed
from reminders import migrations
from reminders.db import make_engine
from reminders.delivery.dispatch import URGENT_KINDS, candidates_query, claim_due, pending_due
from reminders.enrollments.models import PAGE, PENDING, ScheduledMessage

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
BATCH = 200


def _timed(engine: Engine, work: Callable[[Session], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        with Session(engine) as session:
            start = time.perf_counter()
            work(session)
            times.append((time.perf_counter() - start) * 1000)
            session.rollback()
    return times


def run(engine: Engine, *, due: int, future: int, repeat: int) -> dict[str, float]:
    now = datetime.now(UTC)
    clinic, version = seed.make_clinic(engine)
    people = seed.enroll_many(engine, clinic, version, 2_000, now)
    seed.copy_messages(engine, seed.message_rows(
        clinic, people, tag="due", first_due=now - timedelta(minutes=30), each=-(-due // 2_000),
        spacing=timedelta(seconds=1), created=now))  # fmt: skip
    seed.copy_messages(engine, seed.message_rows(
        clinic, people, tag="future", first_due=now + timedelta(days=1),
        each=-(-future // 2_000), created=now))  # fmt: skip
    with Session(engine) as session, session.begin():
        page = ScheduledMessage(
            clinic_id=clinic, kind=PAGE, channel="sms", recipient="+13125550199",
            step_key="page", template="staff_alert", idempotency_key=f"page:{uuid.uuid4()}",
            planned_at=now, due_at=now, expires_at=now + timedelta(hours=2),
            time_critical=True, status=PENDING,
        )  # fmt: skip
        session.add(page)
        session.flush()
        page_id = page.id
    with engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE scheduled_messages")
    m = ScheduledMessage
    ordinary = candidates_query(pending_due(now), now, BATCH, order=(m.due_at,))
    baseline = _timed(engine, lambda s: s.execute(ordinary).all(), repeat)
    urgent_query = candidates_query(and_(pending_due(now), m.kind.in_(URGENT_KINDS)), now, BATCH,
                                    order=(m.due_at,))  # fmt: skip
    urgent = _timed(engine, lambda s: s.execute(urgent_query).all(), repeat)
    lease = timedelta(seconds=60)
    ours = _timed(engine, lambda s: claim_due(session=s, now=now, limit=BATCH, lease=lease),
                  repeat)  # fmt: skip
    with Session(engine) as session:
        first = claim_due(session=session, now=now, limit=BATCH, lease=lease)
        session.rollback()
        ahead = session.scalar(select(m.id).where(m.status == PENDING, m.due_at < now).limit(1))
        by_due = session.query(m).filter(m.status == PENDING, m.due_at < now).count()
    return {
        "due": float(by_due), "future": float(-(-future // 2_000) * 2_000),
        "repeat": float(repeat),
        "baseline_ms": statistics.median(baseline), "claim_ms": statistics.median(ours),
        "urgent_ms": statistics.median(urgent),
        "page_in_first_batch": float(page_id in {c.message_id for c in first}),
        "batches_ahead_by_due_order": float(by_due // BATCH if ahead is not None else 0),
    }  # fmt: skip


def markdown(r: dict[str, float]) -> str:
    ratio = r["claim_ms"] / r["baseline_ms"]
    return "\n".join([
        "| measure | value |", "|---|---|",
        f"| backlog | {int(r['due']):,} check-ins due, {int(r['future']):,} in the future, "
        "one page due now |",
        f"| (a) ordinary candidate query, {BATCH} rows (median of {int(r['repeat'])}) | "
        f"{r['baseline_ms']:.2f} ms |",
        f"| (b) `claim_due`, urgent kinds first, {BATCH} claims | {r['claim_ms']:.2f} ms |",
        f"| (c) the urgent-kinds candidate query alone | {r['urgent_ms']:.2f} ms |",
        f"| (b)/(a) | {ratio:.2f} |",
        f"| **(c)/(b)**: share of a claim spent putting pages first | "
        f"**{r['urgent_ms'] / r['claim_ms']:.3f}** |",
        f"| the page in the first batch | {'yes' if r['page_in_first_batch'] else 'no'} |",
        f"| batches ahead of it by due order alone | {int(r['batches_ahead_by_due_order'])} |",
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--due", type=int, default=20_000)
    parser.add_argument("--future", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--admin-url", default=ADMIN)
    args = parser.parse_args(argv)
    name = f"bench_pages_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(args.admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = "postgresql+psycopg://" + args.admin_url.split("://", 1)[1].rsplit("/", 1)[0] + "/" + name
    engine = make_engine(url)
    try:
        migrations.upgrade(engine)
        result = run(engine, due=args.due, future=args.future, repeat=args.repeat)
        print(markdown(result))
    finally:
        engine.dispose()
        with psycopg.connect(args.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
