"""GET /healthz and GET /metrics."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
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


def test_metrics_in_multiprocess_mode_list_each_metric_once_with_every_process(
    tmp_path: Path,
) -> None:
    """With PROMETHEUS_MULTIPROC_DIR (compose sets it for web, worker and beat), a worker's
    counters reach the web app's /metrics, and the database gauges appear once."""
    shared = tmp_path / "metrics"
    shared.mkdir()
    db = tmp_path / "m.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERCARE_")}
    env |= {"PROMETHEUS_MULTIPROC_DIR": str(shared), "AFTERCARE_DATABASE_URL": f"sqlite:///{db}"}
    worker = "from reminders import metrics; metrics.count_sent('sms'); metrics.count_sent('sms')"
    web = (
        "from fastapi.testclient import TestClient\n"
        "from reminders import migrations\n"
        "from reminders.config import get_settings\n"
        "from reminders.db import make_engine\n"
        "from reminders.web.app import create_app\n"
        "migrations.upgrade(make_engine(get_settings().database_url))\n"
        "client = TestClient(create_app(get_settings()))\n"
        "client.get('/metrics')\n"  # a second scrape reads what the first one left
        "print(client.get('/metrics').text)\n"
    )
    subprocess.run([sys.executable, "-c", worker], env=env, check=True, timeout=60)
    out = subprocess.run([sys.executable, "-c", web], env=env, check=True, timeout=60,
                         capture_output=True, text=True).stdout  # fmt: skip
    for name in ("aftercare_due_backlog", "aftercare_database_up",
                 "aftercare_messages_sent_total"):  # fmt: skip
        assert out.count(f"# TYPE {name} ") == 1, name
    assert 'aftercare_messages_sent_total{channel="sms"} 2.0' in out


def test_healthz_is_degraded_while_a_stored_text_waits_unread(db: Db, serve: Any) -> None:
    """The webhook only stores texts: with no worker reading them, no reply, concern or
    page follows, and /healthz says so (count and age only, never the text)."""
    from datetime import UTC, datetime

    from reminders.conversations.inbox import read_pending, store_texts
    from reminders.conversations.service import sms_row

    now = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    with db.engine.begin() as conn:
        store_texts(connection=conn, rows=[sms_row(
            now=now - timedelta(minutes=5), message_sid="SM" + "u" * 32, sender="+13125550123",
            to="+13125550100", body="my hip is on fire")])  # fmt: skip
    client = serve(settings_for(str(db.engine.url)), clock=SimulatedClock(now))
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json()["status"] == "degraded"
    assert response.json()["checks"]["inbound"] == {
        "status": "degraded", "unread_texts": 1, "oldest_seconds": 300}
    assert "fire" not in response.text and "0123" not in response.text

    assert read_pending(sessions=db.sessions, clock=SimulatedClock(now)).read == 1
    assert "inbound" not in client.get("/healthz").json()["checks"]
