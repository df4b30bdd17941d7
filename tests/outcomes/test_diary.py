"""The diagnostic pain diary: Dana's anaesthetic-only injection, scored as % relief.

Dana (Riverside Ortho) rates her pain 8 before her diagnostic injection at 14:10 Chicago
time; the diary asks "pain now?" at 30 min, 1, 2, 4 and 6 h. She answers 2 and then 1:
87.5 % relief at the peak, "≥ 80 % relief". An answer sent after its window closed is
kept on the diary, marked late, and never moves the result. The scoring rule itself is
checked under property-based tests.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders.clinics.models import Clinic
from reminders.conversations.service import receive_sms
from reminders.enrollments import service as enrollments
from reminders.enrollments.importer import import_csv
from reminders.enrollments.models import SENT, Enrollment, ScheduledMessage
from reminders.enrollments.schemas import InputError, parse_enrollment
from reminders.outcomes import diary, prompts
from reminders.outcomes.diary import Reading, relief_for, score
from reminders.protocols.spec import Elapsed
from tests.conftest import alice_payload

DANA_PHONE = "+13125550144"
T0 = datetime(2026, 11, 20, 20, 10, tzinfo=UTC)
_sid = itertools.count()

# -- the rule, under property-based tests ----------------------------------------------

pains = st.integers(min_value=0, max_value=10)
baselines = st.one_of(st.none(), st.integers(min_value=0, max_value=10))
readings = st.lists(
    st.builds(Reading, minutes=st.integers(1, 1440), pain=st.one_of(st.none(), pains),
              late=st.booleans()),
    max_size=8,
)


@given(baseline=st.integers(min_value=1, max_value=10), pain=pains)
def test_relief_is_the_share_of_baseline_pain_gone(baseline: int, pain: int) -> None:
    relief = diary.relief_pct(baseline, pain)
    assert relief is not None
    assert relief == pytest.approx((baseline - pain) / baseline * 100)
    assert relief <= 100
    assert (relief == 100) == (pain == 0)
    assert (relief > 0) == (pain < baseline) and (relief < 0) == (pain > baseline)


@given(pain=st.one_of(st.none(), pains))
def test_no_baseline_or_a_baseline_of_zero_gives_no_result(pain: int | None) -> None:
    assert diary.relief_pct(None, pain) is None
    assert diary.relief_pct(0, pain) is None
    result = score(0, [Reading(30, pain)])
    assert result.peak_pct is None and result.label == "no result"


@given(baseline=baselines, found=readings)
def test_the_peak_is_the_best_in_window_point_and_late_answers_never_count(
    baseline: int | None, found: list[Reading]
) -> None:
    result = score(baseline, found)
    in_window = [diary.relief_pct(baseline, r.pain) for r in found if not r.late]
    values = [v for v in in_window if v is not None]
    assert result.peak_pct == (max(values) if values else None)
    assert all(p.relief_pct is None for p in result.points if p.late)
    # Dropping the late answers changes nothing but the diary's record of them.
    on_time = score(baseline, [r for r in found if not r.late])
    assert (on_time.peak_pct, on_time.label) == (result.peak_pct, result.label)
    assert [p.minutes for p in result.points] == sorted(r.minutes for r in found)


@given(baseline=baselines, found=readings, seed=st.randoms())
def test_the_order_answers_are_read_in_does_not_matter(
    baseline: int | None, found: list[Reading], seed: object
) -> None:
    shuffled = list(found)
    seed.shuffle(shuffled)  # type: ignore[attr-defined]
    assert score(baseline, shuffled).peak_pct == score(baseline, found).peak_pct


@given(peak=st.one_of(st.none(), st.floats(-1000, 100)), good=st.integers(1, 99),
       extra=st.integers(0, 99))  # fmt: skip
def test_the_label_reads_the_peak_against_the_clinics_thresholds(
    peak: float | None, good: int, extra: int
) -> None:
    strong = min(100, good + extra)
    label = diary.label_for(peak, good=good, strong=strong)
    if peak is None:
        assert label == "no result"
    elif peak >= strong:
        assert label == f"≥ {strong} % relief"
    elif peak >= good:
        assert label == f"≥ {good} % relief"
    else:
        assert label == f"< {good} % relief"


@settings(max_examples=60)
@given(times=st.sets(st.integers(1, 1440), min_size=1, max_size=12))
def test_diary_prompts_never_overlap_the_next_one(times: set[int]) -> None:
    version_steps = _bundled_steps()
    expanded = prompts.expand(version_steps, prompts.DiarySettings(minutes=tuple(sorted(times))),
                              baseline_known=True)  # fmt: skip
    points = [s for s in expanded if prompts.is_diary_key(s.key)]
    assert len({s.key for s in expanded}) == len(expanded)
    assert [s.when.delta for s in points if isinstance(s.when, Elapsed)] == [
        timedelta(minutes=m) for m in sorted(times)]  # fmt: skip
    for this, after in itertools.pairwise(points):
        assert isinstance(this.when, Elapsed) and isinstance(after.when, Elapsed)
        gap = after.when.delta - this.when.delta
        assert this.answer_window is not None and this.answer_window <= gap
        assert this.expires <= gap


def _bundled_steps() -> list:
    from reminders.protocols.loader import load_protocols, template_dirs

    return list(load_protocols(template_dirs())["anesthetic_only"].steps)


def test_a_point_reads_in_words() -> None:
    assert [prompts.point_label(m) for m in (30, 60, 90, 360)] == [
        "30 min", "1 h", "1 h 30 min", "6 h"]  # fmt: skip
    assert prompts.parse_minutes("30m, 1h, 2 hours; 240") == (30, 60, 120, 240)
    with pytest.raises(ValueError, match="“soon” is not a time"):
        prompts.parse_minutes("30m, soon")


# -- Dana's diary -----------------------------------------------------------------------


def dana(session: Session, clinic: Clinic, now: datetime, **procedure: object) -> Enrollment:
    payload = alice_payload(patient={"external_id": "MRN-2001", "given_name": "Dana",
                                     "phone": DANA_PHONE,
                                     "timezone": "America/Chicago"})  # fmt: skip
    payload["procedure"] = {"performed_at": T0.isoformat(), "injectate": "anesthetic_only",
                            "diagnostic": True, **procedure}  # fmt: skip
    return enrollments.enroll(parse_enrollment(payload), session=session, clinic=clinic, now=now,
                              actor="test").enrollment  # fmt: skip


def sent(session: Session, enrollment: Enrollment, key: str, at: datetime) -> None:
    message = session.scalars(select(ScheduledMessage).where(
        ScheduledMessage.enrollment_id == enrollment.id,
        ScheduledMessage.step_key == key)).one()  # fmt: skip
    message.status, message.sent_at = SENT, at
    session.flush()


def texts(session: Session, at: datetime, body: str) -> None:
    receive_sms(session=session, now=at, message_sid=f"SM{next(_sid):032d}", sender=DANA_PHONE,
                to="+13125550100", body=body)  # fmt: skip


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def test_dana_answers_2_then_1_against_a_baseline_of_8(
    session: Session, riverside: Clinic, lakeside: Clinic
) -> None:
    enrollment = dana(session, riverside, T0, baseline_pain=8)
    planned = session.scalars(select(ScheduledMessage.step_key).where(
        ScheduledMessage.enrollment_id == enrollment.id,
        ScheduledMessage.step_key.like("pain%"))).all()  # fmt: skip
    assert sorted(planned) == sorted(["pain_diary_30m", "pain_diary_1h", "pain_diary_2h",
                                      "pain_diary_4h", "pain_diary_6h"])  # fmt: skip
    sent(session, enrollment, "pain_diary_30m", T0 + minutes(30))
    texts(session, T0 + minutes(34), "2")
    sent(session, enrollment, "pain_diary_1h", T0 + minutes(60))
    texts(session, T0 + minutes(62), "its a 1 now")
    # The 2 h question's window is an hour; her "5" comes 20 minutes after it closed.
    sent(session, enrollment, "pain_diary_2h", T0 + minutes(120))
    texts(session, T0 + minutes(200), "5")

    result = relief_for(session=session, enrollment_id=enrollment.id)
    assert result is not None
    assert result.baseline == 8
    assert [(p.label, p.pain, p.late) for p in result.points] == [
        ("30 min", 2, False), ("1 h", 1, False), ("2 h", 5, True), ("4 h", None, False),
        ("6 h", None, False)]  # fmt: skip
    assert [p.relief_pct for p in result.points[:3]] == [75.0, 87.5, None]
    assert result.points[2].answered_at == T0 + minutes(200)
    assert (result.peak_pct, result.label) == (87.5, "≥ 80 % relief")
    assert diary.as_json(result)["points"][1] == {
        "label": "1 h", "minutes": 60, "pain": 1, "relief_pct": 87.5,
        "answered_at": (T0 + minutes(62)).isoformat(), "late": False}  # fmt: skip


def test_the_clinics_own_times_and_thresholds(session: Session, riverside: Clinic) -> None:
    riverside.diary = {"minutes": [20, 45], "good_pct": 40, "strong_pct": 70}
    enrollment = dana(session, riverside, T0, baseline_pain=5)
    sent(session, enrollment, "pain_diary_45m", T0 + minutes(45))
    texts(session, T0 + minutes(50), "3")
    result = relief_for(session=session, enrollment_id=enrollment.id)
    assert result is not None
    assert [p.label for p in result.points] == ["20 min", "45 min"]
    assert (result.peak_pct, result.label) == (40.0, "≥ 40 % relief")


def test_a_check_in_before_the_procedure_gives_the_baseline(
    session: Session, riverside: Clinic
) -> None:
    riverside.diary = {"baseline_checkin_minutes": 60}
    enrollment = dana(session, riverside, T0 - timedelta(hours=3))  # enrolled that morning
    sent(session, enrollment, "pain_baseline", T0 - minutes(60))
    texts(session, T0 - minutes(55), "6")
    sent(session, enrollment, "pain_diary_30m", T0 + minutes(30))
    texts(session, T0 + minutes(31), "3")
    result = relief_for(session=session, enrollment_id=enrollment.id)
    assert result is not None
    assert (result.baseline, result.peak_pct, result.label) == (6, 50.0, "≥ 50 % relief")


def test_no_baseline_no_result_and_no_check_in_unless_the_clinic_wants_one(
    session: Session, riverside: Clinic
) -> None:
    enrollment = dana(session, riverside, T0)
    keys = session.scalars(select(ScheduledMessage.step_key).where(
        ScheduledMessage.enrollment_id == enrollment.id)).all()  # fmt: skip
    assert "pain_baseline" not in keys
    sent(session, enrollment, "pain_diary_30m", T0 + minutes(30))
    texts(session, T0 + minutes(31), "3")
    result = relief_for(session=session, enrollment_id=enrollment.id)
    assert result is not None
    assert (result.baseline, result.points[0].pain, result.label) == (None, 3, "no result")


def test_a_therapeutic_injection_has_no_diary(session: Session, riverside: Clinic) -> None:
    alice = enrollments.enroll(parse_enrollment(alice_payload()), session=session,
                               clinic=riverside, now=T0, actor="test").enrollment  # fmt: skip
    assert relief_for(session=session, enrollment_id=alice.id) is None


def test_the_baseline_is_a_whole_number_from_0_to_10_at_every_front_door(
    session: Session, riverside: Clinic
) -> None:
    for bad in (11, -1, "7.5", "eight", True):
        payload = alice_payload()
        payload["procedure"] = {**payload["procedure"], "baseline_pain": bad}  # type: ignore[dict-item]
        with pytest.raises(InputError) as caught:
            parse_enrollment(payload)
        assert caught.value.errors == [("procedure.baseline_pain",
                                        "must be a whole number from 0 to 10")]  # fmt: skip
    header = "given_name,phone,timezone,performed_at,injectate,diagnostic,baseline_pain\n"
    report = import_csv(
        header + f"Dana,{DANA_PHONE},America/Chicago,{T0.isoformat()},anesthetic_only,yes,7\n"
        f"Erin,+13125550145,America/Chicago,{T0.isoformat()},anesthetic_only,yes,12\n",
        session=session, clinic=riverside, now=T0, actor="test",
    )  # fmt: skip
    assert [str(e) for e in report.errors] == [
        "Row 3, Pain before the injection: must be a whole number from 0 to 10"]
    imported = session.get_one(Enrollment, report.imported[0])
    assert imported.baseline_pain == 7


def test_a_protocol_that_writes_out_its_diary_keeps_it() -> None:
    from dataclasses import replace

    own = [replace(s, key="pain_diary_2h") if s.key == "pain_diary" else s
           for s in _bundled_steps()]  # fmt: skip
    steps = prompts.expand(own, prompts.DiarySettings(), baseline_known=False)
    assert steps == own


def test_an_admin_sets_the_clinics_diary_on_the_settings_page(
    session: Session, riverside: Clinic
) -> None:
    from reminders.clinics import settings as clinic_settings

    form = clinic_settings.current(riverside)
    assert form["diary_minutes"] == "30m, 1h, 2h, 4h, 6h"
    form |= {"diary_minutes": "20m, 1h", "relief_good_pct": "40", "relief_strong_pct": "70",
             "baseline_checkin_minutes": "60"}  # fmt: skip
    changed = clinic_settings.update(session=session, clinic=riverside, form=form, actor="test",
                                     staff_id=0)  # fmt: skip
    assert changed == ["diary"]
    assert prompts.settings_of(riverside) == prompts.DiarySettings((20, 60), 40, 70, 60)
    form |= {"diary_minutes": "20m, soon", "relief_strong_pct": "30"}
    with pytest.raises(InputError) as caught:
        clinic_settings.update(session=session, clinic=riverside, form=form, actor="test",
                               staff_id=0)  # fmt: skip
    assert dict(caught.value.errors) == {
        "diary_minutes": "“soon” is not a time after the procedure such as 30m or 2h",
        "relief_strong_pct": "must be at least the first relief threshold"}
