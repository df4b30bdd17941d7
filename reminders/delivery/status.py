"""Delivery status from the provider (Twilio status callbacks) applied to our attempts.

Callbacks arrive late, twice, or out of order, so the status only ever moves forward:
sending < accepted < queued < sent < delivered | undelivered | failed, the last three
final. The move is one conditional UPDATE ("only from an earlier status"), so two
callbacks handled at the same moment cannot undo each other either.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from reminders.channels.twilio_sms import error_for_code
from reminders.delivery.models import SendAttempt

log = logging.getLogger(__name__)

# Twilio's own "sending" (handed to the carrier) ranks with ours (before the accept):
# a callback with it never moves an attempt we already know was accepted.
RANK: dict[str, int] = {
    "sending": 0,
    "accepted": 1,
    "scheduled": 1,
    "queued": 2,
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "canceled": 4,
}
WITH_ERROR = frozenset({"undelivered", "failed"})
Result = Literal["updated", "unchanged", "unknown_message", "unknown_status"]


def apply_status(
    *,
    session: Session,
    provider_id: str,
    status: str,
    error_code: str | None,
    now: datetime,
) -> Result:
    """Move the attempt with ``provider_id`` to ``status`` if that is a step forward.

    "updated" to ``undelivered``/``failed`` is the caller's cue to act on the failure
    (delivery.failures.after_report): retry, fall back, open a concern, escalate a page.
    """
    status = status.strip().lower()
    rank = RANK.get(status)
    if rank is None:
        # receiving/received/read...: not an outbound SMS life-cycle step we track.
        log.info("status callback for %s with untracked status %r", provider_id, status)
        return "unknown_status"
    values: dict[str, object] = {"status": status, "updated_at": now}
    if status in WITH_ERROR:
        code = (error_code or "").strip() or None
        values["error_code"] = code
        if code is not None:
            error = error_for_code(code)
            values["error_message"] = str(error)[:300]
            values["permanent"] = error.permanent
    earlier = [name for name, r in RANK.items() if r < rank]
    result = session.execute(
        update(SendAttempt)
        .where(SendAttempt.provider_id == provider_id, SendAttempt.status.in_(earlier))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount:  # type: ignore[attr-defined]
        return "updated"
    known = session.scalar(select(SendAttempt.id).where(SendAttempt.provider_id == provider_id))
    if known is None:
        # Not ours (another app on the account) or an attempt we never recorded as
        # accepted; answering 200 stops Twilio from reporting webhook errors for it.
        log.warning("status callback for unknown message %s (%s)", provider_id, status)
        return "unknown_message"
    return "unchanged"
