"""/api/v1/enrollments/{id}/relief: the diagnostic pain diary's result (% relief).

Read-only, scoped to the API key's clinic like every enrolment call; the rule is
reminders/outcomes/diary.py's (the timeline and FHIR show the same numbers).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from reminders import audit
from reminders.outcomes.diary import relief_for
from reminders.web.api.enrollments import ACTOR, NOT_FOUND, EnrollmentId, _get
from reminders.web.deps import ApiClinic, SessionDep

router = APIRouter(prefix="/enrollments", tags=["enrollments"])


class ReliefPointOut(BaseModel):
    label: str = Field(description="The diary time in words: '30 min', '1 h', ...")
    minutes: int = Field(description="Minutes after the procedure")
    pain: int | None = Field(description="Pain now, 0-10; null when unanswered")
    relief_pct: float | None = Field(
        description="(baseline - pain) / baseline x 100, one decimal; null without a baseline "
        "(or baseline 0), without an answer, or for a late answer")  # fmt: skip
    answered_at: datetime | None
    late: bool = Field(description="Answered after its window: recorded, not counted")


class ReliefOut(BaseModel):
    baseline: int | None = Field(description="Pain 0-10 before the injection")
    peak_pct: float | None = Field(description="Highest relief over in-window answers")
    label: str = Field(description="'≥ 80 % relief', '≥ 50 % relief', '< 50 % relief' (the "
                       "clinic's thresholds) or 'no result'")  # fmt: skip
    points: list[ReliefPointOut]


@router.get("/{enrollment_id}/relief", response_model=ReliefOut,
            responses={404: {"description": "No such enrolment in this clinic, or it has no "
                             "diagnostic pain diary"}})  # fmt: skip
def get_relief(enrollment_id: EnrollmentId, clinic: ApiClinic, session: SessionDep) -> ReliefOut:
    """The diagnostic pain diary: baseline, pain and % relief at each diary time, the peak
    and its label. 404 for an enrolment without a diary (not a diagnostic injection)."""
    enrollment = _get(session, clinic.id, enrollment_id)
    result = relief_for(session=session, enrollment_id=enrollment.id)
    if result is None:
        raise HTTPException(404, "this enrolment has no diagnostic pain diary")
    audit.record(session=session, clinic_id=clinic.id, actor=ACTOR, action="enrollment.view",
                 subject_type="enrollment", subject_id=enrollment.id)  # fmt: skip
    return ReliefOut(
        baseline=result.baseline, peak_pct=_one(result.peak_pct), label=result.label,
        points=[ReliefPointOut(label=p.label, minutes=p.minutes, pain=p.pain,
                               relief_pct=_one(p.relief_pct), answered_at=p.answered_at,
                               late=p.late) for p in result.points],
    )  # fmt: skip


def _one(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


__all__ = ["NOT_FOUND", "router"]
