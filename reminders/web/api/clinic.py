"""/api/v1/clinic/sending: how fast the clinic's sender number may send.

A clinic moving to a toll-free number or a short code says so here (or on the settings
page); every worker's limiter and claim caps follow on their next round.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body
from pydantic import BaseModel, ConfigDict, Field

from reminders.clinics import sender_rates
from reminders.clinics.models import Clinic
from reminders.clinics.settings import set_sending_rate
from reminders.enrollments.schemas import InputError
from reminders.web.deps import ApiClinic, SessionDep, SettingsDep

router = APIRouter(prefix="/clinic", tags=["clinic"])
ACTOR = "api-key"


class SendingOut(BaseModel):
    sms_from: str = Field(description="The clinic's sender number")
    preset: str = Field(
        description="long_code, toll_free or short_code when the rate is a preset's; "
        "custom for another rate; default when the clinic has no rate of its own"
    )
    sms_rate_per_second: float | None = Field(
        description="The clinic's own rate; null: the deployment's default"
    )
    effective_rate_per_second: float | None = Field(
        description="The rate the limiter applies; null: sending is not rate limited"
    )
    presets: dict[str, float] = Field(description="Each preset's messages a second")


class SendingIn(BaseModel):
    """Give one of ``preset`` or ``sms_rate_per_second``."""

    model_config = ConfigDict(extra="forbid")

    preset: str | None = Field(
        default=None,
        description="long_code (1/s), toll_free (3/s), short_code (100/s), or default",
        max_length=40,
    )
    sms_rate_per_second: float | None = Field(
        default=None, description="Messages a second, more than 0 and at most 1000; "
        "null: the deployment's default",
    )  # fmt: skip


def _out(clinic: Clinic, default_rate: float) -> SendingOut:
    own = clinic.sms_rate_per_second
    effective = own if own is not None else default_rate
    return SendingOut(
        sms_from=clinic.sms_from, preset=sender_rates.preset_of(own),
        sms_rate_per_second=own,
        # A deployment rate of 0 turns the limiter off for every number (delivery.factory).
        effective_rate_per_second=effective if default_rate > 0 and effective > 0 else None,
        presets=dict(sender_rates.PRESETS),
    )  # fmt: skip


@router.get("/sending", response_model=SendingOut)
def get_sending(clinic: ApiClinic, settings: SettingsDep) -> SendingOut:
    """The sender number, its rate and the presets to choose from."""
    return _out(clinic, settings.sms_rate_per_second)


@router.put("/sending", response_model=SendingOut)
def put_sending(
    data: Annotated[SendingIn, Body()], clinic: ApiClinic, session: SessionDep,
    settings: SettingsDep,
) -> SendingOut:  # fmt: skip
    """Set the rate by preset (``{"preset": "toll_free"}``) or as a number
    (``{"sms_rate_per_second": 3}``); ``{"preset": "default"}`` or a null rate returns
    to the deployment's default. Audited as ``clinic.settings``."""
    given = data.model_fields_set & {"preset", "sms_rate_per_second"}
    if len(given) != 1:
        raise InputError([("body", "give either preset or sms_rate_per_second")])
    rate: float | None
    if "preset" in given:
        preset = (data.preset or "").strip()
        if preset != sender_rates.DEFAULT and preset not in sender_rates.PRESETS:
            names = ", ".join([*sender_rates.PRESETS, sender_rates.DEFAULT])
            raise InputError([("body.preset", f"must be one of {names}")])
        rate = sender_rates.PRESETS.get(preset)  # None for default
    else:
        rate = data.sms_rate_per_second
        if rate is not None:
            rate = sender_rates.validate(rate, "body.sms_rate_per_second")
    set_sending_rate(session=session, clinic=clinic, rate=rate, actor=ACTOR)
    return _out(clinic, settings.sms_rate_per_second)
