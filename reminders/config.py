"""Typed, fail-fast settings read from ``AFTERCARE_*`` environment variables.

Every variable is documented in the README; a bad value stops the process at start-up
with a message naming the variable, never later in the middle of a send. An empty value
means unset (so ``${VAR:-}`` in docker-compose.yml keeps the default here).

With ``AFTERCARE_ENVIRONMENT=production`` settings that would drop messages or leak them
are refused too (``production_problems``): a console provider, a dev or short secret, a
public URL that is not https, localhost mail domains, no inbound-email credentials.
"""

from __future__ import annotations

import functools
import ipaddress
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(RuntimeError):
    """Raised with a readable message when the environment is misconfigured."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AFTERCARE_", extra="ignore", env_ignore_empty=True
    )

    # Storage and queue.
    database_url: str = "sqlite:///./var/aftercare.sqlite3"
    broker_url: str | None = None
    redis_url: str | None = None  # rate limiter; defaults to broker_url when that is redis://

    # Where message templates and protocols live; extra dirs are searched first.
    templates_dir: Path | None = None
    template_override_dirs: list[Path] = Field(default_factory=list)

    # Dispatch.
    dispatch_interval_seconds: float = 5.0
    dispatch_batch_size: int = 200
    claim_lease_seconds: int = 60
    embedded_send_threads: int = 4
    # Provider requests one sending process keeps in flight (Twilio answers in 100–300
    # ms: one at a time, a process sends a handful a second). 1 = one at a time.
    provider_concurrency: int = Field(default=16, ge=1, le=128)
    sms_rate_per_second: float = 1.0  # per sender number; a long code allows about 1
    # Side-by-side stacks (and test runs) sharing one Redis keep separate queues and
    # rate-limit schedules.
    celery_queue: str = "aftercare"
    rate_limit_prefix: str = "aftercare:rate:"
    # Touched by beat on every tick; `aftercare healthcheck beat` reads its age.
    beat_heartbeat_file: Path | None = None

    # Outbound SMS.
    sms_provider: Literal["twilio", "console"] = "console"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_api_url: str | None = None  # Twilio-compatible base URL (tests, edge regions)
    twilio_messaging_service_sid: str | None = None
    public_url: str = "http://127.0.0.1:8000"

    # Outbound email.
    email_provider: Literal["smtp", "console"] = "console"
    smtp_url: str | None = None  # smtp://user:pass@host:port, smtps://… or smtp+starttls://…
    email_from: str = "aftercare@localhost"
    email_reply_domain: str = "reply.localhost"
    inbound_email_user: str | None = None
    inbound_email_password: str | None = None

    # Web.
    secret_key: str = "dev-insecure-change-me"  # noqa: S105 - documented dev default, refused in production
    environment: Literal["development", "production", "test"] = "development"
    log_level: str = "INFO"

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        if value.startswith("postgresql://"):
            # psycopg 3 is our driver; SQLAlchemy's bare postgresql:// means psycopg2.
            value = "postgresql+psycopg://" + value.removeprefix("postgresql://")
        return value

    @field_validator("broker_url")
    @classmethod
    def _supported_broker(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("redis://", "rediss://")):
            # kombu's SQL and filesystem transports are unsupported by Celery and never
            # delete acked rows; the embedded mode needs no broker at all.
            raise ValueError("only redis:// brokers are supported; leave unset for embedded mode")
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def rate_limit_redis_url(self) -> str | None:
        return self.redis_url or self.broker_url

    def check_providers(self) -> None:
        """Fail fast when a provider is switched on without what it needs, and, in
        production, on anything ``production_problems`` names."""
        problems: list[str] = []
        if self.sms_provider == "twilio":
            for name in ("twilio_account_sid", "twilio_auth_token"):
                if not getattr(self, name):
                    problems.append(
                        f"AFTERCARE_{name.upper()} is required when SMS_PROVIDER=twilio"
                    )
        if self.email_provider == "smtp" and not self.smtp_url:
            problems.append("AFTERCARE_SMTP_URL is required when EMAIL_PROVIDER=smtp")
        if self.environment == "production":
            problems.extend(production_problems(self))
        if problems:
            raise ConfigError("; ".join(problems))


MIN_SECRET_LENGTH = 32


def production_problems(settings: Settings) -> list[str]:
    """Each setting that is harmless on a laptop but, in production, would keep messages
    from patients (or staff) or put them where they must not be; one line per problem,
    naming the variable."""
    problems: list[str] = []
    # The console providers print every body, with the patient's name, to the log and
    # send nothing.
    if settings.sms_provider == "console":
        problems.append(
            "AFTERCARE_SMS_PROVIDER=console sends nothing and logs message bodies "
            "(use twilio in production)"
        )
    if settings.email_provider == "console":
        problems.append(
            "AFTERCARE_EMAIL_PROVIDER=console sends nothing and logs message bodies "
            "(use smtp in production)"
        )
    # The secret signs sessions and reply-to tokens: a known or guessable one lets
    # anyone forge them.
    if settings.secret_key.startswith("dev-"):
        problems.append("AFTERCARE_SECRET_KEY must be set in production (not the dev value)")
    elif len(settings.secret_key) < MIN_SECRET_LENGTH:
        problems.append(f"AFTERCARE_SECRET_KEY must be at least {MIN_SECRET_LENGTH} characters")
    # Twilio posts replies and delivery reports to this URL, and page links carry it;
    # over http the signature check and the links are readable on the way.
    public = _problem_with_public_https_url(settings.public_url)
    if public:
        problems.append(f"AFTERCARE_PUBLIC_URL {public}")
    if settings.twilio_api_url and _problem_with_public_https_url(settings.twilio_api_url):
        # A test fake or plain-http endpoint would swallow every SMS and the auth token.
        problems.append("AFTERCARE_TWILIO_API_URL must be an https:// URL in production")
    # Mail from or to localhost is rejected or lost by every real mail system.
    for name in ("email_from", "email_reply_domain"):
        value: str = getattr(settings, name)
        domain = value.rpartition("@")[2].strip().lower().rstrip(".")
        if name == "email_from" and "@" not in value:
            problems.append("AFTERCARE_EMAIL_FROM must be an email address")
        elif "." not in domain or _is_local_host(domain):
            problems.append(
                f"AFTERCARE_{name.upper()} must be a public mail domain, not {domain!r}"
            )
    # Patients' email replies arrive at /webhooks/email/inbound, which answers 503
    # without these: every reply (and every concern in one) would bounce for good.
    for name in ("inbound_email_user", "inbound_email_password"):
        if not getattr(settings, name):
            problems.append(
                f"AFTERCARE_{name.upper()} is required in production "
                "(patients' email replies are refused without it)"
            )
    return problems


def _problem_with_public_https_url(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        return "must be an https:// URL in production"
    if _is_local_host(parts.hostname):
        return f"must be reachable from the internet, not {parts.hostname!r}"
    return None


def _is_local_host(host: str) -> bool:
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def load_settings() -> Settings:
    try:
        settings = Settings()
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"])
            lines.append(f"AFTERCARE_{field.upper()}: {err['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(lines)) from None
    settings.check_providers()
    return settings


@functools.cache
def get_settings() -> Settings:
    return load_settings()
