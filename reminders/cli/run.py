from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from reminders.config import get_settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    demo = sub.add_parser("demo", help="watch a patient's whole timeline play out (no servers)")
    demo.add_argument("--speed", type=float, default=1.0, help="pause scale; 0 runs flat out")
    demo.add_argument("--lang", default="en", choices=("en", "es"))
    demo.set_defaults(handler=_demo)

    run = sub.add_parser("run", help="embedded mode: dispatch and send in this process")
    run.set_defaults(handler=_run)

    worker = sub.add_parser("worker", help="start a Celery worker (extra options go to celery)")
    worker.set_defaults(handler=_celery("worker"), passthrough=True)
    beat = sub.add_parser("beat", help="start Celery beat (extra options go to celery)")
    beat.set_defaults(handler=_celery("beat"), passthrough=True)

    web = sub.add_parser("web", help="serve the web app and webhooks")
    web.add_argument("--host", default="127.0.0.1")
    web.add_argument("--port", type=int, default=8000)
    web.set_defaults(handler=_web)


def _demo(args: argparse.Namespace) -> int:
    from reminders.demo import run_demo

    return run_demo(speed=args.speed, lang=args.lang)


def _run(args: argparse.Namespace) -> int:
    from reminders.delivery.engine import EmbeddedRunner
    from reminders.delivery.factory import build_sender
    from reminders.jobs import run_periodic

    settings = get_settings()
    runner = EmbeddedRunner(sender=build_sender(settings), threads=settings.embedded_send_threads)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    jobs = threading.Thread(
        target=run_periodic,
        args=(stop, runner.sender.sessions, runner.sender.clock),
        name="periodic-jobs",
        daemon=True,
    )
    jobs.start()
    print(
        f"aftercare: embedded dispatcher every {settings.dispatch_interval_seconds}s",
        file=sys.stderr,
    )
    runner.run(stop, settings.dispatch_interval_seconds)
    jobs.join(timeout=10)
    return 0


def _celery(command: str):  # type: ignore[no-untyped-def]
    def handler(args: argparse.Namespace) -> int:
        settings = get_settings()
        if not settings.broker_url:
            print(
                "error: AFTERCARE_BROKER_URL is not set; `aftercare run` is the no-broker mode",
                file=sys.stderr,
            )
            return 2
        argv = [sys.executable, "-m", "celery", "-A", "workers.app", command, *args.extra]
        os.execv(sys.executable, argv)  # noqa: S606 - replaces this process by design
        return 0  # pragma: no cover

    return handler


def _web(args: argparse.Namespace) -> int:
    import uvicorn

    from reminders.web.access_log import log_config

    get_settings()  # fail fast on bad configuration, before binding the port
    uvicorn.run(
        "reminders.web.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        proxy_headers=True,
        log_config=log_config(),
    )
    return 0
