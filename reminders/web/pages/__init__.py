"""Server-rendered pages for clinic staff. Not part of the OpenAPI document (that is the
REST API's); every page needs a signed-in staff member except sign-in itself."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from reminders.web.pages import (
    account,
    admin,
    concern,
    concerns,
    dashboard,
    enrol,
    forms,
    outcomes,
    patient_edit,
    patients,
    protocols,
    signin,
    worklist,
)

STATIC = Path(__file__).resolve().parent.parent / "static"
_STATIC_FILES = {"app.css": "text/css", "app.js": "text/javascript"}
_STATIC_FILES["protocol_form.js"] = "text/javascript"  # the protocol editor's form
_STATIC_FILES["timeline.js"] = "text/javascript"  # the patient timeline's order on a phone

router = APIRouter(include_in_schema=False)
for module in (signin, concerns, concern, worklist, patients, enrol, protocols, admin, dashboard,
               patient_edit, account, forms, outcomes):
    router.include_router(module.router)


@router.get("/static/{name}")
def static(name: str) -> FileResponse:
    # A fixed list rather than a mounted directory: nothing else under static/ is served.
    if name not in _STATIC_FILES:
        raise HTTPException(404, "not found")
    return FileResponse(STATIC / name, media_type=_STATIC_FILES[name],
                        headers={"Cache-Control": "public, max-age=300"})  # fmt: skip
