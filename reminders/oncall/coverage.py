"""A clinic with nobody on call is itself a concern.

Run periodically (reminders.conversations.jobs): for each clinic with nobody on call
right now, one open routine concern of kind ``no_on_call`` ("No one is on call") sits in
its inbox until someone is on call again, when the job resolves it with a note. Never a
second one while the first is unresolved; a concern a person resolved while the gap
lasts is followed by a new one on the next run (the gap is still there).

Each clinic is checked in a transaction of its own with the clinic row locked, so two
runners at once cannot both open one.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders.clinics.models import Clinic
from reminders.clock import Clock
from reminders.conversations.concerns import open_concern, resolve
from reminders.conversations.models import Concern
from reminders.delivery.send import SessionFactory
from reminders.oncall.service import on_call

log = logging.getLogger(__name__)
KIND = "no_on_call"
SUMMARY = "No one is on call"
RESOLVED_NOTE = "Someone is on call again (resolved automatically)."


def check_coverage(sessions: SessionFactory, clock: Clock) -> int:
    """Open or resolve the ``no_on_call`` concern of every clinic; returns how many it
    opened or resolved."""
    with sessions() as session:
        clinic_ids = list(session.scalars(select(Clinic.id).order_by(Clinic.id)))
    changed = 0
    for clinic_id in clinic_ids:
        with sessions() as session:
            changed += _check(session, clinic_id, clock)
    return changed


def _check(session: Session, clinic_id: int, clock: Clock) -> int:
    clinic = session.scalars(select(Clinic).where(Clinic.id == clinic_id).with_for_update()).one()
    now = clock.now()
    covered = on_call(session=session, clinic=clinic, at=now) is not None
    gap = session.scalars(
        select(Concern).where(
            Concern.clinic_id == clinic.id, Concern.kind == KIND, Concern.status != "resolved"
        ).order_by(Concern.id)
    ).first()  # fmt: skip
    if not covered and gap is None:
        open_concern(session=session, clinic=clinic, severity="routine", kind=KIND,
                     summary=SUMMARY, now=now)  # fmt: skip
        log.warning("clinic %s has nobody on call", clinic.id)
        return 1
    if covered and gap is not None:
        resolve(session=session, concern=gap, staff_id=None, now=now, note=RESOLVED_NOTE,
                via="system")  # fmt: skip
        return 1
    return 0
