"""Many rate-limited senders at once: ``python -m bench.senders``.

20 clinics, each sending from its own long code at 1 message a second (the shared Redis
limiter), 30 messages each due at the same instant: 600 in all. The ideal is 30 s (every
number busy from the first second to the last). Twice: with the clinics' messages
interleaved in due order, and with each clinic's messages contiguous (clinic 1's thirty,
then clinic 2's…: what a per-clinic import at 9 a.m. looks like). A real Celery worker
(prefork, ``--concurrency`` processes) with beat sends to the loopback FakeTwilio
answering in ``--latency`` seconds.

Reported: seconds from due to last accept and the ratio to the ideal; the busiest
one-second window of any one number at the provider (must be 1); messages claimed more
than once; duplicates. Nothing here is a timed test.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.orm import Session

from bench import seed
from bench.harness import Worker, bench_database, drained, log, our_env, wait_for
from reminders.db import make_engine
from reminders.enrollments.models import SENT, ScheduledMessage
from tests.fakes import FakeTwilio

CLINICS, EACH, RATE = 20, 30, 1.0


def busiest_second(stamps: list[float]) -> int:
    stamps = sorted(stamps)
    return max(sum(1 for s in stamps[i:] if s - t < 1.0) for i, t in enumerate(stamps))


def seed_clinics(engine: Engine, now: datetime) -> list[int]:
    far = now + timedelta(days=1)
    clinics = []
    for c in range(CLINICS):
        clinic, version = seed.make_clinic(engine, sms_from=f"+1312555{c:04d}")
        people = seed.enroll_many(engine, clinic, version, EACH, now)
        seed.copy_messages(engine, seed.message_rows(clinic, people, tag=f"c{c}",
                                                     first_due=far, created=now))  # fmt: skip
        clinics.append(clinic)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return clinics


def run(engine: Engine, url: str, redis_url: str, fake: FakeTwilio, *, contiguous: bool,
        concurrency: int) -> dict[str, Any]:  # fmt: skip
    m = ScheduledMessage
    with Session(engine) as session, session.begin():
        session.execute(update(m).values(status="pending", due_at=datetime.now(UTC) + timedelta(
            days=2), claims=0, sent_at=None, lease_until=None))  # fmt: skip
        session.execute(text("DELETE FROM send_attempts"))
    fake.messages.clear()
    fake.requests.clear()
    queue = f"bench-senders-{uuid.uuid4().hex[:6]}"
    env = our_env(url, redis_url, fake, queue) | {"AFTERCARE_SMS_RATE_PER_SECOND": str(RATE),
                                                  "AFTERCARE_REDIS_URL": redis_url}  # fmt: skip
    client = redis.Redis.from_url(redis_url)
    worker = Worker("workers.app", env, queue, concurrency, beat=True)
    try:
        time.sleep(5)
        wait_for(lambda: drained(client, queue), 60, "the worker to start")
        due = datetime.now(UTC) + timedelta(seconds=2)
        with Session(engine) as session, session.begin():
            ids = list(session.execute(select(m.id, m.clinic_id).order_by(m.clinic_id, m.id)))
            # Contiguous: each clinic's thirty a microsecond after the last clinic's.
            # Interleaved: the n-th message of every clinic due together.
            rank: dict[int, int] = defaultdict(int)
            for position, (mid, clinic) in enumerate(ids):
                offset = position if contiguous else rank[clinic] * CLINICS + clinic % CLINICS
                rank[clinic] += 1
                session.execute(update(m).where(m.id == mid).values(
                    due_at=due + timedelta(microseconds=offset), planned_at=due))  # fmt: skip
        total = len(ids)
        wait_for(lambda: _sent(engine) >= total, 600, "the 600 messages", poll=0.25)
    finally:
        worker.stop()
        client.delete(queue)
    by_sender: dict[str, list[float]] = defaultdict(list)
    for request in fake.requests:
        if request["method"] == "POST" and request["status"] == 201:
            by_sender[str(request["params"].get("From"))].append(float(request["t"]))
    with Session(engine) as session:
        last = session.scalar(text("SELECT max(accepted_at) FROM send_attempts"))
        reclaimed = session.scalar(select(func.count()).where(m.status == SENT, m.claims > 1))
    pairs = [(msg["from"], msg["to"]) for msg in fake.messages.values()]
    seconds = (last - due).total_seconds()
    result = {"seconds": seconds, "ideal": EACH / RATE, "ratio": seconds / (EACH / RATE),
              "busiest": max(busiest_second(s) for s in by_sender.values()),
              "reclaimed": int(reclaimed or 0), "duplicates": len(pairs) - len(set(pairs)),
              "sent": len(pairs)}  # fmt: skip
    log(f"{'contiguous' if contiguous else 'interleaved'}: {seconds:.1f}s")
    return result


def _sent(engine: Engine) -> int:
    with Session(engine) as session:
        m = ScheduledMessage
        return int(session.scalar(select(func.count()).where(m.status == SENT)) or 0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.15)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/11")
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    with bench_database(args.pg) as url, FakeTwilio(latency=args.latency,
                                                    jitter=args.latency * 0.2) as fake:
        engine = make_engine(url)
        seed_clinics(engine, started)
        results = {order: run(engine, url, args.redis, fake, contiguous=order == "contiguous",
                              concurrency=args.concurrency)
                   for order in ("interleaved", "contiguous")}  # fmt: skip
        engine.dispose()
    lines = [f"Run {started:%Y-%m-%d %H:%M} UTC: {CLINICS} clinics × {EACH} messages at "
             f"{RATE:g}/s each, provider latency {args.latency * 1000:.0f} ms, "
             f"{args.concurrency} prefork processes.", "",
             "| due order | due → last accept | ÷ ideal 30 s | busiest second of one number | "
             "claimed more than once | sent / duplicates |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for order, r in results.items():
        lines.append(f"| {order} | {r['seconds']:.1f} s | **{r['ratio']:.2f}** | {r['busiest']} | "
                     f"{r['reclaimed']} | {r['sent']} / {r['duplicates']} |")  # fmt: skip
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
