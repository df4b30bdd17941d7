from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime

from reminders import rendering
from reminders.enrollments.schemas import InputError, require_aware
from reminders.protocols.check import check_all
from reminders.protocols.loader import load_protocols, template_dirs
from reminders.protocols.preview import SamplePatient, preview
from reminders.protocols.spec import SpecError, parse_time
from reminders.scheduling import SendWindow, validate_zone


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    protocols = sub.add_parser("protocols", help="check and preview protocols")
    p_sub = protocols.add_subparsers(dest="protocols_command", required=True)
    check = p_sub.add_parser("check", help="validate every protocol and template")
    check.set_defaults(handler=_check)

    preview = p_sub.add_parser("preview", help="print a protocol's timeline with rendered texts")
    preview.add_argument("protocol")
    preview.add_argument("--performed-at", required=True, help="ISO-8601 with offset")
    preview.add_argument("--tz", required=True, help="the patient's IANA time zone")
    preview.add_argument("--diabetic", action="store_true")
    preview.add_argument("--diagnostic", action="store_true")
    preview.add_argument("--follow-up-at", help="ISO-8601 with offset")
    preview.add_argument("--lang", default="en", choices=("en", "es"))
    preview.add_argument("--channel", default="sms", choices=("sms", "email"))
    preview.add_argument("--window", default="08:00-20:00", help="send window, local HH:MM-HH:MM")
    preview.add_argument("--name", default="Alex", help="sample first name")
    preview.add_argument("--clinic-name", default="Riverside Ortho")
    preview.add_argument("--json", action="store_true", help="one JSON object per message")
    preview.set_defaults(handler=_preview)


def _check(args: argparse.Namespace) -> int:
    problems = check_all(template_dirs())
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 1
    count = len(load_protocols(template_dirs()))
    print(f"ok: {count} protocols, every template renders in en and es within 3 SMS segments")
    return 0


def _datetime(value: str, field: str) -> datetime:
    try:
        return require_aware(datetime.fromisoformat(value), field)
    except ValueError as exc:
        raise InputError([(field, str(exc))]) from None


def _preview(args: argparse.Namespace) -> int:
    performed_at = _datetime(args.performed_at, "performed_at")
    follow_up_at = _datetime(args.follow_up_at, "follow_up_at") if args.follow_up_at else None
    try:
        tz = validate_zone(args.tz)
    except ValueError as exc:
        raise InputError([("tz", str(exc))]) from None
    try:
        opens, closes = (parse_time(part) for part in args.window.split("-", 1))
    except (ValueError, SpecError):
        raise InputError([("window", "use local HH:MM-HH:MM, e.g. 08:00-20:00")]) from None
    dirs = template_dirs()
    protocols = load_protocols(dirs)
    if args.protocol not in protocols:
        known = ", ".join(sorted(protocols))
        raise InputError([("protocol", f"unknown protocol {args.protocol!r}; known: {known}")])
    protocol = protocols[args.protocol]
    sample = SamplePatient(
        performed_at=performed_at, tz=tz, lang=args.lang, diabetic=args.diabetic,
        diagnostic=args.diagnostic, follow_up_at=follow_up_at, channel=args.channel,
        window=SendWindow(opens=opens, closes=closes), first_name=args.name,
        clinic_name=args.clinic_name,
    )  # fmt: skip
    rows = preview(protocol.steps, injectate=protocol.injectate,
                   sources=rendering.load_template_sources(dirs), sample=sample)  # fmt: skip
    for row in rows:
        if args.json:
            print(json.dumps(row.as_json(), ensure_ascii=False))
            continue
        moved = " (moved out of quiet hours)" if row.moved else ""
        print(f"{row.due_at:%a %d %b %H:%M %Z}  {row.step}#{row.occurrence}"
              f"  [{row.channel}, {row.segments} seg]{moved}")  # fmt: skip
        for line in (row.text or f"error: {row.error}").splitlines():
            print(f"    {line}")
        print()
    return 0

