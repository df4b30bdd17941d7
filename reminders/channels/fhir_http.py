"""The FHIR "channel": one HTTP request to a clinic's FHIR server per pushed resource.

It sits behind the same :class:`Channel` interface as SMS and email, so a push is
claimed, has its attempt row written before the call, is retried with back-off and
reconciled exactly like a text. What to send is resolved when it is sent (``resolve``:
the message id and the resource key it carries → method, URL, token and body), so a
push always carries the resource as it stands and the token never sits in a message row.

Every request is conditional — a create with ``If-None-Exist`` on our identifier, or a
conditional update (``PUT Task?identifier=…``) — so sending one again (a timeout the
server had in fact answered) changes nothing at the server: ``find_sent`` need not ask,
and an attempt in doubt is simply sent again.

Errors: 408, 429 and 5xx are transient (5xx and a dropped connection "in doubt"); any
other 4xx is permanent (a bad token, a resource the server refuses): not retried, the
message fails with the status code, and the clinic's endpoint status shows it.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from reminders.channels.base import Channel, ChannelError, Outbound, SendResult

FHIR_JSON = "application/fhir+json"


@dataclass(frozen=True)
class PushRequest:
    method: str  # POST | PUT
    url: str
    token: str
    body: dict[str, Any]
    if_none_exist: str | None = None  # "identifier=system|value" for a conditional create

    def __repr__(self) -> str:  # the token and the resource stay out of logs
        return f"PushRequest({self.method} {self.url.split('?', 1)[0]})"


Resolve = Callable[[int, str], PushRequest]


class FhirHttp(Channel):
    name = "fhir"

    def __init__(self, resolve: Resolve, *, timeout: float = 10.0) -> None:
        self._resolve = resolve
        self._timeout = timeout
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def _http(self) -> httpx.Client:
        with self._lock:  # built on first use: after a worker process forks
            if self._client is None:
                self._client = httpx.Client(timeout=self._timeout, follow_redirects=False)
            return self._client

    def send(self, msg: Outbound) -> SendResult:
        request = self._resolve(int(msg.reference), msg.body)
        headers = {"Authorization": f"Bearer {request.token}", "Content-Type": FHIR_JSON,
                   "Accept": FHIR_JSON}  # fmt: skip
        if request.if_none_exist:
            headers["If-None-Exist"] = request.if_none_exist
        try:
            response = self._http().request(request.method, request.url, json=request.body,
                                            headers=headers)  # fmt: skip
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            # Never reached the server: plainly transient.
            raise ChannelError(f"FHIR server unreachable ({type(exc).__name__})",
                               code="connect") from None  # fmt: skip
        except httpx.HTTPError as exc:
            raise ChannelError(f"FHIR request failed ({type(exc).__name__})", code="transport",
                               in_doubt=True) from None  # fmt: skip
        status = response.status_code
        if 200 <= status < 300:
            where = response.headers.get("Location") or response.headers.get("Content-Location")
            # Unique per attempt (send_attempts.provider_id is unique); the server's id
            # for the resource follows, when it gave one.
            ident = f"fhir:{msg.reference}:{uuid.uuid4().hex[:8]}:{where or status}"
            return SendResult(provider_id=ident[:100], status="created" if status == 201 else "ok")
        what = _issue_code(response)
        message = f"FHIR server answered {status}" + (f" ({what})" if what else "")
        if status == 429:
            raise ChannelError(message, code="429", retry_after=_retry_after(response))
        if status == 408 or status >= 500:
            raise ChannelError(message, code=str(status), in_doubt=status >= 500,
                               retry_after=_retry_after(response))  # fmt: skip
        raise ChannelError(message, code=str(status), permanent=True)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _issue_code(response: httpx.Response) -> str | None:
    """The first OperationOutcome issue code ("invalid", "security"), never its text:
    a server's diagnostics may quote the resource back."""
    try:
        data = response.json()
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("resourceType") != "OperationOutcome":
        return None
    issues = data.get("issue") or []
    code = issues[0].get("code") if issues and isinstance(issues[0], dict) else None
    return str(code)[:40] if code else None
