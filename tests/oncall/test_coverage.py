"""A clinic with nobody on call gets one "No one is on call" concern in its inbox, and it
is resolved by itself once someone is on call again."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders import inbox
from reminders.clinics.models import Clinic, StaffMember
from reminders.clock import SimulatedClock
from reminders.conversations.models import Concern
from reminders.delivery.send import SessionFactory
from reminders.oncall import service
from reminders.oncall.coverage import check_coverage


def same(session: Session) -> SessionFactory:
    @contextmanager
    def scope() -> Iterator[Session]:
        yield session
        session.flush()

    return scope


def gaps(session: Session, clinic: Clinic) -> list[Concern]:
    return list(session.scalars(select(Concern).where(Concern.clinic_id == clinic.id,
                                                      Concern.kind == "no_on_call")))  # fmt: skip


def test_lakeside_without_a_rota_gets_one_concern_until_someone_is_on_call(
    session: Session, riverside: Clinic, lakeside: Clinic, clock: SimulatedClock
) -> None:
    sessions = same(session)
    assert check_coverage(sessions, clock) == 1  # Lakeside only: Olive covers Riverside
    assert check_coverage(sessions, clock) == 0  # never a second while one is open
    [gap] = gaps(session, lakeside)
    assert gap.summary == "No one is on call" and gap.severity == "routine"
    assert gap.status == "open" and gap.patient_id is None
    in_inbox = inbox.concerns(session=session, clinic_id=lakeside.id)
    assert [i.concern.id for i in in_inbox] == [gap.id]
    assert gaps(session, riverside) == []

    bob = StaffMember(clinic_id=lakeside.id, email="bob@lakeside.test", name="Bob", role="admin")
    session.add(bob)
    session.flush()
    service.set_override(session=session, clinic=lakeside, primary_email=bob.email,
                         starts_at=clock.now(), ends_at=None, actor="test")  # fmt: skip
    clock.advance(timedelta(minutes=1))
    assert check_coverage(sessions, clock) == 1
    session.refresh(gap)
    assert gap.status == "resolved" and gap.resolved_by is None
    assert gap.resolution_note and "on call again" in gap.resolution_note
    assert check_coverage(sessions, clock) == 0
