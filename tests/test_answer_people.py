"""Who a question is asked about, in the words of real demo-corpus sentences."""

from __future__ import annotations

from answer.people import kin
from answer.terms import content_terms


def people(text: str) -> frozenset[str]:
    return kin(content_terms(text))


def test_the_words_for_one_group_of_people_meet() -> None:
    pregnant = people("pregnant women")
    # NHLBI, "Anemia": a sentence about pregnancy is about pregnant women.
    assert pregnant & people("Anemia can occur during pregnancy due to low levels of iron.")
    assert people("the baby") & people("At-risk infants include those who are born too early.")
    assert people("children") & people("Kids need more iron as they grow.")


def test_other_words_are_kept_as_they_are() -> None:
    assert people("Iron supplements") == content_terms("Iron supplements")
    assert not people("pregnant women") & people("Older adults often need less iron.")
