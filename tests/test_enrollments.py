"""Enrolling Alice at Riverside Ortho, moving her visit, cancelling — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reminders.audit.models import AuditEvent
from reminders.enrollments import service
from reminders.enrollments.models import ScheduledMessage
from reminders.enrollments.schemas import InputError, parse_enrollment
from reminders.patients.models import Patient
from reminders.protocols import service as protocols
from tests.conftest import alice_payload

CHICAGO = ZoneInfo("America/Chicago")


def enroll(session: Session, clinic, now: datetime, **overrides):
    data = parse_enrollment(alice_payload(**overrides))
    return service.enroll(data, session=session, clinic=clinic, now=now, actor="test")


def by_step(session: Session, enrollment_id: int) -> dict[str, list[ScheduledMessage]]:
    out: dict[str, list[ScheduledMessage]] = {}
    for m in service.messages_of(session=session, enrollment_id=enrollment_id):
        out.setdefault(m.step_key, []).append(m)
    return out


def test_alice_gets_the_diabetic_corticosteroid_timeline(session, riverside, now) -> None:
    result = enroll(session, riverside, now)
    steps = by_step(session, result.enrollment.id)
    assert result.created
    assert {
        "discharge_summary",
        "numbness_check",
        "flare_check",
        "infection_check",
        "glucose_check",
        "activity_guidance",
        "follow_up_reminder",
        "outcome_check",
    } <= set(steps)
    assert len(steps["flare_check"]) == 2
    assert len(steps["glucose_check"]) >= 3  # diabetic: daily checks for the first days
    assert "follow_up_booking" not in steps  # her visit is booked already
    # Every message is stored in UTC and outside quiet hours unless time-critical.
    for messages in steps.values():
        for m in messages:
            assert m.due_at.tzinfo is not None
            local = m.due_at.astimezone(CHICAGO).time()
            assert m.time_critical or m.status != "pending" or 8 <= local.hour < 20
    reminder = steps["follow_up_reminder"][0]
    assert reminder.due_at.astimezone(CHICAGO) == datetime(2026, 12, 3, 18, 0, tzinfo=CHICAGO)


def test_a_patient_without_diabetes_gets_no_glucose_checks(session, riverside, now) -> None:
    payload = alice_payload()
    payload["patient"]["conditions"] = []
    result = service.enroll(
        parse_enrollment(payload), session=session, clinic=riverside, now=now, actor="test"
    )
    assert "glucose_check" not in by_step(session, result.enrollment.id)


def test_same_external_id_and_time_returns_the_first_enrollment(session, riverside, now) -> None:
    first = enroll(session, riverside, now)
    again = enroll(session, riverside, now)
    assert not again.created and again.enrollment.id == first.enrollment.id
    count = session.scalar(
        select(func.count()).select_from(Patient).where(Patient.clinic_id == riverside.id)
    )
    assert count == 1


def test_late_enrollment_skips_what_has_expired(session, riverside, now) -> None:
    result = enroll(session, riverside, now + timedelta(days=3))
    steps = by_step(session, result.enrollment.id)
    numbness = steps["numbness_check"][0]
    assert (numbness.status, numbness.status_reason) == ("skipped", "expired_before_enrollment")
    assert steps["outcome_check"][0].status == "pending"
    # Time-critical: sent late rather than never (tests/test_late_enrollment.py).
    assert steps["discharge_summary"][0].status == "pending"


def test_procedure_more_than_a_day_ahead_is_refused(session, riverside, now) -> None:
    with pytest.raises(InputError) as err:
        enroll(session, riverside, now - timedelta(days=2))
    assert err.value.errors[0][0] == "procedure.performed_at"


def test_moving_the_visit_recomputes_pending_messages_only(session, riverside, now) -> None:
    enrollment = enroll(session, riverside, now).enrollment
    steps = by_step(session, enrollment.id)
    discharge = steps["discharge_summary"][0]
    discharge.status = "sent"  # history: must not move
    session.flush()
    new_visit = datetime(2026, 12, 10, 9, 0, tzinfo=CHICAGO)
    service.reschedule(
        session=session,
        clinic=riverside,
        enrollment=enrollment,
        now=now + timedelta(hours=1),
        actor="test",
        follow_up_at=new_visit,
    )
    steps = by_step(session, enrollment.id)
    assert steps["discharge_summary"][0].status == "sent"
    assert steps["discharge_summary"][0].due_at == discharge.due_at
    reminder = steps["follow_up_reminder"][0]
    assert reminder.due_at.astimezone(CHICAGO) == datetime(2026, 12, 9, 18, 0, tzinfo=CHICAGO)


def test_removing_the_visit_swaps_reminder_for_booking_prompt(session, riverside, now) -> None:
    enrollment = enroll(session, riverside, now).enrollment
    service.reschedule(
        session=session,
        clinic=riverside,
        enrollment=enrollment,
        now=now,
        actor="test",
        follow_up_at=None,
    )
    steps = by_step(session, enrollment.id)
    assert (
        steps["follow_up_reminder"][0].status,
        steps["follow_up_reminder"][0].status_reason,
    ) == ("cancelled", "no_longer_applies")
    assert steps["follow_up_booking"][0].status == "pending"


def test_moving_the_procedure_moves_every_pending_message(session, riverside, now) -> None:
    enrollment = enroll(session, riverside, now).enrollment
    before = {
        (m.step_key, m.occurrence): m.planned_at
        for m in service.messages_of(session=session, enrollment_id=enrollment.id)
    }
    earlier = datetime(2026, 11, 20, 10, 10, tzinfo=CHICAGO)
    service.reschedule(
        session=session,
        clinic=riverside,
        enrollment=enrollment,
        now=now,
        actor="test",
        performed_at=earlier,
    )
    after = {
        (m.step_key, m.occurrence): m.planned_at
        for m in service.messages_of(session=session, enrollment_id=enrollment.id)
    }
    assert after[("numbness_check", 0)] == before[("numbness_check", 0)] - timedelta(hours=4)


def test_cancelling_cancels_pending_and_keeps_history(session, riverside, now) -> None:
    enrollment = enroll(session, riverside, now).enrollment
    first = service.messages_of(session=session, enrollment_id=enrollment.id)[0]
    first.status = "sent"
    session.flush()
    cancelled = service.cancel(
        session=session, enrollment=enrollment, now=now, actor="test", reason="patient request"
    )
    statuses = {m.status for m in service.messages_of(session=session, enrollment_id=enrollment.id)}
    assert cancelled > 5 and statuses <= {"sent", "cancelled", "skipped"}
    assert enrollment.status == "cancelled"
    actions = session.scalars(select(AuditEvent.action)).all()
    assert "enrollment.cancel" in actions and "enrollment.create" in actions


def test_published_edits_make_a_new_version_and_enrollments_keep_theirs(
    session, riverside, now
) -> None:
    enrollment = enroll(session, riverside, now).enrollment
    pinned = enrollment.protocol_version_id
    draft = protocols.create_draft(session=session, clinic_id=riverside.id, key="corticosteroid")
    steps = [dict(s) for s in draft.steps if s["key"] != "flushing_reassurance"]
    protocols.update_draft(session=session, version=draft, steps=steps)
    protocols.publish(session=session, version=draft)
    with pytest.raises(protocols.ImmutableVersion):
        protocols.update_draft(session=session, version=draft, steps=[])
    latest = protocols.for_injectate(
        session=session, clinic_id=riverside.id, injectate="corticosteroid"
    )
    assert latest.version == 2 and latest.id != pinned
    assert enrollment.protocol_version_id == pinned
    bob = enroll(
        session,
        riverside,
        now,
        patient={
            **alice_payload()["patient"],
            "external_id": "MRN-2",
            "given_name": "Bob",
        },
    )
    assert "flushing_reassurance" not in by_step(session, bob.enrollment.id)
    assert "flushing_reassurance" in by_step(session, enrollment.id)


def test_clinics_cannot_reach_each_others_enrollments(session, riverside, lakeside, now) -> None:
    enrollment = enroll(session, riverside, now).enrollment
    with pytest.raises(service.NotFound):
        service.get_enrollment(session=session, clinic_id=lakeside.id, enrollment_id=enrollment.id)


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        (
            {"patient": {"given_name": "Al", "phone": "+1555", "timezone": "America/Chicago"}},
            "patient.phone",
        ),
        (
            {"patient": {"given_name": "Al", "phone": "+13125550123", "timezone": "Mars/Olympus"}},
            "patient.timezone",
        ),
        (
            {"procedure": {"performed_at": "2026-11-20T14:10:00", "injectate": "prp"}},
            "procedure.performed_at",
        ),
        (
            {"procedure": {"performed_at": "2026-11-20T14:10:00-06:00", "injectate": "botox"}},
            "procedure.injectate",
        ),
        (
            {
                "patient": {
                    "given_name": "Al",
                    "phone": "+13125550123",
                    "timezone": "America/Chicago",
                    "conditions": ["diabetic"],
                }
            },
            "patient.conditions",
        ),
    ],
)
def test_bad_input_names_the_field(patch, field) -> None:
    with pytest.raises(InputError) as err:
        parse_enrollment(alice_payload(**patch))
    assert field in [f for f, _ in err.value.errors]


@pytest.mark.parametrize(
    ("patch", "field", "message"),
    [
        ({"procedure": {"performed_at": "0001-01-01T00:00:00+00:00", "injectate": "prp"}},
         "procedure.performed_at", "between the years"),
        ({"follow_up_at": "9999-12-31T23:59:59-12:00"}, "follow_up_at", "between the years"),
        ({"patient": {"given_name": "Al\x00ice", "phone": "+13125550123",
                      "timezone": "America/Chicago"}}, "patient.given_name", "NUL"),
    ],
)  # fmt: skip
def test_extreme_input_is_refused_before_it_reaches_the_database(patch, field, message) -> None:
    with pytest.raises(InputError) as err:
        parse_enrollment(alice_payload(**patch))
    assert any(f == field and message in m for f, m in err.value.errors)
