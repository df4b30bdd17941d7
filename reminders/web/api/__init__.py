"""REST API v1: JSON over a bearer API key per clinic (``Authorization: Bearer ak_…``).

Errors: 401 for a missing or wrong key (the same answer for both), 404 for a record that
does not exist *or belongs to another clinic* (never told apart), 422 with
``detail: [{loc, msg}]`` naming each bad field.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from reminders.web.api import (
    clinic,
    concerns,
    enrollments,
    fhir_endpoint,
    oncall,
    patients,
    protocols,
    relief,
)

UNAUTHORIZED: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid API key"}
}

router = APIRouter(prefix="/api/v1", responses=UNAUTHORIZED)
for module in (enrollments, relief, concerns, protocols, oncall, clinic, fhir_endpoint, patients):
    router.include_router(module.router)
