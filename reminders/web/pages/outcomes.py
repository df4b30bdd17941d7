"""/outcomes: response rates, % relief of diagnostic injections, HOOS JR change and time
to acknowledge, as charts with a table of the same numbers; /outcomes.csv exports them.

The numbers come from reminders/outcomes/report.py; filters (injectate, month) are in
the query string, so a link or an export reproduces the view.
"""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from reminders.outcomes import report as outcomes
from reminders.protocols.spec import INJECTATES
from reminders.web.pages.bars import Series, stacked_columns, stacked_rows
from reminders.web.pages.common import SECURITY_HEADERS, AnyPage, Page
from reminders.web.pages.dashboard import ANSWERS

router = APIRouter()
RELIEF = (Series("relief", "diagnostic injections"),)
ACK = (Series("ack-median", "median minutes"),)
Filter = Annotated[str | None, Query(max_length=40)]


def relief_chart(report: outcomes.Report) -> Markup:
    counts = [n for _, n in report.relief_buckets]
    if not sum(counts):
        return Markup("")
    labels = [f"{b} % relief" if b != "worse" else "pain worse" for b, _ in report.relief_buckets]
    ticks = ["<0", *(b.split("-")[0] for b, _ in report.relief_buckets[1:-1]), "100"]
    return stacked_columns(labels, RELIEF, [[n] for n in counts], ident="relief",
                           title="Peak % relief of diagnostic injections", ticks=ticks,
                           summary=f"{sum(counts)} diaries with a result.")  # fmt: skip


def responses_chart(report: outcomes.Report) -> Markup:
    rates = report.response_rates
    return stacked_rows([r.name for r in rates], ANSWERS,
                        [(r.answered, r.unanswered) for r in rates],
                        title="Responses by step", ident="responses")  # fmt: skip


def ack_chart(report: outcomes.Report) -> Markup:
    rows = [a for a in report.ack if a.severity != "all" and a.median_minutes is not None]
    return stacked_rows([a.severity.capitalize() for a in rows], ACK,
                        [[round(a.median_minutes or 0)] for a in rows],
                        title="Median minutes to acknowledge, by severity",
                        ident="ack")  # fmt: skip


def _filters(page: Page, injectate: str | None, month: str | None
             ) -> tuple[outcomes.Filters, dict[str, str]]:  # fmt: skip
    try:
        return outcomes.parse_filters(injectate, month), {}
    except outcomes.FilterError as exc:
        return outcomes.Filters(), dict(exc.errors)


@router.get("/outcomes", response_class=HTMLResponse)
def show_outcomes(page: AnyPage, injectate: Filter = None, month: Filter = None) -> Response:
    filters, errors = _filters(page, injectate, month)
    report = outcomes.build(session=page.session, clinic=page.viewer.clinic, filters=filters)
    return page.render(
        "outcomes.html", status_code=400 if errors else 200, report=report, errors=errors,
        injectates=INJECTATES, relief_chart=relief_chart(report),
        responses_chart=responses_chart(report), ack_chart=ack_chart(report),
    )  # fmt: skip


@router.get("/outcomes.csv")
def export_outcomes(page: AnyPage, injectate: Filter = None, month: Filter = None) -> Response:
    filters, errors = _filters(page, injectate, month)
    if errors:
        report = outcomes.build(session=page.session, clinic=page.viewer.clinic,
                                filters=filters)  # fmt: skip
        return page.render("outcomes.html", status_code=400, report=report, errors=errors,
                           injectates=INJECTATES, relief_chart=relief_chart(report),
                           responses_chart=responses_chart(report),
                           ack_chart=ack_chart(report))  # fmt: skip
    clinic = page.viewer.clinic
    report = outcomes.build(session=page.session, clinic=clinic, filters=filters)
    page.audit("outcomes.export", "clinic", clinic.id, injectate=filters.injectate,
               month=filters.month)  # fmt: skip
    name = "-".join(["outcomes", filters.injectate or "all", filters.month or "all"]) + ".csv"
    return Response(outcomes.to_csv(report, tz=ZoneInfo(clinic.timezone)),
                    media_type="text/csv; charset=utf-8",
                    headers={**SECURITY_HEADERS,
                             "Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip
