"""Enrollment input, validated once for every front door (REST API, form, CLI, CSV)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from reminders.protocols.spec import CONDITION_VOCABULARY, INJECTATES, SIDES
from reminders.scheduling import validate_zone

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class InputError(ValueError):
    """Bad input, as a list of (field path, message) pairs a person can act on."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{field}: {msg}" for field, msg in errors))


def normalize_phone(value: str, region: str | None = "US") -> str:
    """E.164 form of ``value`` or ValueError. National numbers are read in ``region``."""
    try:
        number = phonenumbers.parse(value, None if value.strip().startswith("+") else region)
    except phonenumbers.NumberParseException:
        raise ValueError(
            "is not a phone number; use international form like +13125550100"
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(value: str) -> str:
    """Lower-cased ``value`` or ValueError."""
    if not _EMAIL.match(value) or len(value) > 200:
        raise ValueError("is not an email address")
    return value.lower()


def normalize_conditions(value: list[str]) -> list[str]:
    """Sorted, de-duplicated conditions from the vocabulary, or ValueError naming the rest."""
    cleaned = sorted({c.strip().lower() for c in value if c.strip()})
    unknown = [c for c in cleaned if c not in CONDITION_VOCABULARY]
    if unknown:
        raise ValueError(
            f"unknown condition(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(CONDITION_VOCABULARY))}"
        )
    return cleaned


EARLIEST_YEAR, LATEST_YEAR = 2000, 2100


def require_aware(value: datetime, what: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} needs a UTC offset, e.g. 2026-11-20T14:10:00-06:00")
    # Years far out overflow date arithmetic and some databases; none is a real visit.
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"must be between the years {EARLIEST_YEAR} and {LATEST_YEAR}")
    return value


def _no_nul(value: object) -> object:
    # PostgreSQL text cannot hold NUL; refuse it here rather than fail at commit.
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if isinstance(value, list):
        for item in value:
            _no_nul(item)
    return value


class PatientIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    external_id: str | None = Field(default=None, max_length=100)
    given_name: str = Field(min_length=1, max_length=100)
    family_name: str | None = Field(default=None, max_length=100)
    phone: str | None = None
    email: str | None = None
    timezone: str
    language: Literal["en", "es"] = "en"
    conditions: list[str] = Field(default_factory=list)

    @field_validator("*", mode="before")
    @classmethod
    def _reject_nul(cls, value: object) -> object:
        return _no_nul(value)

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return normalize_phone(value) if value else None

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return normalize_email(value) if value else None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        validate_zone(value)
        return value

    @field_validator("conditions")
    @classmethod
    def _conditions(cls, value: list[str]) -> list[str]:
        return normalize_conditions(value)


class ProcedureIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    performed_at: datetime
    injectate: Literal["corticosteroid", "hyaluronic_acid", "prp", "anesthetic_only"]
    site: str = Field(default="hip joint", max_length=60)
    side: str | None = None
    diagnostic: bool = False
    # Pain 0-10 before the injection: the diagnostic pain diary's baseline.
    baseline_pain: int | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _reject_nul(cls, value: object) -> object:
        return _no_nul(value)

    @field_validator("baseline_pain", mode="before")
    @classmethod
    def _whole_score(cls, value: object) -> object:
        # "7.5" or true would otherwise be read as a score; a score is a whole number.
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
            number = int(value.strip())
        if number is None or not 0 <= number <= 10:
            raise ValueError("must be a whole number from 0 to 10")
        return number

    @field_validator("performed_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return require_aware(value, "performed_at")

    @field_validator("side")
    @classmethod
    def _side(cls, value: str | None) -> str | None:
        if value and value.lower() not in SIDES:
            raise ValueError(f"must be one of {', '.join(sorted(SIDES))}")
        return value.lower() if value else None


class EnrollmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    patient: PatientIn
    procedure: ProcedureIn
    follow_up_at: datetime | None = None
    channel: Literal["sms", "email"] = "sms"

    @field_validator("follow_up_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        return require_aware(value, "follow_up_at") if value else None

    @model_validator(mode="after")
    def _reachable(self) -> EnrollmentIn:
        if self.channel == "sms" and not self.patient.phone:
            raise ValueError("patient.phone is required when channel is sms")
        if self.channel == "email" and not self.patient.email:
            raise ValueError("patient.email is required when channel is email")
        if self.follow_up_at and self.follow_up_at <= self.procedure.performed_at:
            raise ValueError("follow_up_at must be after procedure.performed_at")
        return self


def errors_of(exc: ValidationError, prefix: str = "") -> list[tuple[str, str]]:
    """Pydantic's errors as (dotted field path, readable message)."""
    out = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"] if p != "__root__")
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "literal_error":
            message = f"must be one of {err['ctx']['expected']}"
        out.append((prefix + path if path else prefix.rstrip(".") or "body", message))
    return out


def parse_enrollment(data: object) -> EnrollmentIn:
    try:
        return EnrollmentIn.model_validate(data)
    except ValidationError as exc:
        raise InputError(errors_of(exc)) from None


__all__ = ["INJECTATES", "EnrollmentIn", "InputError", "parse_enrollment"]
