"""``aftercare instruments``: PROM instruments for a clinic (reminders/outcomes/).

``load FILE --clinic ID`` checks an instrument file (the same checks as the built-in
ones) and stores it for that clinic: an instrument the clinic holds a licence for, or a
corrected copy of a built-in one (same key). ``use KEY --clinic ID`` switches invitations
on (``--follow-up-weeks``, default 6) or off (``--off``). Both are audited.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml
from sqlalchemy import select

from reminders import audit
from reminders.clinics.models import Clinic
from reminders.db import session_scope, utcnow
from reminders.outcomes.instruments import InstrumentError, built_in, parse
from reminders.outcomes.prom_models import DEFAULT_FOLLOW_UP_DAYS, ClinicInstrument


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    group = sub.add_parser("instruments", help="PROM instruments (HOOS JR) for a clinic")
    commands = group.add_subparsers(dest="instruments_command", required=True)
    load = commands.add_parser("load", help="check an instrument file and store it for a clinic")
    load.add_argument("file", type=Path)
    load.add_argument("--clinic", type=int, required=True)
    load.set_defaults(handler=_load)
    use = commands.add_parser("use", help="send an instrument's links to new enrolments, or stop")
    use.add_argument("key", help="instrument key, e.g. hoos_jr")
    use.add_argument("--clinic", type=int, required=True)
    use.add_argument("--follow-up-weeks", type=int, default=DEFAULT_FOLLOW_UP_DAYS // 7)
    use.add_argument("--off", action="store_true", help="stop sending its links")
    use.set_defaults(handler=_use)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _row(session, clinic_id: int, key: str) -> ClinicInstrument:  # type: ignore[no-untyped-def]
    row = session.scalar(select(ClinicInstrument).where(
        ClinicInstrument.clinic_id == clinic_id, ClinicInstrument.key == key))  # fmt: skip
    if row is None:
        row = ClinicInstrument(clinic_id=clinic_id, key=key, enabled=False,
                               follow_up_days=DEFAULT_FOLLOW_UP_DAYS)  # fmt: skip
        session.add(row)
    return row


def _load(args: argparse.Namespace) -> int:
    try:
        text = args.file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return _fail(f"{args.file}: cannot be read as UTF-8 text")
    try:
        data = yaml.safe_load(text)
        instrument = parse(data, name=args.file.name)
    except yaml.YAMLError:
        return _fail(f"{args.file.name}: not readable as YAML")
    except InstrumentError as exc:
        return _fail(str(exc))
    with session_scope() as session:
        if session.get(Clinic, args.clinic) is None:
            return _fail(f"no clinic {args.clinic}")
        row = _row(session, args.clinic, instrument.key)
        row.definition = data
        row.updated_at = utcnow()
        session.flush()
        audit.record(session=session, clinic_id=args.clinic, actor="cli",
                     action="instrument.loaded", subject_type="instrument", subject_id=row.id,
                     key=instrument.key, version=instrument.version,
                     verified=instrument.verified)  # fmt: skip
    state = "verified table" if instrument.verified else "table NOT verified: scores provisional"
    print(f"loaded {instrument.key} {instrument.version} for clinic {args.clinic} ({state})")
    return 0


def _use(args: argparse.Namespace) -> int:
    if not 1 <= args.follow_up_weeks <= 104:
        return _fail("--follow-up-weeks must be from 1 to 104")
    with session_scope() as session:
        if session.get(Clinic, args.clinic) is None:
            return _fail(f"no clinic {args.clinic}")
        existing = session.scalar(
            select(ClinicInstrument.definition).where(
                ClinicInstrument.clinic_id == args.clinic, ClinicInstrument.key == args.key
            )
        )
        if existing is None:
            try:
                built_in(args.key)
            except InstrumentError:  # checked before any row is written: nothing half-saved
                return _fail(f"no instrument {args.key!r}: load its file first")
        row = _row(session, args.clinic, args.key)
        row.enabled = not args.off
        row.follow_up_days = args.follow_up_weeks * 7
        row.updated_at = utcnow()
        session.flush()
        audit.record(session=session, clinic_id=args.clinic, actor="cli",
                     action="instrument.settings", subject_type="instrument", subject_id=row.id,
                     key=args.key, enabled=row.enabled,
                     follow_up_days=row.follow_up_days)  # fmt: skip
    print(f"{args.key} for clinic {args.clinic}: " + (
        "off" if args.off else f"baseline at enrolment, follow-up {args.follow_up_weeks} weeks "
        "after the procedure"))  # fmt: skip
    return 0
