"""Fixtures for the delivery tests: committed data on both backends, and the fakes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from reminders.clock import SimulatedClock
from tests.conftest import truncate_all
from tests.delivery.helpers import T0, Db
from tests.fakes import FakeSmtp, FakeTwilio


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest) -> Db:
    """An empty database whose work is committed (the code under test opens sessions)."""
    name = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    engine: Engine = request.getfixturevalue(name)
    truncate_all(engine)
    return Db(engine)


@pytest.fixture
def pg_db(pg_engine: Engine) -> Db:
    truncate_all(pg_engine)
    return Db(pg_engine)


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(T0)


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as server:
        yield server


@pytest.fixture
def smtp() -> Iterator[FakeSmtp]:
    with FakeSmtp() as server:
        yield server
