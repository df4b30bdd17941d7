"""CSV enrollment import, shared by `aftercare import` and the web upload.

Columns (header row required; order free; unknown columns are an error so a typo in a
header is not silently ignored):

    external_id, given_name*, family_name, phone, email, timezone*, language,
    conditions (separated by ';'), performed_at*, injectate*, site, side,
    diagnostic (true/false/yes/no/1/0), baseline_pain (0-10, before the injection),
    follow_up_at, channel (sms|email)

Every bad row is reported with its row number and field in words; good rows are imported,
each in its own savepoint, unless ``all_or_nothing`` is set, when one bad row imports nothing.
A row enrolled after some of its steps' times had passed is reported too: which steps
were sent late (time-critical ones) and which were skipped, and why (late.py).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from reminders.clinics.models import Clinic
from reminders.display import error_in_words
from reminders.enrollments import service
from reminders.enrollments.late import past_steps
from reminders.enrollments.schemas import InputError, parse_enrollment

PATIENT_COLUMNS = (
    "external_id",
    "given_name",
    "family_name",
    "phone",
    "email",
    "timezone",
    "language",
    "conditions",
)
PROCEDURE_COLUMNS = ("performed_at", "injectate", "site", "side", "diagnostic", "baseline_pain")
OTHER_COLUMNS = ("follow_up_at", "channel")
COLUMNS = PATIENT_COLUMNS + PROCEDURE_COLUMNS + OTHER_COLUMNS
REQUIRED = ("given_name", "timezone", "performed_at", "injectate")
_TRUE, _FALSE = {"true", "yes", "y", "1"}, {"false", "no", "n", "0", ""}


@dataclass
class RowError:
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        # As the person with the spreadsheet reads it: "Row 3, Mobile phone: is not a valid
        # phone number" (the row counts the header as 1, like the spreadsheet does).
        if self.field == "header":
            return f"Header row: {self.message}"
        if self.field == "row":
            return f"Row {self.line}: {self.message}"
        return f"Row {self.line}, {error_in_words(self.field, self.message)}"


@dataclass
class ImportReport:
    imported: list[int] = field(default_factory=list)  # enrollment ids
    existing: list[int] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    committed: bool = True
    # Rows enrolled late: "Row 3, Discharge summary: sent late, it was due …".
    late: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "imported": len(self.imported),
            "already_enrolled": len(self.existing),
            "errors": [str(e) for e in self.errors],
            "committed": self.committed,
        }
        return found | ({"late": list(self.late)} if self.late else {})


def row_to_payload(row: dict[str, str]) -> dict[str, Any]:
    def value(name: str) -> str | None:
        text = (row.get(name) or "").strip()
        return text or None

    diagnostic = (value("diagnostic") or "").lower()
    if diagnostic not in _TRUE | _FALSE:
        raise InputError([("diagnostic", "must be true or false")])
    patient: dict[str, Any] = {k: value(k) for k in PATIENT_COLUMNS if value(k)}
    patient["conditions"] = [c for c in (value("conditions") or "").split(";") if c.strip()]
    procedure: dict[str, Any] = {
        k: value(k) for k in ("performed_at", "injectate", "site", "side", "baseline_pain")
        if value(k)
    }
    procedure["diagnostic"] = diagnostic in _TRUE
    payload: dict[str, Any] = {"patient": patient, "procedure": procedure}
    for name in OTHER_COLUMNS:
        if value(name):
            payload[name] = value(name)
    return payload


def import_csv(
    text: str,
    *,
    session: Session,
    clinic: Clinic,
    now: datetime,
    actor: str,
    all_or_nothing: bool = False,
) -> ImportReport:
    report = ImportReport()
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        report.errors.append(RowError(1, "header", "the file is empty or has no header row"))
        report.committed = False
        return report
    unknown = [h for h in header if h not in COLUMNS]
    missing = [c for c in REQUIRED if c not in header]
    if unknown or missing:
        if unknown:
            report.errors.append(RowError(1, "header", f"unknown column(s): {', '.join(unknown)}"))
        if missing:
            report.errors.append(RowError(1, "header", f"missing column(s): {', '.join(missing)}"))
        report.committed = False
        return report
    reader.fieldnames = header
    outer = session.begin_nested() if all_or_nothing else None
    for row in reader:
        line = reader.line_num
        if None in row:
            report.errors.append(RowError(line, "row", "has more fields than the header"))
            continue
        savepoint = session.begin_nested()
        try:
            data = parse_enrollment(row_to_payload(row))
            result = service.enroll(data, session=session, clinic=clinic, now=now, actor=actor)
        except InputError as exc:
            savepoint.rollback()
            report.errors.extend(RowError(line, f, m) for f, m in exc.errors)
            continue
        savepoint.commit()
        (report.imported if result.created else report.existing).append(result.enrollment.id)
        if result.created:
            report.late.extend(f"Row {line}, {past}"
                               for past in past_steps(session=session,
                                                      enrollment=result.enrollment))  # fmt: skip
    if outer is not None:
        if report.errors:
            outer.rollback()
            report.committed = False
            report.imported.clear()
            report.existing.clear()
            report.late.clear()
        else:
            outer.commit()
    return report
