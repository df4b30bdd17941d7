"""Turning a worrying message into a concern, and paging staff when it is urgent.

Routine concerns wait in the clinic's queue and page no one; urgent and emergency ones
page the on-call staff at once. One problem is one concern: a patient who texts three
times about the same fever gets one concern with three messages, not three pages, while
a bleed reported in the middle of it opens its own.

"The same problem" — the rule a new message is matched by:

* the same patient (or, for a number we do not know, the same sender), and
* a concern of theirs that is not resolved (acknowledged ones count: a nurse is already
  on it), and
* either the message and the concern share a category that names a problem (anything
  but the catch-alls in ``GENERIC``: "other", "question", ...), or the message names no
  problem at all and the concern is of the same kind (reply, unclear, no_response,
  delivery, unknown_sender, ...). For a message naming no problem: a routine follow-up
  ("hello??", "any news?") joins the latest such concern whatever it is about, since it
  adds nothing new; an urgent one (a bare HELP, a message triage could not read) joins
  only a concern that names no problem either, so a plea is never swallowed by a case
  about something else.

Joining a concern records the message on it (InboundMessage.concern_id), unions the
categories and appends the new summary (within its 300 characters). A message more
severe than its concern raises it: an acknowledged concern goes back to "open" (the
acknowledgement stays in the audit trail and on the row) because the situation
changed, and an urgent or emergency raise restarts paging at the new level.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders import audit
from reminders.clinics.models import Clinic
from reminders.conversations.alerts import page
from reminders.conversations.concerns import open_concern
from reminders.conversations.models import Concern, InboundMessage, StaffAlert
from reminders.conversations.reading import rank
from reminders.interop import push as fhir_push

PAGING = ("urgent", "emergency")
# Triage categories that say what kind of message it is, not what is wrong.
GENERIC = frozenset({"other", "question", "acknowledgement", "reschedule", "opt_out"})
SUMMARY_MAX = 300


def raise_concern(
    *,
    session: Session,
    clinic: Clinic,
    severity: str,
    kind: str,
    summary: str,
    now: datetime,
    categories: list[str] | None = None,
    patient_id: int | None = None,
    enrollment_id: int | None = None,
    inbound: InboundMessage | None = None,
    dedupe: bool = True,
) -> tuple[Concern | None, list[StaffAlert]]:
    """Join the open concern about the same problem (raising it if this is worse), or open
    a new one; page for urgent and emergency. Returns the concern and any new pages.

    ``dedupe=False`` always opens a new concern (the no-response job keeps one per
    unanswered question).
    """
    categories = list(categories or [])
    existing = (
        same_problem(session=session, clinic_id=clinic.id, kind=kind, severity=severity,
                     categories=categories, patient_id=patient_id, inbound=inbound)
        if dedupe else None
    )  # fmt: skip
    if existing is not None:
        return existing, _join(session, clinic, existing, severity, categories, summary, now,
                               inbound)  # fmt: skip
    concern = open_concern(
        session=session, clinic=clinic, severity=severity, kind=kind, summary=summary,
        now=now, categories=categories, patient_id=patient_id, enrollment_id=enrollment_id,
        inbound_id=inbound.id if inbound is not None else None,
    )  # fmt: skip
    if inbound is not None:
        inbound.concern_id = concern.id
    alerts = []
    if severity in PAGING:
        alerts = page(session=session, concern=concern, clinic=clinic, now=now)
    return concern, alerts


def problems(categories: Collection[str]) -> set[str]:
    """The categories that name a problem (a fever, a bleed), without the catch-alls."""
    return set(categories) - GENERIC


def same_problem(
    *, session: Session, clinic_id: int, kind: str, severity: str, categories: Collection[str],
    patient_id: int | None, inbound: InboundMessage | None,
) -> Concern | None:  # fmt: skip
    """The unresolved concern this message is about, by the rule in the module docstring.

    The one found is locked and re-read (FOR UPDATE on PostgreSQL), so a raise and a
    nurse's acknowledgement of the same concern happen one after the other, and one
    resolved in the meantime is not joined.
    """
    query = select(Concern).where(Concern.clinic_id == clinic_id, Concern.status != "resolved")
    if patient_id is not None:
        query = query.where(Concern.patient_id == patient_id)
    elif inbound is not None:  # an unknown sender: the same number
        query = query.join(InboundMessage, InboundMessage.id == Concern.inbound_id).where(
            Concern.patient_id.is_(None), InboundMessage.sender == inbound.sender
        )
    else:
        return None
    named = problems(categories)
    for concern in session.scalars(query.order_by(Concern.id.desc())):
        theirs = problems(concern.categories or [])
        if named:
            if named & theirs:
                return _locked(session, concern.id)
        elif concern.kind == kind and (rank(severity) < rank("urgent") or not theirs):
            return _locked(session, concern.id)
    return None


def _locked(session: Session, concern_id: int) -> Concern | None:
    return session.scalars(
        select(Concern).where(Concern.id == concern_id, Concern.status != "resolved")
        .with_for_update().execution_options(populate_existing=True)
    ).first()  # fmt: skip


def _join(
    session: Session, clinic: Clinic, concern: Concern, severity: str, categories: list[str],
    summary: str, now: datetime, inbound: InboundMessage | None,
) -> list[StaffAlert]:  # fmt: skip
    if inbound is not None:
        inbound.concern_id = concern.id
    known = list(concern.categories or [])
    # A new list, not an in-place append: the JSON column only notices reassignment.
    concern.categories = known + [c for c in categories if c not in known]
    if summary and summary not in concern.summary:
        concern.summary = f"{concern.summary}; {summary}"[:SUMMARY_MAX]
    before, was = concern.severity, concern.status
    raised = rank(severity) > rank(before)
    if raised:
        concern.severity = severity
        if concern.status == "acknowledged":
            # The situation changed: page again. acknowledged_by/_at stay as the record
            # of who had it (and the audit trail has the acknowledgement).
            concern.status = "open"
    details: dict[str, Any] = {"inbound_id": inbound.id if inbound is not None else None,
                               "severity": concern.severity}  # fmt: skip
    if raised:
        details |= {"from_severity": before, "from_status": was}
    audit.record(session=session, clinic_id=concern.clinic_id, actor="system",
                 action="concern.raise" if raised else "concern.join", subject_type="concern",
                 subject_id=concern.id, **details)  # fmt: skip
    session.flush()
    fhir_push.concern_changed(session=session, concern=concern, now=now)  # the chart's Flag/Task
    if raised and severity in PAGING:
        return page(session=session, concern=concern, clinic=clinic, now=now)
    return []
