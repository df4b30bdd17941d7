"""Escalation policies: Riverside's defaults follow its acknowledgement windows; a policy
of its own is validated, stored and audited, and Lakeside keeps its defaults."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders.audit.models import AuditEvent
from reminders.clinics.models import Clinic
from reminders.enrollments.schemas import InputError
from reminders.oncall.policy import Step, policy_for, set_policy, uniform

MIN = timedelta(minutes=1)


def test_the_default_ladder_waits_the_clinics_ack_windows(
    session: Session, riverside: Clinic
) -> None:
    urgent = policy_for(session=session, clinic=riverside, severity="urgent")
    assert [s.target for s in urgent.steps] == ["primary", "backup", "clinicians", "admins"]
    assert {s.wait for s in urgent.steps} == {30 * MIN} and urgent.repeat
    emergency = policy_for(session=session, clinic=riverside, severity="emergency")
    assert {s.wait for s in emergency.steps} == {5 * MIN}
    assert uniform(7, repeat=False).steps[0] == Step("primary", 7 * MIN)


def test_a_policy_of_its_own_replaces_the_default_for_that_clinic_only(
    session: Session, riverside: Clinic, lakeside: Clinic
) -> None:
    steps = [Step("primary", 2 * MIN), Step("admins", 10 * MIN)]
    set_policy(session=session, clinic=riverside, severity="emergency", steps=steps,
               repeat=False, actor="test")  # fmt: skip
    saved = policy_for(session=session, clinic=riverside, severity="emergency")
    assert saved.steps == tuple(steps) and not saved.repeat
    set_policy(session=session, clinic=riverside, severity="emergency", steps=steps[:1],
               repeat=True, actor="test")  # fmt: skip
    assert policy_for(session=session, clinic=riverside, severity="emergency").steps == (steps[0],)
    assert len(policy_for(session=session, clinic=lakeside, severity="emergency").steps) == 4
    audited = session.scalars(select(AuditEvent).where(AuditEvent.action == "escalation.set"))
    assert len(audited.all()) == 2


def test_a_bad_policy_is_refused_naming_each_field(session: Session, riverside: Clinic) -> None:
    with pytest.raises(InputError) as refused:
        set_policy(session=session, clinic=riverside, severity="urgent",
                   steps=[Step("primary", 0 * MIN), Step("everyone", 5 * MIN)], repeat=True,
                   actor="test")  # fmt: skip
    assert dict(refused.value.errors) == {
        "steps.0.wait": "must be between 1 and 1440 minutes",
        "steps.1.target": "must be one of primary, backup, clinicians, admins",
    }
    with pytest.raises(InputError) as none:
        set_policy(session=session, clinic=riverside, severity="routine", steps=[], repeat=True,
                   actor="test")  # fmt: skip
    assert {f for f, _ in none.value.errors} == {"severity", "steps"}
    with pytest.raises(InputError):
        set_policy(session=session, clinic=riverside, severity="urgent",
                   steps=[Step("admins", MIN)] * 9, repeat=True, actor="test")  # fmt: skip
