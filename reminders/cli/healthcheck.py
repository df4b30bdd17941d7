"""``aftercare healthcheck beat|worker``: the container health checks in docker-compose.yml.

Exit 0 when the service in *this* container works, 1 when it does not (Docker reserves
2), with one line saying why. A check that something runs somewhere is not enough:

- beat: the heartbeat file beat touches after every tick (workers/app.py) is younger
  than ``--max-age``. A beat that died, or lives but no longer ticks, goes stale.
- worker: this container's own Celery node answers a ping. Pinging every worker would
  pass while this one is dead, as long as any other worker on the broker is alive.
"""

from __future__ import annotations

import argparse
import sys
import time

from reminders.config import ConfigError, Settings, load_settings

HEALTHY, UNHEALTHY = 0, 1


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = sub.add_parser("healthcheck", help="exit 0 if this container's beat/worker works")
    targets = check.add_subparsers(dest="target", required=True, metavar="SERVICE")

    beat = targets.add_parser("beat", help="beat's heartbeat file is fresh")
    beat.add_argument(
        "--max-age",
        type=float,
        default=60.0,
        help="seconds; beat touches the file at least every 15 s while it ticks",
    )
    beat.set_defaults(handler=_beat)

    worker = targets.add_parser("worker", help="this container's Celery node answers a ping")
    worker.add_argument(
        "--node",
        help="node name (%%h = this host); default AFTERCARE_CELERY_QUEUE@%%h, "
        "the --hostname docker-compose.yml gives the worker",
    )
    worker.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for it")
    worker.set_defaults(handler=_worker)


def _beat(args: argparse.Namespace) -> int:
    settings = _settings()
    if settings is None:
        return UNHEALTHY
    path = settings.beat_heartbeat_file
    if path is None:
        return _unhealthy("AFTERCARE_BEAT_HEARTBEAT_FILE is not set, so beat writes no heartbeat")
    try:
        age = time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return _unhealthy(f"beat has not ticked yet: no heartbeat at {path}")
    except OSError as exc:
        return _unhealthy(f"heartbeat {path} not readable ({type(exc).__name__})")
    if age > args.max_age:
        return _unhealthy(f"beat last ticked {age:.0f}s ago (more than {args.max_age:g}s)")
    print(f"beat ticked {max(age, 0.0):.1f}s ago")
    return HEALTHY


def _worker(args: argparse.Namespace) -> int:
    settings = _settings()
    if settings is None:
        return UNHEALTHY
    if not settings.broker_url:
        return _unhealthy("AFTERCARE_BROKER_URL is not set; there are no Celery workers")
    node = worker_node(settings, args.node)
    from workers.app import app

    try:
        with app.connection_for_write() as conn:
            # One attempt: kombu's default retries would outlast Docker's timeout.
            conn.ensure_connection(max_retries=1, timeout=args.timeout)
            replies = app.control.ping(destination=[node], timeout=args.timeout, connection=conn)
    except Exception as exc:  # any failure to reach the broker is "unhealthy"
        return _unhealthy(f"broker not reachable ({type(exc).__name__})")
    if not any(node in reply for reply in replies):
        return _unhealthy(f"worker {node} did not answer within {args.timeout:g}s")
    print(f"worker {node} answered")
    return HEALTHY


def worker_node(settings: Settings, template: str | None = None) -> str:
    """The node name to ping: ``template`` (default ``<queue>@%h``) with ``%h`` expanded
    the way ``celery worker --hostname`` expands it (celery's own helper)."""
    from celery.utils.nodenames import host_format

    return host_format(template or f"{settings.celery_queue}@%h")


def _settings() -> Settings | None:
    try:
        return load_settings()
    except ConfigError as exc:
        _unhealthy(str(exc))
        return None


def _unhealthy(reason: str) -> int:
    print(f"unhealthy: {reason}", file=sys.stderr)
    return UNHEALTHY
