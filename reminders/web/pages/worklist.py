"""The patient list: the coordinator's worklist (search, filters, sorting)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from reminders.patients import service as patients
from reminders.web.pages.common import AnyPage

router = APIRouter()


@router.get("/patients", response_class=HTMLResponse)
def search(page: AnyPage, q: str = "") -> Response:
    found = patients.search(session=page.session, clinic_id=page.clinic_id, q=q[:100])
    return page.render("patients.html", patients=found, q=q[:100])
