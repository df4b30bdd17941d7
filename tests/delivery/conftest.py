"""Fixtures for the delivery tests: committed data on both backends, and the fakes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from reminders.clock import SimulatedClock
from reminders.delivery.engine import EmbeddedRunner
from tests.conftest import truncate_all
from tests.delivery.helpers import T0, Db, channels, make_sender
from tests.fakes import FakeSmtp, FakeTwilio


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest) -> Iterator[Db]:
    """An empty database whose work is committed (the code under test opens sessions).

    Emptied again afterwards: the databases are shared with tests that expect no rows.
    """
    name = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    engine: Engine = request.getfixturevalue(name)
    truncate_all(engine)
    yield Db(engine)
    truncate_all(engine)


@pytest.fixture
def pg_db(pg_engine: Engine) -> Iterator[Db]:
    truncate_all(pg_engine)
    yield Db(pg_engine)
    truncate_all(pg_engine)


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(T0)


@pytest.fixture
def runner(
    db: Db, clock: SimulatedClock, twilio: FakeTwilio, smtp: FakeSmtp
) -> Iterator[EmbeddedRunner]:
    """The embedded mode's runner on the fakes: a dispatch tick sends what is due."""
    runner = EmbeddedRunner(sender=make_sender(db, clock, channels(twilio, smtp)), threads=2)
    yield runner
    runner.shutdown()


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as server:
        yield server


@pytest.fixture
def smtp() -> Iterator[FakeSmtp]:
    with FakeSmtp() as server:
        yield server
