"""``aftercare oncall set|show`` and ``aftercare escalation set``: the rota and the
escalation policies from a shell (the settings page does the same, and more).

Times are ISO-8601; one without an offset is read on the clinic's wall clock. Every
change is audited with actor ``cli``.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from reminders.clinics.models import Clinic, StaffMember
from reminders.clock import SystemClock
from reminders.db import session_scope
from reminders.enrollments.schemas import InputError
from reminders.oncall import policy, service

ACTOR = "cli"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    oncall = sub.add_parser("oncall", help="who is on call: show it, or set an override")
    oncall_sub = oncall.add_subparsers(dest="oncall_command", required=True)
    put = oncall_sub.add_parser("set", help="put someone on call (an override of the rota)")
    put.add_argument("--clinic", required=True, type=int, help="clinic id")
    put.add_argument("--primary", required=True, help="a staff member's email")
    put.add_argument("--backup", help="a staff member's email")
    put.add_argument("--from", dest="starts", help="ISO-8601; default now")
    put.add_argument("--until", dest="ends", help="ISO-8601; default open-ended")
    put.set_defaults(handler=_set)
    show = oncall_sub.add_parser("show", help="who is on call now, as JSON")
    show.add_argument("--clinic", required=True, type=int, help="clinic id")
    show.set_defaults(handler=_show)

    escalation = sub.add_parser("escalation", help="escalation policies")
    escalation_sub = escalation.add_subparsers(dest="escalation_command", required=True)
    esc = escalation_sub.add_parser(
        "set", help="primary → backup → clinicians → admins, each step waiting N minutes"
    )
    esc.add_argument("--clinic", required=True, type=int, help="clinic id")
    esc.add_argument("--severity", required=True, choices=policy.SEVERITIES)
    esc.add_argument("--wait-minutes", required=True, type=int, help="minutes per step, >= 1")
    esc.add_argument("--no-repeat", action="store_true", help="stop after the admins")
    esc.set_defaults(handler=_escalation)


def _clinic(session: Session, clinic_id: int) -> Clinic:
    clinic = session.get(Clinic, clinic_id)
    if clinic is None:
        raise InputError([("--clinic", f"no clinic with id {clinic_id}")])
    return clinic


def _when(text: str | None, option: str, zone: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError([(option, f"{text!r} is not an ISO-8601 date and time")]) from None
    return value if value.tzinfo else value.replace(tzinfo=ZoneInfo(zone))


def _options(exc: InputError) -> InputError:
    """The service names fields (primary, until); here they are options (--primary)."""
    return InputError([(f if f.startswith("--") else f"--{f}", m) for f, m in exc.errors])


def _person(member: StaffMember | None) -> dict[str, str | None] | None:
    return service.person_json(member)


def _set(args: argparse.Namespace) -> int:
    with session_scope() as session:
        clinic = _clinic(session, args.clinic)
        starts = _when(args.starts, "--from", clinic.timezone) or SystemClock().now()
        ends = _when(args.ends, "--until", clinic.timezone)
        try:
            shift = service.set_override(
                session=session, clinic=clinic, primary_email=args.primary,
                backup_email=args.backup, starts_at=starts, ends_at=ends, actor=ACTOR,
            )  # fmt: skip
        except InputError as exc:
            raise _options(exc) from None
        primary = session.get(StaffMember, shift.primary_staff_id)
        backup = session.get(StaffMember, shift.backup_staff_id) if shift.backup_staff_id else None
        out = {
            "id": shift.id, "clinic": clinic.id, "primary": _person(primary),
            "backup": _person(backup), "from": _iso(shift.starts_at), "until": _iso(shift.ends_at),
        }  # fmt: skip
    print(json.dumps(out))
    return 0


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def _show(args: argparse.Namespace) -> int:
    with session_scope() as session:
        clinic = _clinic(session, args.clinic)
        found = service.on_call(session=session, clinic=clinic, at=SystemClock().now())
        out = {"clinic": clinic.id, **service.on_call_json(found)}
    print(json.dumps(out))
    return 0


def _escalation(args: argparse.Namespace) -> int:
    if args.wait_minutes < 1 or args.wait_minutes > policy.MAX_WAIT_MINUTES:
        raise InputError([("--wait-minutes", f"must be between 1 and {policy.MAX_WAIT_MINUTES}")])
    ladder = policy.uniform(args.wait_minutes, repeat=not args.no_repeat, severity=args.severity)
    with session_scope() as session:
        clinic = _clinic(session, args.clinic)
        saved = policy.set_policy(session=session, clinic=clinic, severity=args.severity,
                                  steps=list(ladder.steps), repeat=ladder.repeat,
                                  actor=ACTOR)  # fmt: skip
        out = {"clinic": clinic.id, **policy.as_json(saved)}
    print(json.dumps(out))
    return 0
