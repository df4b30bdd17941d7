"""The beat and worker health checks of docker-compose.yml, run exactly as written there,
against a live service and a dead one: real ``aftercare beat`` / ``aftercare worker``
processes on Redis, started with the compose commands.

The old checks could not fail: beat's looked for "beat" in every command line, its own
included; the worker's ``inspect ping`` passed when any worker anywhere answered.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import wait_until
from tests.test_compose import SERVICES, health_check, render

pytestmark = [pytest.mark.slow, pytest.mark.redis]
ROOT = Path(__file__).resolve().parent.parent
A_MINUTE_AGO = 61.0  # past the beat check's --max-age 60


@dataclass
class Stack:
    """One test stack's environment (its own queue and heartbeat file) and processes."""

    env: dict[str, str]
    logs: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def heartbeat(self) -> Path:
        return Path(self.env["AFTERCARE_BEAT_HEARTBEAT_FILE"])

    def compose_command(self, service: str) -> list[str]:
        return [render(part, self.env) for part in SERVICES[service]["command"]]

    def start(self, name: str, command: list[str], *, ready: str | None = None) -> int:
        log = self.logs / f"{name}.log"
        with log.open("wb") as out:
            # A session of its own, so one killpg takes the service (and its children).
            process = subprocess.Popen(
                command,
                env=self.env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes.append(process)
        if ready:
            wait_until(lambda: ready.encode() in log.read_bytes(), 30, f"{name} to start")
        return process.pid

    def check(self, service: str, **env: str) -> subprocess.CompletedProcess[str]:
        """Docker's view: run the service's health-check command, exactly as in compose."""
        return subprocess.run(
            health_check(service),
            env={**self.env, **env},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture
def stack(redis_url: str, tmp_path: Path) -> Iterator[Stack]:
    run = uuid.uuid4().hex[:8]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERCARE_")}
    env.update(
        # `aftercare` and `celery` from this venv, as in the image.
        PATH=str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", ""),
        AFTERCARE_ENVIRONMENT="test",
        AFTERCARE_DATABASE_URL=f"sqlite:///{tmp_path / 'unused.sqlite3'}",
        AFTERCARE_BROKER_URL=redis_url,
        # A queue (and so a worker node name) of this test's own on the shared Redis.
        AFTERCARE_CELERY_QUEUE=f"aftercare-health-{run}",
        AFTERCARE_BEAT_HEARTBEAT_FILE=str(tmp_path / "beat-heartbeat"),
        AFTERCARE_DISPATCH_INTERVAL_SECONDS="0.5",
    )
    stack = Stack(env=env, logs=tmp_path)
    try:
        yield stack
    finally:
        stack.stop_all()


def a_minute_passes(heartbeat: Path) -> float:
    """Age the heartbeat as if beat last touched it a minute ago; returns that mtime."""
    then = time.time() - A_MINUTE_AGO
    os.utime(heartbeat, (then, then))
    return then


def state_of(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_the_beat_check_fails_unless_beat_keeps_ticking(stack: Stack, tmp_path: Path) -> None:
    never_started = stack.check("beat")
    assert never_started.returncode == 1
    assert "beat has not ticked yet" in never_started.stderr

    command = stack.compose_command("beat")
    command[command.index("--schedule") + 1] = str(tmp_path / "celerybeat-schedule")
    beat = stack.start("beat", command)
    wait_until(stack.heartbeat.exists, 30, "beat's first heartbeat")
    assert stack.check("beat").returncode == 0

    # A ticking beat keeps its heartbeat fresh: aged by a minute, it is touched again.
    then = a_minute_passes(stack.heartbeat)
    wait_until(lambda: stack.heartbeat.stat().st_mtime > then + 30, 10, "the next heartbeat")
    assert stack.check("beat").returncode == 0

    # Alive but wedged (the old /proc check passed this): no tick, no heartbeat.
    os.killpg(beat, signal.SIGSTOP)
    wait_until(lambda: state_of(beat) == "T", 5, "beat to stop")
    then = a_minute_passes(stack.heartbeat)
    time.sleep(1.5)  # three dispatch intervals
    assert stack.heartbeat.stat().st_mtime == then
    wedged = stack.check("beat")
    assert wedged.returncode == 1 and "(more than 60s)" in wedged.stderr

    os.killpg(beat, signal.SIGCONT)
    wait_until(lambda: stack.heartbeat.stat().st_mtime > then + 30, 10, "beat to tick again")
    assert stack.check("beat").returncode == 0

    os.killpg(beat, signal.SIGKILL)
    a_minute_passes(stack.heartbeat)
    dead = stack.check("beat")
    assert dead.returncode == 1 and "(more than 60s)" in dead.stderr


def test_the_worker_check_asks_this_containers_worker_not_any_worker(stack: Stack) -> None:
    no_broker = stack.check("worker", AFTERCARE_BROKER_URL="redis://127.0.0.1:1/0")
    assert no_broker.returncode == 1 and "broker not reachable" in no_broker.stderr

    # Another container's worker on the same broker and queue answers pings; the old
    # `celery inspect ping` passed on that alone.
    queue = stack.env["AFTERCARE_CELERY_QUEUE"]
    other = [*stack.compose_command("worker"), "--concurrency", "1"]
    other[other.index("--hostname") + 1] = f"{queue}@another-host"
    stack.start("other-worker", other, ready=" ready.")
    ours_not_running = stack.check("worker")
    assert ours_not_running.returncode == 1
    assert "did not answer" in ours_not_running.stderr

    ours = stack.start("worker", stack.compose_command("worker"), ready=" ready.")
    alive = stack.check("worker")
    assert alive.returncode == 0, alive.stderr
    assert alive.stdout.startswith(f"worker {queue}@")

    os.killpg(ours, signal.SIGKILL)
    dead = stack.check("worker")
    assert dead.returncode == 1 and "did not answer" in dead.stderr
