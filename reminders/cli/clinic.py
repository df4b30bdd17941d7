from __future__ import annotations

import argparse
import json

from reminders.clinics import service
from reminders.db import session_scope


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    clinic = sub.add_parser("clinic", help="clinics")
    clinic_sub = clinic.add_subparsers(dest="clinic_command", required=True)
    create = clinic_sub.add_parser("create", help="create a clinic; prints its id and API key")
    create.add_argument("--name", required=True)
    create.add_argument("--timezone", required=True, help="IANA zone, e.g. America/Chicago")
    create.add_argument("--sms-from", required=True, help="sender number, E.164")
    create.add_argument("--emergency-number", default="911")
    create.set_defaults(handler=_create)


def _create(args: argparse.Namespace) -> int:
    with session_scope() as session:
        new = service.create_clinic(
            session=session,
            name=args.name,
            timezone=args.timezone,
            sms_from=args.sms_from,
            emergency_number=args.emergency_number,
        )
        out = {"clinic_id": new.clinic.id, "name": new.clinic.name, "api_key": new.api_key}
    print(json.dumps(out))
    return 0
