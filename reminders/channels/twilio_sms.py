"""SMS through Twilio's Messages API, using the official ``twilio`` client.

Error codes follow https://www.twilio.com/docs/api/errors/<code>; the permanent/transient
split is ours (see docs notes §3d). Twilio's own error messages often quote the number,
so only the code and our fixed titles reach exceptions and logs.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import requests
from requests.adapters import HTTPAdapter
from twilio.base.exceptions import (
    TwilioException,
    TwilioRestException,
    TwilioServiceException,
)
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client
from urllib3.exceptions import NewConnectionError

from reminders.channels.base import Channel, ChannelError, Outbound, SendResult, mask_phone

log = logging.getLogger(__name__)

# code → (title, permanent, limited_retries, opts_out)
_KNOWN: dict[int, tuple[str, bool, int | None, bool]] = {
    20003: ("authentication failed", True, None, False),
    20429: ("too many requests", False, None, False),
    21211: ("invalid 'To' number", True, None, False),
    21212: ("invalid 'From' number", True, None, False),
    21408: ("region not enabled", True, None, False),
    21606: ("'From' not SMS-capable or not owned", True, None, False),
    21610: ("recipient unsubscribed (STOP)", True, None, True),
    21612: ("'To' unreachable from this sender", True, None, False),
    21614: ("'To' is not a mobile number", True, None, False),
    21617: ("body exceeds 1600 characters", True, None, False),
    21635: ("'To' is a landline", True, None, False),
    30001: ("sender queue overflow", False, None, False),
    30002: ("account suspended", True, None, False),
    30003: ("handset unreachable", False, 3, False),
    30004: ("message blocked", True, None, False),
    30005: ("unknown handset", True, None, False),
    30006: ("landline or unreachable carrier", True, None, False),
    # Retrying filtered content only burns reputation; the template or registration must change.
    30007: ("message filtered by carrier", True, None, False),
    30008: ("unknown delivery error", False, 3, False),
    30032: ("toll-free number not verified", True, None, False),
    30034: ("A2P 10DLC campaign not registered", True, None, False),
}

VALIDITY_MIN, VALIDITY_MAX = 1, 36000  # seconds, per the Messages API docs
_TWILIO_HOST = re.compile(r"^https://[a-z0-9.-]+\.twilio\.com", re.IGNORECASE)
# Twilio stamps date_created to the second on its own clock; allow for that and for skew.
_CLOCK_SLACK = timedelta(minutes=2)


class _RedactPhoneQuery(logging.Filter):
    """urllib3 logs each request line, query string included, at DEBUG.

    ``messages.list(to=...)`` puts the patient's number in that query string.
    """

    _pattern = re.compile(r"((?:^|[?&])(?:To|From)=)[^&\s\"]+")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                self._pattern.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args
            )
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_RedactPhoneQuery())


def error_for_code(code: int | str | None, *, http_status: int | None = None) -> ChannelError:
    """Classify a Twilio error code, sync (REST) or async (a status callback's ErrorCode)."""
    try:
        number = int(code) if code not in (None, "") else None
    except (TypeError, ValueError):
        number = None
    known = _KNOWN.get(number) if number is not None else None
    label = str(number) if number is not None else str(http_status or "unknown")
    if known is not None:
        title, permanent, limited, opts_out = known
        return ChannelError(
            f"twilio {label}: {title}",
            permanent=permanent,
            code=label,
            limited_retries=limited,
            opts_out=opts_out,
        )
    if http_status is not None and (http_status == 429 or http_status >= 500):
        return ChannelError(f"twilio {label}: HTTP {http_status}", code=label, in_doubt=True)
    # Unknown 4xx (and unknown async codes): retrying the same request will not fix it.
    return ChannelError(f"twilio {label}: HTTP {http_status or '?'}", permanent=True, code=label)


class _PrivateHttpClient(TwilioHttpClient):
    """Loopback rewriting, a pooled plain-HTTP adapter, quiet logs, and Retry-After.

    ``TwilioHttpClient.log_request`` logs query params at INFO, which for
    ``messages.list(to=...)`` is the patient's number; we log method and path only.
    """

    def __init__(
        self, *, api_url: str | None, timeout: float, pool_size: int | None = None
    ) -> None:
        super().__init__(pool_connections=True, timeout=timeout)
        self._base = api_url.rstrip("/") if api_url else None
        self._local = threading.local()
        assert self.session is not None
        # Twilio mounts its sized pool on https:// only; the fake API is plain http.
        # max_retries=0: a retried POST after a read timeout would send the SMS twice.
        # One connection per request a sender keeps in flight (provider_concurrency).
        pool = pool_size or min(32, (os.cpu_count() or 1) + 4)
        self.session.mount("http://", HTTPAdapter(pool_maxsize=pool, max_retries=0))
        # requests re-reads proxy variables from os.environ on every request (about 12%
        # of a send on loopback); we only ever talk to one host, so read them once here.
        self.proxy = requests.utils.get_environ_proxies(self._base or "https://api.twilio.com")
        self.session.trust_env = False
        self.session.verify = (
            os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        )

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        self._local.headers = {}
        if self._base:
            url = _TWILIO_HOST.sub(self._base, url, count=1)
        response = super().request(method, url, *args, **kwargs)
        self._local.headers = dict(response.headers or {})
        return response

    def last_headers(self) -> Mapping[str, str]:
        headers: Mapping[str, str] = getattr(self._local, "headers", {})
        return headers

    def log_request(self, kwargs: dict[str, Any]) -> None:
        self.logger.debug("twilio %s %s", kwargs["method"], kwargs["url"])

    def log_response(self, status_code: int, response: Any) -> None:
        self.logger.debug("twilio response %s", status_code)


class TwilioSms(Channel):
    name: ClassVar[str] = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        api_url: str | None = None,
        messaging_service_sid: str | None = None,
        timeout: float = 10.0,
        pool_size: int | None = None,
    ) -> None:
        self._http = _PrivateHttpClient(api_url=api_url, timeout=timeout, pool_size=pool_size)
        # environment={} keeps TWILIO_EDGE/TWILIO_REGION from the process env out of it.
        self._client = Client(account_sid, auth_token, http_client=self._http, environment={})
        self._messaging_service_sid = messaging_service_sid

    def send(self, msg: Outbound) -> SendResult:
        params: dict[str, Any] = {"to": msg.to, "body": msg.body}
        if self._messaging_service_sid:
            # The service's sender pool picks the number (sticky sender, per-country).
            params["messaging_service_sid"] = self._messaging_service_sid
        elif msg.sender:
            params["from_"] = msg.sender
        else:
            raise ChannelError(
                "twilio: no sender number or messaging service", permanent=True, code="config"
            )
        if msg.status_callback:
            params["status_callback"] = msg.status_callback
        if msg.validity_seconds is not None:
            params["validity_period"] = max(
                VALIDITY_MIN, min(VALIDITY_MAX, int(msg.validity_seconds))
            )
        try:
            message = self._client.messages.create(**params)
        except Exception as exc:
            error = self._translate(exc)
            log.warning(
                "sms to %s failed: %s (ref=%s, permanent=%s)",
                mask_phone(msg.to),
                error,
                msg.reference,
                error.permanent,
            )
            raise error from None
        log.info(
            "sms to %s accepted as %s (ref=%s)", mask_phone(msg.to), message.sid, msg.reference
        )
        return SendResult(provider_id=str(message.sid), status=str(message.status or "queued"))

    def find_sent(self, to: str, since: datetime, body: str) -> SendResult | None:
        # No DateSent filter: a message still queued behind the sender's rate limit has
        # no date_sent, so Twilio's DateSent> filter would hide exactly the message we
        # are looking for. Newest first, so 20 covers any realistic patient.
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        cutoff = since - _CLOCK_SLACK
        wanted = _normalize(body)
        try:
            found = self._client.messages.list(to=to, limit=20)
        except Exception as exc:
            raise self._translate(exc) from None
        for message in found:
            created = message.date_created
            if isinstance(created, datetime) and created < cutoff:
                continue
            if _normalize(message.body or "") == wanted:
                return SendResult(provider_id=str(message.sid), status=str(message.status))
        return None

    def close(self) -> None:
        if self._http.session is not None:
            self._http.session.close()

    def _translate(self, exc: Exception) -> ChannelError:
        if isinstance(exc, TwilioRestException | TwilioServiceException):
            error = error_for_code(exc.code, http_status=exc.status)
            if exc.status == 429 or error.code == "20429":
                error.permanent = False
                error.in_doubt = False  # throttled requests were refused, not processed
                error.retry_after = _retry_after(self._http.last_headers())
            return error
        if isinstance(exc, requests.ConnectTimeout):
            return ChannelError("twilio: connect timeout", code="timeout")
        if isinstance(exc, requests.Timeout):
            return ChannelError("twilio: read timeout", code="timeout", in_doubt=True)
        if isinstance(exc, requests.ConnectionError):
            # Refused or unresolvable before anything was sent; anything else may have
            # dropped after Twilio read the request.
            reason = getattr(exc.args[0], "reason", None) if exc.args else None
            early = isinstance(reason, NewConnectionError)  # includes NameResolutionError
            return ChannelError("twilio: connection error", code="connection", in_doubt=not early)
        if isinstance(exc, requests.RequestException):
            return ChannelError(f"twilio: {type(exc).__name__}", code="http", in_doubt=True)
        if isinstance(exc, TwilioException):
            # e.g. a non-200 list page, which twilio-python raises without a code.
            return ChannelError(f"twilio: {type(exc).__name__}", code="api")
        raise exc


def _retry_after(headers: Mapping[str, str]) -> float | None:
    for key, value in headers.items():
        if key.lower() == "retry-after":
            try:
                return max(0.0, float(value))
            except ValueError:
                return None  # HTTP-date form; Twilio sends seconds, so don't guess
    return None


def _normalize(text: str) -> str:
    return " ".join(text.split())
