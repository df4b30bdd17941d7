"""Staff pages in the pipeline: a page never goes out after its concern was acknowledged.

The provider call for a page is made while holding a share lock on the concern row
(``SELECT … FOR SHARE``; SQLite's single writer does the same). Acknowledging updates
that row, so it waits for a page already in flight, and every page not yet in flight
finds the concern acknowledged: after the acknowledgement commits, no page is sent.

Holding a transaction across a provider call is what the rest of the pipeline avoids;
pages are few (a handful per concern) and this is the one guarantee that needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from reminders.channels.base import ChannelError, SendResult
from reminders.conversations.models import Concern, StaffAlert
from reminders.delivery.prepare import Ready

ACKNOWLEDGED = "acknowledged"
SessionFactory = Callable[[], AbstractContextManager[Session]]


def unless_acknowledged(
    item: Ready, send: Callable[[], SendResult | ChannelError], sessions: SessionFactory
) -> SendResult | ChannelError:
    """``send()`` (the pipeline's provider call) while the page's concern is still open,
    holding the share lock on its row until the provider has answered."""
    with sessions() as session:
        status = session.scalar(
            select(Concern.status).where(Concern.id == item.concern_id).with_for_update(read=True)
        )
        if status != "open":
            return ChannelError("concern acknowledged before the page went out",
                                permanent=True, code=ACKNOWLEDGED)  # fmt: skip
        return send()


def mark_pages_sent(session: Session, message_ids: list[int], now: datetime) -> None:
    """The pages' alert rows follow their messages (the concern page reads them)."""
    session.execute(
        update(StaffAlert).where(StaffAlert.message_id.in_(message_ids))
        .values(status="sent", sent_at=now).execution_options(synchronize_session=False)
    )  # fmt: skip
