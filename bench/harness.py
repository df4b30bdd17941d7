"""What the delivery benchmark stands on: a throwaway database, worker processes, meters."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import redis

from reminders import migrations
from reminders.db import make_engine
from tests.fakes import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio

ROOT = Path(__file__).resolve().parent.parent


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
        self.scratch = tempfile.mkdtemp(prefix="aftercare-bench-")  # beat's schedule file
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
            command += ["--beat", f"--schedule={self.scratch}/beat"]
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
        shutil.rmtree(self.scratch, ignore_errors=True)


def _descendants(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children = (task / "children").read_text().split()
        for child in map(int, children):
            found += [child, *_descendants(child)]
    return found


def log(text: str) -> None:
    print(f"{datetime.now(UTC):%H:%M:%S} {text}", file=sys.stderr)


def process_cpu(since: dict[str, float] | None = None) -> dict[str, float]:
    """CPU seconds by kind of process (workers, PostgreSQL, this one), minus ``since``."""
    hz = os.sysconf("SC_CLK_TCK")
    totals: dict[str, float] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        seconds = (int(fields[11]) + int(fields[12])) / hz
        if "celery" in cmd:
            kind = "Celery worker processes"
        elif cmd.startswith("postgres"):
            kind = "PostgreSQL"
        elif int(proc.name) == os.getpid():
            kind = "bench process (publisher or FakeTwilio)"
        elif "redis" in cmd:
            kind = "Redis"
        else:
            continue
        totals[kind] = totals.get(kind, 0.0) + seconds
    return {k: v - (since or {}).get(k, 0.0) for k, v in totals.items()}


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
