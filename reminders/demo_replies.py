"""Alice's side of the demo conversation: scripted replies run through the real services.

Each reply goes through :func:`reminders.conversations.service.receive_sms`, exactly as
Twilio's webhook would deliver it; escalation and delivery run as beat and the workers
run them (``deliver``). Staff pages print instead of going to phones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from zoneinfo import ZoneInfo

from reminders.clock import SimulatedClock
from reminders.conversations.models import Concern, InboundMessage
from reminders.conversations.service import receive_sms
from reminders.delivery.send import SessionFactory


@dataclass(frozen=True)
class Line:
    after: timedelta
    sender: str  # "patient" or "on_call"
    text: str


# What Alice says after which message; an on-call nurse acknowledges the page.
SCRIPT: dict[tuple[str, int], list[Line]] = {
    ("numbness_check", 0): [Line(timedelta(minutes=20), "patient", "yes all gone")],
    ("glucose_check", 0): [Line(timedelta(minutes=45), "patient", "sugar was 245 this morning")],
    ("flare_check", 0): [
        Line(timedelta(minutes=50), "patient",
             "pain is 9/10 tonight and the hip is hot and red where the needle went in"),
        Line(timedelta(minutes=31), "wait", ""),
        Line(timedelta(minutes=3), "on_call", "ACK {code}"),
    ],
    ("flare_check", 1): [Line(timedelta(minutes=15), "patient", "much better today, 3")],
    ("flushing_reassurance", 0): [Line(timedelta(minutes=5), "patient", "ok thanks")],
}  # fmt: skip


class DemoConversation:
    def __init__(
        self,
        *,
        sessions: SessionFactory,
        clock: SimulatedClock,
        deliver: Callable[[], None],
        write: Callable[[str], object],
        tz: ZoneInfo,
        patient_phone: str,
        clinic_phone: str,
        on_call_phone: str,
    ) -> None:
        self.sessions, self.clock, self.deliver = sessions, clock, deliver
        self.write, self.tz = write, tz
        self.phones = {"patient": patient_phone, "on_call": on_call_phone}
        self.clinic_phone = clinic_phone
        self._sid = 0
        self._concern_code = ""

    def after(self, step_key: str, occurrence: int) -> None:
        for line in SCRIPT.get((step_key, occurrence), []):
            self.clock.advance(line.after)
            if line.sender == "wait":
                self._escalate(line.after)
                continue
            self._receive(line.sender, line.text.format(code=self._concern_code))

    def _stamp(self) -> str:
        return f"{self.clock.now().astimezone(self.tz):%a %d %b %H:%M}"

    def _receive(self, who: str, text: str) -> None:
        self._sid += 1
        with self.sessions() as session:
            handled = receive_sms(
                session=session, now=self.clock.now(), message_sid=f"SMdemo{self._sid:04d}",
                sender=self.phones[who], to=self.clinic_phone, body=text,
            )  # fmt: skip
            inbound = session.get_one(InboundMessage, handled.inbound_id)
            concern = session.query(Concern).filter_by(inbound_id=inbound.id).one_or_none()
            severity, categories = inbound.severity, ", ".join(inbound.categories)
            if concern is not None:
                self._concern_code = concern.ack_code
        label = "Alice" if who == "patient" else "On-call nurse"
        self.write(f'{self._stamp()}  {label} replies: "{text}"\n')
        if who == "patient":
            self.write(f"    triage: {severity}" + (f" ({categories})" if categories else ""))
            self.write(" → concern opened for the clinic\n" if concern else "\n")
        for reply in handled.replies:
            self.write(f"    auto-reply: {reply}\n")
        self._deliver_pages()
        self.write("\n")

    def _escalate(self, waited: timedelta) -> None:
        minutes = int(waited.total_seconds() // 60)
        self.write(f"{self._stamp()}  nobody acknowledged for {minutes} min: escalating\n")
        self._deliver_pages()
        self.write("\n")

    def _deliver_pages(self) -> None:
        self.deliver()  # the pages print as they go out
