"""Admin pages: clinic settings (time zone, quiet hours, emergency text, thresholds, on-call
contacts and escalation windows, sender number) and staff accounts."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from reminders.clinics import settings as clinic_settings
from reminders.enrollments.schemas import InputError
from reminders.staff import service as staff_service
from reminders.staff import sessions
from reminders.web.auth import CsrfForm
from reminders.web.pages.common import AdminPage, Page, RowId, field_errors, redirect

router = APIRouter()


@router.get("/settings", response_class=HTMLResponse)
def settings_form(page: AdminPage) -> Response:
    return page.render("settings.html", values=clinic_settings.current(page.viewer.clinic),
                       errors={})  # fmt: skip


@router.post("/settings", response_class=HTMLResponse)
def save_settings(page: AdminPage, form: CsrfForm) -> Response:
    values = {k: v.replace("\x00", "")[:300] for k, v in form.items() if isinstance(v, str)}
    savepoint = page.session.begin_nested()
    try:
        clinic_settings.update(session=page.session, clinic=page.viewer.clinic, form=values,
                               actor=page.viewer.actor, staff_id=page.viewer.staff.id)  # fmt: skip
    except InputError as exc:
        savepoint.rollback()
        return page.render("settings.html", status_code=422, values=values,
                           errors=field_errors(exc.errors))  # fmt: skip
    savepoint.commit()
    return redirect("/settings", "saved")


def _staff_page(
    page: Page,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    members = staff_service.list_staff(session=page.session, clinic_id=page.clinic_id)
    return page.render("staff.html", status_code=status_code, members=members,
                       roles=staff_service.ROLES, errors=errors or {},
                       values=values or {"role": "clinician"},
                       min_password=staff_service.MIN_PASSWORD)  # fmt: skip


@router.get("/staff", response_class=HTMLResponse)
def staff_list(page: AdminPage) -> Response:
    return _staff_page(page)


@router.post("/staff", response_class=HTMLResponse)
def create_staff(page: AdminPage, form: CsrfForm) -> Response:
    values = {k: str(form.get(k) or "").replace("\x00", "")[:300]
              for k in ("email", "name", "role", "phone")}  # fmt: skip
    savepoint = page.session.begin_nested()
    try:
        staff_service.create_staff(
            session=page.session, clinic_id=page.clinic_id, email=values["email"],
            role=values["role"], password=str(form.get("password") or ""), name=values["name"],
            phone=values["phone"] or None, actor=page.viewer.actor, staff_id=page.viewer.staff.id,
        )  # fmt: skip
    except InputError as exc:
        savepoint.rollback()
        return _staff_page(page, field_errors(exc.errors), values, status_code=422)
    savepoint.commit()
    return redirect("/staff", "staff_created")


@router.post("/staff/{staff_id}", response_class=HTMLResponse)
def update_staff(staff_id: RowId, page: AdminPage, form: CsrfForm) -> Response:
    member = staff_service.get_staff(session=page.session, clinic_id=page.clinic_id,
                                     staff_id=staff_id)  # fmt: skip
    if member is None:
        return page.not_found("That staff member")
    action = form.get("action")
    try:
        staff_service.update_staff(
            session=page.session, member=member, actor=page.viewer.staff,
            role=str(form.get("role")) if action == "role" else None,
            active={"deactivate": False, "activate": True}.get(str(action)),
            unlock=action == "unlock",
        )  # fmt: skip
    except InputError as exc:
        return _staff_page(page, field_errors(exc.errors), status_code=422)
    if not member.is_active:
        sessions.end_all_for(session=page.session, staff_id=member.id, now=page.now)
    return redirect("/staff", "saved")
