"""GET /api/v1/oncall for each clinic's own key, and /healthz counting clinics with
nobody on call (never naming them)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from reminders import migrations
from reminders.clinics.service import create_clinic
from reminders.clock import SimulatedClock
from reminders.config import Settings
from reminders.db import make_engine, transaction
from reminders.oncall import service
from reminders.web.app import create_app
from tests.conftest import NOW, on_call_rota
from tests.web.conftest import LAKESIDE_KEY, RIVERSIDE_KEY, Cast, bearer


def test_each_clinics_key_sees_its_own_on_call(
    client: TestClient, cast: Cast, session: Session, clock: SimulatedClock
) -> None:
    assert client.get("/api/v1/oncall").status_code == 401
    nobody = client.get("/api/v1/oncall", headers=bearer(RIVERSIDE_KEY))
    assert nobody.status_code == 200
    assert nobody.json() == {"primary": None, "backup": None, "shift": None}

    cast.carl.phone = "+13125550111"
    service.add_shift(session=session, clinic=cast.riverside, days=["fri"], starts="08:00",
                      ends="18:00", primary_email=cast.carl.email,
                      backup_email=cast.dana.email, actor="test")  # fmt: skip
    service.set_override(session=session, clinic=cast.lakeside, primary_email=cast.bob.email,
                         starts_at=clock.now() - timedelta(hours=1), ends_at=None,
                         actor="test")  # fmt: skip
    session.commit()

    riverside = client.get("/api/v1/oncall", headers=bearer(RIVERSIDE_KEY)).json()
    assert riverside["primary"] == {"email": "carl@riverside.test", "name": "Carl Clinician",
                                    "phone": "+13125550111"}  # fmt: skip
    assert riverside["backup"]["email"] == "dana@riverside.test"
    # NOW is Friday 14:10 in Chicago: the shift runs 08:00-18:00 Chicago time.
    assert riverside["shift"]["from"].startswith("2026-11-20T14:00:00")
    assert riverside["shift"]["until"].startswith("2026-11-21T00:00:00")

    lakeside = client.get("/api/v1/oncall", headers=bearer(LAKESIDE_KEY)).json()
    assert lakeside["primary"]["email"] == "bob@lakeside.test" and lakeside["backup"] is None
    assert lakeside["shift"]["until"] is None
    assert "carl" not in str(lakeside)


def test_healthz_counts_clinics_with_nobody_on_call(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'health.sqlite3'}"
    engine = make_engine(url)
    migrations.upgrade(engine)
    maker = sessionmaker(bind=engine)
    with transaction(maker) as session:
        riverside = create_clinic(session=session, name="Riverside Ortho",
                                  timezone="America/Chicago", sms_from="+13125550100").clinic
        on_call_rota(session, riverside, primary=("Olive", None, "olive@riverside.test"))
        create_clinic(session=session, name="Lakeside Spine", timezone="America/New_York",
                      sms_from="+12125550100")  # fmt: skip
    engine.dispose()
    app = create_app(Settings(database_url=url, environment="test"), clock=SimulatedClock(NOW))
    with TestClient(app) as client:
        response = client.get("/healthz")
    app.state.engine.dispose()
    assert response.status_code == 200  # the service works; a person must fix the rota
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["oncall"] == {"status": "degraded", "uncovered_clinics": 1}
    assert "Lakeside" not in response.text and "Olive" not in response.text
