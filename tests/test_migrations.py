"""Migrations are the schema: they must match the models, and run down and up again."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from reminders import migrations
from reminders.db import make_engine
from reminders.models import Base


def _diff(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def test_one_linear_history() -> None:
    script = ScriptDirectory.from_config(migrations.alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1, "migrations branch; set down_revision to chain them"


def test_models_match_migrations_on_sqlite(sqlite_engine: Engine) -> None:
    assert _diff(sqlite_engine) == []


@pytest.mark.postgres
def test_models_match_migrations_on_postgres(pg_engine: Engine) -> None:
    assert _diff(pg_engine) == []


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_downgrade_to_base_and_up_again(backend: str, tmp_path, request) -> None:
    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'm.sqlite3'}")
    else:
        engine = make_engine(request.getfixturevalue("pg_url"))
    try:
        migrations.upgrade(engine)
        migrations.downgrade(engine, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrations.upgrade(engine)
        assert "scheduled_messages" in inspect(engine).get_table_names()
    finally:
        if backend == "postgres":
            migrations.upgrade(engine)  # leave the shared test database at head
        engine.dispose()
