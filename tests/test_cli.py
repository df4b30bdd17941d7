"""The `aftercare` command as a coordinator uses it: clear errors, nothing half-written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from reminders.config import get_settings
from reminders.db import session_scope
from reminders.enrollments.models import Enrollment
from reminders.patients.models import Patient
from tests.conftest import run_cli as run

ROOT = Path(__file__).resolve().parent.parent
HEADER = (
    "external_id,given_name,phone,email,timezone,language,conditions,performed_at,"
    "injectate,side,diagnostic,follow_up_at,channel\n"
)
GOOD = (
    "MRN-1,Alice,+13125550123,alice@example.org,America/Chicago,en,diabetes,"
    "2026-11-20T14:10:00-06:00,corticosteroid,right,no,2026-12-04T10:30:00-06:00,sms\n"
)
GOOD2 = (
    "MRN-2,Carmen,+13125550124,,America/Chicago,es,,2026-11-20T15:00:00-06:00,"
    "hyaluronic_acid,left,false,,sms\n"
)
BAD_PHONE = "MRN-3,Dan,+1555,,America/Chicago,en,,2026-11-20T15:00:00-06:00,prp,left,no,,sms\n"
BAD_ZONE = "MRN-4,Eve,+13125550125,,Mars/Base,en,,2026-11-20T15:00:00-06:00,prp,left,no,,sms\n"


def make_clinic(capsys: pytest.CaptureFixture[str]) -> int:
    code, out, _ = run(
        capsys,
        "clinic",
        "create",
        "--name",
        "Riverside Ortho",
        "--timezone",
        "America/Chicago",
        "--sms-from",
        "+13125550100",
    )
    assert code == 0
    created = json.loads(out)
    assert created["api_key"].startswith("ak_")
    return int(created["clinic_id"])


def counts() -> tuple[int, int]:
    with session_scope() as session:
        return (
            session.scalar(select(func.count()).select_from(Patient)) or 0,
            session.scalar(select(func.count()).select_from(Enrollment)) or 0,
        )


def test_import_reports_bad_rows_by_line_and_field_and_keeps_good_ones(
    cli_db, capsys, tmp_path
) -> None:
    clinic = make_clinic(capsys)
    csv = tmp_path / "patients.csv"
    csv.write_text(HEADER + GOOD + BAD_PHONE + GOOD2 + BAD_ZONE)
    code, out, err = run(capsys, "import", str(csv), "--clinic", str(clinic))
    assert code == 2
    assert "Row 3, Mobile phone:" in err and "Row 5, Patient's time zone:" in err
    assert json.loads(out)["imported"] == 2
    assert counts() == (2, 2)
    # Importing the same file again adds nothing: rows are idempotent.
    run(capsys, "import", str(csv), "--clinic", str(clinic))
    assert counts() == (2, 2)


def test_all_or_nothing_imports_nothing_when_a_row_is_bad(cli_db, capsys, tmp_path) -> None:
    clinic = make_clinic(capsys)
    csv = tmp_path / "patients.csv"
    csv.write_text(HEADER + GOOD + BAD_PHONE)
    code, out, err = run(capsys, "import", str(csv), "--clinic", str(clinic), "--all-or-nothing")
    assert code == 2 and "Row 3" in err
    assert json.loads(out) == {
        "imported": 0,
        "already_enrolled": 0,
        "errors": ["Row 3, Mobile phone: is not a valid phone number"],
        "committed": False,
    }
    assert counts() == (0, 0)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "Header row: the file is empty"),
        ("given_name,timezone,performed_at,injectate,favourite_colour\n", "unknown column"),
        ("given_name,timezone\n", "missing column(s): performed_at, injectate"),
        (HEADER + 'MRN-9,"Unclosed,+1312\n', "Row 2"),
    ],
)
def test_malformed_csv_is_reported_not_crashed(cli_db, capsys, tmp_path, content, message) -> None:
    clinic = make_clinic(capsys)
    csv = tmp_path / "bad.csv"
    csv.write_text(content)
    code, _, err = run(capsys, "import", str(csv), "--clinic", str(clinic))
    assert code == 2 and message in err and "Traceback" not in err
    assert counts() == (0, 0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--phone", "12"], "error: patient.phone:"),
        (["--timezone", "Nowhere/City"], "error: patient.timezone:"),
        (["--injectate", "botox"], "error: procedure.injectate:"),
        (["--performed-at", "2026-11-20T14:10:00"], "error: procedure.performed_at: "),
        (["--performed-at", "2099-01-01T09:00:00+00:00"], "more than a day in the future"),
    ],
)
def test_enroll_bad_input_names_the_field_and_stores_nothing(cli_db, capsys, args, message) -> None:
    clinic = make_clinic(capsys)
    base = {
        "--given-name": "Alice",
        "--phone": "+13125550123",
        "--timezone": "America/Chicago",
        "--performed-at": "2026-11-20T14:10:00-06:00",
        "--injectate": "corticosteroid",
    }
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    argv = ["enroll", "--clinic", str(clinic)] + [x for kv in base.items() for x in kv]
    code, _, err = run(capsys, *argv)
    assert code == 2 and message in err and "Traceback" not in err
    assert counts() == (0, 0)


def test_clinic_create_rejects_bad_zone_and_number(cli_db, capsys) -> None:
    code, _, err = run(
        capsys, "clinic", "create", "--name", "X", "--timezone", "Chicago", "--sms-from", "555"
    )
    assert code == 2
    assert "error: timezone:" in err and "error: sms_from:" in err


def test_bad_configuration_fails_fast_with_the_variable_named(monkeypatch, capsys) -> None:
    monkeypatch.setenv("AFTERCARE_BROKER_URL", "sqla+sqlite:///broker.db")
    get_settings.cache_clear()
    try:
        code, _, err = run(capsys, "db", "upgrade")
    finally:
        get_settings.cache_clear()
    assert code == 2 and "AFTERCARE_BROKER_URL" in err


def test_protocols_check_passes_on_the_shipped_protocols(capsys) -> None:
    code, out, err = run(capsys, "protocols", "check")
    assert code == 0, err
    assert "4 protocols" in out


def test_protocols_check_reports_file_and_line(tmp_path, monkeypatch, capsys) -> None:
    override = tmp_path / "clinic"
    (override / "protocols").mkdir(parents=True)
    (override / "protocols" / "corticosteroid.yaml").write_text(
        "key: corticosteroid\ninjectate: corticosteroid\nsteps:\n  - discharge_summary\n"
        "  - key: extra_check\n    when: someday\n    expires: 4h\n"
    )
    monkeypatch.setenv("AFTERCARE_TEMPLATE_OVERRIDE_DIRS", json.dumps([str(override)]))
    get_settings.cache_clear()
    try:
        code, _, err = run(capsys, "protocols", "check")
    finally:
        get_settings.cache_clear()
    assert code == 1
    assert "corticosteroid.yaml:5: step extra_check: when 'someday'" in err


def test_preview_json_gives_local_offsets_and_segments(capsys) -> None:
    code, out, err = run(
        capsys,
        "protocols",
        "preview",
        "corticosteroid",
        "--performed-at",
        "2026-03-07T14:10:00-06:00",
        "--tz",
        "America/Chicago",
        "--diabetic",
        "--json",
    )
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    steps = {r["step"] for r in rows}
    assert {"glucose_check", "flare_check", "numbness_check"} <= steps
    # March 8 2026 is the spring-forward day: offsets change from -06:00 to -05:00.
    offsets = {r["due_at"][-6:] for r in rows}
    assert offsets == {"-06:00", "-05:00"}
    assert all(1 <= r["segments"] <= 3 and r["text"] for r in rows)


def test_preview_in_spanish(capsys) -> None:
    code, out, _ = run(
        capsys,
        "protocols",
        "preview",
        "hyaluronic_acid",
        "--performed-at",
        "2026-11-20T09:00:00+05:30",
        "--tz",
        "Asia/Kolkata",
        "--lang",
        "es",
    )
    assert code == 0 and "hola" in out.lower()


def test_installed_command_finds_templates_from_any_directory(tmp_path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERCARE_")}
    env["AFTERCARE_DATABASE_URL"] = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    exe = Path(sys.executable).parent / "aftercare"
    done = subprocess.run(
        [str(exe), "protocols", "check"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def test_malformed_yaml_is_reported_with_its_line(tmp_path, monkeypatch, capsys) -> None:
    override = tmp_path / "clinic"
    (override / "protocols").mkdir(parents=True)
    (override / "protocols" / "prp.yaml").write_text(
        "key: prp\ninjectate: prp\nsteps:\n  - discharge_summary\n  - key: [unclosed\n"
    )
    monkeypatch.setenv("AFTERCARE_TEMPLATE_OVERRIDE_DIRS", json.dumps([str(override)]))
    get_settings.cache_clear()
    try:
        code, _, err = run(capsys, "protocols", "check")
    finally:
        get_settings.cache_clear()
    assert code == 1 and "prp.yaml:" in err and "invalid YAML" in err and "Traceback" not in err


def test_access_log_drops_query_strings_so_searches_for_names_are_not_logged() -> None:
    import logging

    from reminders.web.access_log import StripQuery, log_config

    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "GET", "/patients?q=Alice+Smith", "1.1", 200),
                               None)  # fmt: skip
    assert StripQuery().filter(record)
    assert "Alice" not in record.getMessage() and "/patients" in record.getMessage()
    assert log_config()["handlers"]["access"]["filters"] == ["strip_query"]


def test_database_errors_do_not_carry_patient_data(tmp_path) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import StatementError

    from reminders.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'p.sqlite3'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (phone TEXT UNIQUE)"))
        conn.execute(text("INSERT INTO t VALUES (:p)"), {"p": "+13125550123"})
    with pytest.raises(StatementError) as err, engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (:p)"), {"p": "+13125550123"})
    assert "+13125550123" not in str(err.value)
