"""Data retention (issue 10): 91 days after Alice's enrolment at Riverside Ortho was
cancelled, what she and her clinicians wrote is gone and what statistics and audits need
is kept; 89 days after, nothing is touched; an open concern keeps everything; Lakeside
Spine keeps texts 30 days; the timeline says what happened; runs at once purge once."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from reminders.audit.models import AuditEvent
from reminders.clinics.models import Clinic
from reminders.clinics.service import create_clinic
from reminders.clock import SimulatedClock
from reminders.conversations.concerns import open_concern, resolve
from reminders.conversations.models import Concern, InboundMessage
from reminders.conversations.outbound import queue
from reminders.db import transaction
from reminders.delivery.models import SendAttempt
from reminders.enrollments.models import (
    CANCELLED,
    FAILED,
    PENDING,
    REPLY,
    SENT,
    STAFF_TEXT,
    Enrollment,
    ScheduledMessage,
)
from reminders.enrollments.schemas import parse_enrollment
from reminders.enrollments.service import cancel, enroll
from reminders.patients.models import Patient
from reminders.retention.jobs import purge_expired
from reminders.retention.service import purge_due
from reminders.staff import service as staff_service
from reminders.web.app import create_app
from reminders.web.deps import get_session
from tests.conftest import alice_payload, truncate_all
from tests.web.conftest import PASSWORD, sign_in, web_settings

DAY = timedelta(days=1)
ALICE_PHONE, ALICE_EMAIL = "+13125550123", "alice@example.org"
HER_REPLY = "pain 7, the knee is swollen and hot"
AUTO_REPLY = "Thanks, Alice. A nurse will look at this today."
CLINICIANS_TEXT = "Ice it for 20 minutes and call us if it gets worse."


@dataclass
class Course:
    """One enrolment with a history: check-ins sent, a reply, an auto-reply, a concern a
    clinician answered by text and resolved."""

    enrollment: Enrollment
    reply: InboundMessage
    concern: Concern


def course(
    session: Session, clinic: Clinic, *, ended_days_ago: float, now: datetime,
    mrn: str = "MRN-1001", name: str = "Alice", phone: str = ALICE_PHONE,
    email: str | None = ALICE_EMAIL, cancelled: bool = True, performed: datetime | None = None,
) -> Course:  # fmt: skip
    """Enrolled 5 days before it ended; what was due before the end went out, then it
    was cancelled (or, with ``cancelled=False``, the rest went out too: the protocol ran
    its course and it stays ``active``)."""
    end = now - timedelta(days=ended_days_ago)
    performed = performed or end - 5 * DAY
    payload = alice_payload(follow_up_at=(performed + 14 * DAY).isoformat())
    payload["patient"] = {**payload["patient"], "external_id": mrn, "given_name": name,  # type: ignore[dict-item]
                          "phone": phone, "email": email}  # fmt: skip
    payload["procedure"] = {**payload["procedure"], "performed_at": performed.isoformat()}  # type: ignore[dict-item]
    enrollment = enroll(parse_enrollment(payload), session=session, clinic=clinic,
                        now=performed, actor="test").enrollment  # fmt: skip
    messages = session.scalars(
        select(ScheduledMessage).where(ScheduledMessage.enrollment_id == enrollment.id)
        .order_by(ScheduledMessage.due_at)).all()  # fmt: skip
    for message in messages:
        if message.due_at <= end or not cancelled:
            went_out(session, message, phone)
    question = next(m for m in messages if m.expects == "pain_score")
    at = question.due_at + timedelta(hours=1)
    reply = InboundMessage(
        clinic_id=clinic.id, patient_id=enrollment.patient_id, enrollment_id=enrollment.id,
        answers_message_id=question.id, channel="sms", provider_id=f"SM-{enrollment.id}",
        sender=phone, body=HER_REPLY, kind="answer", severity="routine",
        categories=["severe_pain", "swelling"], parsed={"pain_score": 7},
        auto_reply=AUTO_REPLY, received_at=at,
    )  # fmt: skip
    session.add(reply)
    session.flush()
    auto = queue(session=session, clinic_id=clinic.id, kind=REPLY, channel="sms", body=AUTO_REPLY,
                 now=at, key=f"auto:{reply.id}", recipient=phone,
                 patient_id=enrollment.patient_id, inbound_id=reply.id)  # fmt: skip
    went_out(session, auto, phone)
    concern = open_concern(
        session=session, clinic=clinic, severity="routine", kind="reply", now=at,
        summary="Routine reply to 'flare_check': severe_pain, swelling",
        categories=["severe_pain", "swelling"], patient_id=enrollment.patient_id,
        enrollment_id=enrollment.id, inbound_id=reply.id,
    )  # fmt: skip
    reply.concern_id = concern.id
    text = queue(session=session, clinic_id=clinic.id, kind=STAFF_TEXT, channel="sms",
                 body=CLINICIANS_TEXT, now=at + timedelta(hours=1), key=f"text:{concern.id}",
                 patient_id=enrollment.patient_id, concern_id=concern.id)  # fmt: skip
    went_out(session, text, phone)
    resolve(session=session, concern=concern, staff_id=None, now=at + timedelta(hours=2),
            note="Called her; ice and rest, seen at the visit.", via="test")  # fmt: skip
    if cancelled:
        cancel(session=session, enrollment=enrollment, now=end, actor="test", reason="moved away")
    session.flush()
    return Course(enrollment, reply, concern)


def went_out(session: Session, message: ScheduledMessage, to: str) -> None:
    message.status, message.sent_at, message.updated_at = SENT, message.due_at, message.due_at
    session.add(SendAttempt(
        clinic_id=message.clinic_id, message_id=message.id, channel="sms", provider="twilio",
        recipient=to, provider_id=f"SM{message.id:030d}", status="delivered",
        started_at=message.due_at, accepted_at=message.due_at, updated_at=message.due_at,
    ))  # fmt: skip
    session.flush()


def purges(session: Session) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == "enrollment.purge")))


def tied(session: Session, c: Course) -> list[ScheduledMessage]:
    """Her check-ins, the auto-reply to her and the clinician's text to her."""
    m = ScheduledMessage
    return list(session.scalars(select(m).where(
        (m.enrollment_id == c.enrollment.id) | (m.inbound_id == c.reply.id)
        | (m.concern_id == c.concern.id)).order_by(m.id)))  # fmt: skip


# -- what goes, what stays -----------------------------------------------------------


def test_91_days_after_her_enrolment_was_cancelled_alices_texts_are_gone_and_the_metadata_stays(
    session: Session, riverside: Clinic, now: datetime
) -> None:
    alice = course(session, riverside, ended_days_ago=91, now=now)
    before = {m.id: (m.status, m.status_reason, m.sent_at, m.updated_at, m.kind)
              for m in tied(session, alice)}  # fmt: skip
    assert {m.body for m in tied(session, alice)} >= {AUTO_REPLY, CLINICIANS_TEXT}

    assert purge_due(session=session, now=now) == 1

    session.expire_all()
    messages = tied(session, alice)
    assert {m.kind for m in messages} == {"step", REPLY, STAFF_TEXT}
    assert all(m.body is None and m.subject is None for m in messages)
    assert all(m.recipient is None for m in messages if m.kind in (REPLY, STAFF_TEXT))
    # Statuses, reasons and times are the statistics; updated_at dates failures on the
    # dashboard, so the purge must not stamp it.
    assert {m.id: (m.status, m.status_reason, m.sent_at, m.updated_at, m.kind)
            for m in messages} == before  # fmt: skip
    assert {m.status for m in messages} == {SENT, CANCELLED}

    reply = session.get_one(InboundMessage, alice.reply.id)
    assert (reply.body, reply.auto_reply) == ("", None)
    assert reply.sender == "+1******0123"
    assert (reply.kind, reply.severity, reply.categories, reply.parsed) == (
        "answer", "routine", ["severe_pain", "swelling"], {"pain_score": 7})
    concern = session.get_one(Concern, alice.concern.id)
    assert concern.summary == "Routine reply to 'flare_check': severe_pain, swelling"
    assert concern.resolution_note == "Called her; ice and rest, seen at the visit."
    attempts = session.scalars(select(SendAttempt).where(
        SendAttempt.message_id.in_([m.id for m in messages]))).all()  # fmt: skip
    assert attempts and {a.recipient for a in attempts} == {"+1******0123"}
    assert {a.status for a in attempts} == {"delivered"}

    patient = session.get_one(Patient, alice.enrollment.patient_id)
    assert patient.email is None and patient.phone == ALICE_PHONE
    enrollment = session.get_one(Enrollment, alice.enrollment.id)
    assert enrollment.purged_at == now and enrollment.status == "cancelled"
    [event] = purges(session)
    assert (event.actor, event.staff_id, event.subject_type, event.subject_id, event.at) == (
        "system", None, "enrollment", enrollment.id, now)
    assert event.details == {"retention_days": 90, "messages": len(messages),
                             "attempts": len(attempts), "replies": 1, "email_removed": True}
    # Nothing of what she wrote is in the audit row either.
    assert HER_REPLY not in str(event.details) and ALICE_EMAIL not in str(event.details)


def test_89_days_after_it_was_cancelled_nothing_is_touched(
    session: Session, riverside: Clinic, now: datetime
) -> None:
    alice = course(session, riverside, ended_days_ago=89, now=now)
    assert purge_due(session=session, now=now) == 0
    session.expire_all()
    assert session.get_one(InboundMessage, alice.reply.id).body == HER_REPLY
    assert session.get_one(Patient, alice.enrollment.patient_id).email == ALICE_EMAIL
    assert session.get_one(Enrollment, alice.enrollment.id).purged_at is None
    assert purges(session) == []
    # Two days later it is due.
    assert purge_due(session=session, now=now + 2 * DAY) == 1


def test_an_unresolved_concern_keeps_everything_however_old(
    session: Session, riverside: Clinic, now: datetime
) -> None:
    """A clinician still acting on a concern needs her own words: not even a year-old
    enrolment is purged while it is open or acknowledged, nor for the period after."""
    alice = course(session, riverside, ended_days_ago=365, now=now)
    still_open = open_concern(
        session=session, clinic=riverside, severity="urgent", kind="reply", now=now - 200 * DAY,
        summary="Urgent reply (free message): bleeding", categories=["bleeding"],
        patient_id=alice.enrollment.patient_id, enrollment_id=alice.enrollment.id,
    )  # fmt: skip
    assert purge_due(session=session, now=now) == 0
    resolve(session=session, concern=still_open, staff_id=None, now=now, note="Seen.",
            via="test")  # fmt: skip
    assert purge_due(session=session, now=now + 89 * DAY) == 0
    session.expire_all()
    assert session.get_one(InboundMessage, alice.reply.id).body == HER_REPLY
    assert purge_due(session=session, now=now + 91 * DAY) == 1


def test_a_reply_joined_to_another_enrolments_open_concern_keeps_its_enrolment(
    session: Session, riverside: Clinic, now: datetime
) -> None:
    old = course(session, riverside, ended_days_ago=120, now=now)
    recent = course(session, riverside, ended_days_ago=1, now=now,
                    performed=now - 20 * DAY)  # fmt: skip
    ongoing = open_concern(
        session=session, clinic=riverside, severity="routine", kind="reply", now=now,
        summary="Routine reply (free message): swelling", categories=["swelling"],
        patient_id=recent.enrollment.patient_id, enrollment_id=recent.enrollment.id,
    )  # fmt: skip
    old.reply.concern_id = ongoing.id  # her old message joined the open concern
    session.flush()
    assert purge_due(session=session, now=now) == 0


def test_a_reply_after_the_cancellation_keeps_the_texts_for_the_whole_period(
    session: Session, riverside: Clinic, now: datetime
) -> None:
    alice = course(session, riverside, ended_days_ago=100, now=now)
    session.add(InboundMessage(
        clinic_id=riverside.id, patient_id=alice.enrollment.patient_id,
        enrollment_id=alice.enrollment.id, channel="sms", provider_id="SM-late",
        sender=ALICE_PHONE, body="all good now, thanks", received_at=now - 20 * DAY,
    ))  # fmt: skip
    session.flush()
    assert purge_due(session=session, now=now) == 0
    assert purge_due(session=session, now=now + 71 * DAY) == 1


def test_each_clinic_keeps_texts_for_its_own_period(
    session: Session, riverside: Clinic, lakeside: Clinic, now: datetime
) -> None:
    lakeside.retention_days = 30
    alice = course(session, riverside, ended_days_ago=31, now=now)
    leo = course(session, lakeside, ended_days_ago=31, now=now, mrn="LS-7", name="Leo",
                 phone="+12125550177", email="leo@example.org")  # fmt: skip
    assert purge_due(session=session, now=now) == 1
    session.expire_all()
    assert session.get_one(Enrollment, leo.enrollment.id).purged_at == now
    assert session.get_one(InboundMessage, leo.reply.id).body == ""
    assert session.get_one(InboundMessage, alice.reply.id).body == HER_REPLY
    [event] = purges(session)
    assert (event.clinic_id, event.details["retention_days"]) == (lakeside.id, 30)


def test_a_second_run_purges_nothing_more(
    session: Session, riverside: Clinic, now: datetime
) -> None:
    course(session, riverside, ended_days_ago=91, now=now)
    assert purge_due(session=session, now=now) == 1
    assert purge_due(session=session, now=now) == 0
    assert purge_due(session=session, now=now + 400 * DAY) == 0
    assert len(purges(session)) == 1


def test_her_email_stays_while_another_enrolment_keeps_its_texts(
    session: Session, riverside: Clinic, now: datetime
) -> None:
    old = course(session, riverside, ended_days_ago=91, now=now)
    course(session, riverside, ended_days_ago=10, now=now)
    assert purge_due(session=session, now=now) == 1
    session.expire_all()
    patient = session.get_one(Patient, old.enrollment.patient_id)
    assert patient.email == ALICE_EMAIL
    assert purges(session)[0].details["email_removed"] is False
    assert purge_due(session=session, now=now + 81 * DAY) == 1
    session.expire_all()
    assert session.get_one(Patient, patient.id).email is None


def test_an_active_enrolment_whose_protocol_ran_its_course_long_ago_is_finished(
    session: Session, riverside: Clinic, now: datetime
) -> None:
    """Nothing marks an enrolment completed: one whose every message is final and long
    past is finished; one still waiting to send something is not."""
    done = course(session, riverside, ended_days_ago=0, now=now, cancelled=False,
                  performed=now - 200 * DAY)  # fmt: skip
    waiting = course(session, riverside, ended_days_ago=0, now=now, cancelled=False,
                     performed=now - 300 * DAY, mrn="MRN-2002", name="Ada",
                     phone="+13125550124", email="ada@example.org")  # fmt: skip
    last = session.scalars(select(ScheduledMessage).where(
        ScheduledMessage.enrollment_id == waiting.enrollment.id)
        .order_by(ScheduledMessage.due_at.desc())).first()  # fmt: skip
    assert last is not None
    last.status, last.sent_at = PENDING, None  # retrying, or due later
    session.flush()
    assert {done.enrollment.status, waiting.enrollment.status} == {"active"}
    assert purge_due(session=session, now=now) == 1
    session.expire_all()
    assert session.get_one(Enrollment, done.enrollment.id).purged_at == now
    assert session.get_one(Enrollment, waiting.enrollment.id).purged_at is None
    last.status = FAILED
    session.flush()
    assert purge_due(session=session, now=now) == 1


def test_a_run_purges_at_most_its_limit_and_clinics_take_turns(
    session: Session, riverside: Clinic, lakeside: Clinic, now: datetime
) -> None:
    for n in range(3):
        course(session, riverside, ended_days_ago=91 + n, now=now, mrn=f"MRN-{n}",
               phone=f"+1312555020{n}")  # fmt: skip
    leo = course(session, lakeside, ended_days_ago=91, now=now, mrn="LS-7", name="Leo",
                 phone="+12125550177", email="leo@example.org")  # fmt: skip
    assert purge_due(session=session, now=now, limit=2) == 2
    session.expire_all()
    assert session.get_one(Enrollment, leo.enrollment.id).purged_at == now
    assert purge_due(session=session, now=now, limit=2) == 2
    assert purge_due(session=session, now=now, limit=2) == 0


def test_the_job_runs_on_a_session_factory_and_the_clock(
    session: Session, riverside: Clinic, now: datetime
) -> None:
    course(session, riverside, ended_days_ago=91, now=now)

    @contextmanager
    def sessions() -> Iterator[Session]:
        yield session

    assert purge_expired(sessions, SimulatedClock(now)) == 1
    assert purge_expired(sessions, SimulatedClock(now)) == 0


# -- the timeline ----------------------------------------------------------------------


def test_the_timeline_says_text_removed_after_90_days(
    session: Session, riverside: Clinic, now: datetime
) -> None:
    alice = course(session, riverside, ended_days_ago=91, now=now)
    purge_due(session=session, now=now)
    staff_service.create_staff(session=session, clinic_id=riverside.id, role="clinician",
                               email="carl@riverside.test", password=PASSWORD)  # fmt: skip
    session.commit()
    url = str(session.get_bind().engine.url.render_as_string(hide_password=False))
    app = create_app(web_settings(url), clock=SimulatedClock(now))

    def same_session() -> Iterator[Session]:
        yield session
        session.commit()

    app.dependency_overrides[get_session] = same_session
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as client:
        sign_in(client, "carl@riverside.test")
        page = client.get(f"/patients/{alice.enrollment.patient_id}").text
    assert page.count("text removed after 90 days") == 2  # her reply, the clinician's text
    assert "after 90 days (the clinic's retention period)" in page
    assert HER_REPLY not in page and CLINICIANS_TEXT not in page and AUTO_REPLY not in page
    assert ALICE_EMAIL not in page
    assert "pain 7/10" in page and "severe pain, swelling" in page  # kept


# -- runs at once (PostgreSQL) ---------------------------------------------------------


@pytest.fixture
def committed(pg_engine: Engine) -> Iterator[sessionmaker[Session]]:
    """Sessions on the test PostgreSQL database whose work is committed (emptied after)."""
    truncate_all(pg_engine)
    yield sessionmaker(bind=pg_engine, expire_on_commit=False)
    truncate_all(pg_engine)


def _committed_cast(maker: sessionmaker[Session], now: datetime, patients: int,
                    each: int) -> list[int]:  # fmt: skip
    with transaction(maker) as session:
        clinic = create_clinic(session=session, name="Riverside Ortho", sms_from="+13125550100",
                               timezone="America/Chicago").clinic  # fmt: skip
        ids = [course(session, clinic, ended_days_ago=91 + k, now=now, mrn=f"MRN-{p}",
                      name=f"Patient {p}", phone=f"+1312555{p:04d}",
                      email=f"p{p}@example.org").enrollment.id
               for p in range(patients) for k in range(each)]  # fmt: skip
    return ids


@pytest.mark.postgres
def test_a_run_skips_an_enrolment_another_run_is_purging(
    committed: sessionmaker[Session], now: datetime
) -> None:
    first, second = _committed_cast(committed, now, patients=2, each=1)
    with committed() as holder:
        # Another run, mid-purge, holds the first enrolment's row.
        holder.execute(select(Enrollment).where(Enrollment.id == first).with_for_update())
        with committed() as session:
            assert purge_due(session=session, now=now) == 1
        holder.rollback()
    with committed() as session:
        purged = dict(session.execute(select(Enrollment.id, Enrollment.purged_at)).all())
        assert purged == {first: None, second: now}
        assert purge_due(session=session, now=now) == 1
        assert purge_due(session=session, now=now) == 0


@pytest.mark.postgres
def test_two_runs_at_once_purge_each_enrolment_once(
    committed: sessionmaker[Session], now: datetime
) -> None:
    ids = _committed_cast(committed, now, patients=6, each=4)
    start = threading.Barrier(2)
    done: list[int] = []
    errors: list[BaseException] = []
    clock = SimulatedClock(now)

    def run() -> None:
        try:
            start.wait()
            done.append(purge_expired(lambda: transaction(committed), clock))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == [] and sum(done) == len(ids)
    with committed() as session:
        subjects = Counter(session.scalars(select(AuditEvent.subject_id).where(
            AuditEvent.action == "enrollment.purge")))  # fmt: skip
        assert subjects == Counter(ids)
        # Each patient's last enrolments were purged at the same moment by two runs: the
        # second to take her row saw the first's purge and removed her address.
        assert session.scalar(select(func.count()).select_from(Patient)
                              .where(Patient.email.is_not(None))) == 0  # fmt: skip
        assert session.scalar(select(func.count()).select_from(InboundMessage)
                              .where(InboundMessage.body != "")) == 0  # fmt: skip
