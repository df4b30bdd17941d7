"""Inbound webhook throughput: signed patient replies against a bare FastAPI endpoint.

(a) ``bench/bare_inbound.py``: one endpoint that parses the same form and answers TwiML,
nothing else. (b) ours: ``POST /webhooks/twilio/sms`` on PostgreSQL, signature checked,
the reply stored, matched, triaged and answered. Both run under the same uvicorn settings
(``aftercare web``'s: one process, h11, proxy headers) and take the same load: ``N``
keep-alive connections, each sending its next request as soon as the last is answered,
from a separate load-generator process (``bench/load.py``). Every request is a distinct
MessageSid from a distinct patient with an open pain question, so nothing is a duplicate.

    .venv/bin/python -m bench.inbound --requests 4000 --concurrency 16 64

Prints requests/s and p50/p99 latency per concurrency for (a) and (b), and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import Engine, text

from bench.harness import ROOT, Worker, bench_database, log, wait_for
from bench.seed import MESSAGE_COLUMNS, copy_messages, enroll_many, make_clinic
from reminders.db import make_engine
from tests.fakes import AUTH_TOKEN
from tests.fakes.smtp_server import free_port

PUBLIC_URL = "https://care.example"
REPLIES = ("4", "pain about 3 today", "7 and a bit swollen", "2", "feeling fine, 1", "5")


def question_rows(
    clinic_id: int, enrollment_ids: list[int], sent: datetime
) -> Iterator[tuple[object, ...]]:
    """One sent pain question per enrollment, its answer window still open."""
    for eid in enrollment_ids:
        yield (clinic_id, eid, "flare_check", 0, f"{eid}:q", "flare_check", "sms", False,
               sent, sent, sent + timedelta(days=2), "sent", 1, sent, sent, sent,
               "pain_score", 720)  # fmt: skip


QUESTION_COLUMNS = ("sent_at", "expects", "answer_window_minutes")


def serve(app: str, env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """uvicorn as ``aftercare web`` runs it (one process, proxy headers, no access log)."""
    command = [sys.executable, "-m", "uvicorn", "--factory", app, "--host", "127.0.0.1",
               "--port", str(port), "--proxy-headers", "--no-access-log", "--log-level",
               "warning"]  # fmt: skip
    proc = subprocess.Popen(command, env=env, cwd=ROOT, start_new_session=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{app} did not start")


def load(port: int, phones: list[str], to: str, concurrency: int, tag: str) -> dict[str, float]:
    """Run bench/load.py against ``port``; its JSON result."""
    spec = {"port": port, "path": "/webhooks/twilio/sms", "public_url": PUBLIC_URL,
            "token": AUTH_TOKEN, "to": to, "phones": phones, "replies": list(REPLIES),
            "concurrency": concurrency, "tag": tag}  # fmt: skip
    out = subprocess.run([sys.executable, "-m", "bench.load"], input=json.dumps(spec),
                         capture_output=True, text=True, cwd=ROOT, check=True)  # fmt: skip
    return dict(json.loads(out.stdout))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=4000, help="per concurrency level")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--database-url", default=os.environ.get(
        "AFTERCARE_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--broker-url", default="redis://127.0.0.1:6379/15")
    args = parser.parse_args(argv)
    levels = args.concurrency
    patients = args.requests * len(levels)
    with bench_database(args.database_url) as url:
        engine = make_engine(url)
        clinic_id, version_id = make_clinic(engine)
        now = datetime.now(UTC)
        enrollments = enroll_many(engine, clinic_id, version_id, patients, now)
        sent = now - timedelta(hours=1)
        _copy_questions(engine, clinic_id, enrollments, sent)
        phones = [f"+1{3120000000 + i}" for i in range(patients)]
        queue = f"aftercare-bench-inbound-{os.getpid()}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERCARE_")}
        env.update(AFTERCARE_DATABASE_URL=url, AFTERCARE_ENVIRONMENT="test",
                   AFTERCARE_TWILIO_AUTH_TOKEN=AUTH_TOKEN, AFTERCARE_PUBLIC_URL=PUBLIC_URL,
                   AFTERCARE_BROKER_URL=args.broker_url, AFTERCARE_SMS_PROVIDER="console",
                   AFTERCARE_LOG_LEVEL="WARNING", AFTERCARE_CELERY_QUEUE=queue)  # fmt: skip
        results: dict[str, dict[str, float]] = {}
        for name, app in (("bare", "bench.bare_inbound:create_app"),
                          ("ours", "reminders.web.app:create_app")):  # fmt: skip
            port = free_port()
            proc = serve(app, env, port)
            try:
                for i, n in enumerate(levels):
                    chunk = phones[i * args.requests:(i + 1) * args.requests]
                    log(f"{name}: {len(chunk)} signed replies, {n} concurrent")
                    results[f"{name}@{n}"] = load(port, chunk, "+13125550100", n, f"{name}{n}")
            finally:
                proc.terminate()
                proc.wait(10)
        # Then the pipeline's half: real workers read what the webhook stored (the kicks
        # it queued are waiting for them) and queue the replies.
        reading = read_with_workers(engine, env, queue)
        engine.dispose()
    print(f"\nstored {reading['stored']} texts; {args.requests * len(levels)} sent to ours")
    print(f"read by 2 Celery worker processes in {reading['seconds']:.1f} s "
          f"({reading['stored'] / reading['seconds']:.0f} texts/s): {reading['answers']} "
          f"matched to their question, {reading['replies']} replies queued for "
          f"{reading['replied']} texts (one each), {reading['concerns']} concerns")
    print(f"{'':>6} {'conc':>5} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for key, r in results.items():
        name, n = key.split("@")
        print(f"{name:>6} {n:>5} {r['rps']:>8.0f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} "
              f"{r['errors']:>7.0f}")
    for n in levels:
        ratio = results[f"ours@{n}"]["rps"] / results[f"bare@{n}"]["rps"]
        print(f"ours/bare at {n} concurrent: {ratio:.3f}")
    return 0


def read_with_workers(engine: Engine, env: dict[str, str], queue: str) -> dict[str, float]:
    """Start a worker (2 processes), time until every stored text is read; what it did."""
    worker = Worker("workers.app", env, queue, concurrency=2)
    start = time.monotonic()
    try:
        with engine.connect() as conn:
            def all_read() -> bool:
                unread = conn.scalar(UNREAD)
                conn.rollback()  # a fresh snapshot each time
                return not unread

            wait_for(all_read, 600, "every stored text to be read", poll=0.2)
        seconds = time.monotonic() - start
    finally:
        worker.stop()
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT (SELECT count(*) FROM inbound_messages),"
            " (SELECT count(*) FROM inbound_messages WHERE kind = 'answer'),"
            " (SELECT count(*) FROM scheduled_messages WHERE kind = 'reply'),"
            " (SELECT count(DISTINCT inbound_id) FROM scheduled_messages WHERE kind = 'reply'),"
            " (SELECT count(*) FROM concerns)")).one()  # fmt: skip
    keys = ("stored", "answers", "replies", "replied", "concerns")
    return {"seconds": seconds, **dict(zip(keys, map(float, row), strict=True))}


UNREAD = text("SELECT count(*) FROM inbound_messages WHERE processed_at IS NULL")


def _copy_questions(
    engine: Engine, clinic_id: int, enrollment_ids: list[int], sent: datetime
) -> None:
    copy_messages(engine, question_rows(clinic_id, enrollment_ids, sent),
                  columns=MESSAGE_COLUMNS + QUESTION_COLUMNS)  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
