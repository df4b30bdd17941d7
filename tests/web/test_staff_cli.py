"""`aftercare staff create`: the first admin, password from stdin, clear errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from reminders.cli import main
from reminders.clinics.models import StaffMember
from reminders.db import session_scope
from reminders.staff.service import verify_password


def test_staff_create_reads_the_password_from_stdin(
    cli_db: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["clinic", "create", "--name", "Riverside", "--timezone", "America/Chicago",
                 "--sms-from", "+13125550100"]) == 0  # fmt: skip
    clinic_id = json.loads(capsys.readouterr().out)["clinic_id"]
    monkeypatch.setattr("sys.stdin", io.StringIO("a long passphrase\n"))
    code = main(["staff", "create", "--clinic", str(clinic_id), "--email", "Dana@Example.org",
                 "--role", "admin"])  # fmt: skip
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["email"] == "dana@example.org" and out["role"] == "admin"
    with session_scope() as session:
        member = session.scalars(select(StaffMember)).one()
        assert member.password_hash and member.password_hash.startswith("$argon2id$")
        assert verify_password(member.password_hash, "a long passphrase")
        assert "a long passphrase" not in member.password_hash


def test_staff_create_refuses_a_short_password_and_an_unknown_clinic(
    cli_db: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    code = main(["staff", "create", "--clinic", "42", "--email", "x@example.org",
                 "--role", "clinician"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "password: must be at least 12 characters" in err and "clinic: no clinic" in err
