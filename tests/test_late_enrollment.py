"""Alice had her injection at 14:10 on Friday in Chicago; nobody enrolled her until 07:00
on Saturday. Her discharge summary (time-critical: it tells her when to get help) still
goes out, at once, although 07:00 is inside her quiet hours; the steps that are only
useful for a few hours after they were due are skipped. The form, the CSV report and the
API answer each say which, and why."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders.display import sentence_case, step_label
from reminders.enrollments import service
from reminders.enrollments.importer import import_csv
from reminders.enrollments.late import past_steps
from reminders.enrollments.models import STEP, ScheduledMessage
from reminders.enrollments.schemas import parse_enrollment
from tests.conftest import NOW, alice_payload
from tests.web.conftest import (  # noqa: F401  (cast … fast_hashes: the web cast's fixtures)
    RIVERSIDE_KEY,
    Cast,
    bearer,
    cast,
    client,
    clock,
    fast_hashes,
    sign_in,
)
from tests.web.test_patient_edit import send_due

CHICAGO = ZoneInfo("America/Chicago")
SATURDAY_7AM = datetime(2026, 11, 21, 7, 0, tzinfo=CHICAGO)  # NOW is Friday 14:10 there


def outcomes(past: list) -> dict[str, str]:
    return {p.step: p.outcome for p in past}


def test_the_discharge_summary_goes_out_late_and_the_expired_steps_are_skipped(
    session: Session, riverside
) -> None:
    result = service.enroll(parse_enrollment(alice_payload()), session=session,
                            clinic=riverside, now=SATURDAY_7AM, actor="test")  # fmt: skip
    past = past_steps(session=session, enrollment=result.enrollment)
    assert outcomes(past) == {"discharge_summary": "sent_late", "activity_guidance": "skipped",
                              "numbness_check": "skipped"}  # fmt: skip
    discharge = past[0]
    assert discharge.label == sentence_case(step_label("discharge_summary"))  # display.py
    assert "time-critical" in discharge.explanation and "Fri 20 Nov 14:10" in discharge.explanation
    numbness = next(p for p in past if p.step == "numbness_check")
    assert numbness.reason == "expired_before_enrollment"
    assert "only useful until Fri 20 Nov 22:10" in numbness.explanation

    # Sent at enrolment, inside quiet hours (time-critical); nothing else is due yet.
    sent, console = send_due(session, SATURDAY_7AM)
    assert [o.result for o in sent] == ["sent"] and len(console.outbox) == 1
    [message] = session.scalars(select(ScheduledMessage).where(
        ScheduledMessage.enrollment_id == result.enrollment.id, ScheduledMessage.status == "sent",
        ScheduledMessage.kind == STEP))  # fmt: skip
    assert message.step_key == "discharge_summary"
    # Asked again later, the report still reads the same.
    assert outcomes(past_steps(session=session, enrollment=result.enrollment)) == outcomes(past)


def test_the_csv_report_lists_late_and_skipped_steps(session: Session, riverside) -> None:
    text = ("external_id,given_name,phone,timezone,performed_at,injectate\n"
            "MRN-1001,Alice,+13125550123,America/Chicago,2026-11-20T14:10:00-06:00,"
            "corticosteroid\n")  # fmt: skip
    report = import_csv(text, session=session, clinic=riverside, now=SATURDAY_7AM,
                        actor="test").as_dict()  # fmt: skip
    assert report["imported"] == 1 and report["errors"] == []
    late = report["late"]
    assert any(line.startswith("Row 2, ") and "sent late" in line and "time-critical" in line
               for line in late)  # fmt: skip
    assert sum(": skipped, " in line for line in late) == 2


def test_the_api_and_the_form_say_what_was_sent_late_and_skipped(
    client: TestClient,  # noqa: F811
    cast: Cast,  # noqa: F811
) -> None:
    yesterday = (NOW - timedelta(hours=17)).isoformat()  # Thursday 21:10 in Chicago
    payload = alice_payload()
    payload["patient"] = {**payload["patient"], "external_id": "MRN-2002"}  # type: ignore[dict-item]
    payload["procedure"] = {**payload["procedure"], "performed_at": yesterday}  # type: ignore[dict-item]
    answer = client.post("/api/v1/enrollments", json=payload, headers=bearer(RIVERSIDE_KEY))
    assert answer.status_code == 201, answer.text
    past = {p["step"]: p for p in answer.json()["past_steps"]}
    assert past["discharge_summary"]["outcome"] == "sent_late"
    assert past["discharge_summary"]["reason"] == "late_time_critical"
    assert past["numbness_check"]["outcome"] == "skipped"
    assert "only useful until" in past["numbness_check"]["explanation"]

    token = sign_in(client, "cora@riverside.test")
    form = {"csrf_token": token, "given_name": "Dora", "phone": "+13125550166",
            "timezone": "America/Chicago", "language": "en", "injectate": "corticosteroid",
            "channel": "sms", "performed_at": "2026-11-19T21:10"}  # fmt: skip
    posted = client.post("/enrol", data=form)
    assert posted.status_code == 303 and posted.headers["location"].startswith("/enrol?enrolled=")
    page = client.get(posted.headers["location"])
    assert "Dora" in page.text and "Sent late" in page.text and "Skipped" in page.text
    assert "time-critical" in page.text and "Open the timeline" in page.text
