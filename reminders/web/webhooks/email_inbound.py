"""POST /webhooks/email/inbound: an email reply, as an inbound-parse provider posts it.

A multipart form with ``from``, ``to``, ``subject``, ``text`` (and ``headers`` when the
provider sends them), behind HTTP basic auth from settings; with no credentials
configured every request is refused (503, so the provider keeps the mail and retries).
The reply is matched by the signed reply-to token in ``to``.
"""

from __future__ import annotations

import re
import secrets
from email.utils import getaddresses, parseaddr
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from reminders.clinics.models import Clinic
from reminders.config import Settings
from reminders.conversations.outbound import queue
from reminders.conversations.service import receive_email
from reminders.delivery.send import parse_reply_address
from reminders.enrollments.models import REPLY
from reminders.web.deps import ClockDep, SessionDep, SettingsDep
from reminders.web.webhooks.kick import deliver_after_commit

router = APIRouter(tags=["webhooks"])
_basic = HTTPBasic(auto_error=False)
_QUOTE_START = re.compile(
    r"^(?:On .{0,200} wrote:|El .{0,200} escribi[oó]:|-{2,} ?Original Message ?-{2,}|"
    r"-{2,} ?Mensaje original ?-{2,}|From: .+|De: .+|_{5,})\s*$", re.IGNORECASE)  # fmt: skip
_AUTOMATED_SUBJECT = re.compile(
    r"^(?:auto(?:matic)? ?reply|auto:|out of (?:the )?office|respuesta autom[aá]tica|"
    r"undeliver|delivery status notification|mail delivery fail)", re.IGNORECASE)  # fmt: skip


def _authenticated(
    settings: SettingsDep, credentials: Annotated[HTTPBasicCredentials | None, Depends(_basic)]
) -> None:
    user, password = settings.inbound_email_user, settings.inbound_email_password
    if not user or not password:
        raise HTTPException(503, "inbound email is not configured")
    ok = credentials is not None and (
        secrets.compare_digest(credentials.username.encode(), user.encode())
        & secrets.compare_digest(credentials.password.encode(), password.encode())
    )
    if not ok:
        raise HTTPException(401, "bad credentials", headers={"WWW-Authenticate": "Basic"})


async def _form(request: Request) -> FormData:
    return await request.form()


@router.post("/webhooks/email/inbound", dependencies=[Depends(_authenticated)])
def inbound_email(
    form: Annotated[FormData, Depends(_form)], request: Request, background: BackgroundTasks,
    session: SessionDep, clock: ClockDep, settings: SettingsDep,
) -> dict[str, object]:  # fmt: skip
    def field(name: str) -> str:
        return str(form.get(name) or "")

    sender = parseaddr(field("from"))[1]
    if not sender:
        raise HTTPException(422, "from is required")
    headers, subject = field("headers"), field("subject")
    _token_address, message_id = _reply_token(field("to"), field("cc"), settings)
    handled = receive_email(
        session=session, now=clock.now(), sender=sender, message_id=_header(headers, "Message-ID"),
        text=clean_reply(field("text")) or _strip_re(subject), reply_to_message=message_id,
        automated=is_automated(headers, subject, sender),
    )  # fmt: skip
    if handled.replies and handled.clinic_id is not None and not handled.duplicate:
        queue(session=session, clinic_id=handled.clinic_id, kind=REPLY, channel="email",
              body="\n\n".join(handled.replies), now=clock.now(), key=str(handled.inbound_id),
              recipient=sender, patient_id=handled.patient_id, inbound_id=handled.inbound_id,
              about_message_id=message_id,
              subject=_subject(session, handled.clinic_id, subject))  # fmt: skip
    session.commit()
    if handled.queued or handled.replies:
        deliver_after_commit(request, background, settings=settings, clock=clock)
    return {"id": handled.inbound_id, "duplicate": handled.duplicate}


def _reply_token(to: str, cc: str, settings: Settings) -> tuple[str | None, int | None]:
    for _name, address in getaddresses([to, cc]):
        message_id = parse_reply_address(address, settings)
        if message_id is not None:
            return address, message_id
    return None, None


def _header(headers: str, name: str) -> str | None:
    match = re.search(rf"^{re.escape(name)}:\s*(.+)$", headers, re.IGNORECASE | re.MULTILINE)
    return match.group(1).strip() if match else None


def is_automated(headers: str, subject: str, sender: str) -> bool:
    """Vacation replies, bounces and list mail (RFC 3834 Auto-Submitted, Precedence)."""
    auto = (_header(headers, "Auto-Submitted") or "no").lower()
    precedence = (_header(headers, "Precedence") or "").lower()
    local = sender.split("@", 1)[0].lower()
    return (
        auto != "no"
        or precedence in ("bulk", "junk", "list", "auto_reply")
        or _header(headers, "X-Autoreply") is not None
        or local in ("mailer-daemon", "postmaster")
        or bool(_AUTOMATED_SUBJECT.match(_strip_re(subject)))
    )


def clean_reply(text: str) -> str:
    """The new part of a reply: quoted history ("On … wrote:", "> …") cut off."""
    kept: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        if _QUOTE_START.match(line.strip()):
            break
        if not line.lstrip().startswith(">"):
            kept.append(line)
    return "\n".join(kept).strip()


def _strip_re(subject: str) -> str:
    return re.sub(r"^(?:\s*(?:re|aw|fwd?|rv)\s*:\s*)+", "", subject, flags=re.IGNORECASE).strip()


def _subject(session: Session, clinic_id: int, subject: str) -> str:
    clinic = session.get_one(Clinic, clinic_id)
    return "Re: " + (_strip_re(subject) or clinic.name)
