"""Bulk rows for the delivery benchmark (PostgreSQL): patients, enrollments, messages.

Patients, procedures and enrollments go in with multi-row INSERT … RETURNING (their ids
are needed); messages, the bulk, go in with COPY.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from sqlalchemy import Engine, insert
from sqlalchemy.orm import Session

from reminders.clinics.service import create_clinic
from reminders.enrollments.models import Enrollment
from reminders.patients.models import Patient, Procedure
from reminders.protocols import service as protocols

MESSAGE_COLUMNS = (
    "clinic_id",
    "enrollment_id",
    "step_key",
    "occurrence",
    "idempotency_key",
    "template",
    "channel",
    "time_critical",
    "planned_at",
    "due_at",
    "expires_at",
    "status",
    "claims",
    "created_at",
    "updated_at",
)


def make_clinic(engine: Engine, sms_from: str = "+13125550100") -> tuple[int, int]:
    """A round-the-clock clinic (no quiet hours) with the built-in protocols."""
    with Session(engine) as session, session.begin():
        clinic = create_clinic(
            session=session, name="Bench Ortho", timezone="America/Chicago", sms_from=sms_from
        ).clinic
        clinic.window_opens = clinic.window_closes
        version = protocols.for_injectate(
            session=session, clinic_id=clinic.id, injectate="corticosteroid"
        )
        return clinic.id, version.id


def enroll_many(engine: Engine, clinic_id: int, version_id: int, n: int, at: datetime) -> list[int]:
    """``n`` patients, each with a procedure and an enrollment; the enrollment ids."""
    with Session(engine) as session, session.begin():
        patients = _insert(
            session,
            Patient,
            [
                {
                    "clinic_id": clinic_id,
                    "given_name": f"Pat{i}",
                    "phone": f"+1{3120000000 + i}",
                    "timezone": "America/Chicago",
                    "language": "en",
                    "conditions": [],
                    "channel_preference": "sms",
                    "created_at": at,
                }
                for i in range(n)
            ],
        )
        procedures = _insert(
            session,
            Procedure,
            [
                {
                    "clinic_id": clinic_id,
                    "patient_id": pid,
                    "performed_at": at - timedelta(hours=2),
                    "performed_tz": "UTC-06:00",
                    "injectate": "corticosteroid",
                    "site": "hip joint",
                    "diagnostic": False,
                    "created_at": at,
                }
                for pid in patients
            ],
        )
        return _insert(
            session,
            Enrollment,
            [
                {
                    "clinic_id": clinic_id,
                    "patient_id": pid,
                    "procedure_id": proc,
                    "protocol_version_id": version_id,
                    "status": "active",
                    "channel": "sms",
                    "created_at": at,
                }
                for pid, proc in zip(patients, procedures, strict=True)
            ],
        )


def _insert(session: Session, model: type, rows: list[dict[str, object]]) -> list[int]:
    ids: list[int] = []
    for start in range(0, len(rows), 5000):
        statement = insert(model).returning(model.id, sort_by_parameter_order=True)  # type: ignore[attr-defined]
        ids += session.scalars(statement, rows[start : start + 5000]).all()
    return ids


def copy_messages(
    engine: Engine, rows: Iterator[tuple[object, ...]], columns: tuple[str, ...] = MESSAGE_COLUMNS
) -> int:
    """COPY message rows (in ``columns`` order) into scheduled_messages."""
    raw = engine.raw_connection()
    written = 0
    try:
        cursor = raw.cursor()
        sql = f"COPY scheduled_messages ({', '.join(columns)}) FROM STDIN"
        with cursor.copy(sql) as copy:  # type: ignore[attr-defined]
            for row in rows:
                copy.write_row(row)
                written += 1
        raw.commit()
    finally:
        raw.close()
    return written


def message_rows(
    clinic_id: int,
    enrollment_ids: list[int],
    *,
    tag: str,
    first_due: datetime,
    each: int = 1,
    spacing: timedelta = timedelta(hours=6),
    created: datetime,
) -> Iterator[tuple[object, ...]]:
    """``each`` pending flare_check messages per enrollment, ``spacing`` apart."""
    for eid in enrollment_ids:
        for k in range(each):
            due = first_due + spacing * k
            yield (
                clinic_id,
                eid,
                "flare_check",
                k,
                f"{eid}:{tag}:{k}",
                "flare_check",
                "sms",
                False,
                due,
                due,
                due + timedelta(days=2),
                "pending",
                0,
                created,
                created,
            )
