"""Escalation policies: who is paged about an urgent or emergency concern, in what order,
and how long each step waits for an acknowledgement.

A clinic without a policy of its own for a severity gets the default: the primary on
call, then the backup, then every clinician, then the admins, each step waiting the
clinic's acknowledgement window for that severity (``urgent_ack_minutes`` /
``emergency_ack_minutes``), starting over after the admins until someone acknowledges.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders import audit
from reminders.clinics.models import Clinic
from reminders.enrollments.schemas import InputError
from reminders.oncall.models import EscalationPolicy

log = logging.getLogger(__name__)
TARGETS = ("primary", "backup", "clinicians", "admins")
SEVERITIES = ("urgent", "emergency")
MAX_STEPS = 8
MAX_WAIT_MINUTES = 1440  # a step that waits more than a day is a mistake, not a policy


@dataclass(frozen=True)
class Step:
    target: str  # primary | backup | clinicians | admins
    wait: timedelta


@dataclass(frozen=True)
class Policy:
    severity: str
    steps: tuple[Step, ...]
    repeat: bool


def uniform(wait_minutes: int, repeat: bool = True, severity: str = "urgent") -> Policy:
    """The four-step ladder (primary → backup → clinicians → admins), one wait for all."""
    wait = timedelta(minutes=wait_minutes)
    return Policy(severity=severity, steps=tuple(Step(t, wait) for t in TARGETS), repeat=repeat)


def default_policy(clinic: Clinic, severity: str) -> Policy:
    minutes = clinic.emergency_ack_minutes if severity == "emergency" else clinic.urgent_ack_minutes
    return uniform(minutes, repeat=True, severity=severity)


def policy_for(*, session: Session, clinic: Clinic, severity: str) -> Policy:
    """The clinic's policy for ``severity`` ("urgent" or "emergency"), else the default.

    A stored policy that no longer reads (edited by hand) falls back to the default, so
    a concern is always paged by somebody's rules rather than by none.
    """
    row = _row(session, clinic, severity)
    if row is None:
        return default_policy(clinic, severity)
    try:
        steps = _validate(severity, [_step(raw) for raw in row.steps or []])
    except (InputError, KeyError, TypeError, ValueError):
        log.warning("clinic %s: unreadable %s escalation policy; using the default",
                    clinic.id, severity)  # fmt: skip
        return default_policy(clinic, severity)
    return Policy(severity=severity, steps=tuple(steps), repeat=bool(row.repeat))


def is_custom(*, session: Session, clinic: Clinic, severity: str) -> bool:
    return _row(session, clinic, severity) is not None


def _row(session: Session, clinic: Clinic, severity: str) -> EscalationPolicy | None:
    return session.scalars(
        select(EscalationPolicy).where(
            EscalationPolicy.clinic_id == clinic.id, EscalationPolicy.severity == severity
        )
    ).first()


def _step(raw: dict[str, object]) -> Step:
    minutes = raw["wait_minutes"]
    if not isinstance(minutes, int | float) or isinstance(minutes, bool):
        raise TypeError("wait_minutes must be a number")
    return Step(target=str(raw["target"]), wait=timedelta(minutes=minutes))


def _validate(severity: str, steps: list[Step]) -> list[Step]:
    """The steps, or InputError naming each bad field (``steps.2.wait`` is the third
    step's wait)."""
    errors: list[tuple[str, str]] = []
    if severity not in SEVERITIES:
        errors.append(("severity", f"must be one of {', '.join(SEVERITIES)}"))
    if not 1 <= len(steps) <= MAX_STEPS:
        errors.append(("steps", f"must have between 1 and {MAX_STEPS} steps"))
    for i, step in enumerate(steps):
        if step.target not in TARGETS:
            errors.append((f"steps.{i}.target", f"must be one of {', '.join(TARGETS)}"))
        if not timedelta(minutes=1) <= step.wait <= timedelta(minutes=MAX_WAIT_MINUTES):
            errors.append((f"steps.{i}.wait", f"must be between 1 and {MAX_WAIT_MINUTES} minutes"))
    if errors:
        raise InputError(errors)
    return steps


def set_policy(
    *, session: Session, clinic: Clinic, severity: str, steps: list[Step], repeat: bool,
    actor: str, staff_id: int | None = None,
) -> Policy:  # fmt: skip
    """Save the clinic's policy for ``severity`` (replacing any earlier one), validated:
    1 to 8 steps, known targets, each waiting 1 minute to a day. Audited."""
    _validate(severity, steps)
    steps = [Step(s.target, timedelta(minutes=int(s.wait.total_seconds() // 60))) for s in steps]
    stored = [{"target": s.target, "wait_minutes": int(s.wait.total_seconds() // 60)}
              for s in steps]  # fmt: skip
    row = _row(session, clinic, severity)
    if row is None:
        row = EscalationPolicy(clinic_id=clinic.id, severity=severity)
        session.add(row)
    row.steps, row.repeat, row.updated_at = stored, repeat, datetime.now(UTC)
    session.flush()
    audit.record(session=session, clinic_id=clinic.id, actor=actor, staff_id=staff_id,
                 action="escalation.set", subject_type="escalation_policy", subject_id=row.id,
                 severity=severity, steps=stored, repeat=repeat)  # fmt: skip
    return Policy(severity=severity, steps=tuple(steps), repeat=repeat)


def as_json(policy: Policy) -> dict[str, object]:
    return {
        "severity": policy.severity, "repeat": policy.repeat,
        "steps": [{"target": s.target, "wait_minutes": int(s.wait.total_seconds() // 60)}
                  for s in policy.steps],
    }  # fmt: skip
