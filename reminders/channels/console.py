"""Print messages instead of sending them: the embedded demo and local development."""

from __future__ import annotations

import itertools
import sys
import threading
import uuid
from typing import ClassVar, Literal, TextIO

from reminders.channels.base import Channel, Outbound, SendResult, mask_address


class ConsoleChannel(Channel):
    """One readable line per message; bodies are shown because showing them is the point.

    ``outbox`` keeps every message handed over, for tests and the demo's own checks.
    """

    name: ClassVar[str] = "console"

    def __init__(
        self,
        kind: Literal["sms", "email"] = "sms",
        *,
        stream: TextIO | None = None,
        show_body: bool = True,
    ) -> None:
        self.kind = kind
        self.show_body = show_body
        self.outbox: list[Outbound] = []
        self._stream = stream
        self._counter = itertools.count(1)
        self._lock = threading.Lock()  # embedded mode sends from a thread pool

    def send(self, msg: Outbound) -> SendResult:
        if self.show_body:
            text = " ↵ ".join(msg.body.splitlines())
            if msg.subject:
                text = f"{msg.subject} — {text}"
        else:
            text = f"({len(msg.body)} characters)"
        with self._lock:
            # Unique across instances and restarts: provider ids are unique in the database.
            provider_id = f"console-{next(self._counter)}-{uuid.uuid4().hex[:12]}"
            self.outbox.append(msg)
            # Resolved per call so pytest's capsys/capfd replacement of sys.stdout is seen.
            stream = self._stream or sys.stdout
            stream.write(f"[{self.kind} → {mask_address(msg.to)}] {text}\n")
            stream.flush()
        return SendResult(provider_id=provider_id, status="sent")
