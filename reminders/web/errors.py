"""Error answers: field paths and readable messages, never a stack trace."""

from __future__ import annotations

import logging
import secrets

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from reminders import display
from reminders.enrollments.schemas import InputError
from reminders.web import error_pages

log = logging.getLogger(__name__)


def field_error(loc: list[str], message: str) -> dict[str, object]:
    """One bad field for an API client: ``loc`` for programs (["body", "patient",
    "given_name"]), ``field`` and ``msg`` for people ("First name", "First name: required")."""
    return {"loc": loc, "field": display.field_label(loc),
            "msg": display.error_in_words(loc, message)}  # fmt: skip


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(InputError)
    async def _input_error(request: Request, exc: InputError) -> JSONResponse:
        return JSONResponse(
            status_code=422,
            content={"detail": [field_error(field.split("."), msg) for field, msg in exc.errors]},
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = [field_error([str(p) for p in err.get("loc", ())] or ["body"],
                              display.validation_message(err)) for err in exc.errors()]  # fmt: skip
        return JSONResponse(status_code=422, content={"detail": detail})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        # The reference ties what a person sees to the logged traceback, and shows nothing else.
        reference = secrets.token_hex(4)
        log.exception("unhandled error %s on %s %s", reference, request.method, request.url.path)
        if error_pages.wants_page(request):
            return await run_in_threadpool(error_pages.error_page, request, 500,
                                           reference=reference)  # fmt: skip
        return JSONResponse(status_code=500, content={"detail": "internal error",
                                                      "reference": reference})  # fmt: skip
