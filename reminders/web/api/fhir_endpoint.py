"""/api/v1/clinic/fhir-endpoint: where the clinic's chart takes what we push.

The clinic's API key is its administrative credential: it sets, shows and removes the
endpoint. The token is write-only: answers say ``token_set``, never the token.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Response
from pydantic import BaseModel, ConfigDict, Field

from reminders.clinics.models import Clinic
from reminders.interop import push
from reminders.interop.endpoint import MAX_TOKEN, MAX_URL, EndpointIn, remove_endpoint, set_endpoint
from reminders.web.deps import ApiClinic, ClockDep, SessionDep, SettingsDep

router = APIRouter(prefix="/clinic", tags=["clinic"])
ACTOR = "api-key"
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No endpoint is set"}}


class PushFailure(BaseModel):
    resource: str | None = Field(description="The resource key, e.g. Task/concern-12")
    reason: str | None = Field(description="Why it failed, e.g. fhir_failed_400")
    at: datetime | None
    error: str | None = Field(description="The server's answer (status and issue code)")


class EndpointOut(BaseModel):
    base_url: str = Field(description="The FHIR base URL resources are pushed to")
    token_set: bool = Field(description="A bearer token is stored (it is never shown)")
    updated_at: datetime
    waiting: int = Field(description="Pushes queued or being retried")
    sent: int = Field(description="Pushes the server accepted")
    failed: int = Field(description="Pushes refused for good (a 4xx) or out of time")
    last_failure: PushFailure | None


class EndpointBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    base_url: str = Field(max_length=MAX_URL, description="https://…/fhir")
    token: str | None = Field(
        default=None, max_length=MAX_TOKEN,
        description="Bearer token the server expects; leave out to keep the stored one",
    )  # fmt: skip


def _out(session: SessionDep, clinic: Clinic) -> EndpointOut:
    endpoint = push.endpoint_of(session, clinic.id)
    if endpoint is None:
        raise HTTPException(404, "no FHIR endpoint is set")
    counts = push.summary(session=session, clinic_id=clinic.id)
    last = counts.pop("last_failure")
    return EndpointOut(base_url=endpoint.base_url, token_set=bool(endpoint.token),
                       updated_at=endpoint.updated_at, **counts,
                       last_failure=PushFailure(**last) if last else None)  # fmt: skip


@router.get("/fhir-endpoint", response_model=EndpointOut, responses=NOT_FOUND)
def get_endpoint(clinic: ApiClinic, session: SessionDep) -> EndpointOut:
    """The endpoint, and how its pushes are going (waiting, sent, failed, last failure)."""
    return _out(session, clinic)


@router.put("/fhir-endpoint", response_model=EndpointOut)
def put_endpoint(
    data: Annotated[EndpointBody, Body()], clinic: ApiClinic, session: SessionDep,
    clock: ClockDep, settings: SettingsDep,
) -> EndpointOut:  # fmt: skip
    """Set the FHIR base URL and bearer token. New Observations, Flags and Task updates
    are pushed there from now on. Audited as ``clinic.fhir_endpoint``."""
    set_endpoint(session=session, clinic=clinic, data=EndpointIn(data.base_url, data.token),
                 now=clock.now(), actor=ACTOR,
                 production=settings.environment == "production")  # fmt: skip
    return _out(session, clinic)


@router.delete("/fhir-endpoint", status_code=204, responses=NOT_FOUND)
def delete_endpoint(clinic: ApiClinic, session: SessionDep, clock: ClockDep) -> Response:
    """Stop pushing: the endpoint is removed and waiting pushes are cancelled."""
    if not remove_endpoint(session=session, clinic=clinic, now=clock.now(), actor=ACTOR):
        raise HTTPException(404, "no FHIR endpoint is set")
    return Response(status_code=204)
