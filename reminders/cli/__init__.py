"""The ``aftercare`` command. Sub-commands live in small modules beside this one.

Bad input ends with a one-line (or one line per problem) message naming the field and
exit status 2; a stack trace here is a bug.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from reminders.config import ConfigError
from reminders.enrollments.schemas import InputError
from reminders.protocols.loader import ProtocolError
from reminders.protocols.spec import SpecError

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    from reminders.cli import (
        clinic,
        db,
        enroll,
        healthcheck,
        hl7v2,
        instruments,
        oncall,
        protocols,
        run,
        staff,
        triage,
    )

    parser = argparse.ArgumentParser(prog="aftercare", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (db, clinic, enroll, protocols, run, triage, staff, oncall, healthcheck, hl7v2,
                   instruments):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "passthrough", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    handler: Handler = args.handler
    try:
        return handler(args)
    except InputError as exc:
        for field, message in exc.errors:
            print(f"error: {field}: {message}", file=sys.stderr)
        return 2
    except (ProtocolError, SpecError) as exc:
        problems = getattr(exc, "problems", None) or [exc]
        for problem in problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
