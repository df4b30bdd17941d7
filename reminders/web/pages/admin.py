"""Admin pages: clinic settings (time zone, quiet hours, office hours, emergency text,
thresholds, sender number and its sending rate, retention), the on-call rota, closed
dates and escalation policies, and staff accounts.

Each form on the settings page posts on its own; a refused one re-renders the page with
its errors named by field and nothing of it saved (a savepoint per form).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter
from fastapi.datastructures import FormData
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from reminders.clinics import sender_rates
from reminders.clinics import settings as clinic_settings
from reminders.enrollments.schemas import InputError
from reminders.enrollments.service import NotFound
from reminders.oncall import policy as policies
from reminders.oncall import service as oncall
from reminders.oncall.models import HOLIDAY, WEEKDAYS
from reminders.staff import service as staff_service
from reminders.staff import sessions, totp
from reminders.staff.models import StaffTotp
from reminders.web.auth import CsrfForm
from reminders.web.pages.common import (
    NOTICES,
    AdminPage,
    Page,
    RowId,
    field_errors,
    parse_local,
    redirect,
)

router = APIRouter()
Severity = Literal["urgent", "emergency"]
ONCALL = "/settings#oncall"


def _policy_values(page: Page) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for severity in policies.SEVERITIES:
        found = policies.policy_for(session=page.session, clinic=page.viewer.clinic,
                                    severity=severity)  # fmt: skip
        for i in range(policies.MAX_STEPS):
            step = found.steps[i] if i < len(found.steps) else None
            values[f"{severity}_step_{i}_target"] = step.target if step else ""
            values[f"{severity}_step_{i}_wait"] = (
                str(int(step.wait.total_seconds() // 60)) if step else "")
        values[f"{severity}_repeat"] = found.repeat
    return values


def _settings_page(
    page: Page, values: dict[str, Any] | None = None, errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    clinic, session, now = page.viewer.clinic, page.session, page.now
    members = {m.id: m for m in staff_service.list_staff(session=session, clinic_id=clinic.id)}
    local_today = now.astimezone(ZoneInfo(clinic.timezone)).date()
    context = {
        "now_on_call": oncall.on_call(session=session, clinic=clinic, at=now),
        "handover": oncall.next_handover(session=session, clinic=clinic, at=now),
        "shifts": oncall.list_shifts(session=session, clinic=clinic, now=now),
        "holidays": oncall.list_holidays(session=session, clinic=clinic, since=local_today),
        "custom": {s: policies.is_custom(session=session, clinic=clinic, severity=s)
                   for s in policies.SEVERITIES},
        "members": members, "weekdays": WEEKDAYS, "holiday_day": HOLIDAY,
        "severities": policies.SEVERITIES, "targets": policies.TARGETS,
        "max_steps": policies.MAX_STEPS,
        "staff_options": [(m.email, f"{m.name or m.email} ({m.role})")
                          for m in members.values() if m.is_active],
        "rate_options": _rate_options(page),
    }  # fmt: skip
    shown = clinic_settings.current(clinic) | _policy_values(page) | (values or {})
    return page.render("settings.html", status_code=status_code, values=shown,
                       errors=errors or {}, **context)  # fmt: skip


def _rate_options(page: Page) -> list[tuple[str, str]]:
    """The sending-rate select: the deployment's default, the presets, a custom rate."""
    default = page.request.app.state.settings.sms_rate_per_second
    default_text = f"{default:g} a second" if default > 0 else "no limit"
    return [(sender_rates.DEFAULT, f"Deployment default ({default_text})"),
            *sender_rates.LABELS.items(), (sender_rates.CUSTOM, "Custom rate")]  # fmt: skip


def _text(form: FormData, *names: str) -> dict[str, str]:
    return {n: str(form.get(n) or "").replace("\x00", "")[:300] for n in names}


def _apply(page: Page, values: dict[str, Any], rename: Callable[[str], str],
           action: Callable[[], object]) -> Response:  # fmt: skip
    """Run one form's change in a savepoint: all of it or, on bad input, none of it."""
    savepoint = page.session.begin_nested()
    try:
        action()
    except InputError as exc:
        savepoint.rollback()
        errors = {rename(k): v for k, v in field_errors(exc.errors).items()}
        return _settings_page(page, values, errors, status_code=422)
    except NotFound:
        savepoint.rollback()
        return page.not_found("That entry")
    savepoint.commit()
    return redirect(ONCALL, "saved")


@router.get("/settings", response_class=HTMLResponse)
def settings_form(page: AdminPage) -> Response:
    return _settings_page(page)


@router.post("/settings", response_class=HTMLResponse)
def save_settings(page: AdminPage, form: CsrfForm) -> Response:
    values = {k: v.replace("\x00", "")[:300] for k, v in form.items() if isinstance(v, str)}
    savepoint = page.session.begin_nested()
    try:
        clinic_settings.update(session=page.session, clinic=page.viewer.clinic, form=values,
                               actor=page.viewer.actor, staff_id=page.viewer.staff.id)  # fmt: skip
    except InputError as exc:
        savepoint.rollback()
        return _settings_page(page, values, field_errors(exc.errors), status_code=422)
    savepoint.commit()
    return redirect("/settings", "saved")


@router.post("/settings/oncall/shifts", response_class=HTMLResponse)
def add_shift(page: AdminPage, form: CsrfForm) -> Response:
    values: dict[str, Any] = _text(form, "shift_starts", "shift_ends", "shift_primary",
                                   "shift_backup")  # fmt: skip
    values["shift_days"] = [str(d)[:10] for d in form.getlist("shift_days")][:8]
    return _apply(page, values, lambda k: f"shift_{k}", lambda: oncall.add_shift(
        session=page.session, clinic=page.viewer.clinic, days=values["shift_days"],
        starts=values["shift_starts"], ends=values["shift_ends"],
        primary_email=values["shift_primary"], backup_email=values["shift_backup"] or None,
        actor=page.viewer.actor, staff_id=page.viewer.staff.id,
    ))  # fmt: skip


@router.post("/settings/oncall/shifts/{shift_id}/remove", response_class=HTMLResponse)
def remove_shift(shift_id: RowId, page: AdminPage, form: CsrfForm) -> Response:
    return _apply(page, {}, str, lambda: oncall.remove_shift(
        session=page.session, clinic=page.viewer.clinic, shift_id=shift_id, now=page.now,
        actor=page.viewer.actor, staff_id=page.viewer.staff.id,
    ))  # fmt: skip


@router.post("/settings/oncall/override", response_class=HTMLResponse)
def add_override(page: AdminPage, form: CsrfForm) -> Response:
    values = _text(form, "override_primary", "override_backup", "override_from",
                   "override_until")  # fmt: skip
    zone = page.viewer.clinic.timezone

    def action() -> object:
        starts = parse_local(values["override_from"], zone, "from") or page.now
        ends = parse_local(values["override_until"], zone, "until")
        return oncall.set_override(
            session=page.session, clinic=page.viewer.clinic,
            primary_email=values["override_primary"],
            backup_email=values["override_backup"] or None, starts_at=starts, ends_at=ends,
            actor=page.viewer.actor, staff_id=page.viewer.staff.id,
        )  # fmt: skip

    return _apply(page, values, lambda k: f"override_{k}", action)


@router.post("/settings/holidays", response_class=HTMLResponse)
def add_holiday(page: AdminPage, form: CsrfForm) -> Response:
    values = _text(form, "holiday_day", "holiday_name")
    return _apply(page, values, lambda k: f"holiday_{k}", lambda: oncall.add_holiday(
        session=page.session, clinic=page.viewer.clinic, day=values["holiday_day"],
        name=values["holiday_name"], actor=page.viewer.actor, staff_id=page.viewer.staff.id,
    ))  # fmt: skip


@router.post("/settings/holidays/{holiday_id}/remove", response_class=HTMLResponse)
def remove_holiday(holiday_id: RowId, page: AdminPage, form: CsrfForm) -> Response:
    return _apply(page, {}, str, lambda: oncall.remove_holiday(
        session=page.session, clinic=page.viewer.clinic, holiday_id=holiday_id,
        actor=page.viewer.actor, staff_id=page.viewer.staff.id,
    ))  # fmt: skip


@router.post("/settings/escalation/{severity}", response_class=HTMLResponse)
def save_policy(severity: Severity, page: AdminPage, form: CsrfForm) -> Response:
    """Rows with no target are left out; the rest are the steps, in order."""
    prefix = f"{severity}_"
    names = [f"{prefix}step_{i}_{part}" for i in range(policies.MAX_STEPS)
             for part in ("target", "wait")]  # fmt: skip
    values: dict[str, Any] = _text(form, *names)
    values[f"{prefix}repeat"] = bool(form.get(f"{prefix}repeat"))
    rows = [i for i in range(policies.MAX_STEPS) if values[f"{prefix}step_{i}_target"]]

    def rename(field: str) -> str:
        parts = field.split(".")  # steps.<n>.wait names the n-th step kept, i.e. a row
        if len(parts) == 3 and parts[1].isdigit() and int(parts[1]) < len(rows):
            return f"{prefix}step_{rows[int(parts[1])]}_{parts[2]}"
        return prefix + field.replace(".", "_")

    def action() -> object:
        steps, errors = [], []
        for n, i in enumerate(rows):
            raw = values[f"{prefix}step_{i}_wait"].strip()
            if not raw.isdigit():
                errors.append((f"steps.{n}.wait", "must be a whole number of minutes"))
                continue
            steps.append(policies.Step(values[f"{prefix}step_{i}_target"],
                                       timedelta(minutes=int(raw))))  # fmt: skip
        if errors:
            raise InputError(errors)
        return policies.set_policy(
            session=page.session, clinic=page.viewer.clinic, severity=severity, steps=steps,
            repeat=values[f"{prefix}repeat"], actor=page.viewer.actor,
            staff_id=page.viewer.staff.id,
        )  # fmt: skip

    return _apply(page, values, rename, action)


STAFF_NOTICES = NOTICES | {
    "totp_removed": "Authenticator removed and every session of theirs signed out: they sign "
                    "in with their password alone until they set up a new one.",
}  # fmt: skip


def _staff_page(
    page: Page,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    members = staff_service.list_staff(session=page.session, clinic_id=page.clinic_id)
    # Who has an authenticator: one query, over this clinic's members only.
    with_totp = set(page.session.scalars(select(StaffTotp.staff_id).where(
        StaffTotp.staff_id.in_([m.id for m in members]),
        StaffTotp.confirmed_at.is_not(None)))) if members else set()  # fmt: skip
    return page.render("staff.html", status_code=status_code, members=members,
                       roles=staff_service.ROLES, errors=errors or {},
                       values=values or {"role": "clinician"}, with_totp=with_totp,
                       notice=STAFF_NOTICES.get(page.request.query_params.get("notice", "")),
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


@router.post("/staff/{staff_id}/totp/remove", response_class=HTMLResponse)
def remove_totp(staff_id: RowId, page: AdminPage, form: CsrfForm) -> Response:
    """A lost phone: the admin removes a member's authenticator (audited in ``disable``).

    Their sessions end too, since the lost phone may still be signed in. An admin's own
    authenticator is turned off from /account, with their password.
    """
    member = staff_service.get_staff(session=page.session, clinic_id=page.clinic_id,
                                     staff_id=staff_id)  # fmt: skip
    if member is None:
        return page.not_found("That staff member")
    if member.id == page.viewer.staff.id:
        return _staff_page(page, {"totp": "Your own authenticator is turned off from your "
                                          "Account page, with your password."},
                           status_code=422)  # fmt: skip
    if not totp.disable(session=page.session, staff=member, actor=page.viewer.staff):
        return _staff_page(page, {"totp": f"{member.name or member.email} has no authenticator "
                                          "to remove."}, status_code=422)  # fmt: skip
    sessions.end_all_for(session=page.session, staff_id=member.id, now=page.now)
    return redirect("/staff", "totp_removed")
