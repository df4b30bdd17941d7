"""The inbound benchmark's baseline: the same form parse and a TwiML answer, nothing else."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from twilio.twiml.messaging_response import MessagingResponse


def create_app() -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    @app.post("/webhooks/twilio/sms")
    async def inbound(request: Request) -> Response:
        form = await request.form()
        twiml = MessagingResponse()
        twiml.message(f"Thanks, we got your answer ({len(str(form.get('Body') or ''))}).")
        return Response(str(twiml), media_type="application/xml")

    @app.get("/healthz")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
