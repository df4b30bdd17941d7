"""`aftercare demo`: a diabetic corticosteroid patient's whole timeline in under a minute.

Alice's replies (reminders/demo_replies.py) show triage, a concern, the page to the
on-call nurse, escalation and the nurse's acknowledgement.

Nothing here is a demo-only path through the product: the clinic is created, the
patient enrolled, and every message claimed, re-checked, rendered and sent by the same
services production uses. Only two things are swapped, as in the tests: the clock is
simulated (it jumps to the next due message), and the channels print to the terminal.
"""

from __future__ import annotations

import io
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from reminders import migrations
from reminders.channels.base import Outbound
from reminders.channels.console import ConsoleChannel
from reminders.clinics.models import StaffMember
from reminders.clinics.service import create_clinic
from reminders.clock import SimulatedClock
from reminders.config import Settings
from reminders.conversations.escalation import escalate_due
from reminders.db import make_engine
from reminders.delivery.engine import EmbeddedRunner
from reminders.delivery.factory import build_sender
from reminders.delivery.ratelimit import NoLimit
from reminders.demo_replies import DemoConversation
from reminders.enrollments import service as enrollments
from reminders.enrollments.models import NOTICE, PAGE, PENDING, REPLY, ScheduledMessage
from reminders.enrollments.schemas import parse_enrollment
from reminders.oncall.models import WEEKDAYS, OnCallShift

TZ = ZoneInfo("America/Chicago")


def run_demo(*, speed: float = 1.0, lang: str = "en", out: io.TextIOBase | None = None) -> int:
    write = (out or sys.stdout).write
    path = Path(os.environ.get("AFTERCARE_DEMO_DB", "var/demo.sqlite3"))
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    settings = Settings(database_url=f"sqlite:///{path}", claim_lease_seconds=60)
    engine = make_engine(settings.database_url)
    migrations.upgrade(engine)
    factory = sessionmaker(bind=engine, expire_on_commit=False)

    @contextmanager
    def sessions() -> Iterator[Session]:
        with factory.begin() as session:
            yield session

    # Procedure at 14:10 Chicago time today (yesterday if that is still ahead).
    local_now = datetime.now(TZ)
    performed = local_now.replace(hour=14, minute=10, second=0, microsecond=0)
    if performed > local_now:
        performed -= timedelta(days=1)
    clock = SimulatedClock(performed.astimezone(UTC) + timedelta(minutes=5))
    with sessions() as session:
        clinic = create_clinic(
            session=session,
            name="Riverside Ortho",
            timezone="America/Chicago",
            sms_from="+13125550100",
        ).clinic
        nurses = [
            StaffMember(clinic_id=clinic.id, name=name, role="clinician", phone=phone,
                        email=f"{name.lower()}@riverside.example")
            for name, phone in (("Olive", "+13125550199"), ("Ben", "+13125550198"))
        ]  # fmt: skip
        session.add_all(nurses)
        session.flush()
        # Round the clock: every day, midnight to midnight.
        session.add(OnCallShift(clinic_id=clinic.id, days=list(WEEKDAYS), starts=dtime(0),
                                ends=dtime(0), primary_staff_id=nurses[0].id,
                                backup_staff_id=nurses[1].id))  # fmt: skip
        data = parse_enrollment(
            {
                "patient": {
                    "external_id": "MRN-1001",
                    "given_name": "Alice",
                    "phone": "+13125550123",
                    "timezone": "America/Chicago",
                    "language": lang,
                    "conditions": ["diabetes"],
                },
                "procedure": {
                    "performed_at": performed.isoformat(),
                    "injectate": "corticosteroid",
                    "side": "right",
                },
                "follow_up_at": (performed + timedelta(days=14))
                .replace(hour=10, minute=30)
                .isoformat(),
            }
        )
        enrollment = enrollments.enroll(
            data, session=session, clinic=clinic, now=clock.now(), actor="demo"
        ).enrollment
        total = session.scalar(
            select(func.count()).where(
                ScheduledMessage.enrollment_id == enrollment.id, ScheduledMessage.status == PENDING
            )
        )
    write(
        f"Aftercare demo: Alice (diabetic) had a corticosteroid hip injection at "
        f"{performed:%H:%M %Z on %a %d %b}. {total} messages are scheduled.\n"
        f"Time runs fast: each message is sent when the simulated clock reaches it.\n\n"
    )

    sms, email = (
        ConsoleChannel("sms", stream=io.StringIO()),
        ConsoleChannel("email", stream=io.StringIO()),
    )
    sender = build_sender(
        settings,
        clock=clock,
        channels={"sms": sms, "email": email},
        sessions=sessions,
        rate_limiter=NoLimit(),
    )
    runner = EmbeddedRunner(sender=sender, threads=2)
    printer = Printer({"SMS": sms, "Email": email}, sessions, write)

    def deliver() -> None:
        """What beat and the workers do: escalate what is overdue, send what is due."""
        with sessions() as session:
            escalate_due(session=session, now=clock.now())
        runner.dispatch_once(wait=True)
        printer.show()

    conversation = DemoConversation(
        sessions=sessions, clock=clock, write=write, tz=TZ, deliver=deliver,
        patient_phone="+13125550123", clinic_phone="+13125550100", on_call_phone="+13125550199",
    )  # fmt: skip
    try:
        while True:
            with sessions() as session:
                upcoming = session.scalar(
                    select(
                        func.min(
                            func.coalesce(ScheduledMessage.next_attempt_at, ScheduledMessage.due_at)
                        )
                    ).where(ScheduledMessage.status == PENDING)
                )
            if upcoming is None:
                break
            clock.set(upcoming)
            runner.dispatch_once(wait=True)
            for step_key, occurrence in printer.show():
                conversation.after(step_key, occurrence)
            time.sleep(0.4 * speed)
    finally:
        runner.shutdown()
    shown = printer.steps
    write(
        f"\nDone: {shown} messages sent; the timeline is in {path} "
        "(open it with any SQLite client).\n"
    )
    return 0


class Printer:
    """Prints what the channels sent since last time: check-ins in full, staff pages and
    notes as one line (they went out through the same pipeline)."""

    def __init__(
        self, channels: dict[str, ConsoleChannel],
        sessions: Callable[[], AbstractContextManager[Session]], write: Callable[[str], object],
    ) -> None:  # fmt: skip
        self.channels, self.sessions, self.write = channels, sessions, write
        self.seen = {label: 0 for label in channels}
        self.steps = 0

    def show(self) -> list[tuple[str, int]]:
        """Print the messages not shown yet; return the check-ins' (step, occurrence)."""
        keys = []
        for label, channel in self.channels.items():
            new, self.seen[label] = channel.outbox[self.seen[label]:], len(channel.outbox)
            for outbound in new:
                key = self._print(label, outbound)
                keys.extend([key] if key else [])
        return keys

    def _print(self, label: str, outbound: Outbound) -> tuple[str, int] | None:
        with self.sessions() as session:
            message = session.get_one(ScheduledMessage, int(outbound.reference))
            when, kind = message.sent_at or message.due_at, message.kind
        if kind == REPLY:
            return None  # printed with the reply it answers ("auto-reply: …")
        if kind in (PAGE, NOTICE):
            self.write(f"    page by {label if label == 'SMS' else 'email'} to staff: "
                       f"{outbound.body.splitlines()[0]}\n")  # fmt: skip
            return None
        self.steps += 1
        self.write(
            f"{when.astimezone(TZ):%a %d %b %H:%M}  {label} · {message.step_key}"
            f"{f' #{message.occurrence + 1}' if message.occurrence else ''}\n"
        )
        for line in outbound.body.splitlines():
            self.write(f"    {line}\n")
        self.write("\n")
        return message.step_key, message.occurrence
