"""The dashboard and the audit log."""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from reminders import dashboard
from reminders.audit.models import AuditEvent
from reminders.clinics.models import StaffMember
from reminders.web.pages.common import AnyPage, CoordinatorPage

router = APIRouter()
AUDIT_PAGE = 100


@router.get("/dashboard", response_class=HTMLResponse)
def show_dashboard(page: AnyPage) -> Response:
    board = dashboard.build(session=page.session, clinic=page.viewer.clinic, now=page.now)
    return page.render("dashboard.html", board=board)


@router.get("/audit", response_class=HTMLResponse)
def audit_log(
    page: CoordinatorPage,
    subject: str = Query("", pattern=r"^[a-z_]{0,40}$"),
    before: int | None = Query(None, ge=1, le=2**31 - 1),
) -> Response:
    """Who did what, newest first; ``subject`` filters by kind (patient, concern, …)."""
    query = select(AuditEvent).where(AuditEvent.clinic_id == page.clinic_id)
    if subject:
        query = query.where(AuditEvent.subject_type == subject)
    if before:
        query = query.where(AuditEvent.id < before)
    events = list(page.session.scalars(query.order_by(AuditEvent.id.desc()).limit(AUDIT_PAGE)))
    staff = {m.id: m for m in page.session.scalars(
        select(StaffMember).where(StaffMember.clinic_id == page.clinic_id))}  # fmt: skip

    def who(event: AuditEvent) -> str:
        staff_id = event.staff_id
        if staff_id is None and event.actor.startswith("staff:"):
            digits = event.actor.removeprefix("staff:")
            staff_id = int(digits) if digits.isdigit() else None
        member = staff.get(staff_id) if staff_id else None
        return member.email if member else event.actor

    subjects = ("patient", "enrollment", "concern", "protocol", "clinic", "staff")
    older = events[-1].id if len(events) == AUDIT_PAGE else None
    return page.render("audit.html", events=events, who=who, subject=subject,
                       subjects=subjects, older=older)  # fmt: skip
