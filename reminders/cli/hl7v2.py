"""``aftercare hl7 listen``: an MLLP listener for one clinic's HL7 v2 feeds.

Which clinic: ``--clinic ID``, required. One listener (one port) serves one clinic; an
interface engine routes each clinic's feed to its port. ``--facility NAME`` (repeatable)
also checks MSH-6 (receiving facility), so a feed routed to the wrong port is refused
(``AR``) instead of filing patients under the wrong clinic.

SIGTERM or SIGINT stops it gracefully: no new connections, a message being handled is
finished and acknowledged, then the process exits 0. One log line per message (type,
control id, acknowledgement, error locations; never patient data) goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys

from reminders.clinics.models import Clinic
from reminders.db import session_scope
from reminders.enrollments.schemas import InputError

DEFAULT_PORT = 2575  # IANA's port for HL7 over MLLP


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    hl7 = sub.add_parser("hl7", help="HL7 v2 interfaces (scheduling, registration, charges)")
    hl7_sub = hl7.add_subparsers(dest="hl7_command", required=True)
    listen = hl7_sub.add_parser(
        "listen", help="MLLP listener: SIU S12-S15/S26, ADT A04/A08, DFT P03 → ACK"
    )
    listen.add_argument("--host", default="127.0.0.1", help="address to bind")
    listen.add_argument("--port", type=int, default=DEFAULT_PORT, help="0 picks a free port")
    listen.add_argument("--clinic", required=True, type=int, help="clinic id the feed is for")
    listen.add_argument("--facility", action="append", default=[],
                        help="take only messages whose MSH-6 is this (repeatable)")  # fmt: skip
    listen.add_argument("--processing-id", default="P", choices=("P", "T", "D"),
                        help="MSH-11 taken: P (production, the default), T (training) "
                        "or D (debugging)")  # fmt: skip
    listen.add_argument("--max-bytes", type=int, default=1_000_000,
                        help="largest message accepted, in bytes")  # fmt: skip
    listen.set_defaults(handler=_listen)


def _listen(args: argparse.Namespace) -> int:
    from reminders.interop.hl7_in import Receiver
    from reminders.interop.mllp import MllpServer

    if not 0 <= args.port <= 65535:
        raise InputError([("--port", "must be between 0 and 65535")])
    if args.max_bytes < 1024:
        raise InputError([("--max-bytes", "must be at least 1024")])
    with session_scope() as session:
        clinic = session.get(Clinic, args.clinic)
        if clinic is None:
            raise InputError([("--clinic", f"no clinic with id {args.clinic}")])
        name = clinic.name
    logging.getLogger("reminders.interop").setLevel(logging.INFO)
    receiver = Receiver(clinic_id=args.clinic, facilities=frozenset(args.facility),
                        processing_id=args.processing_id)  # fmt: skip
    server = MllpServer(receiver.receive, host=args.host, port=args.port,
                        max_bytes=args.max_bytes)  # fmt: skip

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            host, port = await server.start()
        except OSError as exc:
            raise InputError([("--port", f"cannot listen on {args.host}:{args.port} "
                                         f"({exc.strerror or exc})")]) from None  # fmt: skip
        print(f"aftercare: HL7 v2 MLLP listener on {host}:{port} for clinic {args.clinic} "
              f"({name})", file=sys.stderr, flush=True)  # fmt: skip
        await server.serve_until(stop)
        print("aftercare: HL7 listener stopped", file=sys.stderr, flush=True)

    asyncio.run(main())
    return 0
