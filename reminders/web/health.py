"""GET /healthz (is the database and the broker reachable? does every clinic have someone
on call?) and GET /metrics (Prometheus).

The backlog gauges are read from the database at scrape time, so every web process
reports the same truth whichever process did the sending. The counters in
``reminders.metrics`` belong to the process that sends: the embedded runner, or each
Celery worker; with ``PROMETHEUS_MULTIPROC_DIR`` set for web and workers on one host,
this endpoint aggregates them all (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import functools
import logging
import os
from datetime import datetime, timedelta
from typing import Any

import redis
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from reminders.clinics.models import Clinic
from reminders.conversations.inbox import waiting
from reminders.delivery.dispatch import in_flight
from reminders.enrollments.models import PENDING, ScheduledMessage
from reminders.oncall.service import on_call_many
from reminders.web.deps import ClockDep, SettingsDep

log = logging.getLogger(__name__)
router = APIRouter(tags=["operations"])
TIMEOUT = 2.0  # seconds; a health check that hangs is as bad as one that fails


@router.get("/healthz")
def healthz(request: Request, settings: SettingsDep, clock: ClockDep) -> JSONResponse:
    """``{"status": "ok"|"degraded"|"down", "checks": {...}}``; 503 when any configured
    part is down.

    A clinic with nobody on call right now makes the status ``degraded`` (still 200: the
    service works, a person has to fix the rota) and adds ``checks.oncall`` with the
    number of such clinics, never their names. So does a patient's text stored more than
    ``UNREAD_AFTER`` ago and still not read (``checks.inbound``): the webhook only
    stores texts, so with no worker reading them no reply, concern or page follows.
    """
    checks: dict[str, dict[str, Any]] = {"database": _check_database(request.app.state.engine)}
    if settings.broker_url:
        checks["broker"] = _check_redis(settings.broker_url)
    else:
        checks["broker"] = {"status": "not_configured"}  # embedded mode has no broker
    if checks["database"]["status"] == "ok":
        uncovered = _check_on_call(request.app.state.sessionmaker, clock.now())
        if uncovered is not None:
            checks["oncall"] = uncovered
        unread = _check_unread(request.app.state.sessionmaker, clock.now())
        if unread is not None:
            checks["inbound"] = unread
    down = any(check["status"] == "down" for check in checks.values())
    degraded = any(check["status"] == "degraded" for check in checks.values())
    status = "down" if down else "degraded" if degraded else "ok"
    return JSONResponse({"status": status, "checks": checks}, status_code=503 if down else 200)


UNREAD_AFTER = timedelta(minutes=1)  # readers are kicked at once; the sweep runs every 5 s


def _check_unread(maker: sessionmaker[Session], now: datetime) -> dict[str, Any] | None:
    """``{"status": "degraded", "unread_texts": N, "oldest_seconds": S}`` when stored texts
    wait longer than UNREAD_AFTER to be read (the partial index of unread texts)."""
    try:
        with maker() as session:
            count, oldest = waiting(session=session)
            session.rollback()
    except Exception as exc:
        log.warning("health: unread texts not readable (%s)", type(exc).__name__)
        return None
    if not count or oldest is None or now - oldest <= UNREAD_AFTER:
        return None
    return {"status": "degraded", "unread_texts": int(count),
            "oldest_seconds": int((now - oldest).total_seconds())}  # fmt: skip


def _check_on_call(maker: sessionmaker[Session], now: datetime) -> dict[str, Any] | None:
    """``{"status": "degraded", "uncovered_clinics": N}`` when N > 0 clinics have nobody
    on call now; None when every clinic does (or the answer could not be read: the
    database check speaks for that)."""
    try:
        with maker() as session:
            clinics = list(session.scalars(select(Clinic)))
            found = on_call_many(session=session, clinics=clinics, at=now)
            session.rollback()
    except Exception as exc:
        log.warning("health: on-call coverage not readable (%s)", type(exc).__name__)
        return None
    uncovered = sum(1 for shift in found.values() if shift is None)
    return {"status": "degraded", "uncovered_clinics": uncovered} if uncovered else None


def _check_database(engine: Engine) -> dict[str, str]:
    try:
        # A raw DBAPI connection: no ORM transaction, so on SQLite no BEGIN IMMEDIATE
        # queueing behind a busy writer.
        conn = engine.raw_connection()
        try:
            cursor = conn.cursor()
            cursor.execute("SELECT 1")
            cursor.fetchall()
            cursor.close()
        finally:
            conn.close()
    except Exception as exc:
        # The class only: driver messages can carry host names and user names.
        log.warning("health: database down (%s)", type(exc).__name__)
        return {"status": "down", "error": type(exc).__name__}
    return {"status": "ok"}


@functools.cache
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)


def _check_redis(url: str) -> dict[str, str]:
    try:
        _redis(url).ping()
    except redis.RedisError as exc:
        log.warning("health: broker down (%s)", type(exc).__name__)
        return {"status": "down", "error": type(exc).__name__}
    return {"status": "ok"}


@router.get("/metrics", response_class=Response)
def metrics(request: Request, clock: ClockDep) -> Response:
    body = generate_latest(_process_registry())
    body += generate_latest(_backlog_registry(request.app.state.sessionmaker, clock.now()))
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def _process_registry() -> Any:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def _backlog_registry(maker: sessionmaker[Session], now: Any) -> CollectorRegistry:
    """Gauges computed now from the database (all cheap: partial indexes).

    Metric families, not ``Gauge`` objects: under PROMETHEUS_MULTIPROC_DIR a Gauge
    writes to the shared directory, and /metrics would then list each of these twice.
    """
    up = GaugeMetricFamily("aftercare_database_up", "1 if the backlog could be read")
    m = ScheduledMessage
    try:
        with maker() as session:
            count, first = session.execute(
                select(func.count(), func.min(m.due_at)).where(m.status == PENDING, m.due_at <= now)
            ).one()
            claimed = in_flight(session=session, now=now)
            session.rollback()
    except Exception as exc:
        log.warning("metrics: backlog not readable (%s)", type(exc).__name__)
        up.add_metric([], 0)
        return _registry_of([up])
    up.add_metric([], 1)
    oldest = max(0.0, (now - first).total_seconds()) if first is not None else 0.0
    return _registry_of(
        [
            GaugeMetricFamily("aftercare_due_backlog", "Pending messages already due", value=count),
            GaugeMetricFamily(
                "aftercare_due_oldest_seconds",
                "How long the oldest due, unsent message has been waiting",
                value=oldest,
            ),
            GaugeMetricFamily(
                "aftercare_messages_in_flight", "Claimed, not yet finished messages", value=claimed
            ),
            up,
        ]
    )


class _Families:
    def __init__(self, families: list[GaugeMetricFamily]) -> None:
        self.families = families

    def collect(self) -> list[GaugeMetricFamily]:
        return self.families


def _registry_of(families: list[GaugeMetricFamily]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    return registry
