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
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
import redis  # noqa: E402
from sqlalchemy import Engine, func, select, text, update  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench import seed  # noqa: E402
from reminders import migrations  # noqa: E402
from reminders.db import make_engine  # noqa: E402
from reminders.delivery.dispatch import candidates_query, claim_due, pending_due  # noqa: E402
from reminders.delivery.models import SendAttempt  # noqa: E402
from reminders.enrollments.models import SENT, ScheduledMessage  # noqa: E402
from tests.fakes import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio  # noqa: E402


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


# -- infrastructure -------------------------------------------------------------------


@contextmanager
def bench_database(admin_url: str) -> Iterator[str]:
    name = f"aftercare_bench_{uuid.uuid4().hex[:8]}"
    admin = admin_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url)
    migrations.upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class Worker:
    """``celery worker --pool=prefork`` in its own session, as production starts it."""

    def __init__(
        self, app: str, env: dict[str, str], queue: str, concurrency: int, *, beat: bool = False
    ) -> None:
        self.queue = queue
        command = [
            sys.executable,
            "-m",
            "celery",
            "-A",
            app,
            "worker",
            "--pool=prefork",
            f"--concurrency={concurrency}",
            f"--queues={queue}",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        if beat:
            command += ["--beat", f"--schedule=/tmp/{queue}-beat"]
        self.proc = subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)

    def rss_mb(self) -> dict[str, float]:
        """Resident memory of the worker and each process under it, in MB."""
        found = {}
        for pid in [self.proc.pid, *_descendants(self.proc.pid)]:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:60]
            except FileNotFoundError:
                continue
            kb = next(
                int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS")
            )
            found[f"{pid} {cmd.decode(errors='replace').strip()}"] = kb / 1024
        return found

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _descendants(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        for child in map(int, children):
            found += [child, *_descendants(child)]
    return found


def cpu_ticks() -> tuple[int, int]:
    """(all, idle) jiffies from /proc/stat: how busy the whole machine was in between."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(values), values[3] + values[4]


def busy(before: tuple[int, int], after: tuple[int, int]) -> float:
    return 1 - (after[1] - before[1]) / max(1, after[0] - before[0])


def drained(client: redis.Redis, queue: str) -> bool:
    return client.llen(queue) == 0 and client.hlen("unacked") == 0


def wait_for(check: Any, timeout: float, what: str, poll: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(poll)


def base_env(redis_url: str, queue: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERCARE_")}
    env.update(
        AFTERCARE_BROKER_URL=redis_url, AFTERCARE_CELERY_QUEUE=queue, AFTERCARE_ENVIRONMENT="test"
    )
    return env


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
        started, ticks = time.perf_counter(), cpu_ticks()
        for _ in range(n):
            noop.apply_async(queue=queue)
        published = time.perf_counter()
        wait_for(lambda: drained(client, queue), 600, "the no-op tasks")
        done, cpu = time.perf_counter(), busy(ticks, cpu_ticks())
    finally:
        worker.stop()
        client.delete(queue)
    print(f"(a) bare Celery: {n / (done - started):.0f}/s", file=sys.stderr)
    return {
        "rate": n / (done - started),
        "publish_rate": n / (published - started),
        "seconds": done - started,
        "cpu": cpu,
    }


# -- (b) our end-to-end path ----------------------------------------------------------


def our_env(url: str, redis_url: str, fake: FakeTwilio, queue: str) -> dict[str, str]:
    env = base_env(redis_url, queue)
    env.update(
        AFTERCARE_DATABASE_URL=url,
        AFTERCARE_SMS_PROVIDER="twilio",
        AFTERCARE_TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        AFTERCARE_TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        AFTERCARE_TWILIO_API_URL=fake.url,
        AFTERCARE_PUBLIC_URL="https://care.example",
        AFTERCARE_SMS_RATE_PER_SECOND="0",
        AFTERCARE_DISPATCH_INTERVAL_SECONDS="1",
        AFTERCARE_RATE_LIMIT_PREFIX=f"{queue}:",
    )
    return env


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
    print(f"(b) seeded {n} enrollments in {time.perf_counter() - t:.1f}s", file=sys.stderr)

    queue = f"bench-ours-{uuid.uuid4().hex[:6]}"
    client = redis.Redis.from_url(redis_url)
    worker = Worker(
        "workers.app", our_env(url, redis_url, fake, queue), queue, concurrency, beat=True
    )
    try:
        time.sleep(3)  # let beat's first ticks run on an empty schedule
        wait_for(lambda: drained(client, queue), 60, "the worker to start")
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
        if os.environ.get("BENCH_CPU_BREAKDOWN"):
            sys.path.insert(0, "/tmp/scratch"); import cpuprof; snap = cpuprof.snapshot()
        wait_for(lambda: _count(engine, SENT) >= n, 900, "the messages to be sent", poll=0.25)
        cpu = busy(ticks, cpu_ticks())
        if os.environ.get("BENCH_CPU_BREAKDOWN"):
            print(cpuprof.diff(snap, cpuprof.snapshot()), file=sys.stderr)
        memory = worker.rss_mb()
    finally:
        worker.stop()
        client.delete(queue)
    with Session(engine) as session:
        accepted = list(session.scalars(select(SendAttempt.accepted_at)))
    lateness = sorted((at - due).total_seconds() for at in accepted if at is not None)
    first, last = min(accepted), max(accepted)  # type: ignore[type-var]
    duplicates = len(fake.messages) - len({msg["to"] for msg in fake.messages.values()})
    result = {
        "rate": n / (last - due).total_seconds(),
        "rate_from_first_accept": n / (last - first).total_seconds(),
        "p50": statistics.quantiles(lateness, n=100)[49],
        "p99": statistics.quantiles(lateness, n=100)[98],
        "sent": len(lateness),
        "cpu": cpu,
        "duplicates": duplicates,
        "memory": memory,
    }
    print(f"(b) ours: {result['rate']:.0f}/s, p50 {result['p50']:.1f}s", file=sys.stderr)
    return result


def _count(engine: Engine, status: str) -> int:
    with Session(engine) as session:
        m = ScheduledMessage
        return int(session.scalar(select(func.count()).where(m.status == status)) or 0)


# -- (c) a big future backlog ---------------------------------------------------------


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
    print(f"(c) {written} future messages in {time.perf_counter() - t:.0f}s", file=sys.stderr)
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
        return " + ".join(f"{v:.0f}" for v in state["memory"].values()) + " MB"

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
        f"| sent / duplicates | {b['sent']:,} / {b['duplicates']} |",
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
