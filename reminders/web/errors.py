"""Error answers: field paths and readable messages, never a stack trace."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from reminders.enrollments.schemas import InputError

log = logging.getLogger(__name__)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(InputError)
    async def _input_error(request: Request, exc: InputError) -> JSONResponse:
        return JSONResponse(
            status_code=422,
            content={
                "detail": [{"loc": field.split("."), "msg": msg} for field, msg in exc.errors]
            },
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        detail = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ())]
            detail.append(
                {
                    "loc": loc,
                    "field": ".".join(loc[1:]) or loc[0] if loc else "body",
                    "msg": str(err.get("msg", "")).removeprefix("Value error, "),
                }
            )
        return JSONResponse(status_code=422, content={"detail": detail})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(status_code=500, content={"detail": "internal error"})
