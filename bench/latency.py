"""Delivery against a provider with Twilio's latency: ``python -m bench.latency``.

The loopback FakeTwilio answers each create after ``--latency`` seconds (± 20 %), as
Twilio's API does in about 100–300 ms. In one run, on the same Redis, PostgreSQL and
worker settings (prefork, ``--concurrency`` processes):

(a) bare Celery: one task per message making the same provider call (twilio-python to
    the fake), published and consumed; messages/second.
(b) ours, end to end (bench/delivery.py's (b)): N messages due at one instant, claimed by
    beat's dispatcher, rendered, sent with ``provider_concurrency`` requests in flight
    per process, attempts recorded; messages/second from the due instant to the last
    accept.

Reported as (b)/(a), with the most requests the fake saw in flight at once. Nothing here
is a timed test.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import redis

from bench.delivery import end_to_end
from bench.harness import Worker, base_env, bench_database, drained, log, wait_for
from reminders.db import make_engine
from tests.fakes import FakeTwilio


def bare_http(redis_url: str, fake: FakeTwilio, n: int, concurrency: int) -> dict[str, float]:
    queue = f"bench-http-{uuid.uuid4().hex[:6]}"
    os.environ.update(AFTERCARE_BROKER_URL=redis_url, AFTERCARE_CELERY_QUEUE=queue)
    from bench.noop_app import http_send

    client = redis.Redis.from_url(redis_url)
    worker = Worker("bench.noop_app", base_env(redis_url, queue), queue, concurrency)
    before = len(fake.messages)
    try:
        http_send.apply_async(args=[fake.url, "+13125559999"], queue=queue)
        wait_for(lambda: len(fake.messages) > before, 60, "the baseline worker to start")
        start_count, started = len(fake.messages), time.perf_counter()
        for i in range(n):
            http_send.apply_async(args=[fake.url, f"+1312600{i:04d}"], queue=queue)
        wait_for(lambda: len(fake.messages) >= start_count + n, 1800, "the baseline sends",
                 poll=0.05)  # fmt: skip
        done = time.perf_counter()
        wait_for(lambda: drained(client, queue), 60, "the queue to drain")
    finally:
        worker.stop()
        client.delete(queue)
    log(f"(a) bare Celery + provider call: {n / (done - started):.1f}/s")
    return {"rate": n / (done - started), "seconds": done - started}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000)
    parser.add_argument("--baseline-messages", type=int, default=None,
                        help="(a) is slow at high latency; default: --messages")  # fmt: skip
    parser.add_argument("--latency", type=float, default=0.15)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/11")
    args = parser.parse_args(argv)
    started = datetime.now(UTC)
    results: dict[str, Any] = {}
    with bench_database(args.pg) as url, FakeTwilio(latency=args.latency,
                                                    jitter=args.latency * 0.2) as fake:
        engine = make_engine(url)
        results["a"] = bare_http(args.redis, fake, args.baseline_messages or args.messages,
                                 args.concurrency)  # fmt: skip
        fake.max_in_flight = 0
        results["b"] = end_to_end(engine, url, args.redis, fake, args.messages,
                                  args.concurrency)  # fmt: skip
        results["b"]["in_flight"] = fake.max_in_flight
        engine.dispose()
    a, b = results["a"], results["b"]
    print("\n".join([
        f"Run {started:%Y-%m-%d %H:%M} UTC, provider latency {args.latency * 1000:.0f} ms "
        f"± 20 %, {args.concurrency} prefork processes.", "",
        "| measure | value |", "|---|---|",
        f"| (a) bare Celery, one task per message with the provider call | "
        f"{a['rate']:,.1f} msg/s |",
        f"| (b) ours, {args.messages:,} due at once, due → last accept | {b['rate']:,.1f} msg/s |",
        f"| **(b)/(a)** | **{b['rate'] / a['rate']:.1f}** |",
        f"| most provider requests in flight during (b) | {b['in_flight']} |",
        f"| lateness due → accept, p50 / p99 | {b['p50']:.1f} s / {b['p99']:.1f} s |",
        f"| sent / duplicates / reclaimed after a lease | {b['sent']:,} / {b['duplicates']} / "
        f"{b['reclaimed']} |",
    ]))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
