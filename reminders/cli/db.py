from __future__ import annotations

import argparse

from reminders import migrations
from reminders.config import get_settings
from reminders.db import get_engine


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    db = sub.add_parser("db", help="database migrations")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser("upgrade", help="apply every migration (safe to repeat)")
    up.add_argument("revision", nargs="?", default="heads")
    up.set_defaults(handler=_upgrade)


def _upgrade(args: argparse.Namespace) -> int:
    migrations.upgrade(get_engine(), args.revision)
    print(f"database at {_masked(get_settings().database_url)} is at {args.revision}")
    return 0


def _masked(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
