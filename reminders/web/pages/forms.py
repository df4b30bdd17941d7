"""The patient's questionnaire (HOOS JR) behind a form link: no sign-in, no navigation,
one screen. The link is the key (signed, expiring, single-use: outcomes/hoos.py), so
the page shows no more than the patient's first name; a link that is altered, expired
or already used gets a page that says so in words. Submitting is audited as the
patient's own action."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from reminders.clinics.models import Clinic
from reminders.outcomes import hoos
from reminders.outcomes.instruments import Instrument, for_clinic
from reminders.patients.models import Patient
from reminders.web.deps import ClockDep, SessionDep, get_settings_dep
from reminders.web.pages.common import SECURITY_HEADERS, TEMPLATES

router = APIRouter()
_GONE = {"invalid": 404, "expired": 410, "used": 410}


def _page(request: Request, status: int, **values: Any) -> HTMLResponse:
    response = TEMPLATES.TemplateResponse(request, "forms.html", values, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    response.headers["Referrer-Policy"] = "no-referrer"  # the link is the key: never leak it
    return response


def _form(request: Request, session: Any, token_row: Any, status: int = 200,
          errors: dict[str, str] | None = None, answers: dict[str, int] | None = None
          ) -> HTMLResponse:  # fmt: skip
    instrument: Instrument = for_clinic(session=session, clinic_id=token_row.clinic_id,
                                        key=token_row.instrument)  # fmt: skip
    patient = session.get(Patient, token_row.patient_id)
    clinic = session.get(Clinic, token_row.clinic_id)
    spanish = patient is not None and patient.language == "es" and "es" not in instrument.languages
    return _page(request, status, state="form", instrument=instrument,
                 first_name=patient.given_name if patient else "",
                 clinic_name=clinic.name if clinic else "", errors=errors or {},
                 answers=answers or {}, english_only_note=spanish)  # fmt: skip


@router.get("/forms/{token}", response_class=HTMLResponse)
def form_page(token: str, request: Request, session: SessionDep, clock: ClockDep) -> HTMLResponse:
    settings = get_settings_dep(request)
    opened = hoos.open_token(session=session, token=token, now=clock.now(),
                             secret=settings.secret_key)  # fmt: skip
    if opened.state != "ok" or opened.token is None:
        return _page(request, _GONE[opened.state], state=opened.state)
    return _form(request, session, opened.token)


@router.post("/forms/{token}", response_class=HTMLResponse)
async def form_submit(token: str, request: Request, session: SessionDep, clock: ClockDep
                      ) -> HTMLResponse:  # fmt: skip
    settings = get_settings_dep(request)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    result = hoos.submit(session=session, token=token, form=form, now=clock.now(),
                         secret=settings.secret_key)  # fmt: skip
    if result.state == "saved":
        return _page(request, 200, state="thanks")
    if result.state == "errors":
        opened = hoos.open_token(session=session, token=token, now=clock.now(),
                                 secret=settings.secret_key)  # fmt: skip
        assert opened.token is not None
        return _form(request, session, opened.token, 422, result.errors, result.answers)
    return _page(request, _GONE[result.state], state=result.state)
