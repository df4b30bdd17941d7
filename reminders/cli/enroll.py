from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from reminders.clinics.service import get_clinic
from reminders.clock import SystemClock
from reminders.db import session_scope
from reminders.enrollments import importer, service
from reminders.enrollments.schemas import InputError, parse_enrollment


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    one = sub.add_parser("enroll", help="enroll one patient")
    one.add_argument("--clinic", type=int, required=True)
    one.add_argument("--given-name", required=True)
    one.add_argument("--family-name")
    one.add_argument("--external-id")
    one.add_argument("--phone")
    one.add_argument("--email")
    one.add_argument("--timezone", required=True)
    one.add_argument("--language", default="en")
    one.add_argument("--conditions", default="", help="comma-separated, e.g. diabetes")
    one.add_argument("--performed-at", required=True, help="ISO-8601 with offset")
    one.add_argument("--injectate", required=True)
    one.add_argument("--site", default="hip joint")
    one.add_argument("--side")
    one.add_argument("--diagnostic", action="store_true")
    one.add_argument("--follow-up-at")
    one.add_argument("--channel", default="sms")
    one.set_defaults(handler=_enroll)

    many = sub.add_parser("import", help="enroll patients from a CSV file (see docs)")
    many.add_argument("file", type=Path)
    many.add_argument("--clinic", type=int, required=True)
    many.add_argument("--all-or-nothing", action="store_true")
    many.set_defaults(handler=_import)


def _enroll(args: argparse.Namespace) -> int:
    patient = {
        "external_id": args.external_id,
        "given_name": args.given_name,
        "family_name": args.family_name,
        "phone": args.phone,
        "email": args.email,
        "timezone": args.timezone,
        "language": args.language,
        "conditions": [c for c in args.conditions.split(",") if c.strip()],
    }
    payload = {
        "patient": {k: v for k, v in patient.items() if v is not None},
        "procedure": {
            "performed_at": args.performed_at,
            "injectate": args.injectate,
            "site": args.site,
            "side": args.side,
            "diagnostic": args.diagnostic,
        },
        "channel": args.channel,
    }
    if args.follow_up_at:
        payload["follow_up_at"] = args.follow_up_at
    data = parse_enrollment(payload)
    with session_scope() as session:
        clinic = get_clinic(session=session, clinic_id=args.clinic)
        now = SystemClock().now()
        result = service.enroll(data, session=session, clinic=clinic, now=now, actor="cli")
        messages = service.messages_of(session=session, enrollment_id=result.enrollment.id)
        out = {
            "enrollment_id": result.enrollment.id,
            "created": result.created,
            "messages": [
                {
                    "step": m.step_key,
                    "occurrence": m.occurrence,
                    "due_at": m.due_at.isoformat(),
                    "channel": m.channel,
                    "status": m.status,
                    "reason": m.status_reason,
                }
                for m in messages
            ],
        }
    print(json.dumps(out, indent=2))
    return 0


def _import(args: argparse.Namespace) -> int:
    try:
        text = args.file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError([("file", f"cannot read {args.file}: {exc.__class__.__name__}")]) from None
    with session_scope() as session:
        clinic = get_clinic(session=session, clinic_id=args.clinic)
        report = importer.import_csv(
            text,
            session=session,
            clinic=clinic,
            now=SystemClock().now(),
            actor="cli",
            all_or_nothing=args.all_or_nothing,
        )
    for error in report.errors:
        print(f"error: {error}", file=sys.stderr)
    print(json.dumps(report.as_dict()))
    return 2 if report.errors else 0
