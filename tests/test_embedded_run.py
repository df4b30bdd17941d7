"""`aftercare run` is the embedded production mode: one process, SQLite, no broker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders import migrations
from reminders.clinics.service import create_clinic
from reminders.db import make_engine
from reminders.enrollments import service
from reminders.enrollments.models import ScheduledMessage
from reminders.enrollments.schemas import parse_enrollment
from tests.conftest import alice_payload


def test_run_sends_due_messages_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'run.sqlite3'}"
    engine = make_engine(url)
    migrations.upgrade(engine)
    now = datetime.now(UTC)
    performed = now - timedelta(minutes=10)
    with Session(engine) as session, session.begin():
        clinic = create_clinic(
            session=session,
            name="Riverside Ortho",
            timezone="America/Chicago",
            sms_from="+13125550100",
        ).clinic
        # Round-the-clock window so the test does not depend on the hour it runs at.
        clinic.window_opens = clinic.window_closes
        payload = alice_payload(
            procedure={"performed_at": performed.isoformat(), "injectate": "corticosteroid"}
        )
        payload.pop("follow_up_at")
        service.enroll(
            parse_enrollment(payload), session=session, clinic=clinic, now=now, actor="test"
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERCARE_")}
    env.update(AFTERCARE_DATABASE_URL=url, AFTERCARE_DISPATCH_INTERVAL_SECONDS="0.2")
    exe = Path(sys.executable).parent / "aftercare"
    proc = subprocess.Popen(
        [str(exe), "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with Session(engine) as session:
                discharge = session.scalars(
                    select(ScheduledMessage).where(ScheduledMessage.step_key == "discharge_summary")
                ).one()
                if discharge.status == "sent":
                    break
            time.sleep(0.2)
        assert discharge.status == "sent"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "[sms → +1******0123]" in out  # masked recipient, body shown (console channel)
    assert "Riverside Ortho" in out
    with Session(engine) as session:
        statuses = {m.step_key: m.status for m in session.scalars(select(ScheduledMessage))}
    assert statuses["numbness_check"] == "pending"  # not due for hours: untouched
    engine.dispose()
