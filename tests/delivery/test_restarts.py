"""Restarting PostgreSQL, or Redis, under a real worker and beat mid-batch loses nothing.

600 due SMS to 600 patients of Riverside Ortho go out through a prefork worker and a
separate beat process; about a hundred in, the database (or the broker) is stopped for
three seconds and started again with the operator's commands. Nobody touches the worker
or beat: delivery must resume by itself, every patient gets exactly one text, and
/healthz says 503 while the service is away.

The services restarted are this module's own PostgreSQL cluster and Redis server
(``pg_createcluster``, ``redis-server`` as scripts/dev starts it, on free ports): a
restart must not pull the shared services out from under other tests on this machine.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from reminders import migrations
from reminders.db import make_engine
from reminders.enrollments.models import SENT, ScheduledMessage
from reminders.web.app import create_app
from tests.conftest import IN_CI, wait_until
from tests.delivery.helpers import Db, add_patients, make_clinic, settings_for, worker_env
from tests.fakes import FakeTwilio
from tests.fakes.smtp_server import free_port

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]
ROOT = Path(__file__).resolve().parents[2]
TOTAL, RESTART_AFTER, OUTAGE = 600, 100, 3.0
CLUSTER_PREFIX = "aftercare_restart_"  # + pytest's pid: a killed run's cluster is found again
TOOLS = ("pg_createcluster", "pg_ctlcluster", "pg_dropcluster", "redis-server", "redis-cli")


def _pg_version() -> str | None:
    """The newest PostgreSQL server installed (Debian's layout, as scripts/dev assumes)."""
    base = Path("/usr/lib/postgresql")
    found = [d.name for d in base.glob("*") if (d / "bin" / "postgres").exists()]
    return max(found, key=float, default=None)


def _why_services_cannot_restart() -> str | None:
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        return f"{', '.join(missing)} not on PATH"
    if _pg_version() is None:
        return "no PostgreSQL server under /usr/lib/postgresql"
    # pg_createcluster and pg_ctlcluster work for root and for the clusters' owner.
    if not all(os.access(d, os.W_OK) for d in ("/etc/postgresql", "/var/lib/postgresql")):
        return f"uid {os.geteuid()} may not create or restart PostgreSQL clusters"
    return None


if (_reason := _why_services_cannot_restart()) is not None:
    if IN_CI:  # like a missing service (tests/conftest.py): CI must not skip quietly
        pytest.exit(f"CI=true and PostgreSQL/Redis cannot be restarted here: {_reason}", 3)
    pytest.skip(f"cannot restart PostgreSQL/Redis: {_reason}", allow_module_level=True)


def run(*command: str) -> None:
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _run_id() -> str:
    return f"{os.getpid()}_{uuid.uuid4().hex[:6]}"


@dataclass
class Services:
    """A PostgreSQL cluster and a Redis server of our own, and the operator's restarts."""

    workdir: Path
    version: str = field(default_factory=lambda: str(_pg_version()))
    cluster: str = field(default_factory=lambda: CLUSTER_PREFIX + _run_id())
    pg_port: int = field(default_factory=free_port)
    redis_port: int = field(default_factory=free_port)

    def pg_url(self, database: str, driver: str = "+psycopg") -> str:
        return f"postgresql{driver}://postgres@127.0.0.1:{self.pg_port}/{database}"

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def create(self) -> None:
        """Drop the clusters of runs killed before their teardown, then make ours."""
        for conf in Path(f"/etc/postgresql/{self.version}").glob(f"{CLUSTER_PREFIX}*"):
            pid = conf.name.removeprefix(CLUSTER_PREFIX).split("_")[0]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                run("pg_dropcluster", "--stop", self.version, conf.name)
        port = str(self.pg_port)
        run("pg_createcluster", self.version, self.cluster, "-p", port, "--start",
            "--", "--auth=trust")  # fmt: skip
        self.start_redis()

    def drop(self) -> None:
        if self.redis_up():
            self.stop_redis()
        if Path(f"/etc/postgresql/{self.version}/{self.cluster}").exists():
            run("pg_dropcluster", "--stop", self.version, self.cluster)

    def pg_ctl(self, action: str) -> None:
        run("pg_ctlcluster", "--skip-systemctl-redirect", self.version, self.cluster, action)

    def pg_up(self) -> bool:
        try:
            psycopg.connect(self.pg_url("postgres", driver=""), connect_timeout=1).close()
        except psycopg.OperationalError:
            return False
        return True

    def start_redis(self) -> None:
        port, workdir = str(self.redis_port), str(self.workdir)
        run("redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", port,
            "--save", "", "--appendonly", "no",
            "--dir", workdir, "--logfile", "redis.log")  # fmt: skip
        wait_until(self.redis_up, 10, "redis-server to answer")

    def stop_redis(self) -> None:
        run("redis-cli", "-p", str(self.redis_port), "shutdown", "nosave")
        wait_until(lambda: not self.redis_up(), 10, "redis-server to stop")

    def redis_up(self) -> bool:
        ping = ["redis-cli", "-p", str(self.redis_port), "ping"]
        return subprocess.run(ping, capture_output=True).stdout.strip() == b"PONG"


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    found = Services(workdir=tmp_path_factory.mktemp("services"))
    try:
        found.create()
        yield found
    finally:
        found.drop()


@dataclass
class Stack:
    """A prefork worker (2 processes) and a beat process, each in a session of its own."""

    env: dict[str, str]
    logs: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self) -> None:
        queue = self.env["AFTERCARE_CELERY_QUEUE"]
        celery = [sys.executable, "-m", "celery", "-A", "workers.app"]
        worker = ["worker", "--pool=prefork", "--concurrency=2", f"--queues={queue}",
                  "--loglevel=INFO", f"--hostname={queue}@%h",
                  "--without-gossip", "--without-mingle", "--without-heartbeat"]  # fmt: skip
        self._spawn("worker", [*celery, *worker])
        wait_until(lambda: b" ready." in self.log("worker"), 30, "the worker to start")
        schedule = f"--schedule={self.logs / 'beat-schedule'}"
        self._spawn("beat", [*celery, "beat", "--loglevel=INFO", schedule])

    def _spawn(self, name: str, command: list[str]) -> None:
        with (self.logs / f"{name}.log").open("wb") as out:
            self.procs[name] = subprocess.Popen(
                command, env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def log(self, name: str) -> bytes:
        return (self.logs / f"{name}.log").read_bytes()

    def pids(self) -> dict[str, int | None]:
        """Each process's pid while it runs: None once it has exited."""
        return {name: p.pid if p.poll() is None else None for name, p in self.procs.items()}

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


@dataclass
class Run:
    db: Db
    twilio: FakeTwilio
    stack: Stack
    web: TestClient


@pytest.fixture
def delivery(services: Services, tmp_path: Path) -> Iterator[Run]:
    """A fresh database and queue, the fake Twilio answering in 150 ms, the web app."""
    database = f"aftercare_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(services.pg_url("postgres", driver=""), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    url = services.pg_url(database)
    engine = make_engine(url)
    migrations.upgrade(engine)
    with FakeTwilio(latency=0.15) as twilio:
        env = worker_env(
            db_url=url, broker_url=services.redis_url, twilio=twilio,
            name=f"aftercare-restart-{database}",
            # 4 calls of 150 ms in flight per process: 600 messages take about 11 s.
            AFTERCARE_PROVIDER_CONCURRENCY="4",
            # Short leases and ticks keep recovery within a test's patience.
            AFTERCARE_CLAIM_LEASE_SECONDS="5", AFTERCARE_DISPATCH_INTERVAL_SECONDS="1",
        )  # fmt: skip
        app = create_app(settings_for(url, broker_url=services.redis_url))
        stack = Stack(env=env, logs=tmp_path)
        try:
            yield Run(Db(engine), twilio, stack, TestClient(app))
        finally:
            stack.stop()
            app.state.engine.dispose()
            engine.dispose()


def count(db: Db, status: str) -> int:
    with db.sessions() as session:
        query = select(func.count()).where(ScheduledMessage.status == status)
        return int(session.scalar(query) or 0)


class HealthWatch:
    """Polls /healthz every 100 ms in a thread: (monotonic time, status code, checks)."""

    def __init__(self, web: TestClient) -> None:
        self.web = web
        self.seen: list[tuple[float, int, dict[str, Any]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            response = self.web.get("/healthz")
            self.seen.append((time.monotonic(), response.status_code, response.json()["checks"]))
            self._stop.wait(0.1)

    def __enter__(self) -> HealthWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def down(self, part: str) -> list[float]:
        """When /healthz answered 503 with ``part`` down."""
        return [t for t, code, c in self.seen if code == 503 and c[part]["status"] == "down"]


def outage_under_load(
    run_: Run, part: str, stop: Callable[[], None], start: Callable[[], None]
) -> dict[str, Any]:
    """600 due; at 100 sent, ``stop`` the service for 3 s, then ``start`` it; the figures."""
    try:
        return _outage(run_, part, stop, start)
    except BaseException:
        for name in run_.stack.procs:  # what the worker and beat said, for the report
            print(f"--- {name} log (tail)\n" + run_.stack.log(name).decode()[-6000:])
        raise


def _outage(
    run_: Run, part: str, stop: Callable[[], None], start: Callable[[], None]
) -> dict[str, Any]:
    add_patients(run_.db, make_clinic(run_.db, all_day=True), TOTAL,
                 due_at=datetime.now(UTC) - timedelta(seconds=1))  # fmt: skip
    run_.stack.start()
    began = time.monotonic()
    wait_until(lambda: len(run_.twilio.messages) >= RESTART_AFTER, 60, "the first 100 sends")
    pids = run_.stack.pids()
    with HealthWatch(run_.web) as health:
        time.sleep(0.3)  # a healthy reading first
        down_at, sent_before = time.monotonic(), len(run_.twilio.messages)
        try:
            stop()
            time.sleep(OUTAGE)
        finally:
            start()  # whatever happened: the service is left running
        up_at = time.monotonic()
        wait_until(lambda: health.seen[-1][1] != 503, 10, "/healthz to recover")
    wait_until(lambda: len(run_.twilio.messages) >= TOTAL, 90, "all 600 at the provider")
    wait_until(lambda: count(run_.db, SENT) == TOTAL, 30, "all 600 recorded as sent")
    time.sleep(2.0)  # two more dispatch ticks: nothing may go out again

    creates = [r for r in run_.twilio.requests if r["method"] == "POST"]
    accepts = sorted(r["t"] for r in creates if r["status"] == 201)
    outage = health.down(part)
    back_at = max(outage, default=up_at)  # the last 503
    with run_.db.sessions() as session:
        statuses = Counter(session.scalars(select(ScheduledMessage.status)))
        reasons = Counter(session.scalars(select(ScheduledMessage.status_reason)))
    figures = {
        "part": part,
        "sent_before_stop": sent_before,
        "stop_to_started_s": round(up_at - down_at, 1),
        "healthz_503_s": round(back_at - min(outage), 1) if outage else 0,
        "accepted_while_503": sum(1 for t in accepts if outage and min(outage) <= t <= back_at),
        "healthz_down_checks": next((c for _, code, c in health.seen if code == 503), None),
        "first_send_after_back_s": round(min(t for t in accepts if t > back_at) - back_at, 1),
        "longest_gap_s": round(max(b - a for a, b in pairwise(accepts)), 1),
        "all_sent_after_back_s": round(accepts[-1] - back_at, 1),
        "total_s": round(accepts[-1] - began, 1),
        "statuses": dict(statuses),
        "reasons": dict(reasons),
    }
    print(f"restart figures: {figures}")
    # Nobody restarted the worker or beat: the very same processes are still running.
    assert run_.stack.pids() == pids and None not in pids.values()
    assert outage, f"/healthz never reported the {part} down: {health.seen}"
    # Exactly once: 600 patients, one text each, every one recorded as sent.
    numbers = Counter(m["to"] for m in run_.twilio.messages.values())
    assert len(numbers) == TOTAL and set(numbers.values()) == {1}
    assert len(creates) == TOTAL
    assert statuses == {SENT: TOTAL}
    return figures


def test_a_postgresql_restart_mid_batch_loses_nothing_and_sends_nothing_twice(
    delivery: Run, services: Services
) -> None:
    def start() -> None:
        services.pg_ctl("start")
        wait_until(services.pg_up, 30, "PostgreSQL to accept connections")

    figures = outage_under_load(delivery, "database", lambda: services.pg_ctl("stop"), start)

    # The two groups mid-call when the database went away were accepted by Twilio but
    # not recorded: found there afterwards, not sent again.
    assert figures["reasons"].get("reconciled", 0) >= 1


def test_a_redis_restart_mid_batch_loses_nothing_and_sends_nothing_twice(
    delivery: Run, services: Services
) -> None:
    outage_under_load(delivery, "broker", services.stop_redis, services.start_redis)
