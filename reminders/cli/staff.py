"""``aftercare staff create``: bootstrap the first admin (and any later staff) from a shell.

The password is read from stdin, never from an argument, so it stays out of shell
history and ``ps``.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys

from reminders.db import session_scope
from reminders.staff import service
from reminders.staff.service import ROLES


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    staff = sub.add_parser("staff", help="staff accounts for the web app")
    staff_sub = staff.add_subparsers(dest="staff_command", required=True)
    create = staff_sub.add_parser("create", help="create a staff member (password on stdin)")
    create.add_argument("--clinic", required=True, type=int, help="clinic id")
    create.add_argument("--email", required=True)
    create.add_argument("--role", required=True, choices=ROLES)
    create.add_argument("--name", default="")
    create.add_argument("--phone", help="E.164, for on-call alerts")
    create.set_defaults(handler=_create)


def _read_password() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("Password: ")
    return sys.stdin.readline().rstrip("\r\n")


def _create(args: argparse.Namespace) -> int:
    password = _read_password()
    with session_scope() as session:
        member = service.create_staff(
            session=session, clinic_id=args.clinic, email=args.email, role=args.role,
            password=password, name=args.name, phone=args.phone,
        )  # fmt: skip
        out = {"staff_id": member.id, "email": member.email, "role": member.role,
               "clinic_id": member.clinic_id}  # fmt: skip
    print(json.dumps(out))
    return 0
