"""What every channel shares: the message we hand over, what comes back, and how it fails.

Channels know providers (Twilio, SMTP) and nothing of patients or protocols; the caller
decides what a failure means for the reminder from the flags on :class:`ChannelError`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class Outbound:
    """One message ready to go: rendered, addressed, and tied to our attempt id."""

    to: str
    body: str
    sender: str
    subject: str | None = None
    html: str | None = None
    reply_to: str | None = None
    status_callback: str | None = None
    validity_seconds: int | None = None
    reference: str = ""  # our attempt id; only ever used in logs
    # An iCalendar text (the follow-up visit invite) that email sends as a text/calendar
    # part; SMS and the console ignore it.
    calendar: str | None = None

    def __repr__(self) -> str:
        # Dataclass reprs end up in tracebacks and task logs; keep the patient out of them.
        return f"Outbound(to={mask_address(self.to)!r}, reference={self.reference!r})"


@dataclass(frozen=True, slots=True)
class SendResult:
    provider_id: str
    status: str  # as the provider reports it: queued, accepted, sent...


class ChannelError(Exception):
    """A send that did not happen (or might not have).

    ``permanent``: retrying the same message to the same address cannot succeed.
    ``limited_retries``: transient, but only worth a few more tries (Twilio 30003/30008).
    ``opts_out``: the recipient unsubscribed at the provider; mark the patient opted out.
    ``in_doubt``: the request may have reached the provider before it failed (read
    timeout, dropped connection, 5xx); reconcile with :meth:`Channel.find_sent` before
    sending again, or the patient may get the message twice.

    The message must never carry a phone number, an address or a body.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        code: str | None = None,
        retry_after: float | None = None,
        opts_out: bool = False,
        limited_retries: int | None = None,
        in_doubt: bool = False,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.code = code
        self.retry_after = retry_after
        self.opts_out = opts_out
        self.limited_retries = limited_retries
        self.in_doubt = in_doubt

    @property
    def transient(self) -> bool:
        return not self.permanent


class Channel(ABC):
    name: ClassVar[str]

    @abstractmethod
    def send(self, msg: Outbound) -> SendResult:
        """Hand the message to the provider; raise :class:`ChannelError` if it refuses."""

    def find_sent(self, to: str, since: datetime, body: str) -> SendResult | None:
        """Look up a message the provider may already have accepted.

        Used for an attempt in doubt (we crashed or timed out between the provider's
        accept and our commit). ``None`` means "the provider cannot tell", which is all
        SMTP and the console can say; the caller then chooses between a duplicate and a
        possibly missed message.
        """
        return None

    def close(self) -> None:  # noqa: B027 - optional hook, most channels hold nothing
        """Release pooled connections; the channel must not be used afterwards."""


def mask_phone(e164: str) -> str:
    """``+12025550123`` → ``+1******0123``: enough to tell numbers apart in a log."""
    digits = [c for c in e164 if c.isdigit()]
    if len(digits) < 7:
        return "***"
    plus = "+" if e164.lstrip().startswith("+") else ""
    return plus + digits[0] + "*" * (len(digits) - 5) + "".join(digits[-4:])


def mask_email(address: str) -> str:
    """``alice@example.org`` → ``a***@example.org``; the domain helps debug delivery."""
    local, at, domain = address.strip().rpartition("@")
    if not at or not local:
        return "***"
    return f"{local[0]}***@{domain}"


def mask_address(address: str) -> str:
    """Mask whichever kind of address this is."""
    return mask_email(address) if "@" in address else mask_phone(address)
