"""docker-compose.yml cannot be run here (no Docker engine), so this test reads it.

It checks the stack's shape (five services, each with a health check, app services
wired to healthy databases) and that every command it runs exists: our own
sub-commands parse, our image has the executables, and the official images' tools
are the ones those images ship.
"""

from __future__ import annotations

import shutil
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from reminders.cli import build_parser
from reminders.config import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
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


def test_environment_names_are_settings_we_read() -> None:
    known = {f"AFTERCARE_{name.upper()}" for name in Settings.model_fields}
    env = SERVICES["web"]["environment"]
    assert set(env) <= known, set(env) - known


def test_the_executables_exist_where_tests_run() -> None:
    # The same tools exist in this venv, so the commands above are not just names.
    bin_dir = Path(sys.executable).parent
    for tool in ("celery", "aftercare"):
        assert (bin_dir / tool).exists() or shutil.which(tool), tool
