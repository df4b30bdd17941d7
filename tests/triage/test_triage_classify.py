"""Stories from the follow-up inbox: what a reply says and what staff should see."""

from __future__ import annotations

import pytest

from reminders.triage import CATEGORIES, Severity, Thresholds, triage

NONE, ROUTINE, URGENT, EMERGENCY = Severity


def test_the_severity_ladder_is_ordered_and_serialises_as_text() -> None:
    assert NONE < ROUTINE < URGENT < EMERGENCY
    assert max([ROUTINE, EMERGENCY, URGENT]) is EMERGENCY
    assert sorted([EMERGENCY, NONE, URGENT]) == [NONE, URGENT, EMERGENCY]
    assert URGENT >= URGENT and not URGENT > URGENT
    assert EMERGENCY == "emergency" and Severity("routine") is ROUTINE
    # Plain values compare by rank too, not alphabetically ("urgent" > "emergency").
    assert URGENT < "emergency" and ROUTINE < "urgent" and not URGENT > "emergency"
    with pytest.raises(TypeError):
        _ = ROUTINE < "severe"
    with pytest.raises(TypeError):
        _ = ROUTINE < 2


class TestNegationAndResolution:
    @pytest.mark.parametrize(
        "text",
        ["no fever", "fever is gone", "redness is gone", "sin fiebre", "no swelling",
         "never had any pus", "no fever or chills", "no fever, redness or pus",
         "Fever? No. Pus? No.", "ya no tengo fiebre", "the swelling went down",
         "fiebre: no"],
    )
    def test_denied_or_resolved_symptoms_do_not_raise_the_alarm(self, text: str) -> None:
        assert triage(text).severity < URGENT

    @pytest.mark.parametrize(
        "text",
        ["no fever, but the site is red and hot", "no fever and pus coming out",
         "not sure if it's infected", "can't get rid of this fever",
         "no se me quita la fiebre", "I'm not worried about the fever"],
    )
    def test_negation_stops_at_the_clause_and_at_uncertainty(self, text: str) -> None:
        assert triage(text).severity >= URGENT


class TestQuestions:
    @pytest.mark.parametrize(
        "text",
        ["what if I get a fever?", "should I worry about redness?",
         "¿qué hago si tengo fiebre?", "how long will the numbness last?",
         "can the steroid cause a fever?", "what should I do if I can't breathe?"],
    )
    def test_asking_about_a_symptom_is_a_question_not_the_symptom(self, text: str) -> None:
        result = triage(text)
        assert result.severity is ROUTINE
        assert result.categories == ("question",)

    def test_having_a_symptom_and_asking_about_it_is_urgent_and_a_question(self) -> None:
        result = triage("I have a fever, is that bad?")
        assert result.severity is URGENT
        assert result.categories[0] == "infection" and "question" in result.categories

    def test_a_definite_symptom_inside_a_question_is_real(self) -> None:
        result = triage("should I worry about the swelling and warmth around the site?")
        assert result.severity is URGENT


class TestExpectedSideEffects:
    @pytest.mark.parametrize(
        "text",
        ["my face is red and hot since the shot", "cheeks are bright red",
         "sweating a lot at night", "tengo la cara roja y caliente", "hot flushes"],
    )
    def test_steroid_flushing_is_routine_and_expected(self, text: str) -> None:
        result = triage(text)
        assert result.severity is ROUTINE
        assert "expected_side_effect" in result.categories

    def test_facial_swelling_with_hives_is_allergic_not_flushing(self) -> None:
        result = triage("my face is swelling and I have hives")
        assert result.severity is URGENT and result.categories[0] == "allergic_reaction"

    def test_hives_with_throat_swelling_is_an_emergency(self) -> None:
        assert triage("hives and my throat is swelling").severity is EMERGENCY

    def test_a_flare_in_the_first_two_days_is_expected(self) -> None:
        result = triage("pain went up a bit since yesterday, about a 5", hours_since_procedure=24)
        assert result.severity is ROUTINE and "expected_side_effect" in result.categories

    def test_worsening_pain_after_the_flare_window_is_urgent(self) -> None:
        assert triage("pain is worse today", hours_since_procedure=80).severity is URGENT
        assert triage("pain is worse today", hours_since_procedure=20).severity is ROUTINE


class TestRedFlagsAnywhere:
    def test_a_red_flag_at_the_end_of_a_long_chatty_text(self) -> None:
        chatter = "Thanks for checking in! Walked the dog, lunch with my sister, hip ok. " * 5
        assert triage(chatter + "Oh and I'm short of breath").severity is EMERGENCY

    @pytest.mark.parametrize(("text", "level"), [("feaver", URGENT), ("fevr 38.4", URGENT),
                                                 ("brething is hard", EMERGENCY),
                                                 ("puss on the plaster", URGENT)])
    def test_common_typos(self, text: str, level: Severity) -> None:
        assert triage(text).severity is level

    def test_opt_out_with_a_red_flag_is_both(self) -> None:
        result = triage("quit the texts, my leg is throbbing 9/10 and warm")
        assert result.severity is URGENT
        assert "opt_out" in result.categories and "severe_pain" in result.categories
        assert result.keyword is not None and result.keyword.has_extra

    def test_a_bare_stop_is_an_opt_out_and_nothing_else(self) -> None:
        result = triage("STOP")
        assert (result.severity, result.categories) == (NONE, ("opt_out",))


class TestNumbnessOverTime:
    def test_numbness_within_the_anaesthetic_window_is_routine(self) -> None:
        assert triage("leg still numb", hours_since_procedure=3).severity is ROUTINE

    def test_numbness_after_the_window_is_urgent(self) -> None:
        assert triage("leg still numb", hours_since_procedure=8).severity is URGENT

    def test_when_the_time_is_unknown_the_higher_level_wins(self) -> None:
        assert triage("still numb").severity is URGENT

    def test_the_reply_can_say_how_long_it_has_been(self) -> None:
        assert triage("numb still but it's only been 3 hours").severity is ROUTINE
        assert triage("it's been 10 hours and my leg is still numb").severity is URGENT

    def test_a_leg_giving_way_is_urgent_even_early(self) -> None:
        assert triage("leg gave way on the stairs", hours_since_procedure=2).severity is URGENT

    def test_no_to_has_the_numbness_worn_off(self) -> None:
        early = triage("no", expects="yes_no", question="numbness_worn_off",
                       hours_since_procedure=4)
        late = triage("no", expects="yes_no", question="numbness_worn_off",
                      hours_since_procedure=12)
        assert (early.severity, late.severity) == (ROUTINE, URGENT)
        assert late.parsed == {"answer": "no"}

    def test_numbness_gone_is_nothing(self) -> None:
        assert triage("numbness is gone").severity is NONE


class TestAnswers:
    def test_pain_scores_against_the_threshold(self) -> None:
        assert triage("2", expects="pain_score").severity is NONE
        assert triage("6", expects="pain_score").severity is ROUTINE
        assert triage("8", expects="pain_score").severity is URGENT
        assert triage("8", expects="pain_score").parsed == {"pain": 8}

    def test_the_clinic_can_lower_the_pain_threshold(self) -> None:
        strict = Thresholds(pain_urgent=6)
        assert triage("6", expects="pain_score", thresholds=strict).severity is URGENT

    def test_glucose_in_both_units(self) -> None:
        high = triage("320", expects="glucose")
        assert high.severity is URGENT and high.categories == ("glucose_high",)
        assert high.parsed == {"glucose_mg_dl": 320, "glucose_mmol_l": 17.8, "unit": "mg/dL"}
        assert triage("17.8 mmol/L", expects="glucose").severity is URGENT
        assert triage("220", expects="glucose").severity is ROUTINE
        assert triage("110", expects="glucose").severity is NONE
        assert triage("3.1", expects="glucose").categories == ("glucose_low",)

    def test_meter_hi_and_lo(self) -> None:
        assert triage("HI", expects="glucose").parsed == {"glucose_flag": "HI"}
        # LO is below the meter's range (about 20 mg/dL): ADA level 2, under 54, act now.
        assert triage("LO", expects="glucose").severity is EMERGENCY
        assert triage("55", expects="glucose").severity is URGENT
        assert triage("50", expects="glucose").severity is EMERGENCY
        assert triage("meter says LO and I'm confused", expects="glucose").severity is EMERGENCY

    def test_no_to_any_signs_of_infection_is_nothing(self) -> None:
        result = triage("no", expects="yes_no", question="infection_signs")
        assert result.severity is NONE and result.parsed == {"answer": "no"}

    def test_yes_to_any_signs_of_infection_is_urgent(self) -> None:
        assert triage("yes", expects="yes_no", question="infection_signs").severity is URGENT

    def test_an_unreadable_answer_asks_for_clarification(self) -> None:
        result = triage("banana", expects="pain_score")
        assert result.severity is ROUTINE and result.needs_clarification

    def test_a_red_flag_answers_for_itself(self) -> None:
        result = triage("no idea, but there's pus", expects="pain_score")
        assert result.severity is URGENT and not result.needs_clarification

    def test_an_unknown_expectation_is_a_programming_error(self) -> None:
        with pytest.raises(ValueError, match="expects"):
            triage("7", expects="pain")

    @pytest.mark.parametrize("question", [None, "my_custom_step"])
    def test_a_yes_no_answer_without_a_known_question_goes_to_a_person(
        self, question: str | None
    ) -> None:
        result = triage("no", expects="yes_no", question=question)
        assert result.severity is ROUTINE and result.parsed == {"answer": "no"}

    def test_the_protocol_step_keys_are_understood(self) -> None:
        numb = triage("no", expects="yes_no", question="numbness_check", hours_since_procedure=9)
        infection = triage("no", expects="symptom_check", question="infection_check")
        assert (numb.severity, infection.severity) == (URGENT, NONE)


class TestAcknowledgements:
    @pytest.mark.parametrize("text", ["ok thanks", "got it", "👍", "gracias", "thank you so much!"])
    def test_thanks_is_nothing_to_do(self, text: str) -> None:
        result = triage(text)
        assert (result.severity, result.categories) == (NONE, ("acknowledgement",))

    def test_staff_ack_code(self) -> None:
        result = triage("ACK 7F3K")
        assert result.parsed == {"ack_code": "7F3K"} and result.categories == ("acknowledgement",)


@pytest.mark.parametrize(
    "text",
    ["Maria here, fever 39 and pus", "hola soy Maria, todo bien", "Maria: can I drive?"],
)
def test_results_use_the_fixed_vocabulary_and_never_quote_the_message(text: str) -> None:
    result = triage(text)
    assert result.categories and set(result.categories) <= set(CATEGORIES)
    assert not any("maria" in reason.lower() for reason in result.reasons)
