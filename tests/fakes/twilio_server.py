"""A Twilio-compatible Messages API on loopback, for tests and the send benchmark.

Enough of ``/2010-04-01/Accounts/{sid}/Messages.json`` for twilio-python's
``messages.create`` and ``messages.list``, with basic auth, scripted failures and status
callbacks signed as Twilio signs them. Twilio's test-credential magic numbers
(``+15005550001``…) fail as they do on Twilio's test API.
"""

from __future__ import annotations

import base64
import json
import queue
import random
import re
import secrets
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "fake-auth-token"
POOL_NUMBER = "+15005550006"  # the number a messaging service "picks", in callbacks
_PATH = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages(?:/([^/.]+))?\.json$")
_MAGIC_TO = {  # https://www.twilio.com/docs/iam/test-credentials
    "+15005550001": 21211,
    "+15005550002": 21612,
    "+15005550003": 21408,
    "+15005550004": 21610,
    "+15005550009": 21614,
}
_MAGIC_FROM = {"+15005550001": 21212, "+15005550007": 21606, "+15005550008": 21611}
Reply = tuple[int, dict[str, Any], dict[str, str]]


def sign(url: str, params: dict[str, str], token: str = AUTH_TOKEN) -> str:
    """The ``X-Twilio-Signature`` Twilio would send for this webhook."""
    return str(RequestValidator(token).compute_signature(url, params))


@dataclass
class _Scripted:
    status: int
    code: int | None
    message: str
    retry_after: float | None = None
    hang: float = 0.0  # sleep this long, then accept normally: the accepted-too-late case

    def reply(self) -> Reply:
        has_retry = self.retry_after is not None
        headers = {"Retry-After": f"{self.retry_after:g}"} if has_retry else {}
        return (
            self.status,
            {
                "code": self.code,
                "message": self.message,
                "status": self.status,
                "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
            },
            headers,
        )


class FakeTwilio:
    def __init__(
        self,
        account_sid: str = ACCOUNT_SID,
        auth_token: str = AUTH_TOKEN,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        magic_numbers: bool = True,
        latency: float = 0.0,
        jitter: float = 0.0,
    ) -> None:
        self.account_sid, self.auth_token = account_sid, auth_token
        # Twilio's API answers a create in about 100–300 ms: each create takes ``latency``
        # seconds, ± up to ``jitter``; ``max_in_flight`` is the most at once it saw.
        self.latency, self.jitter = latency, jitter
        self.in_flight = self.max_in_flight = 0
        self.magic_numbers = magic_numbers
        self.auto_callbacks: list[str] = []  # e.g. ["sent", "delivered"] after each accept
        self.requests: list[dict[str, Any]] = []  # every request, with monotonic "t"
        self.messages: dict[str, dict[str, Any]] = {}  # sid → Twilio JSON, insertion order
        self.callbacks: list[dict[str, Any]] = []  # status callbacks sent, and the outcome
        self._address = (host, port)
        self._lock = threading.Lock()
        self._script: deque[_Scripted] = deque()
        self._fail_for: dict[str, _Scripted] = {}
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._outbox: queue.Queue[tuple[str, str] | None] = queue.Queue()

    @property
    def url(self) -> str:
        assert self._server is not None, "FakeTwilio not started"
        return f"http://{self._address[0]}:{self._server.server_address[1]}"

    def start(self) -> FakeTwilio:
        self._server = _Server(self._address, type("Handler", (_Handler,), {"fake": self}))
        # A short poll keeps stop() (and so every test's teardown) fast.
        serve = {"poll_interval": 0.05}
        threading.Thread(target=self._server.serve_forever, kwargs=serve, daemon=True).start()
        threading.Thread(target=self._callback_worker, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes hung handlers
        self._outbox.put(None)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # Scripted replies apply to the next message creations, in order.
    def fail_next(
        self,
        n: int = 1,
        status: int = 400,
        code: int = 21211,
        message: str = "The 'To' number is not a valid phone number.",
    ) -> None:
        self._push(n, _Scripted(status, code, message))

    def fail_for(
        self,
        to_number: str,
        status: int = 400,
        code: int = 21211,
        message: str = "Scripted failure",
    ) -> None:
        with self._lock:
            self._fail_for[to_number] = _Scripted(status, code, message)

    def respond_429(self, n: int = 1, retry_after: float | None = None) -> None:
        self._push(n, _Scripted(429, 20429, "Too Many Requests", retry_after))

    def respond_500(self, n: int = 1) -> None:
        self._push(n, _Scripted(500, 20500, "Internal Server Error"))

    def hang_next(self, n: int = 1, seconds: float = 5.0) -> None:
        self._push(n, _Scripted(201, None, "", hang=seconds))

    def _push(self, n: int, scripted: _Scripted) -> None:
        with self._lock:
            self._script.extend([scripted] * n)

    def wait_for_messages(self, n: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Messages accepted so far, after waiting up to ``timeout`` for ``n`` of them."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        with self._lock:
            return list(self.messages.values())

    def send_status_callback(self, sid: str, status: str, error_code: int | None = None) -> int:
        """POST a signed status callback for ``sid``; returns the receiver's HTTP status."""
        with self._lock:
            msg = self.messages[sid]
            msg["status"] = status
            msg["date_updated"] = format_datetime(datetime.now(UTC))
            if status in ("sent", "delivered", "undelivered") and not msg["date_sent"]:
                msg["date_sent"] = msg["date_updated"]
            msg["error_code"] = error_code if error_code is not None else msg["error_code"]
            url: str | None = msg["_status_callback"]
            params = {
                "AccountSid": self.account_sid,
                "ApiVersion": "2010-04-01",
                "From": msg["from"] or POOL_NUMBER,
                "To": msg["to"],
                "MessageSid": sid,
                "MessageStatus": status,
                "SmsSid": sid,
                "SmsStatus": status,
            }
            if msg["messaging_service_sid"]:
                params["MessagingServiceSid"] = msg["messaging_service_sid"]
            if error_code is not None:
                params["ErrorCode"] = str(error_code)
        if not url:
            raise ValueError(f"message {sid} has no StatusCallback")
        request = urllib.request.Request(
            url,
            data=urlencode(params).encode(),
            method="POST",
            headers={"X-Twilio-Signature": sign(url, params, self.auth_token)},
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                code = int(response.status)
        except urllib.error.HTTPError as exc:
            code = exc.code
        with self._lock:
            self.callbacks.append(
                {
                    "sid": sid,
                    "status": status,
                    "url": url,
                    "http": code,
                    "params": params,
                    "t": time.monotonic(),
                }
            )
        return code

    def _callback_worker(self) -> None:
        # One thread keeps each message's callbacks in order and off the API's hot path.
        while (item := self._outbox.get()) is not None:
            try:
                self.send_status_callback(*item)
            except (OSError, ValueError) as exc:
                with self._lock:
                    self.callbacks.append({"sid": item[0], "status": item[1], "error": repr(exc)})

    def _create(self, form: dict[str, str]) -> Reply:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency or self.jitter:
                time.sleep(max(0.0, self.latency + random.uniform(-self.jitter, self.jitter)))
            return self._create_now(form)
        finally:
            with self._lock:
                self.in_flight -= 1

    def _create_now(self, form: dict[str, str]) -> Reply:
        with self._lock:
            scripted = self._script.popleft() if self._script else None
        if scripted and scripted.hang:
            self._stopping.wait(scripted.hang)
            scripted = None
        to, sender, service = form.get("To", ""), form.get("From"), form.get("MessagingServiceSid")
        magic = _MAGIC_FROM.get(sender or "") or _MAGIC_TO.get(to) if self.magic_numbers else None
        checks = [
            (True, self._fail_for.get(to)),
            (not to, _Scripted(400, 21604, "A 'To' phone number is required.")),
            (not form.get("Body"), _Scripted(400, 21602, "Message body is required.")),
            (not (sender or service), _Scripted(400, 21603, "A 'From' number is required.")),
            (bool(magic), _Scripted(400, magic, "Test-credential magic number")),
        ]
        scripted = scripted or next((s for failed, s in checks if failed and s), None)
        if scripted is not None:
            return scripted.reply()
        sid, body = "SM" + secrets.token_hex(16), form["Body"]
        now, uri = format_datetime(datetime.now(UTC)), f"/2010-04-01/Accounts/{self.account_sid}"
        single, multi = (160, 153) if body.isascii() else (70, 67)  # ASCII ≈ GSM-7 here
        msg: dict[str, Any] = {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": now,
            "date_updated": now,
            "date_sent": None,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": None if service else sender,
            "messaging_service_sid": service,
            "num_media": "0",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "num_segments": str(1 if len(body) <= single else -(-len(body) // multi)),
            "status": "accepted" if service else "queued",
            "to": to,
            "uri": f"{uri}/Messages/{sid}.json",
            "subresource_uris": {"media": f"{uri}/Messages/{sid}/Media.json"},
            "_status_callback": form.get("StatusCallback"),
            "_validity_period": form.get("ValidityPeriod"),
        }
        with self._lock:
            self.messages[sid] = msg
        if msg["_status_callback"]:
            for status in self.auto_callbacks:
                self._outbox.put((sid, status))
        return 201, _public(msg), {}

    def _list(self, query: dict[str, str]) -> Reply:
        # twilio-python puts the operator in the key: "DateSent>" / "DateSent<", values
        # like 2026-01-31T09:00:00Z; the API reads them as >= / <=. Unsent messages have
        # no date_sent, so a DateSent filter leaves them out.
        after, before = query.get("DateSent>"), query.get("DateSent<")

        def wanted(m: dict[str, Any]) -> bool:
            if query.get("To", m["to"]) != m["to"] or query.get("From", m["from"]) != m["from"]:
                return False
            if not (after or before):
                return True
            sent = m["date_sent"] and parsedate_to_datetime(m["date_sent"])
            return (
                bool(sent)
                and (not after or sent >= _parse_date(after))
                and (not before or sent <= _parse_date(before))
            )

        with self._lock:
            found = [_public(m) for m in reversed(self.messages.values()) if wanted(m)]
        size = int(query.get("PageSize", "50"))
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        return (
            200,
            {
                "messages": found[:size],
                "uri": uri,
                "first_page_uri": f"{uri}?PageSize={size}",
                "next_page_uri": None,
                "previous_page_uri": None,
                "page": 0,
                "page_size": size,
                "start": 0,
                "end": max(min(len(found), size) - 1, 0),
            },
            {},
        )


def _public(msg: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in msg.items() if not k.startswith("_")}


def _parse_date(value: str) -> datetime:
    fmt = "%Y-%m-%d" if len(value) == 10 else "%Y-%m-%dT%H:%M:%SZ"
    return datetime.strptime(value, fmt).replace(tzinfo=UTC)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the default backlog of 5 resets bursts of new connections

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # clients that timed out
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeTwilio
    protocol_version = "HTTP/1.1"  # keep-alive: the benchmark reuses pooled connections
    # Buffer each response so headers and body leave in one send; handle_one_request()
    # flushes after every request. Two small sends cost ~15% of a round trip.
    wbufsize = -1
    disable_nagle_algorithm = True
    timeout = 60

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        started, fake = time.monotonic(), self.fake
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else parts.query
        params = dict(parse_qsl(raw, keep_blank_values=True))
        match = _PATH.match(parts.path)
        reply: Reply
        if not match:
            reply = _Scripted(404, 20404, "Not found").reply()
        elif not self._authorized(match.group(1)):
            reply = _Scripted(401, 20003, "Authenticate").reply()
        elif method == "POST" and not match.group(2):
            reply = fake._create(params)
        elif method == "GET" and not match.group(2):
            reply = fake._list(params)
        else:
            reply = _Scripted(405, 20004, "Method not allowed").reply()
        status, payload, headers = reply
        with fake._lock:
            fake.requests.append(
                {
                    "t": started,
                    "method": method,
                    "path": parts.path,
                    "params": params,
                    "status": status,
                }
            )
        body = json.dumps(payload).encode()
        headers |= {"Content-Type": "application/json", "Content-Length": str(len(body))}
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _authorized(self, path_account: str) -> bool:
        scheme, _, encoded = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        user, _, password = base64.b64decode(encoded).decode().partition(":")
        fake = self.fake
        return user == fake.account_sid == path_account and password == fake.auth_token

    def log_message(self, format: str, *args: Any) -> None:
        pass  # request lines carry phone numbers (list queries); keep test output quiet
