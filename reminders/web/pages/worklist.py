"""The patient list: the coordinator's worklist (search, filters, sorting, pages).

Every filter and the sort live in the query string, so a link reproduces the view; the
rules are in reminders.patients.worklist. A bad value is named in words above the list
(400) and the list is shown without it.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from reminders.patients import worklist
from reminders.web.pages.common import AnyPage

router = APIRouter()


@router.get("/patients", response_class=HTMLResponse)
def search(page: AnyPage) -> Response:
    filters, errors = worklist.parse(page.request.query_params)
    found = worklist.build(session=page.session, clinic=page.viewer.clinic, now=page.now,
                           filters=filters)  # fmt: skip
    protocols = worklist.protocol_options(session=page.session, clinic_id=page.clinic_id)
    named = [(n, n.matches(filters)) for n in worklist.NAMED]
    return page.render(
        "patients.html", status_code=400 if errors else 200, list=found, f=filters,
        q=filters.q, errors=errors, named=named, choices=worklist.CHOICES,
        day_presets=worklist.DAY_PRESETS, protocols=protocols, sorts=worklist.SORTS,
    )  # fmt: skip
