"""docker-compose.yml cannot be run here (no Docker engine), so this test reads it.

It checks the stack's shape (five services, each with a health check, app services
wired to healthy databases) and that every command it runs exists: our own
sub-commands parse, our image has the executables, and the official images' tools
are the ones those images ship. Its environment is the one the app accepts in
production once the operator fills in the required values, and holds every variable
the README lists. The beat and worker health checks are our own commands, which
tests/test_healthchecks.py runs exactly as written here against live and dead services.
"""

from __future__ import annotations

import re
import shutil
import sys
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
import yaml
from celery.utils.nodenames import host_format

from reminders.cli import build_parser
from reminders.cli.healthcheck import worker_node
from reminders.config import Settings, get_settings, load_settings
from tests.test_production_settings import RIVERSIDE_PRODUCTION

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
APP_SERVICES = ("web", "worker", "beat")
README = (ROOT / "README.md").read_text()
# Read by prometheus_client, not by Settings.
OTHER_VARIABLES = {"PROMETHEUS_MULTIPROC_DIR"}
# Executables each official image ships (postgres:16 and redis:7 on Docker Hub).
IMAGE_TOOLS = {"postgres:16": {"pg_isready", "postgres"}, "redis:7": {"redis-server", "redis-cli"}}


def our_executables() -> set[str]:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    # Our image is python:3.11-slim with this package (and so Celery) installed.
    return {"sh", "python", "celery", *scripts}


def commands(service: dict) -> list[list[str]]:
    found = []
    command = service.get("command")
    if isinstance(command, list):
        found.append(command)
    check = service.get("healthcheck", {}).get("test")
    if check:
        assert check[0] in ("CMD", "CMD-SHELL"), check
        found.append(check[1:])
    return found


def test_the_stack_has_every_part_with_a_health_check() -> None:
    assert set(SERVICES) == {"web", "worker", "beat", "redis", "postgres"}
    for name, service in SERVICES.items():
        assert "healthcheck" in service, f"{name} has no health check"


def test_app_services_wait_for_healthy_dependencies() -> None:
    assert SERVICES["web"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert SERVICES["web"]["depends_on"]["redis"]["condition"] == "service_healthy"
    for name in ("worker", "beat"):
        assert SERVICES[name]["depends_on"]["web"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", ["postgres", "redis"])
def test_official_image_commands_exist_in_that_image(name: str) -> None:
    tools = IMAGE_TOOLS[SERVICES[name]["image"]]
    for command in commands(SERVICES[name]):
        assert command[0] in tools, f"{name}: {command[0]} is not in {SERVICES[name]['image']}"


@pytest.mark.parametrize("name", ["web", "worker", "beat"])
def test_our_commands_exist_and_parse(name: str) -> None:
    parser = build_parser()
    for command in commands(SERVICES[name]):
        assert command[0] in our_executables(), command
        for part in _aftercare_invocations(command):
            args, extra = parser.parse_known_args(part)
            assert not extra or getattr(args, "passthrough", False), (name, part)
        if command[0] == "celery":
            assert command[1:3] == ["-A", "workers.app"]
            __import__("workers.app")
        if command[0] == "python":
            compile(command[2], f"{name}-healthcheck", "exec")


def _aftercare_invocations(command: list[str]) -> list[list[str]]:
    if command[0] == "aftercare":
        return [command[1:]]
    if command[0] == "sh":
        script = command[2]
        return [
            seg.split()[1:]
            for seg in script.replace("exec ", "").split("&&")
            if seg.split()[0] == "aftercare"
        ]
    return []


_VARIABLE = re.compile(r"\$\{(\w+)(?::([-?])([^}]*))?\}")


class ComposeRefuses(Exception):
    """``${VAR:?message}`` with VAR unset or empty: docker compose will not start."""


def render(value: str, env: Mapping[str, str]) -> str:
    """``value`` with ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?message}`` filled in
    from ``env``, as docker compose does from the operator's shell or .env file."""

    def fill(match: re.Match[str]) -> str:
        name, op, arg = match.groups()
        if env.get(name):
            return env[name]
        if op == "?":
            raise ComposeRefuses(f"{name}: {arg}")
        return arg if op == "-" else ""

    return _VARIABLE.sub(fill, value)


def rendered_env(service: str, shell: Mapping[str, str]) -> dict[str, str]:
    return {name: render(str(value), shell) for name, value in env_of(service).items()}


def env_of(service: str) -> dict[str, str]:
    return dict(SERVICES[service]["environment"])


def required_variables(service: str) -> set[str]:
    """The variables written ``${VAR:?…}``: compose will not start without them."""
    return {
        match.group(1)
        for value in env_of(service).values()
        for match in _VARIABLE.finditer(str(value))
        if match.group(2) == "?"
    }


def health_check(service: str) -> list[str]:
    """The command Docker runs in ``service``'s container (after "CMD")."""
    test = SERVICES[service]["healthcheck"]["test"]
    assert test[0] == "CMD", test
    return list(test[1:])


def readme_variables() -> set[str]:
    """Every variable named in the first column of README.md's Configuration table."""
    table = README.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in table.splitlines():
        if line.startswith("| `"):
            names |= set(re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1]))
    return names


@pytest.mark.parametrize("name", APP_SERVICES)
def test_environment_names_are_settings_we_read(name: str) -> None:
    known = {f"AFTERCARE_{field.upper()}" for field in Settings.model_fields} | OTHER_VARIABLES
    env = env_of(name)
    assert set(env) <= known, set(env) - known


def test_every_setting_is_documented_in_the_readme() -> None:
    settings = {f"AFTERCARE_{field.upper()}" for field in Settings.model_fields}
    assert settings <= readme_variables(), settings - readme_variables()


@pytest.mark.parametrize("name", APP_SERVICES)
def test_every_variable_the_readme_lists_is_set_for_each_app_service(name: str) -> None:
    missing = readme_variables() - set(env_of(name))
    assert not missing, f"{name} does not set {sorted(missing)}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_production_providers_are_not_console(name: str) -> None:
    env = env_of(name)
    # Fixed, not ${…}: an operator's shell cannot switch a production stack to console.
    assert env["AFTERCARE_ENVIRONMENT"] == "production"
    assert env["AFTERCARE_SMS_PROVIDER"] == "twilio"
    assert env["AFTERCARE_EMAIL_PROVIDER"] == "smtp"


@pytest.fixture
def only_compose_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


@pytest.mark.parametrize("name", APP_SERVICES)
def test_riverside_fills_in_the_required_values_and_the_app_accepts_the_stack(
    name: str, only_compose_env: pytest.MonkeyPatch
) -> None:
    # The operator's shell holds only what compose requires; the rest are defaults.
    shell = {k: v for k, v in RIVERSIDE_PRODUCTION.items() if k in required_variables(name)}
    for variable, value in rendered_env(name, shell).items():
        only_compose_env.setenv(variable, value)
    settings = load_settings()  # the production checks pass
    assert settings.public_url == RIVERSIDE_PRODUCTION["AFTERCARE_PUBLIC_URL"]
    assert settings.broker_url and settings.database_url.startswith("postgresql+psycopg://")


def test_compose_itself_refuses_to_start_without_each_value_production_needs() -> None:
    required = {
        "AFTERCARE_SECRET_KEY",
        "AFTERCARE_PUBLIC_URL",
        "AFTERCARE_TWILIO_ACCOUNT_SID",
        "AFTERCARE_TWILIO_AUTH_TOKEN",
        "AFTERCARE_SMTP_URL",
        "AFTERCARE_EMAIL_FROM",
        "AFTERCARE_EMAIL_REPLY_DOMAIN",
        "AFTERCARE_INBOUND_EMAIL_USER",
        "AFTERCARE_INBOUND_EMAIL_PASSWORD",
    }
    assert required_variables("web") == required
    for variable in required:
        shell = {k: v for k, v in RIVERSIDE_PRODUCTION.items() if k != variable}
        with pytest.raises(ComposeRefuses, match=variable):
            rendered_env("web", shell)


def test_beat_and_worker_health_checks_are_the_tested_commands() -> None:
    # tests/test_healthchecks.py runs exactly these against live and dead services.
    assert health_check("beat")[:3] == ["aftercare", "healthcheck", "beat"]
    assert health_check("worker")[:3] == ["aftercare", "healthcheck", "worker"]
    assert env_of("beat")["AFTERCARE_BEAT_HEARTBEAT_FILE"].startswith("/")


def test_the_worker_check_pings_the_node_name_the_worker_is_given(
    only_compose_env: pytest.MonkeyPatch,
) -> None:
    for queue in ("", "aftercare-riverside"):  # the default, and a stack of its own
        shell = {**RIVERSIDE_PRODUCTION, "AFTERCARE_CELERY_QUEUE": queue}
        command = [render(part, shell) for part in SERVICES["worker"]["command"]]
        given = host_format(command[command.index("--hostname") + 1])
        for variable, value in rendered_env("worker", shell).items():
            only_compose_env.setenv(variable, value)
        check = build_parser().parse_args(health_check("worker")[1:])
        assert worker_node(load_settings(), check.node) == given
        assert given.startswith(f"{queue or 'aftercare'}@")


def test_every_process_writes_its_counters_where_web_reads_them() -> None:
    directory = env_of("web")["PROMETHEUS_MULTIPROC_DIR"]
    for name in APP_SERVICES:
        assert env_of(name)["PROMETHEUS_MULTIPROC_DIR"] == directory
        [volume] = [v for v in SERVICES[name]["volumes"] if v.endswith(f":{directory}")]
        assert volume.split(":")[0] in COMPOSE["volumes"], "one named volume, shared"
    # A fresh named volume takes the owner of the image's directory: our non-root user.
    assert f"install -d -o aftercare -g aftercare {directory}" in (ROOT / "Dockerfile").read_text()


def test_the_executables_exist_where_tests_run() -> None:
    # The same tools exist in this venv, so the commands above are not just names.
    bin_dir = Path(sys.executable).parent
    for tool in ("celery", "aftercare"):
        assert (bin_dir / tool).exists() or shutil.which(tool), tool
