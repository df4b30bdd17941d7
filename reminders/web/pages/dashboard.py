"""The dashboard and the audit log."""

from __future__ import annotations

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from reminders import dashboard
from reminders.inbox import SEVERITIES
from reminders.patients import worklist
from reminders.web.pages import audit as audit_page
from reminders.web.pages.bars import Series, stacked_columns, stacked_rows
from reminders.web.pages.common import AnyPage, CoordinatorPage

router = APIRouter()
ANSWERS = (Series("answered", "answered"), Series("unanswered", "unanswered"))
SEVERITY_SERIES = tuple(Series(s, "no severity" if s == "none" else s) for s in SEVERITIES)


def responses_chart(board: dashboard.Dashboard) -> Markup:
    rates = board.response_rates
    return stacked_rows([r.name for r in rates], ANSWERS,
                        [(r.answered, r.unanswered) for r in rates],
                        title="Responses by step, last 30 days", ident="responses")  # fmt: skip


def concerns_chart(board: dashboard.Dashboard) -> Markup:
    days = board.concerns_by_day
    totals = {s: sum(counts[s] for _, counts in days) for s in SEVERITIES}
    if not any(totals.values()):
        return Markup("")
    # A date under every seventh column, counted back from today.
    ticks = [f"{day:%d %b}" if (len(days) - 1 - i) % 7 == 0 else ""
             for i, (day, _) in enumerate(days)]  # fmt: skip
    summary = "In 30 days: " + ", ".join(f"{n} {s.label}" for s, n in
                                         zip(SEVERITY_SERIES, totals.values(), strict=True)) + "."
    return stacked_columns([f"{day:%a %d %b}" for day, _ in days], SEVERITY_SERIES,
                           [[counts[s] for s in SEVERITIES] for _, counts in days],
                           title="Concerns by severity per day, last 30 days", ident="concerns",
                           ticks=ticks, summary=summary)  # fmt: skip


@router.get("/dashboard", response_class=HTMLResponse)
def show_dashboard(page: AnyPage) -> Response:
    board = dashboard.build(session=page.session, clinic=page.viewer.clinic, now=page.now)
    return page.render("dashboard.html", board=board, named=worklist.NAMED,
                       responses_chart=responses_chart(board),
                       concerns_chart=concerns_chart(board),
                       severities=SEVERITY_SERIES)  # fmt: skip


@router.get("/audit", response_class=HTMLResponse)
def audit_log(
    page: CoordinatorPage,
    subject: str = Query("", pattern=r"^[a-z_]{0,40}$"),
    before: int | None = Query(None, ge=1, le=2**31 - 1),
) -> Response:
    """Who did what, newest first; ``subject`` filters by kind (patient, concern, …)."""
    return audit_page.render(page, subject=subject, before=before)
