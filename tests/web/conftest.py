"""The web cast: Riverside's staff (Dana the admin, Cora the coordinator, Carl the
clinician), Alice enrolled at Riverside, and Bob, Lakeside's admin, who must never see her.

In-process tests drive the app with TestClient over the rolled-back ``session`` (both
backends). Browser and fuzz tests need committed data and a real server, so they get a
PostgreSQL database of their own (``live_db_url``), dropped afterwards.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from reminders.clinics.models import Clinic, StaffMember
from reminders.clinics.service import create_clinic, hash_api_key
from reminders.clock import SimulatedClock
from reminders.config import Settings
from reminders.conversations.concerns import open_concern
from reminders.conversations.models import Concern, InboundMessage
from reminders.enrollments.schemas import parse_enrollment
from reminders.enrollments.service import enroll
from reminders.staff import service as staff_service
from reminders.web.app import create_app
from reminders.web.deps import get_session
from tests.conftest import NOW, alice_payload, fresh_pg_database

PASSWORD = "correct horse battery staple"
RIVERSIDE_KEY = "ak_test_riverside_key_0000000000000000000000"
LAKESIDE_KEY = "ak_test_lakeside_key_00000000000000000000000"
SECRET = "test-secret-key-for-web-tests-only"


@pytest.fixture(autouse=True)
def fast_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id with tiny costs: the tests check behaviour, not hashing strength."""
    hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    monkeypatch.setattr(staff_service, "_hasher", hasher)
    monkeypatch.setattr(staff_service, "_DUMMY_HASH", hasher.hash("dummy-password-0000"))


def web_settings(url: str) -> Settings:
    return Settings(database_url=url, secret_key=SECRET, environment="test")


@dataclass
class Cast:
    riverside: Clinic
    lakeside: Clinic
    dana: StaffMember  # Riverside admin
    cora: StaffMember  # Riverside coordinator
    carl: StaffMember  # Riverside clinician
    bob: StaffMember  # Lakeside admin
    alice_enrollment_id: int
    alice_id: int
    emergency: Concern
    urgent: Concern


def build_cast(session: Session, now: datetime) -> Cast:
    riverside = create_clinic(
        session=session, name="Riverside Ortho", timezone="America/Chicago",
        sms_from="+13125550100",
    ).clinic  # fmt: skip
    lakeside = create_clinic(session=session, name="Lakeside Spine", timezone="America/New_York",
                             sms_from="+12125550100").clinic  # fmt: skip
    riverside.api_key_hash = hash_api_key(RIVERSIDE_KEY)
    lakeside.api_key_hash = hash_api_key(LAKESIDE_KEY)

    def staff(clinic: Clinic, email: str, role: str, name: str) -> StaffMember:
        return staff_service.create_staff(session=session, clinic_id=clinic.id, email=email,
                                          role=role, password=PASSWORD, name=name)  # fmt: skip

    dana = staff(riverside, "dana@riverside.test", "admin", "Dana Admin")
    cora = staff(riverside, "cora@riverside.test", "coordinator", "Cora Coordinator")
    carl = staff(riverside, "carl@riverside.test", "clinician", "Carl Clinician")
    bob = staff(lakeside, "bob@lakeside.test", "admin", "Bob Lakeside")
    performed = (now - timedelta(hours=3)).isoformat()
    payload = alice_payload()
    payload["procedure"] = {**payload["procedure"], "performed_at": performed}  # type: ignore[dict-item]
    payload["follow_up_at"] = (now + timedelta(days=14)).isoformat()
    result = enroll(parse_enrollment(payload), session=session, clinic=riverside, now=now,
                    actor="test")  # fmt: skip
    patient_id = result.enrollment.patient_id
    reply = InboundMessage(
        clinic_id=riverside.id, patient_id=patient_id, enrollment_id=result.enrollment.id,
        channel="sms", provider_id=f"SM{uuid.uuid4().hex}", sender="+13125550123",
        body="my throat feels tight and I can't breathe well", severity="emergency",
        categories=["breathing", "allergic_reaction"], parsed={"pain_score": 9},
        received_at=now - timedelta(minutes=4),
    )  # fmt: skip
    pain = InboundMessage(
        clinic_id=riverside.id, patient_id=patient_id, enrollment_id=result.enrollment.id,
        channel="sms", provider_id=f"SM{uuid.uuid4().hex}", sender="+13125550123", body="pain 6",
        severity="routine", categories=["severe_pain"], parsed={"pain_score": 6},
        received_at=now - timedelta(hours=2),
    )  # fmt: skip
    session.add_all([reply, pain])
    session.flush()
    urgent = open_concern(
        session=session, clinic=riverside, severity="urgent", kind="reply", summary="pain 9/10",
        now=now - timedelta(minutes=30), categories=["severe_pain"], patient_id=patient_id,
        enrollment_id=result.enrollment.id, inbound_id=pain.id,
    )  # fmt: skip
    emergency = open_concern(
        session=session, clinic=riverside, severity="emergency", kind="reply",
        summary="breathing difficulty", now=now - timedelta(minutes=4),
        categories=["breathing", "allergic_reaction"], patient_id=patient_id,
        enrollment_id=result.enrollment.id, inbound_id=reply.id,
    )  # fmt: skip
    session.flush()
    return Cast(riverside, lakeside, dana, cora, carl, bob, result.enrollment.id, patient_id,
                emergency, urgent)  # fmt: skip


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(NOW)


@pytest.fixture
def cast(session: Session, clock: SimulatedClock) -> Cast:
    built = build_cast(session, clock.now())
    session.commit()  # releases the savepoint; the outer transaction is still rolled back
    return built


@pytest.fixture
def client(session: Session, clock: SimulatedClock, cast: Cast) -> Iterator[TestClient]:
    """The app over the test's rolled-back session (the URL only names the dialect)."""
    url = str(session.get_bind().engine.url.render_as_string(hide_password=False))
    app = create_app(web_settings(url), clock=clock)

    def same_session() -> Iterator[Session]:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise

    app.dependency_overrides[get_session] = same_session
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as test_client:
        yield test_client


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> str:
    """Sign in through the form; returns the session's CSRF token."""
    token = csrf_of(client.get("/signin").text)
    response = client.post("/signin", data={"email": email, "password": password,
                                            "csrf_token": token})  # fmt: skip
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/patients").text)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def live_db_url() -> Iterator[str]:
    """A PostgreSQL database of this module's own, migrated, for servers that commit."""
    with fresh_pg_database("aftercare_web") as url:
        yield url


__all__ = ["NOW", "Cast", "bearer", "csrf_of", "sign_in"]
