"""Error pages for people: a styled page for 403, 404, 405, 429 and 500 instead of raw JSON.

- Machines keep JSON: the REST API (``/api/...``), the provider webhooks (``/webhooks/...``),
  ``/healthz``, ``/metrics``, ``/openapi.json``, and any client that asks for JSON and not
  HTML. Everything else is a person with a browser.
- Signed in, the page sits in the normal layout (navigation, emergency banner). Signed out,
  or when the layout itself cannot be drawn (the database is what failed), a minimal page
  that needs nothing but the template.
- A 500 never shows the exception: the log gets it with a short reference, the page gets
  only the reference, so staff can quote it to whoever reads the logs.
- Status codes and headers (``Allow``, ``Retry-After``) stay what they were; a redirect
  (sign in first) stays a redirect.
"""

from __future__ import annotations

import inspect
import logging
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from reminders.staff import sessions
from reminders.web.auth import read_cookie
from reminders.web.deps import get_session
from reminders.web.pages.common import SECURITY_HEADERS, TEMPLATES, Page

log = logging.getLogger(__name__)

_JSON_PREFIXES = ("/api/", "/webhooks/")
_JSON_PATHS = frozenset({"/api", "/webhooks", "/healthz", "/metrics", "/openapi.json"})
TITLES = {
    400: "That request could not be read",
    403: "Not allowed",
    404: "Page not found",
    405: "This address does not work that way",
    429: "Too many attempts",
    500: "Something went wrong",
}
# Starlette's own details ("Not Found") say less than these; ours (403, 429) are written
# for people and are shown as they are.
_EXPLANATIONS = {
    404: "There is no page at this address. If you typed it, check it; if a link brought you "
         "here, the record may have been removed or may belong to another clinic.",
    405: "This address takes a form's button, not a visit (or the other way round). Go back "
         "to the page and use its buttons; reloading after sending a form can do this.",
    500: "The page could not be shown because of a fault on our side. What you sent may not "
         "have been saved: check before you try again.",
}  # fmt: skip


def wants_page(request: Request) -> bool:
    """True for a person's browser; False for the API, webhooks, probes and JSON clients."""
    path = request.url.path
    if path in _JSON_PATHS or path.startswith(_JSON_PREFIXES):
        return False
    accept = request.headers.get("accept", "")
    return "text/html" in accept or "application/json" not in accept


def error_page(request: Request, status: int, *, detail: str | None = None,
               reference: str | None = None,
               headers: dict[str, str] | None = None) -> HTMLResponse:  # fmt: skip
    """The page for ``status``: in the layout when signed in, else the standalone one."""
    lines = [_sentence(detail) if detail else _EXPLANATIONS.get(status, "")]
    context: dict[str, Any] = {"status": status, "title": TITLES.get(status, "Error"),
                               "lines": [line for line in lines if line],
                               "reference": reference}  # fmt: skip
    response: HTMLResponse | None = None
    try:
        response = _in_layout(request, status, context)
    except Exception:  # the layout needs the database; the standalone page does not
        log.warning("error page drawn without the layout for %s %s", request.method,
                    request.url.path, exc_info=True)  # fmt: skip
    if response is None:
        response = TEMPLATES.TemplateResponse(
            request, "error.html", {**context, "layout": "_standalone.html", "signed_in": False},
            status_code=status,
        )  # fmt: skip
        response.headers.update(SECURITY_HEADERS)
    response.headers.update(headers or {})
    return response


def _in_layout(request: Request, status: int, context: dict[str, Any]) -> HTMLResponse | None:
    token = read_cookie(request, request.app.state.settings).get("sid")
    if not token:
        return None
    now = request.app.state.clock.now()
    with _db_session(request) as session:
        viewer = sessions.resolve(session=session, token=token, now=now)
        if viewer is None:
            return None
        page = Page(request=request, session=session, viewer=viewer, now=now)
        # Rendered here, inside the session: the layout reads the open-concern counts.
        return page.render("error.html", status_code=status, layout="base.html",
                           signed_in=True, **context)  # fmt: skip


def _db_session(request: Request) -> AbstractContextManager[Session]:
    # The same provider the pages use, so a test's override (one rolled-back transaction)
    # holds here too; it commits or rolls back as it does for a page.
    provider = request.app.dependency_overrides.get(get_session, get_session)
    args = (request,) if inspect.signature(provider).parameters else ()
    manager: AbstractContextManager[Session] = contextmanager(provider)(*args)
    return manager


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def install(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code < 400 or not wants_page(request):
            return await http_exception_handler(request, exc)
        detail = exc.detail if exc.status_code not in _EXPLANATIONS else None
        # In the thread pool, as a page is: drawing the layout reads the database.
        return await run_in_threadpool(error_page, request, exc.status_code,
                                       detail=detail if isinstance(detail, str) else None,
                                       headers=dict(exc.headers or {}))  # fmt: skip
