"""/api/v1/oncall: who the clinic's pages go to right now (for a switchboard, a pager
bridge, the EHR's "call the on-call" button)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from reminders.oncall.service import OnCall, on_call
from reminders.web.deps import ApiClinic, ClockDep, SessionDep

router = APIRouter(prefix="/oncall", tags=["on call"])


class PersonOut(BaseModel):
    email: str
    name: str
    phone: str | None


class ShiftOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: datetime = Field(alias="from", description="When the shift began")
    until: datetime | None = Field(description="When it ends; null: until further notice")


class OnCallOut(BaseModel):
    primary: PersonOut | None
    backup: PersonOut | None
    shift: ShiftOut | None


def _out(found: OnCall | None) -> OnCallOut:
    if found is None:
        return OnCallOut(primary=None, backup=None, shift=None)
    backup = found.backup
    return OnCallOut(
        primary=PersonOut(email=found.primary.email, name=found.primary.name,
                          phone=found.primary.phone),
        backup=PersonOut(email=backup.email, name=backup.name, phone=backup.phone)
        if backup else None,
        shift=ShiftOut(from_=found.starts_at, until=found.ends_at),
    )  # fmt: skip


@router.get("", response_model=OnCallOut)
def who_is_on_call(clinic: ApiClinic, session: SessionDep, clock: ClockDep) -> OnCallOut:
    """The primary and backup on call now and the shift's span (``until`` null: until
    further notice). All three are null when nobody is on call: the clinic's pages then
    go to its clinicians and admins, and its inbox shows a "No one is on call" concern."""
    return _out(on_call(session=session, clinic=clinic, at=clock.now()))
