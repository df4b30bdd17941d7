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


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_an_old_on_call_contact_who_is_on_staff_stays_on_call(
    backend: str, tmp_path, request
) -> None:
    """0005 drops the free-text on-call numbers; a contact who is a staff member keeps
    being paged, as a round-the-clock rota line."""
    from sqlalchemy import text

    if backend == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'm.sqlite3'}")
    else:
        engine = make_engine(request.getfixturevalue("pg_url"))
        migrations.downgrade(engine, "base")
    try:
        migrations.upgrade(engine, "0004_consent")
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO clinics (id, name, timezone, window_opens, window_closes, "
                "emergency_number, crisis_line, sms_from, thresholds, on_call_email, "
                "backup_phone, emergency_ack_minutes, urgent_ack_minutes, created_at) VALUES "
                "(1, 'Riverside Ortho', 'America/Chicago', '08:00:00', '20:00:00', '911', "
                "'988', '+13125550100', '{}', 'OLIVE@riverside.test', '+13125550198', 5, 30, "
                "'2026-11-01 00:00:00')"))  # fmt: skip
            for n, (email, phone) in enumerate(
                [("olive@riverside.test", None), ("ben@riverside.test", "+13125550198")], 1
            ):
                conn.execute(text(
                    "INSERT INTO staff_members (id, clinic_id, email, name, role, phone, "
                    "is_active, failed_logins, created_at) VALUES (:id, 1, :email, '', "
                    "'clinician', :phone, :yes, 0, '2026-11-01 00:00:00')"),
                    {"id": n, "email": email, "phone": phone, "yes": True})  # fmt: skip
        migrations.upgrade(engine)
        with engine.connect() as conn:
            shift = conn.execute(text(
                "SELECT clinic_id, kind, primary_staff_id, backup_staff_id FROM oncall_shifts"
            )).one()  # fmt: skip
        assert tuple(shift) == (1, "rota", 1, 2)
    finally:
        if backend == "postgres":
            migrations.downgrade(engine, "base")
            migrations.upgrade(engine)  # leave the shared test database at head
        engine.dispose()
