"""Shared test set-up: real PostgreSQL and Redis, SQLite files, a named cast.

Database tests run against both backends through the ``session`` fixture; each test
runs inside a transaction that is rolled back, so tests never see each other's rows.
Under CI=true a missing PostgreSQL or Redis fails the run instead of skipping.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from reminders import migrations
from reminders.db import make_engine

PG_ADMIN_URL = os.environ.get(
    "AFTERCARE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("AFTERCARE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() == "true"

# Settings must never come from a developer's shell during tests.
for _name in list(os.environ):
    if _name.startswith("AFTERCARE_") and not _name.startswith("AFTERCARE_TEST_"):
        del os.environ[_name]
os.environ["AFTERCARE_ENVIRONMENT"] = "test"


def _service_missing(what: str, exc: Exception) -> None:
    message = f"{what} is not reachable ({exc.__class__.__name__}: {exc})"
    if IN_CI:
        pytest.exit(f"CI=true and {message}; the test command starts it when installed", 3)
    pytest.skip(message)


@contextmanager
def fresh_pg_database(prefix: str) -> Iterator[str]:
    """A new PostgreSQL database migrated to head, dropped afterwards; yields its URL."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = PG_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        _service_missing("PostgreSQL", exc)
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url)
    migrations.upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, migrated to head."""
    with fresh_pg_database("aftercare_test") as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("db") / "aftercare.sqlite3"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    migrations.upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    name = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    return request.getfixturevalue(name)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session whose work is rolled back after the test (savepoints inside)."""
    connection = engine.connect()
    transaction = connection.begin()
    db = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield db
    finally:
        db.close()
        transaction.rollback()
        connection.close()


@pytest.fixture
def redis_url() -> str:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        _service_missing("Redis", exc)
    client.flushdb()  # a database of its own (see AFTERCARE_TEST_REDIS_URL), never db 0
    return REDIS_URL


def truncate_all(engine: Engine) -> None:
    """Empty every table (tests whose code commits through its own sessions)."""
    from reminders.models import Base

    names = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))
        else:
            # Messages, replies and concerns refer to one another: check at commit.
            conn.execute(text("PRAGMA defer_foreign_keys = ON"))
            for name in names:
                conn.execute(text(f"DELETE FROM {name}"))


# -- the cast --------------------------------------------------------------------------

NOW = datetime(2026, 11, 20, 20, 10, tzinfo=UTC)  # 14:10 in Chicago


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def riverside(session: Session):
    """Riverside Ortho, in Chicago, with the built-in protocols published."""
    from reminders.clinics.service import create_clinic

    clinic = create_clinic(
        session=session,
        name="Riverside Ortho",
        timezone="America/Chicago",
        sms_from="+13125550100",
    ).clinic
    on_call_rota(session, clinic, primary=("Olive", "+13125550199", "oncall@riverside.test"))
    return clinic


def on_call_rota(
    session: Session,
    clinic,
    *,
    primary: tuple[str, str | None, str],
    backup: tuple[str, str | None, str] | None = None,
):
    """A round-the-clock rota (every day, midnight to midnight) with these clinicians."""
    from reminders.clinics.models import StaffMember
    from reminders.oncall.models import WEEKDAYS, OnCallShift

    def member(name: str, phone: str | None, email: str) -> StaffMember:
        person = StaffMember(clinic_id=clinic.id, name=name, phone=phone, email=email,
                             role="clinician")  # fmt: skip
        session.add(person)
        session.flush()
        return person

    first = member(*primary)
    second = member(*backup) if backup else None
    shift = OnCallShift(clinic_id=clinic.id, kind="rota", days=list(WEEKDAYS),
                        starts=clock_time(0, 0), ends=clock_time(0, 0), primary_staff_id=first.id,
                        backup_staff_id=second.id if second else None)  # fmt: skip
    session.add(shift)
    session.flush()
    return shift


@pytest.fixture
def lakeside(session: Session):
    """Another clinic, whose staff must never see Riverside's patients."""
    from reminders.clinics.service import create_clinic

    return create_clinic(
        session=session,
        name="Lakeside Spine",
        timezone="America/New_York",
        sms_from="+12125550100",
    ).clinic


def alice_payload(**overrides: object) -> dict[str, object]:
    """Alice: diabetic, corticosteroid injection at 14:10 Chicago time, visit in two weeks."""
    payload: dict[str, object] = {
        "patient": {
            "external_id": "MRN-1001",
            "given_name": "Alice",
            "phone": "+13125550123",
            "email": "alice@example.org",
            "timezone": "America/Chicago",
            "language": "en",
            "conditions": ["diabetes"],
        },
        "procedure": {
            "performed_at": "2026-11-20T14:10:00-06:00",
            "injectate": "corticosteroid",
            "side": "right",
        },
        "follow_up_at": "2026-12-04T10:30:00-06:00",
        "channel": "sms",
    }
    payload.update(overrides)
    return payload


TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
ONE_DAY = timedelta(days=1)


# -- the command line ----------------------------------------------------------------


@pytest.fixture
def cli_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty, migrated SQLite database that `aftercare` commands run against."""
    from reminders.cli import main
    from reminders.config import get_settings
    from reminders.db import reset_engine

    db = tmp_path / "cli.sqlite3"
    monkeypatch.setenv("AFTERCARE_DATABASE_URL", f"sqlite:///{db}")
    get_settings.cache_clear()
    reset_engine()
    assert main(["db", "upgrade"]) == 0
    yield db
    reset_engine()
    get_settings.cache_clear()


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run `aftercare *argv`; its exit code, stdout and stderr."""
    from reminders.cli import main

    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def wait_until(check: Callable[[], object], timeout: float, what: str) -> None:
    """Poll ``check`` every 50 ms until it is truthy; fail naming ``what`` after
    ``timeout`` seconds (real processes and servers take their own time)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)
