"""Email over SMTP with the standard library: one connection per message.

A fresh connection per send keeps failure handling simple (no half-dead pooled sockets)
and costs about a millisecond on a LAN relay; reuse can come later if a relay is slow.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import ClassVar
from urllib.parse import unquote, urlsplit

from reminders.channels.base import Channel, ChannelError, Outbound, SendResult, mask_email

log = logging.getLogger(__name__)

_DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}
_METHOD_LINE = re.compile(r"^METHOD:([A-Za-z-]+)\r?$", re.MULTILINE)  # iTIP, RFC 5546


@functools.cache
def _local_hostname() -> str:
    # smtplib calls socket.getfqdn() on every connection when not told the EHLO name,
    # and a reverse-DNS lookup can take seconds on a badly configured host.
    return socket.getfqdn()


class SmtpEmail(Channel):
    """``smtp://user:pass@host:port`` (plain), ``smtp+starttls://…`` or ``smtps://…``."""

    name: ClassVar[str] = "smtp"

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 10.0,
        local_hostname: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in _DEFAULT_PORTS:
            raise ValueError("SMTP URL must start with smtp://, smtp+starttls:// or smtps://")
        if not parts.hostname:
            raise ValueError("SMTP URL has no host")
        self._scheme = parts.scheme
        self._host = parts.hostname
        self._port = parts.port or _DEFAULT_PORTS[parts.scheme]
        self._user = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else ""
        self._timeout = timeout
        self._local_hostname = local_hostname
        self._ssl_context = ssl_context

    def send(self, msg: Outbound) -> SendResult:
        envelope_from = parseaddr(msg.sender)[1]
        try:
            email = self._build(msg, envelope_from)
        except ValueError:
            # CR/LF in a header value (header injection) or an unparsable address.
            raise ChannelError(
                "smtp: invalid header value", permanent=True, code="header"
            ) from None
        conn: smtplib.SMTP | None = None
        try:
            conn = self._connect()
            conn.send_message(email, from_addr=envelope_from, to_addrs=[msg.to])
        except Exception as exc:
            # Once connected, a timeout or drop may come after the relay took the message.
            error = _translate(exc, connected=conn is not None)
            log.warning(
                "email to %s failed: %s (ref=%s, permanent=%s)",
                mask_email(msg.to),
                error,
                msg.reference,
                error.permanent,
            )
            if conn is not None:
                conn.close()  # not quit(): after a timeout it would wait out another one
            raise error from None
        # The relay has the message once DATA is acknowledged; a failed QUIT must not
        # turn that into an error and a duplicate.
        with contextlib.suppress(smtplib.SMTPException, OSError):
            conn.quit()
        message_id = str(email["Message-ID"])
        log.info(
            "email to %s accepted as %s (ref=%s)", mask_email(msg.to), message_id, msg.reference
        )
        return SendResult(provider_id=message_id, status="accepted")

    def _build(self, msg: Outbound, envelope_from: str) -> EmailMessage:
        email = EmailMessage()
        email["From"] = msg.sender
        email["To"] = msg.to
        if msg.reply_to:
            email["Reply-To"] = msg.reply_to
        if msg.subject is not None:
            email["Subject"] = msg.subject
        email["Date"] = formatdate(usegmt=True)
        # Explicit domain: make_msgid() would otherwise call getfqdn() per message.
        domain = envelope_from.rpartition("@")[2] or self._host
        email["Message-ID"] = make_msgid(domain=domain)
        # RFC 3834: discourages vacation auto-replies, which would land in reply triage.
        email["Auto-Submitted"] = "auto-generated"
        email.set_content(msg.body)
        if msg.html:
            email.add_alternative(msg.html, subtype="html")
        if msg.calendar:
            _add_calendar(email, msg.calendar)
        return email

    def _connect(self) -> smtplib.SMTP:
        ehlo_name = self._local_hostname or _local_hostname()
        context = self._ssl_context or ssl.create_default_context()
        conn: smtplib.SMTP
        if self._scheme == "smtps":
            conn = smtplib.SMTP_SSL(
                self._host,
                self._port,
                local_hostname=ehlo_name,
                timeout=self._timeout,
                context=context,
            )
        else:
            conn = smtplib.SMTP(
                self._host, self._port, local_hostname=ehlo_name, timeout=self._timeout
            )
        try:
            if self._scheme == "smtp+starttls":
                conn.starttls(context=context)
            if self._user:
                conn.login(self._user, self._password)
        except BaseException:
            conn.close()
            raise
        return conn


def _add_calendar(email: EmailMessage, ics: str) -> None:
    """An invite the way calendar programs send one (RFC 6047): a ``text/calendar;
    method=…`` alternative of the body, which Outlook and Gmail show as an invitation,
    and the same text as an ``invite.ics`` attachment for programs that only open files."""
    method = _METHOD_LINE.search(ics)
    params = {"charset": "utf-8"} | ({"method": method[1].upper()} if method else {})
    # As bytes, so its lines keep the CRLF endings RFC 5545 requires (a str part would be
    # re-split on LF); base64 carries a clinic name with accents unchanged.
    data = "\r\n".join(ics.splitlines()).encode() + b"\r\n"
    email.add_alternative(data, "text", "calendar", params=params)
    email.add_attachment(data, "application", "ics", filename="invite.ics")


def _translate(exc: Exception, *, connected: bool) -> ChannelError:
    # Server reply texts often quote the recipient, so only codes go into the error.
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _text in exc.recipients.values()]
        code = codes[0] if codes else 550
        permanent = all(c >= 500 for c in codes) if codes else True
        return ChannelError(f"smtp {code}: recipient refused", permanent=permanent, code=str(code))
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return ChannelError(
            f"smtp {exc.smtp_code}: authentication failed", permanent=True, code=str(exc.smtp_code)
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        code = int(exc.smtp_code)
        return ChannelError(
            f"smtp {code}: {type(exc).__name__}", permanent=500 <= code < 600, code=str(code)
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return ChannelError("smtp: server lacks a required extension", permanent=True, code="ext")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return ChannelError("smtp: TLS certificate rejected", permanent=True, code="tls")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return ChannelError("smtp: server disconnected", code="disconnected", in_doubt=connected)
    if isinstance(exc, TimeoutError):
        return ChannelError("smtp: timeout", code="timeout", in_doubt=connected)
    if isinstance(exc, OSError):  # refused, unreachable, TLS handshake, other SMTPException
        return ChannelError(f"smtp: {type(exc).__name__}", code="connection", in_doubt=connected)
    raise exc
