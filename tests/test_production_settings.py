"""With AFTERCARE_ENVIRONMENT=production, settings that would drop or leak messages stop
the process at start, with the variable named and no stack trace.

Riverside Ortho's production stack is complete; each story below takes one thing away
from it (or leaves a laptop default in place) and expects the refusal to say which
variable to fix. The same values on a laptop (development) are fine.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from reminders.cli import main
from reminders.config import ConfigError, Settings, get_settings, load_settings

ROOT = Path(__file__).resolve().parent.parent

RIVERSIDE_PRODUCTION = {
    "AFTERCARE_ENVIRONMENT": "production",
    "AFTERCARE_SECRET_KEY": "riverside-ortho-0c1e5a9f7b2d4e6a8c0e2f4a6b8d0f1e",
    "AFTERCARE_PUBLIC_URL": "https://aftercare.riverside-ortho.example",
    "AFTERCARE_SMS_PROVIDER": "twilio",
    "AFTERCARE_TWILIO_ACCOUNT_SID": "AC0123456789abcdef0123456789abcdef",
    "AFTERCARE_TWILIO_AUTH_TOKEN": "riverside-twilio-token",
    "AFTERCARE_EMAIL_PROVIDER": "smtp",
    "AFTERCARE_SMTP_URL": "smtp+starttls://aftercare:pw@smtp.riverside-ortho.example:587",
    "AFTERCARE_EMAIL_FROM": "aftercare@riverside-ortho.example",
    "AFTERCARE_EMAIL_REPLY_DOMAIN": "reply.riverside-ortho.example",
    "AFTERCARE_INBOUND_EMAIL_USER": "inbound",
    "AFTERCARE_INBOUND_EMAIL_PASSWORD": "riverside-inbound-password",
}


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Riverside's complete production environment; tests change one variable."""
    for name, value in RIVERSIDE_PRODUCTION.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def refusal() -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings()
    return str(caught.value)


def test_riverside_complete_production_settings_start(production: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.environment == "production"
    assert (settings.sms_provider, settings.email_provider) == ("twilio", "smtp")


# (variable, bad value or None to leave it unset, what the refusal says about it)
REFUSED = [
    ("AFTERCARE_SMS_PROVIDER", "console", "sends nothing and logs message bodies"),
    ("AFTERCARE_EMAIL_PROVIDER", "console", "sends nothing and logs message bodies"),
    ("AFTERCARE_SECRET_KEY", None, "must be set in production"),
    ("AFTERCARE_SECRET_KEY", "dev-insecure-change-me", "must be set in production"),
    ("AFTERCARE_SECRET_KEY", "hunter2", "at least 32 characters"),
    ("AFTERCARE_PUBLIC_URL", None, "must be an https:// URL"),
    ("AFTERCARE_PUBLIC_URL", "http://aftercare.riverside-ortho.example", "must be an https://"),
    ("AFTERCARE_PUBLIC_URL", "https://localhost:8000", "reachable from the internet"),
    ("AFTERCARE_PUBLIC_URL", "https://127.0.0.1:8000", "reachable from the internet"),
    ("AFTERCARE_TWILIO_API_URL", "http://127.0.0.1:9999", "must be an https:// URL"),
    ("AFTERCARE_EMAIL_FROM", None, "not 'localhost'"),
    ("AFTERCARE_EMAIL_FROM", "aftercare", "must be an email address"),
    ("AFTERCARE_EMAIL_REPLY_DOMAIN", None, "not 'reply.localhost'"),
    ("AFTERCARE_EMAIL_REPLY_DOMAIN", "localhost", "not 'localhost'"),
    ("AFTERCARE_INBOUND_EMAIL_USER", None, "email replies are refused without it"),
    ("AFTERCARE_INBOUND_EMAIL_PASSWORD", None, "email replies are refused without it"),
]


@pytest.mark.parametrize(("name", "value", "says"), REFUSED)
def test_production_refuses_a_setting_that_drops_or_leaks_messages_and_names_it(
    production: pytest.MonkeyPatch, name: str, value: str | None, says: str
) -> None:
    if value is None:
        production.delenv(name, raising=False)
    else:
        production.setenv(name, value)
    message = refusal()
    [problem] = message.split("; ")  # only this one: the rest of Riverside's setup is fine
    assert problem.startswith(name) and says in problem


def test_an_empty_variable_counts_as_unset(production: pytest.MonkeyPatch) -> None:
    # docker-compose.yml passes optional variables as ${VAR:-}: empty means the default.
    production.setenv("AFTERCARE_INBOUND_EMAIL_PASSWORD", "")
    production.setenv("AFTERCARE_TEMPLATES_DIR", "")
    production.setenv("AFTERCARE_DISPATCH_INTERVAL_SECONDS", "")
    assert refusal().startswith("AFTERCARE_INBOUND_EMAIL_PASSWORD is required in production")
    production.setenv("AFTERCARE_INBOUND_EMAIL_PASSWORD", "riverside-inbound-password")
    settings = load_settings()
    assert settings.templates_dir is None and settings.dispatch_interval_seconds == 5.0


def test_a_laptop_default_stack_names_every_problem_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AFTERCARE_ENVIRONMENT", "production")
    message = refusal()
    named = {problem.split(" ", 1)[0].split("=")[0] for problem in message.split("; ")}
    assert named == {
        "AFTERCARE_SMS_PROVIDER",
        "AFTERCARE_EMAIL_PROVIDER",
        "AFTERCARE_SECRET_KEY",
        "AFTERCARE_PUBLIC_URL",
        "AFTERCARE_EMAIL_FROM",
        "AFTERCARE_EMAIL_REPLY_DOMAIN",
        "AFTERCARE_INBOUND_EMAIL_USER",
        "AFTERCARE_INBOUND_EMAIL_PASSWORD",
    }


@pytest.mark.parametrize("environment", ["development", "test"])
def test_the_same_defaults_are_fine_on_a_laptop(environment: str) -> None:
    # Console providers, http://127.0.0.1 and reply.localhost are how the demo runs.
    Settings(environment=environment).check_providers()


def test_web_refuses_to_start_and_names_the_variable_without_a_traceback(
    production: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    production.setenv("AFTERCARE_SMS_PROVIDER", "console")
    assert main(["web", "--port", "0"]) == 2  # before binding a port
    err = capsys.readouterr().err
    assert err.startswith("error: AFTERCARE_SMS_PROVIDER=console")
    assert "Traceback" not in err


@pytest.mark.parametrize("command", [["worker"], ["beat"], ["run"]])
def test_each_process_refuses_to_start(command: list[str], tmp_path: Path) -> None:
    # As the container starts it: a fresh process, the whole environment from outside.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERCARE_")}
    env.update(RIVERSIDE_PRODUCTION, AFTERCARE_EMAIL_PROVIDER="console")
    env["AFTERCARE_BROKER_URL"] = "redis://127.0.0.1:1/0"  # never reached
    env["AFTERCARE_DATABASE_URL"] = f"sqlite:///{tmp_path / 'never.sqlite3'}"
    done = subprocess.run(
        [str(Path(sys.executable).parent / "aftercare"), *command],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: AFTERCARE_EMAIL_PROVIDER=console"), done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "never.sqlite3").exists()
