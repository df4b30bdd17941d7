"""/api/v1/concerns: the inbox for other tools (an EHR task list, a pager bridge).
Acknowledge and resolve go through reminders.conversations.concerns, which audits them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query

from reminders import inbox
from reminders.conversations.concerns import ConcernStateError, acknowledge, resolve
from reminders.conversations.models import Concern
from reminders.conversations.pages_view import pages_of
from reminders.enrollments.service import NotFound
from reminders.inbox import InboxItem
from reminders.web.api.schemas import (
    ConcernDetailOut,
    ConcernOut,
    PageOut,
    ReplySummary,
    ResolveIn,
)
from reminders.web.deps import ApiClinic, ClockDep, SessionDep

router = APIRouter(prefix="/concerns", tags=["concerns"])
ConcernId = Annotated[int, Path(ge=1, le=2**31 - 1, description="Concern id")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such concern in this clinic"}
}
Status = Literal["open", "acknowledged", "resolved", "unresolved", "all"]
_STATUSES: dict[str, tuple[str, ...]] = {
    "open": ("open",), "acknowledged": ("acknowledged",), "resolved": ("resolved",),
    "unresolved": inbox.UNRESOLVED, "all": inbox.STATUSES,
}  # fmt: skip


def concern_out(item: InboxItem) -> ConcernOut:
    c, reply = item.concern, item.reply
    return ConcernOut(
        id=c.id, severity=c.severity, categories=list(c.categories or []), kind=c.kind,
        status=c.status, summary=c.summary, patient_id=c.patient_id,
        patient_first_name=item.patient.given_name if item.patient else None,
        enrollment_id=c.enrollment_id, created_at=c.created_at,
        acknowledged_at=c.acknowledged_at, acknowledged_by=c.acknowledged_by,
        resolved_at=c.resolved_at, resolution_note=c.resolution_note,
        reply=ReplySummary(body=reply.body, parsed=dict(reply.parsed or {}),
                           received_at=reply.received_at) if reply else None,
    )  # fmt: skip


def _get(session: SessionDep, clinic_id: int, concern_id: int) -> Concern:
    try:
        return inbox.get_concern(session=session, clinic_id=clinic_id, concern_id=concern_id)
    except NotFound:
        raise HTTPException(404, "concern not found") from None


@router.get("", response_model=list[ConcernOut])
def list_concerns(
    clinic: ApiClinic,
    session: SessionDep,
    status: Annotated[Status, Query(description="Which concerns; default open")] = "open",
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> list[ConcernOut]:
    """Concerns, most severe first, then oldest first (resolved: newest first)."""
    items = inbox.concerns(session=session, clinic_id=clinic.id, statuses=_STATUSES[status],
                           limit=limit)  # fmt: skip
    return [concern_out(i) for i in items]


@router.get("/{concern_id}", response_model=ConcernDetailOut, responses=NOT_FOUND)
def get_concern(concern_id: ConcernId, clinic: ApiClinic, session: SessionDep) -> ConcernDetailOut:
    """One concern with its pages: who was paged, how, at which step, and whether it
    arrived."""
    concern = _get(session, clinic.id, concern_id)
    pages = [PageOut(recipient=p.recipient, channel=p.channel, level=p.level, status=p.status,
                     sent_at=p.sent_at)
             for p in pages_of(session=session, concern=concern)]  # fmt: skip
    out = concern_out(inbox.item(session=session, concern=concern))
    return ConcernDetailOut(**out.model_dump(), pages=pages)


@router.post("/{concern_id}/acknowledge", response_model=ConcernOut, responses=NOT_FOUND)
def acknowledge_concern(concern_id: ConcernId, clinic: ApiClinic, session: SessionDep,
                        clock: ClockDep) -> ConcernOut:  # fmt: skip
    """Stop escalation: someone is on it. Acknowledging twice is harmless."""
    concern = _get(session, clinic.id, concern_id)
    acknowledge(session=session, concern=concern, staff_id=None, now=clock.now(), via="api")
    return concern_out(inbox.item(session=session, concern=concern))


@router.post(
    "/{concern_id}/resolve",
    response_model=ConcernOut,
    responses={**NOT_FOUND, 409: {"description": "Already resolved"}},
)
def resolve_concern(concern_id: ConcernId, body: ResolveIn, clinic: ApiClinic,
                    session: SessionDep, clock: ClockDep) -> ConcernOut:  # fmt: skip
    """Close the concern with a note (acknowledging it first if nobody had)."""
    concern = _get(session, clinic.id, concern_id)
    try:
        resolve(session=session, concern=concern, staff_id=None, now=clock.now(),
                note=body.note, via="api")  # fmt: skip
    except ConcernStateError as exc:
        raise HTTPException(409, str(exc)) from None
    return concern_out(inbox.item(session=session, concern=concern))
