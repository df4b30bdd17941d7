"""Delivery benchmark, one command: ``.venv/bin/python bench/delivery.py``.

In one run, on the same Redis, PostgreSQL and worker settings (prefork, 2 processes):

(a) bare Celery: one no-op task per message, published and consumed; messages/second.
(b) ours, end to end: N messages due at one instant (one per enrollment, with more
    future messages per enrollment around them), claimed by beat's dispatcher, rendered,
    sent to the loopback FakeTwilio with no throttling, attempt recorded; messages/second
    from the due instant to the last provider accept, and lateness p50/p99 from due time
    to provider accept. Reported as (b)/(a).
(c) an idle worker's memory with a small and with a 1,000,000-message future backlog in
    PostgreSQL, and the dispatcher's claim query at that size (EXPLAIN ANALYZE).

Figures are printed as Markdown for docs/benchmarks.md. Nothing here is a timed test.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
from sqlalchemy import Engine, func, select, text, update  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench import seed  # noqa: E402
from bench.backlog import backlog  # noqa: E402
from bench.harness import (  # noqa: E402
    Worker,
    base_env,
    bench_database,
    busy,
    cpu_ticks,
    drained,
    log,
    our_env,
    process_cpu,
    wait_for,
)
from reminders.db import make_engine  # noqa: E402
from reminders.delivery.models import SendAttempt  # noqa: E402
from reminders.enrollments.models import SENT, ScheduledMessage  # noqa: E402
from tests.fakes import FakeTwilio  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--backlog", type=int, default=1_000_000)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/11")
    args = parser.parse_args(argv)
    load = float(Path("/proc/loadavg").read_text().split()[0])
    if load > 0.5:
        print(
            f"warning: load average {load} before starting; figures will be noisy", file=sys.stderr
        )
    results: dict[str, Any] = {"started": datetime.now(UTC)}
    with bench_database(args.pg) as url, FakeTwilio() as fake:
        engine = make_engine(url)
        print(f"database {url.rsplit('/', 1)[-1]}, FakeTwilio {fake.url}", file=sys.stderr)
        # The baseline before and after ours: drift on a shared machine shows, and the
        # ratio is taken against their mean.
        results["a"] = bare_celery(args.redis, args.messages, args.concurrency)
        results["b"] = end_to_end(engine, url, args.redis, fake, args.messages, args.concurrency)
        results["a2"] = bare_celery(args.redis, args.messages, args.concurrency)
        results["c"] = backlog(engine, url, args.redis, fake, args.backlog, args.concurrency)
        engine.dispose()
    print(report(results, args))
    return 0


# -- (a) bare Celery ------------------------------------------------------------------


def bare_celery(redis_url: str, n: int, concurrency: int) -> dict[str, float]:
    queue = f"bench-noop-{uuid.uuid4().hex[:6]}"
    env = base_env(redis_url, queue)
    os.environ.update(AFTERCARE_BROKER_URL=redis_url, AFTERCARE_CELERY_QUEUE=queue)
    from bench.noop_app import noop

    client = redis.Redis.from_url(redis_url)
    worker = Worker("bench.noop_app", env, queue, concurrency)
    try:
        # The queue is named on every call: the app (and its default queue) was
        # configured once, when this process first imported it.
        noop.apply_async(queue=queue)  # the worker is ready once it has eaten this one
        wait_for(lambda: drained(client, queue), 60, "the no-op worker to start")
        started, ticks, processes = time.perf_counter(), cpu_ticks(), process_cpu()
        for _ in range(n):
            noop.apply_async(queue=queue)
        published = time.perf_counter()
        wait_for(lambda: drained(client, queue), 600, "the no-op tasks")
        done, cpu = time.perf_counter(), busy(ticks, cpu_ticks())
        where = {k: v / n * 1000 for k, v in process_cpu(since=processes).items()}
    finally:
        worker.stop()
        client.delete(queue)
    log(f"(a) bare Celery: {n / (done - started):.0f}/s")
    return {
        "rate": n / (done - started),
        "publish_rate": n / (published - started),
        "seconds": done - started,
        "cpu": cpu,
        "where": where,
    }


# -- (b) our end-to-end path ----------------------------------------------------------


def end_to_end(
    engine: Engine, url: str, redis_url: str, fake: FakeTwilio, n: int, concurrency: int
) -> dict[str, Any]:
    now = datetime.now(UTC)
    clinic_id, version_id = seed.make_clinic(engine)
    t = time.perf_counter()
    enrollments = seed.enroll_many(engine, clinic_id, version_id, n, now)
    far = now + timedelta(days=1)
    # The message under test, and 12 more per enrollment over the following days.
    seed.copy_messages(
        engine, seed.message_rows(clinic_id, enrollments, tag="due", first_due=far, created=now)
    )
    seed.copy_messages(
        engine,
        seed.message_rows(
            clinic_id,
            enrollments,
            tag="later",
            each=12,
            first_due=far + timedelta(hours=6),
            created=now,
        ),
    )
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    log(f"(b) seeded {n} enrollments in {time.perf_counter() - t:.1f}s")

    queue = f"bench-ours-{uuid.uuid4().hex[:6]}"
    client = redis.Redis.from_url(redis_url)
    worker = Worker(
        "workers.app", our_env(url, redis_url, fake, queue), queue, concurrency, beat=True
    )
    try:
        # Beat ticks every second; a few consumed ticks show the worker is taking work.
        time.sleep(5)
        wait_for(lambda: drained(client, queue), 60, "the worker to start")
        log("(b) worker ready; messages due in 2 s")
        due = datetime.now(UTC) + timedelta(seconds=2)
        m = ScheduledMessage
        with Session(engine) as session, session.begin():
            session.execute(
                update(m)
                .where(m.idempotency_key.like("%:due:0"))
                .values(due_at=due, planned_at=due)
            )
        wait_for(lambda: datetime.now(UTC) >= due, 10, "the due instant")
        ticks = cpu_ticks()
        processes = process_cpu()
        wait_for(lambda: _count(engine, SENT) >= n, 900, "the messages to be sent", poll=0.25)
        cpu = busy(ticks, cpu_ticks())
        where = {k: v / n * 1000 for k, v in process_cpu(since=processes).items()}
        memory = worker.rss_mb()
    finally:
        worker.stop()
        client.delete(queue)
    with Session(engine) as session:
        accepted = list(session.scalars(select(SendAttempt.accepted_at)))
    lateness = sorted((at - due).total_seconds() for at in accepted if at is not None)
    first, last = min(accepted), max(accepted)  # type: ignore[type-var]
    duplicates = len(fake.messages) - len({msg["to"] for msg in fake.messages.values()})
    with Session(engine) as session:
        m = ScheduledMessage
        # Claimed more than once: their first send task was lost (a lease expired).
        reclaimed = session.scalar(select(func.count()).where(m.status == SENT, m.claims > 1))
    result = {
        "rate": n / (last - due).total_seconds(),
        "rate_from_first_accept": n / (last - first).total_seconds(),
        "p50": statistics.quantiles(lateness, n=100)[49],
        "p99": statistics.quantiles(lateness, n=100)[98],
        "sent": len(lateness),
        "cpu": cpu,
        "duplicates": duplicates,
        "reclaimed": reclaimed,
        "where": where,
        "memory": memory,
    }
    log(f"(b) ours: {result['rate']:.0f}/s, p50 {result['p50']:.1f}s")
    return result


def _count(engine: Engine, status: str) -> int:
    with Session(engine) as session:
        m = ScheduledMessage
        return int(session.scalar(select(func.count()).where(m.status == status)) or 0)


# -- report ---------------------------------------------------------------------------


def report(results: dict[str, Any], args: argparse.Namespace) -> str:
    a, a2, b, c = results["a"], results["a2"], results["b"], results["c"]
    baseline = (a["rate"] + a2["rate"]) / 2
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )

    def mem(state: dict[str, Any]) -> str:
        values = list(state["memory"].values())
        each = " / ".join(f"{v:.0f}" for v in values)
        return f"{sum(values):.0f} MB in {len(values)} processes ({each})"

    lines = [
        f"Run {results['started']:%Y-%m-%d %H:%M} UTC on {os.cpu_count()} CPUs ({cpu}), "
        f"Python {platform.python_version()}, {args.concurrency} prefork processes.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| (a) bare Celery, {args.messages:,} no-op tasks, before (b) | {a['rate']:,.0f} msg/s "
        f"(publishing alone {a['publish_rate']:,.0f}/s; machine {a['cpu']:.0%} busy) |",
        f"| (a) bare Celery, after (b) | {a2['rate']:,.0f} msg/s (machine {a2['cpu']:.0%} busy) |",
        f"| (b) ours, {args.messages:,} due at once, due → last accept | {b['rate']:,.0f} msg/s |",
        f"| (b) ours, first → last accept | {b['rate_from_first_accept']:,.0f} msg/s "
        f"(machine {b['cpu']:.0%} busy) |",
        f"| **(b)/(a)**, against the mean of both (a) | **{b['rate'] / baseline:.2f}** |",
        f"| lateness due → accept, p50 / p99 | {b['p50']:.1f} s / {b['p99']:.1f} s |",
        "| CPU per message during (a), before (b) | "
        + "; ".join(f"{kind} {ms:.2f} ms" for kind, ms in a["where"].items() if ms >= 0.005)
        + " |",
        "| CPU per message during (b) | "
        + "; ".join(f"{kind} {ms:.2f} ms" for kind, ms in b["where"].items() if ms >= 0.005)
        + " |",
        f"| sent / duplicates / reclaimed after a lease | {b['sent']:,} / {b['duplicates']} / "
        f"{b['reclaimed']} |",
        f"| worker RSS after (b) | {mem(b)} |",
        f"| idle worker RSS, {c['before']['pending']:,} pending | {mem(c['before'])} |",
        f"| idle worker RSS, {c['after']['pending']:,} pending | {mem(c['after'])} |",
        *(
            f"| claim_due, {state['pending']:,} pending, {due} due (median of 20) | "
            f"{state['claims'][due]['claim_ms']:.2f} ms |"
            for state in (c["before"], c["after"])
            for due in (0, 200)
        ),
        "",
        *(
            line
            for due in (0, 200)
            for line in (
                f"Claim query with {c['after']['pending']:,} pending, {due} due:",
                "",
                "```",
                *c["after"]["claims"][due]["plan"],
                "```",
                "",
            )
        ),
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
