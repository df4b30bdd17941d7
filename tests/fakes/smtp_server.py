"""An SMTP server on loopback (aiosmtpd) that records what it accepts and refuses on cue."""

from __future__ import annotations

import socket
import ssl
import threading
from collections import deque
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, Literal, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes


def free_port(host: str = "127.0.0.1") -> int:
    # aiosmtpd's start() connects back to the configured port, so port 0 cannot be used.
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class FakeSmtp:
    """``with FakeSmtp() as smtp: ... smtp.url`` → ``smtp://127.0.0.1:<port>``.

    With ``user``/``password`` set, AUTH is offered (over plain SMTP too) and wrong
    credentials are refused with 535; unlike a real relay, a client that never logs in may
    still send. ``tls`` with a server ``ssl_context`` offers STARTTLS or implicit TLS.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        user: str | None = None,
        password: str | None = None,
        tls: Literal["starttls", "implicit"] | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host, self.port = host, free_port(host)
        self.user, self.password, self.tls = user, password, tls
        self.received: list[Received] = []
        self._rejects: deque[tuple[Literal["rcpt", "data"], str]] = deque()
        self._lock = threading.Lock()
        auth: dict[str, Any] = {}
        if user is not None:
            # AUTH offered over plain SMTP; auth_required=True would warn on every connection.
            auth = {"authenticator": self._authenticate, "auth_require_tls": False}
        if tls == "starttls":
            auth |= {"tls_context": ssl_context, "require_starttls": True}
        elif tls == "implicit":
            auth |= {"ssl_context": ssl_context}
        self._controller = Controller(
            self,
            hostname=host,
            port=self.port,
            server_hostname="fake-smtp.test",
            ready_timeout=5.0,
            **auth,
        )

    @property
    def url(self) -> str:
        creds = f"{self.user}:{self.password}@" if self.user is not None else ""
        scheme = {None: "smtp", "starttls": "smtp+starttls", "implicit": "smtps"}[self.tls]
        return f"{scheme}://{creds}{self.host}:{self.port}"

    def start(self) -> FakeSmtp:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> FakeSmtp:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def reject_next(
        self,
        n: int = 1,
        code: int = 550,
        text: str = "5.1.1 Mailbox unavailable",
        *,
        stage: Literal["rcpt", "data"] = "data",
    ) -> None:
        """Refuse the next ``n`` messages at RCPT TO or at the end of DATA."""
        with self._lock:
            self._rejects.extend([(stage, f"{code} {text}")] * n)

    @property
    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return [r.message for r in self.received]

    def _take_reject(self, stage: str) -> str | None:
        with self._lock:
            if self._rejects and self._rejects[0][0] == stage:
                return self._rejects.popleft()[1]
        return None

    # aiosmtpd handler hooks
    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if (reply := self._take_reject("rcpt")) is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if (reply := self._take_reject("data")) is not None:
            return reply
        raw = cast(bytes, envelope.original_content or envelope.content)
        message = cast(EmailMessage, message_from_bytes(raw, policy=policy.default))
        with self._lock:
            self.received.append(
                Received(str(envelope.mail_from), list(envelope.rcpt_tos), message, raw)
            )
        return "250 Message accepted for delivery"

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == (
            self.user,
            self.password,
        )
        # handled=False makes aiosmtpd send the standard 535 itself on failure.
        return AuthResult(success=ok, handled=False, auth_data=data if ok else None)
