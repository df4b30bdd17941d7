"""GET /healthz and GET /metrics."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from reminders.clock import SimulatedClock
from reminders.config import Settings
from reminders.delivery.engine import EmbeddedRunner
from reminders.web.app import create_app
from tests.delivery.helpers import (
    Db,
    add_patients,
    channels,
    make_clinic,
    make_sender,
    settings_for,
)
from tests.fakes import FakeTwilio
from tests.fakes.smtp_server import free_port


@pytest.fixture
def serve() -> Iterator[Any]:
    apps: list[FastAPI] = []

    def client(settings: Settings, clock: SimulatedClock | None = None) -> TestClient:
        app = create_app(settings, clock=clock)
        apps.append(app)
        return TestClient(app)

    yield client
    for app in apps:
        app.state.engine.dispose()


def test_healthz_is_ok_when_database_and_broker_answer(db: Db, redis_url: str, serve: Any) -> None:
    response = serve(settings_for(str(db.engine.url), broker_url=redis_url)).get("/healthz")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": {"status": "ok"}, "broker": {"status": "ok"}},
    }


def test_healthz_without_a_broker_checks_only_the_database(db: Db, serve: Any) -> None:
    response = serve(settings_for(str(db.engine.url))).get("/healthz")

    assert response.status_code == 200
    assert response.json()["checks"]["broker"] == {"status": "not_configured"}


def test_healthz_is_503_when_the_broker_is_down(db: Db, serve: Any) -> None:
    settings = settings_for(str(db.engine.url), broker_url=f"redis://127.0.0.1:{free_port()}/0")
    response = serve(settings).get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["checks"]["database"] == {"status": "ok"}
    assert body["checks"]["broker"]["status"] == "down"


def test_healthz_is_503_when_the_database_is_down(serve: Any) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/aftercare"
    response = serve(settings_for(url)).get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["database"]["status"] == "down"
    assert "127.0.0.1" not in response.text  # no connection details leak out


def scrape(client: TestClient) -> dict[str, float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    values = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            values[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return values


def test_metrics_show_the_due_backlog_from_the_database_and_the_send_counters(
    db: Db, clock: SimulatedClock, twilio: FakeTwilio, serve: Any
) -> None:
    clinic = make_clinic(db)
    add_patients(db, clinic, 3, due_at=clock.now() - timedelta(minutes=10))
    add_patients(db, clinic, 1, phone_start=3125552000, due_at=clock.now() + timedelta(days=1))
    client = serve(settings_for(str(db.engine.url)), clock)

    before = scrape(client)
    assert before["aftercare_due_backlog"] == 3
    assert before["aftercare_due_oldest_seconds"] == 600
    assert before["aftercare_database_up"] == 1

    runner = EmbeddedRunner(sender=make_sender(db, clock, channels(twilio)), threads=1)
    assert [o.result for o in runner.dispatch_once()] == ["sent"] * 3
    runner.shutdown()

    after = scrape(client)
    assert after["aftercare_due_backlog"] == 0
    assert after["aftercare_due_oldest_seconds"] == 0
    sent = "aftercare_messages_sent_total{channel=sms}"
    assert after[sent] - before.get(sent, 0) == 3
    count = "aftercare_send_lateness_seconds_count"
    assert after[count] - before.get(count, 0) == 3
