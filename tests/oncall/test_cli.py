"""`aftercare oncall set|show` and `aftercare escalation set`, as an admin uses them from a
shell: JSON out, a clear message naming the option and exit status 2 on bad input."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from reminders.clinics.models import Clinic
from reminders.db import session_scope
from reminders.oncall.policy import policy_for
from tests.conftest import run_cli as run


@pytest.fixture
def riverside(cli_db: Path, capsys: pytest.CaptureFixture[str],
              monkeypatch: pytest.MonkeyPatch) -> str:  # fmt: skip
    """Riverside with Olive and Ben, clinicians."""
    code, out, _ = run(capsys, "clinic", "create", "--name", "Riverside Ortho", "--timezone",
                       "America/Chicago", "--sms-from", "+13125550100")  # fmt: skip
    assert code == 0
    clinic = str(json.loads(out)["clinic_id"])
    for email, name, phone in (("olive@riverside.test", "Olive", "+13125550199"),
                               ("ben@riverside.test", "Ben", "+13125550198")):  # fmt: skip
        monkeypatch.setattr("sys.stdin", io.StringIO("a long passphrase\n"))
        assert run(capsys, "staff", "create", "--clinic", clinic, "--email", email, "--role",
                   "clinician", "--name", name, "--phone", phone)[0] == 0  # fmt: skip
    return clinic


def test_oncall_set_and_show(riverside: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "oncall", "show", "--clinic", riverside)
    assert code == 0
    assert json.loads(out) == {"clinic": int(riverside), "primary": None, "backup": None,
                               "shift": None}  # fmt: skip
    code, out, err = run(capsys, "oncall", "set", "--clinic", riverside, "--primary",
                         "olive@riverside.test", "--backup", "ben@riverside.test")  # fmt: skip
    assert code == 0, err
    shift = json.loads(out)
    assert shift["primary"] == {"email": "olive@riverside.test", "name": "Olive",
                                "phone": "+13125550199"}  # fmt: skip
    assert shift["backup"]["name"] == "Ben" and shift["until"] is None
    assert shift["clinic"] == int(riverside) and isinstance(shift["id"], int)
    code, out, _ = run(capsys, "oncall", "show", "--clinic", riverside)
    shown = json.loads(out)
    assert shown["primary"]["email"] == "olive@riverside.test" and shown["shift"]["until"] is None


def test_oncall_set_names_the_bad_option(
    riverside: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "oncall", "set", "--clinic", riverside, "--primary",
                       "nobody@riverside.test", "--from", "2026-11-20T10:00",
                       "--until", "2026-11-20T09:00")  # fmt: skip
    assert code == 2 and "Traceback" not in err
    assert "error: --primary: is not an active staff member of this clinic" in err
    assert "error: --until: must be after the start" in err
    code, _, err = run(capsys, "oncall", "set", "--clinic", riverside, "--primary",
                       "olive@riverside.test", "--from", "next tuesday")  # fmt: skip
    assert code == 2 and "error: --from: 'next tuesday' is not an ISO-8601" in err
    code, _, err = run(capsys, "oncall", "show", "--clinic", "999")
    assert code == 2 and "error: --clinic: no clinic with id 999" in err


def test_escalation_set(riverside: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "escalation", "set", "--clinic", riverside, "--severity",
                         "emergency", "--wait-minutes", "3", "--no-repeat")  # fmt: skip
    assert code == 0, err
    assert json.loads(out) == {
        "clinic": int(riverside), "severity": "emergency", "repeat": False,
        "steps": [{"target": t, "wait_minutes": 3}
                  for t in ("primary", "backup", "clinicians", "admins")],
    }  # fmt: skip
    with session_scope() as session:
        clinic = session.get_one(Clinic, int(riverside))
        assert not policy_for(session=session, clinic=clinic, severity="emergency").repeat
    code, _, err = run(capsys, "escalation", "set", "--clinic", riverside, "--severity",
                       "urgent", "--wait-minutes", "0")  # fmt: skip
    assert code == 2 and "error: --wait-minutes: must be between 1 and 1440" in err
