"""The FastAPI application: pages, REST API and webhooks, all thin over the services.

Each area lives in its own router module; this file only assembles them.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from sqlalchemy.orm import sessionmaker

from reminders.clock import Clock, SystemClock
from reminders.config import Settings, get_settings
from reminders.db import make_engine
from reminders.web import api, api_docs, error_pages, health, pages
from reminders.web.api import fhir as api_fhir
from reminders.web.api import fhir_read
from reminders.web.errors import install_error_handlers
from reminders.web.webhooks import email_inbound, twilio_sms, twilio_status


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="Aftercare",
        version="1.0",
        summary="Follow-up after ultrasound-guided hip injections",
        # Served by api_docs with local files instead of FastAPI's CDN-loading pages.
        docs_url=None,
        redoc_url=None,
    )
    engine = make_engine(settings.database_url)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = sessionmaker(bind=engine, expire_on_commit=False)
    app.state.clock = clock or SystemClock()
    install_error_handlers(app)
    error_pages.install(app)
    for router in _routers():
        app.include_router(router)
    return app


def _routers() -> list[APIRouter]:
    return [
        health.router,
        twilio_status.router,
        twilio_sms.router,
        email_inbound.router,
        api.router,
        api_fhir.router,
        fhir_read.router,
        api_docs.router,
        pages.router,
    ]
