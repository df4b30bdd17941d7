"""HL7 v2 in, over a real MLLP socket on loopback: Riverside Ortho's Epic, athena and
NextGen feeds send charges (DFT^P03), scheduling (SIU) and registrations (ADT), and each
message gets its ACK. Alice is enrolled by her injection's charge line, her follow-up visit
is booked, moved, cancelled, rebooked and missed; Carmen and Dan come in from other
systems; malformed messages are answered AE/AR naming the field, and store nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import hl7
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import sessionmaker

from reminders.clock import SimulatedClock
from reminders.db import session_scope
from reminders.enrollments.models import Enrollment
from reminders.interop.hl7_in import Receiver
from reminders.interop.mllp import END, START, Framer, MllpServer
from reminders.patients.models import Patient, Procedure
from tests.conftest import NOW

FIXTURES = Path(__file__).parent / "fixtures" / "hl7"
CHICAGO = ZoneInfo("America/Chicago")


def sample(name: str) -> bytes:
    """A fixture as a sender puts it on the wire: segments end with a carriage return."""
    return (FIXTURES / name).read_text(encoding="utf-8").replace("\n", "\r").encode()


def framed(message: bytes) -> bytes:
    return START + message + END


class Listener:
    """The MLLP server on a free loopback port, its event loop in a thread."""

    def __init__(self, receiver: Receiver, max_bytes: int = 1_000_000) -> None:
        self.server = MllpServer(receiver.receive, host="127.0.0.1", port=0,
                                 max_bytes=max_bytes)  # fmt: skip
        self.loop = asyncio.new_event_loop()
        self.stop_event: asyncio.Event | None = None
        started = threading.Event()

        async def main() -> None:
            self.stop_event = asyncio.Event()
            _host, self.port = await self.server.start()
            started.set()
            await self.server.serve_until(self.stop_event)

        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(main(),),
                                       daemon=True)  # fmt: skip
        self.thread.start()
        assert started.wait(5), "the MLLP listener did not start"

    def stop(self) -> None:
        assert self.stop_event is not None
        self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(5)
        self.loop.close()


class Sender:
    """An interface engine's side of one connection: send a message, read its ACK."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.framer = Framer()
        self.pending: list[bytes] = []

    def ack(self) -> hl7.Message:
        while not self.pending:
            data = self.sock.recv(65536)
            assert data, "the listener closed the connection"
            self.pending.extend(content for content, _ in self.framer.feed(data))
        return hl7.parse(self.pending.pop(0).decode())

    def send(self, message: bytes) -> hl7.Message:
        self.sock.sendall(framed(message))
        return self.ack()

    def close(self) -> None:
        self.sock.close()


@pytest.fixture(scope="module")
def riverside_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A migrated SQLite database with Riverside Ortho in it, made once and copied for each
    test (migrating takes seconds; a copy, milliseconds)."""
    from reminders import migrations
    from reminders.clinics.service import create_clinic
    from reminders.db import make_engine, transaction

    path = tmp_path_factory.mktemp("hl7") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    migrations.upgrade(engine)
    with transaction(sessionmaker(bind=engine, expire_on_commit=False)) as session:
        made = create_clinic(session=session, name="Riverside Ortho",
                             timezone="America/Chicago", sms_from="+13125550100")  # fmt: skip
        clinic_id = made.clinic.id
    engine.dispose()
    return path, clinic_id


@pytest.fixture
def db_file(riverside_db, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """This test's copy of the database, which `session_scope` and the CLI both use."""
    from reminders.config import get_settings
    from reminders.db import reset_engine

    path = tmp_path / "aftercare.sqlite3"
    shutil.copyfile(riverside_db[0], path)
    monkeypatch.setenv("AFTERCARE_DATABASE_URL", f"sqlite:///{path}")
    get_settings.cache_clear()
    reset_engine()
    yield path
    reset_engine()
    get_settings.cache_clear()


@pytest.fixture
def clinic_id(riverside_db, db_file) -> int:
    return int(riverside_db[1])


@pytest.fixture
def listener(clinic_id: int) -> Iterator[Listener]:
    running = Listener(Receiver(clinic_id=clinic_id, clock=SimulatedClock(NOW)))
    yield running
    running.stop()


@pytest.fixture
def sender(listener: Listener) -> Iterator[Sender]:
    connection = Sender(listener.port)
    yield connection
    connection.close()


def code(ack: hl7.Message) -> str:
    return str(ack["MSA.F1"])


def errors(ack: hl7.Message) -> list[tuple[str, str, str]]:
    """Each ERR as (ERR-2 location, ERR-3 code, ERR-8 text)."""
    return [(str(err(2)), err.extract_field(1, 3, 1, 1), err.extract_field(1, 8))
            for err in ack if str(err[0]) == "ERR"]  # fmt: skip


def stored() -> dict[str, int]:
    with session_scope() as session:
        return {
            "patients": session.scalar(select(func.count()).select_from(Patient)) or 0,
            "enrollments": session.scalar(select(func.count()).select_from(Enrollment)) or 0,
        }


def alice() -> tuple[Patient, Procedure, Enrollment]:
    with session_scope() as session:
        patient = session.scalars(select(Patient).where(Patient.external_id == "1001")).one()
        procedure = session.scalars(
            select(Procedure).where(Procedure.patient_id == patient.id)
        ).one()
        enrollment = session.scalars(select(Enrollment).where(
            Enrollment.procedure_id == procedure.id)).one()  # fmt: skip
        return patient, procedure, enrollment


# -- charges enrol -------------------------------------------------------------------------


def test_alices_injection_charge_enrols_her_once_even_when_sent_twice(sender) -> None:
    ack = sender.send(sample("dft_p03_alice_triamcinolone.hl7"))
    assert code(ack) == "AA"
    assert str(ack["MSA.F2"]) == "DFT0001"
    # Addressed back to the sender, as the same event.
    assert str(ack["MSH.F5"]) == "EPIC" and str(ack["MSH.F6"]) == "RIVERSIDE ORTHO"
    assert str(ack.segment("MSH")(9)) == "ACK^P03^ACK" and str(ack["MSH.F12"]) == "2.5.1"
    patient, procedure, enrollment = alice()
    assert (patient.given_name, patient.family_name) == ("Alice", "Anderson")
    assert patient.phone == "+13125550123"  # the cell phone, not the work number
    assert patient.email == "alice@example.org"
    assert patient.language == "en" and patient.conditions == ["diabetes"]  # DG1 E11.9
    assert procedure.injectate == "corticosteroid"  # the J3301 drug line
    assert procedure.side == "right"  # FT1-26 modifier RT
    assert procedure.performed_at == datetime(2026, 11, 20, 14, 10, tzinfo=CHICAGO)
    assert enrollment.status == "active"

    # The interface engine resends (a lost ACK): same answer, still one enrolment.
    again = sender.send(sample("dft_p03_alice_triamcinolone.hl7"))
    assert code(again) == "AA" and str(again["MSA.F2"]) == "DFT0001"
    assert stored() == {"patients": 1, "enrollments": 1}


def test_charges_from_other_systems_and_versions(sender) -> None:
    # athena, v2.4: hyaluronan by HCPCS J7325, left side, Spanish, a home phone in parts.
    assert code(sender.send(sample("dft_p03_carmen_hyaluronan.hl7"))) == "AA"
    # NextGen, v2.3: an office visit and an injection line whose drug is only in its text.
    assert code(sender.send(sample("dft_p03_dan_description_only.hl7"))) == "AA"
    with session_scope() as session:
        rows = session.execute(select(Patient, Procedure).join(
            Procedure, Procedure.patient_id == Patient.id).order_by(Patient.id)).all()  # fmt: skip
        carmen, dan = [(p.given_name, p.language, p.phone, pr.injectate, pr.side,
                        pr.performed_at) for p, pr in rows]  # fmt: skip
    assert carmen == ("Carmen", "es", "+13125550124", "hyaluronic_acid", "left",
                      datetime(2026, 11, 20, 11, 30, tzinfo=CHICAGO))  # fmt: skip
    # Depo-Medrol with lidocaine is a steroid injection; no offset: Chicago wall clock.
    assert dan == ("Dan", "en", "+13125550125", "corticosteroid", None,
                   datetime(2026, 11, 20, 10, 15, tzinfo=CHICAGO))  # fmt: skip
    assert stored() == {"patients": 2, "enrollments": 2}  # the office visit enrols no one


def test_both_hips_at_one_sitting_are_one_bilateral_follow_up(sender) -> None:
    # Bianca: 20611-RT and 20611-LT at 13:00, methylprednisolone 80 mg (J1040).
    assert code(sender.send(sample("dft_p03_bianca_bilateral.hl7"))) == "AA"
    assert code(sender.send(sample("dft_p03_bianca_bilateral.hl7"))) == "AA"
    with session_scope() as session:
        [procedure] = session.scalars(select(Procedure)).all()
        assert (procedure.side, procedure.injectate) == ("bilateral", "corticosteroid")
    assert stored() == {"patients": 1, "enrollments": 1}


def test_a_charge_for_something_else_is_acknowledged_and_ignored(sender) -> None:
    ack = sender.send(sample("dft_p03_office_visit_only.hl7"))
    assert code(ack) == "AA" and errors(ack) == []
    assert stored() == {"patients": 0, "enrollments": 0}


def test_a_credit_for_the_charge_cancels_the_follow_up(sender) -> None:
    # A credit for a charge never enrolled here (before go-live): nothing to cancel, AA.
    assert code(sender.send(sample("dft_p03_alice_credit.hl7"))) == "AA"
    assert stored() == {"patients": 0, "enrollments": 0}
    sender.send(sample("dft_p03_alice_triamcinolone.hl7"))
    assert code(sender.send(sample("dft_p03_alice_credit.hl7"))) == "AA"
    assert alice()[2].status == "cancelled"
    # The same credit again, or the charge resent after it: nothing restarts.
    assert code(sender.send(sample("dft_p03_alice_credit.hl7"))) == "AA"
    assert code(sender.send(sample("dft_p03_alice_triamcinolone.hl7"))) == "AA"
    assert alice()[2].status == "cancelled" and stored()["enrollments"] == 1


# -- the follow-up visit moves -------------------------------------------------------------


def test_alices_follow_up_visit_booked_moved_cancelled_rebooked_and_missed(sender) -> None:
    """One connection, seven messages, in order, each acknowledged."""
    sender.send(sample("dft_p03_alice_triamcinolone.hl7"))

    def visit() -> datetime | None:
        return alice()[1].follow_up_at

    assert code(sender.send(sample("siu_s12_alice_booked.hl7"))) == "AA"
    assert visit() == datetime(2026, 12, 4, 10, 30, tzinfo=CHICAGO)  # SCH-11 start
    assert code(sender.send(sample("siu_s13_alice_rescheduled.hl7"))) == "AA"
    assert visit() == datetime(2026, 12, 7, 11, 0, tzinfo=CHICAGO)
    # v2.6: the start in TQ1-7; only the room changed, so the visit stays.
    assert code(sender.send(sample("siu_s14_alice_modified.hl7"))) == "AA"
    assert visit() == datetime(2026, 12, 7, 11, 0, tzinfo=CHICAGO)
    assert code(sender.send(sample("siu_s15_alice_cancelled.hl7"))) == "AA"
    assert visit() is None
    assert code(sender.send(sample("siu_s12_alice_second_visit.hl7"))) == "AA"
    assert visit() == datetime(2026, 12, 9, 10, 0, tzinfo=CHICAGO)
    assert code(sender.send(sample("siu_s26_alice_noshow.hl7"))) == "AA"
    assert visit() is None
    assert alice()[2].status == "active"  # a missed visit does not end her follow-up


def test_scheduling_for_a_patient_who_is_not_enrolled_is_left_alone(sender) -> None:
    ack = sender.send(sample("siu_s12_frank_not_enrolled.hl7"))
    assert code(ack) == "AA"
    assert stored() == {"patients": 0, "enrollments": 0}


# -- registrations update demographics ----------------------------------------------------


def test_registration_updates_change_alices_phone_language_and_email(sender) -> None:
    sender.send(sample("dft_p03_alice_triamcinolone.hl7"))
    assert code(sender.send(sample("adt_a08_alice_new_phone_spanish.hl7"))) == "AA"
    patient = alice()[0]
    # The other residence's cell phone, not the home landline or the emergency contact.
    assert patient.phone == "+13125550177" and patient.language == "es"
    assert patient.email == "alice@example.org"  # not sent, so kept
    assert code(sender.send(sample("adt_a04_alice_email.hl7"))) == "AA"
    patient = alice()[0]
    assert patient.email == "alice.anderson@example.net"
    assert patient.phone == "+13125550177"  # not sent this time, so kept
    assert patient.language == "en"


def test_a_registration_of_someone_not_enrolled_stores_nothing(sender) -> None:
    assert code(sender.send(sample("adt_a04_gina_new_registration.hl7"))) == "AA"
    assert stored() == {"patients": 0, "enrollments": 0}


def test_a_bad_phone_in_an_update_is_refused_and_changes_nothing(sender) -> None:
    sender.send(sample("dft_p03_alice_triamcinolone.hl7"))
    ack = sender.send(sample("adt_a08_bad_phone.hl7"))
    assert code(ack) == "AE"
    [(location, _code, text)] = errors(ack)
    assert location == "PID^1^13" and text.startswith("PID-13 (home phone / email): ")
    assert alice()[0].phone == "+13125550123"


# -- malformed messages ---------------------------------------------------------------------

MALFORMED = [
    ("bad_missing_control_id.hl7", "AE", "MSH^1^10", "101", "MSH-10 (message control id)"),
    ("bad_date_of_service.hl7", "AE", "FT1^1^4", "102", "is not a real date and time"),
    ("bad_date_without_time.hl7", "AE", "FT1^1^4", "102", "has a date but no time of day"),
    ("bad_second_line_date.hl7", "AE", "FT1^2^4", "102", "is not a date and time"),
    ("bad_unknown_message_type.hl7", "AR", "MSH^1^9^1^1", "200", "ORM is not taken here"),
    ("bad_unsupported_event.hl7", "AR", "MSH^1^9^1^2", "201", "ADT^A01 is not taken here"),
    ("bad_no_phone.hl7", "AE", "PID^1^13", "101", "no phone number or email address"),
    ("bad_fax_only.hl7", "AE", "PID^1^13", "101", "no phone number or email address"),
    ("bad_no_injectate.hl7", "AE", "FT1^1^7", "103", "Injectate is required"),
    ("bad_no_pid.hl7", "AE", "PID", "100", "no PID segment"),
    ("bad_no_mrn.hl7", "AE", "PID^1^3", "101", "no medical record number"),
    ("bad_siu_no_start.hl7", "AE", "SCH^1^11^1^4", "101", "SCH-11 (appointment start)"),
    ("bad_training_message.hl7", "AR", "MSH^1^11", "202", "processing id"),
]


def test_malformed_messages_are_answered_naming_the_field_and_store_nothing(sender, caplog) -> None:
    sender.send(sample("dft_p03_alice_triamcinolone.hl7"))
    before = stored()
    caplog.set_level(logging.INFO, logger="reminders.interop")
    for name, ack_code, location, error, words in MALFORMED:
        ack = sender.send(sample(name))
        assert code(ack) == ack_code, name
        [(where, what, text)] = errors(ack)
        assert (where, what) == (location, error), name
        assert words in text, (name, text)
        assert str(ack["MSA.F3"]) == text  # v2.3 readers show MSA-3
    assert stored() == before
    # The log names types, control ids and fields; never a name, a number or a message.
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "ack=AE" in logged and "101 at PID^1^13" in logged
    for secret in ("Hughes", "Hank", "5550129", "8008", "Anderson", "PID|"):
        assert secret not in logged


def test_not_hl7_at_all_is_rejected_and_the_connection_stays_usable(sender) -> None:
    ack = sender.send(sample("bad_not_hl7.txt"))
    assert code(ack) == "AR" and str(ack["MSA.F2"]) == ""
    assert errors(ack)[0][0] == "MSH"
    assert code(sender.send(sample("dft_p03_alice_triamcinolone.hl7"))) == "AA"


@pytest.mark.parametrize("raw", [
    b"", b"MSH", b"MSH|^~\\&", b"MSHX|a|b|c|d|e", b"PID|1||1001", b"\xff\xfe\x00garbage",
    b"MSH|^~\\&|A\rPID|1", b"MSH|^~\\&|EPIC|RIV|AC|RIV|2026||DFT^P03|X1|P|2.5\rPID|1||\rFT1|1|",
])  # fmt: skip
def test_any_bytes_at_all_get_an_ack_and_store_nothing(clinic_id, raw: bytes) -> None:
    ack = hl7.parse(Receiver(clinic_id=clinic_id, clock=SimulatedClock(NOW)).receive(raw).decode())
    assert code(ack) in {"AE", "AR"} and errors(ack)
    assert stored() == {"patients": 0, "enrollments": 0}


def test_a_sender_with_other_delimiters_gets_its_ack_in_them(sender) -> None:
    # MSH-2 says components are split by # here (and so they are, everywhere).
    message = sample("bad_no_phone.hl7").decode().replace("^", "#")
    ack = sender.send(message.encode())
    assert code(ack) == "AE"
    assert str(ack[0]).startswith("MSH|#~\\&|AFTERCARE|RIVERSIDE|EPIC|RIVERSIDE ORTHO|")
    assert str(ack.segment("MSH")(9)) == "ACK#P03#ACK"
    assert errors(ack)[0][:2] == ("PID#1#13", "101")


# -- the transport ---------------------------------------------------------------------------


def test_frames_split_anywhere_and_several_in_one_write(listener) -> None:
    connection = Sender(listener.port)
    try:
        one = framed(sample("dft_p03_alice_triamcinolone.hl7"))
        two = framed(sample("siu_s12_alice_booked.hl7"))
        three = framed(sample("adt_a08_alice_new_phone_spanish.hl7"))
        stream = b"\r\n" + one + two + three  # noise before the first frame is skipped
        for cut in range(0, len(stream), 97):  # 97-byte chunks split frames and END marks
            connection.sock.sendall(stream[cut : cut + 97])
        acks = [connection.ack() for _ in range(3)]
        assert [str(a["MSA.F2"]) for a in acks] == ["DFT0001", "SIU0001", "ADT0001"]
        assert [code(a) for a in acks] == ["AA", "AA", "AA"]
    finally:
        connection.close()


def test_connections_are_served_side_by_side(listener) -> None:
    first, second = Sender(listener.port), Sender(listener.port)
    try:
        assert code(second.send(sample("dft_p03_carmen_hyaluronan.hl7"))) == "AA"
        assert code(first.send(sample("dft_p03_alice_triamcinolone.hl7"))) == "AA"
    finally:
        first.close()
        second.close()
    assert stored() == {"patients": 2, "enrollments": 2}


def test_stopping_finishes_the_message_in_hand_and_acknowledges_it(clinic_id) -> None:
    receiver = Receiver(clinic_id=clinic_id, clock=SimulatedClock(NOW))
    handling = threading.Event()

    def slow(raw: bytes) -> bytes:
        handling.set()
        time.sleep(0.3)  # the database is slow today
        return receiver.receive(raw)

    running = Listener(receiver)
    running.server.handler = slow
    connection = Sender(running.port)
    try:
        connection.sock.sendall(framed(sample("dft_p03_alice_triamcinolone.hl7")))
        assert handling.wait(5)
        stopper = threading.Thread(target=running.stop)
        stopper.start()  # SIGTERM arrives while the charge is being handled
        assert code(connection.ack()) == "AA"
        stopper.join(5)
        assert connection.sock.recv(1) == b""  # then the listener closes the connection
    finally:
        connection.close()
    assert stored() == {"patients": 1, "enrollments": 1}


def test_the_same_charge_on_two_connections_at_once_enrols_once(listener) -> None:
    senders = [Sender(listener.port) for _ in range(2)]
    try:
        for connection in senders:
            connection.sock.sendall(framed(sample("dft_p03_alice_triamcinolone.hl7")))
        assert [code(connection.ack()) for connection in senders] == ["AA", "AA"]
    finally:
        for connection in senders:
            connection.close()
    assert stored() == {"patients": 1, "enrollments": 1}


def test_an_oversize_message_is_refused_and_the_connection_goes_on(clinic_id) -> None:
    small = Listener(Receiver(clinic_id=clinic_id, clock=SimulatedClock(NOW)), max_bytes=2048)
    connection = Sender(small.port)
    try:
        huge = sample("dft_p03_office_visit_only.hl7") + b"NTE|1||" + b"x" * 10_000 + b"\r"
        ack = connection.send(huge)
        assert code(ack) == "AR" and str(ack["MSA.F2"]) == "DFT0002"
        assert "larger than 2048 bytes" in errors(ack)[0][2]
        assert code(connection.send(sample("dft_p03_carmen_hyaluronan.hl7"))) == "AA"
    finally:
        connection.close()
        small.stop()


def test_a_facility_check_refuses_a_misrouted_feed(clinic_id) -> None:
    receiver = Receiver(clinic_id=clinic_id, clock=SimulatedClock(NOW),
                        facilities=frozenset({"LAKESIDE"}))  # fmt: skip
    ack = hl7.parse(receiver.receive(sample("dft_p03_alice_triamcinolone.hl7")).decode())
    assert code(ack) == "AR" and errors(ack)[0][:2] == ("MSH^1^6", "103")
    assert stored() == {"patients": 0, "enrollments": 0}


def test_a_database_failure_is_ar_so_the_sender_retries(clinic_id, caplog) -> None:
    def broken():  # type: ignore[no-untyped-def]
        raise ConnectionError("database at 10.0.0.5 is down; Alice Anderson")

    receiver = Receiver(clinic_id=clinic_id, clock=SimulatedClock(NOW), sessions=broken)
    ack = hl7.parse(receiver.receive(sample("dft_p03_alice_triamcinolone.hl7")).decode())
    assert code(ack) == "AR" and errors(ack)[0][1] == "207"
    assert "send it again later" in errors(ack)[0][2]
    assert "Alice" not in caplog.text and "ConnectionError" in caplog.text


# -- the command ------------------------------------------------------------------------------


def test_the_cli_listener_enrols_from_a_charge_and_stops_on_sigterm(db_file, clinic_id) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AFTERCARE_")}
    env["AFTERCARE_DATABASE_URL"] = f"sqlite:///{db_file}"
    env["AFTERCARE_ENVIRONMENT"] = "test"
    exe = Path(sys.executable).parent / "aftercare"
    process = subprocess.Popen(
        [str(exe), "hl7", "listen", "--host", "127.0.0.1", "--port", "0",
         "--clinic", str(clinic_id), "--facility", "RIVERSIDE"],
        env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        found = re.search(r"listener on 127\.0\.0\.1:(\d+) for clinic", line)
        assert found, line
        # A charge from an hour ago (the command runs on the real clock).
        performed = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y%m%d%H%M+0000")
        message = sample("dft_p03_alice_triamcinolone.hl7").decode()
        message = message.replace("202611201410-0600", performed)
        connection = Sender(int(found.group(1)))
        try:
            ack = connection.send(message.encode())
            assert code(ack) == "AA", errors(ack)
            assert code(connection.send(message.encode())) == "AA"
        finally:
            connection.close()
        assert stored() == {"patients": 1, "enrollments": 1}
        process.terminate()
        assert process.wait(10) == 0
        rest = process.stderr.read()
        assert "listener stopped" in rest and "ack=AA" in rest
        assert "Alice" not in rest and "5550123" not in rest
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_cli_refuses_an_unknown_clinic(db_file, capsys) -> None:
    from tests.conftest import run_cli

    status, _out, err = run_cli(capsys, "hl7", "listen", "--port", "0", "--clinic", "999")
    assert status == 2 and "error: --clinic: no clinic with id 999" in err
