"""The time a question asks about ("before pregnancy"), matched in real demo-corpus sentences."""

from __future__ import annotations

import pytest

from answer.timing import When, timing_of

BEFORE_PREGNANCY = timing_of("Why does folic acid matter before pregnancy?")


def test_the_time_and_its_event_are_read_from_the_question() -> None:
    assert BEFORE_PREGNANCY is not None
    assert (BEFORE_PREGNANCY.when, BEFORE_PREGNANCY.event) == (When.BEFORE, "pregnancy")
    after = timing_of("Can I exercise after the surgery?")
    assert after is not None and (after.when, after.event) == (When.AFTER, "surgery")
    assert timing_of("Why does the body need folic acid?") is None


@pytest.mark.parametrize(
    "text",
    [
        "Intervention trials and observational studies show that periconceptional (<12 weeks "
        "gestation) folic acid supplementation significantly reduced the risk of neural tube "
        "defects.",
        "Getting enough folic acid before and during pregnancy can prevent major birth defects "
        "of her baby's brain or spine.",
        "For women who may get pregnant, it is really important.",
    ],
)
def test_evidence_about_the_time_asked_matches(text: str) -> None:
    assert BEFORE_PREGNANCY is not None and BEFORE_PREGNANCY.matches(text) is True


def test_evidence_about_another_time_around_the_same_event_does_not() -> None:
    assert BEFORE_PREGNANCY is not None
    during = (
        "Our study results suggest that folic acid supplementation and higher dietary folate "
        "intake during pregnancy reduce the risk of preeclampsia."
    )
    assert BEFORE_PREGNANCY.matches(during) is False


def test_the_page_a_guideline_sentence_is_on_can_name_the_time() -> None:
    assert BEFORE_PREGNANCY is not None
    text = "For example, you should take folic acid supplements to prevent neural tube defects."
    assert BEFORE_PREGNANCY.matches(text) is None
    assert BEFORE_PREGNANCY.matches(text, frame="Preconception Care") is True


def test_any_other_event_is_matched_by_its_own_words() -> None:
    timing = timing_of("Should I eat before the race?")
    assert timing is not None and timing.event == "race"
    assert timing.matches("Eat a light meal before a race.") is True
    assert timing.matches("Drink water after the race.") is False
    assert timing.matches("Carbohydrates are the main fuel.") is None
