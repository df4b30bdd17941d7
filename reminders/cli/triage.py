from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    triage = sub.add_parser(
        "triage", help="triage replies: JSON Lines on stdin, one JSON result per line on stdout"
    )
    triage.set_defaults(handler=_triage)


def _triage(args: argparse.Namespace) -> int:
    from reminders.triage.cli import run

    return run(sys.stdin, sys.stdout)
