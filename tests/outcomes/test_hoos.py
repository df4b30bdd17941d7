"""HOOS JR: the data file, scoring under property-based tests, and form links.

Alice at Riverside Ortho gets a baseline link at enrolment and one at six weeks; she
answers through the link once. Bob at Lakeside never sees her answers.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from reminders.clinics.service import create_clinic
from reminders.enrollments.models import ScheduledMessage
from reminders.enrollments.schemas import parse_enrollment
from reminders.enrollments.service import enroll, replan
from reminders.outcomes import hoos
from reminders.outcomes.instruments import BUILT_IN, InstrumentError, built_in, parse, parse_text
from reminders.outcomes.prom_models import ClinicInstrument, FormToken
from tests.conftest import alice_payload

SECRET = "test-secret-key-that-is-long-enough-0123456789"
HOOS = built_in("hoos_jr")
ITEMS = [item.id for item in HOOS.items]
NOW = datetime.fromisoformat("2026-11-20T21:00:00+00:00")
answer_sets = st.fixed_dictionaries({i: st.integers(0, 4) for i in ITEMS})


# -- the data file ------------------------------------------------------------------------


def test_the_data_file_has_six_items_five_answers_a_full_table_and_says_it_is_unverified() -> None:
    assert ITEMS == ["stairs", "uneven_surface", "rising_from_sitting", "bending",
                     "lying_in_bed", "sitting"]  # fmt: skip
    assert [a.label for a in HOOS.answers] == ["None", "Mild", "Moderate", "Severe", "Extreme"]
    assert sorted(HOOS.table) == list(range(25)) and HOOS.max_raw == 24
    assert HOOS.languages == ("en",) and "Spanish" in HOOS.language_note
    # The table is the only one found, not the HSS one: it must say so (docs/protocols.md).
    assert HOOS.verified is False and "NOT THE PUBLISHED HSS TABLE" in HOOS.table_source
    assert "Lyman S" in HOOS.source and "must not be altered" in HOOS.licence


def _definition() -> dict[str, object]:
    return yaml.safe_load((BUILT_IN / "hoos_jr.yaml").read_text(encoding="utf-8"))


@pytest.mark.parametrize(("change", "words"), [
    (lambda d: d.pop("licence"), "clinic.yaml: licence is missing"),
    (lambda d: d["scoring"]["table"].pop(7), "scoring: table: no score for raw 7"),
    (lambda d: d["scoring"]["table"].update({9: 99.0}), "score for raw 9 is higher than for raw 8"),
    (lambda d: d["scoring"]["table"].update({0: 120}), "score for raw 0 must be from 0 to 100"),
    (lambda d: d.update(languages=["en", "fr"]), "languages must include en and may add es"),
    (lambda d: d["sections"][1]["items"].append({"id": "stairs", "text": "Again"}),
     "section 2, item 5: id stairs is used twice"),
    (lambda d: d["answers"].pop(), "scoring: table: 19 is not a raw score from 0 to 18"),
])  # fmt: skip
def test_a_clinic_file_with_a_problem_is_refused_naming_the_file_and_field(
    change, words  # type: ignore[no-untyped-def]
) -> None:
    data = _definition()
    change(data)
    with pytest.raises(InstrumentError, match=re.escape(words)):
        parse(data, name="clinic.yaml")


def test_unreadable_yaml_is_refused_with_its_line() -> None:
    with pytest.raises(InstrumentError, match=r"clinic\.yaml: not readable as YAML at line 2"):
        parse_text("key: x\n  - : [", name="clinic.yaml")


# -- scoring ------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(answer_sets)
def test_scores_stay_within_0_to_100_and_follow_the_table(answers: dict[str, int]) -> None:
    raw, interval = hoos.score(HOOS, answers) or (None, None)
    assert raw == sum(answers.values()) and 0 <= raw <= 24
    assert interval == HOOS.table[raw] and 0.0 <= interval <= 100.0


@settings(max_examples=200, deadline=None)
@given(answer_sets, st.sampled_from(ITEMS))
def test_a_worse_answer_never_scores_better(answers: dict[str, int], item: str) -> None:
    if answers[item] == 4:
        return
    worse = answers | {item: answers[item] + 1}
    assert hoos.score(HOOS, worse)[1] <= hoos.score(HOOS, answers)[1]  # type: ignore[index]


@settings(max_examples=100, deadline=None)
@given(answer_sets, st.sets(st.sampled_from(ITEMS), min_size=1))
def test_any_unanswered_item_means_no_score(answers: dict[str, int], missing: set[str]) -> None:
    partial = {k: v for k, v in answers.items() if k not in missing}
    assert hoos.score(HOOS, partial) is None


def test_the_table_endpoints() -> None:
    assert hoos.score(HOOS, dict.fromkeys(ITEMS, 0)) == (0, 100.0)  # no trouble: perfect
    worst = hoos.score(HOOS, dict.fromkeys(ITEMS, 4))
    assert worst is not None and worst[0] == 24 and worst[1] == min(HOOS.table.values())


def test_an_answer_outside_the_choices_is_refused() -> None:
    with pytest.raises(ValueError, match="sitting"):
        hoos.raw_score(HOOS, dict.fromkeys(ITEMS, 0) | {"sitting": 5})


# -- links, scheduling and responses ------------------------------------------------------


@pytest.fixture
def riverside(session: Session):  # type: ignore[no-untyped-def]
    clinic = create_clinic(session=session, name="Riverside Ortho", timezone="America/Chicago",
                           sms_from="+13125550100").clinic  # fmt: skip
    session.add(ClinicInstrument(clinic_id=clinic.id, key="hoos_jr", enabled=True,
                                 follow_up_days=42))  # fmt: skip
    session.flush()
    return clinic


@pytest.fixture
def alice(session: Session, riverside, monkeypatch: pytest.MonkeyPatch) -> int:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AFTERCARE_SECRET_KEY", SECRET)
    from reminders.config import get_settings

    get_settings.cache_clear()
    result = enroll(parse_enrollment(alice_payload()), session=session, clinic=riverside,
                    now=NOW, actor="test")  # fmt: skip
    get_settings.cache_clear()
    return result.enrollment.id


def _invites(session: Session, enrollment_id: int) -> list[ScheduledMessage]:
    return list(session.scalars(select(ScheduledMessage).where(
        ScheduledMessage.enrollment_id == enrollment_id,
        ScheduledMessage.step_key.like("hoos_jr%")).order_by(ScheduledMessage.due_at)))  # fmt: skip


def _token_of(message: ScheduledMessage) -> str:
    assert message.body is not None
    return message.body.split("/forms/", 1)[1].split()[0]


def test_enrolment_queues_a_baseline_link_now_and_one_at_six_weeks(
    session: Session, alice: int
) -> None:
    baseline, follow_up = _invites(session, alice)
    assert baseline.due_at == NOW and baseline.body and "Alice" in baseline.body
    assert follow_up.due_at == datetime.fromisoformat("2027-01-01T14:10:00-06:00")
    assert follow_up.expires_at == follow_up.due_at + timedelta(days=14)
    tokens = session.scalars(select(FormToken).order_by(FormToken.id)).all()
    assert [t.timepoint for t in tokens] == ["baseline", "6 weeks"]
    assert all(
        len(t.token_hash) == 64 and t.token_hash not in (baseline.body or "") for t in tokens
    )
    # A re-plan (the patient's details changed) leaves the invitations alone.
    from reminders.clinics.models import Clinic
    from reminders.enrollments.models import Enrollment

    enrollment = session.get_one(Enrollment, alice)
    replan(session=session, clinic=session.get_one(Clinic, enrollment.clinic_id),
           enrollment=enrollment, now=NOW)  # fmt: skip
    assert [m.status for m in _invites(session, alice)] == ["pending", "pending"]


def test_a_link_works_once_and_scores_alice(session: Session, alice: int) -> None:
    token = _token_of(_invites(session, alice)[0])
    form = {"stairs": "2", "uneven_surface": "2", "rising_from_sitting": "2", "bending": "3",
            "lying_in_bed": "1", "sitting": "1"}  # fmt: skip
    first = hoos.submit(session=session, token=token, form=form, now=NOW, secret=SECRET)
    assert first.state == "saved" and first.response is not None
    assert (first.response.raw, first.response.interval) == (11, HOOS.table[11])
    again = hoos.submit(session=session, token=token, form=form, now=NOW, secret=SECRET)
    assert again.state == "used"
    patient_id = session.get_one(FormToken, first.response.token_id).patient_id
    scored = hoos.responses(session=session, clinic_id=first.response.clinic_id,
                            patient_id=patient_id)  # fmt: skip
    assert [(r.timepoint, r.raw, r.verified) for r in scored] == [("baseline", 11, False)]
    # Bob's clinic asks for Alice: nothing.
    assert hoos.responses(session=session, clinic_id=first.response.clinic_id + 999,
                          patient_id=patient_id) == []  # fmt: skip


def test_missing_answers_are_named_and_nothing_is_saved(session: Session, alice: int) -> None:
    token = _token_of(_invites(session, alice)[0])
    result = hoos.submit(session=session, token=token, form={"stairs": "1", "sitting": "9"},
                         now=NOW, secret=SECRET)  # fmt: skip
    assert result.state == "errors"
    assert result.errors["uneven_surface"] == "Choose one answer for this question."
    assert "not one of the choices" in result.errors["sitting"]
    assert hoos.open_token(session=session, token=token, now=NOW, secret=SECRET).state == "ok"


def test_an_altered_link_an_expired_one_and_another_key_do_not_work(
    session: Session, alice: int
) -> None:
    baseline, follow_up = _invites(session, alice)
    token = _token_of(baseline)
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert (
        hoos.open_token(session=session, token=tampered, now=NOW, secret=SECRET).state == "invalid"
    )
    assert (
        hoos.open_token(session=session, token=token, now=NOW, secret="another-secret").state
        == "invalid"
    )
    later = NOW + timedelta(days=14)
    assert (
        hoos.open_token(session=session, token=token, now=later, secret=SECRET).state == "expired"
    )
    # The six-week link is good until two weeks after it is due.
    assert hoos.open_token(session=session, token=_token_of(follow_up), now=later,
                           secret=SECRET).state == "ok"  # fmt: skip


def test_change_summary_reports_the_median_change_per_injectate_and_month(
    session: Session,
    riverside,
    alice: int,  # type: ignore[no-untyped-def]
) -> None:
    baseline, follow_up = _invites(session, alice)
    hoos.submit(session=session, token=_token_of(baseline), form=dict.fromkeys(ITEMS, "3"),
                now=NOW, secret=SECRET)  # fmt: skip
    later = follow_up.due_at + timedelta(hours=2)
    hoos.submit(session=session, token=_token_of(follow_up), form=dict.fromkeys(ITEMS, "1"),
                now=later, secret=SECRET)  # fmt: skip
    [row] = hoos.change_summary(session=session, clinic_id=riverside.id)
    assert row["injectate"] == "corticosteroid" and row["month"] == "2026-11" and row["n"] == 1
    assert row["median_change"] == round(HOOS.table[6] - HOOS.table[18], 3)
    assert row["verified"] is False
