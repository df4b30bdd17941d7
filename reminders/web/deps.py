"""Request-scoped dependencies shared by every router: session, clock, settings, API key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from reminders.clinics.models import Clinic
from reminders.clinics.service import clinic_for_api_key
from reminders.clock import Clock
from reminders.config import Settings
from reminders.db import transaction


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the handler returns, else rolled back.

    Always depend on it with ``scope="function"`` (use ``SessionDep``): the commit must
    happen before the response leaves, or a browser following a redirect can ask for
    what the previous request wrote before it is committed (a sign-in whose session row
    is not there yet reads as signed out).
    """
    with transaction(request.app.state.sessionmaker) as session:
        yield session


def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


_bearer = HTTPBearer(auto_error=False, description="The clinic's API key")


def api_clinic(
    session: Annotated[Session, Depends(get_session, scope="function")],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Clinic:
    """The clinic whose API key was presented; 401 otherwise (same answer for any bad key)."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "missing bearer API key", headers={"WWW-Authenticate": "Bearer"})
    clinic = clinic_for_api_key(session=session, api_key=credentials.credentials)
    if clinic is None:
        raise HTTPException(401, "invalid API key", headers={"WWW-Authenticate": "Bearer"})
    return clinic


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ClockDep = Annotated[Clock, Depends(get_clock)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
ApiClinic = Annotated[Clinic, Depends(api_clinic)]
