"""Suggested follow-ups: grounded headings, tidied, same focus first, never repeated."""

from __future__ import annotations

from answer.followups import focus_of, same_question, suggest_followups, tidy_question
from answer.terms import content_terms
from corpus.types import EvidenceKind
from retriever.question import analyze
from tests.fixtures_answer import load_passages


def test_tidy_question() -> None:
    assert tidy_question("Who is at risk for Anemia? ?") == "Who is at risk for Anemia?"
    assert tidy_question("What is (are) Pernicious Anemia ?") == "What is Pernicious Anemia?"
    assert tidy_question("  How to  diagnose\nAnemia ?") == "How to diagnose Anemia?"


def test_same_focus_first_then_others_without_the_current_question() -> None:
    passages = list(load_passages())
    # Rank an iron-deficiency passage first, so its focus leads.
    first = next(p for p in passages if p.title == "Iron-Deficiency Anemia")
    ordered = [first, *[p for p in passages if p is not first]]
    suggestions = suggest_followups("What is iron deficiency anemia?", ordered, limit=len(passages))
    focus = [s for s in suggestions if s.endswith("Iron-Deficiency Anemia?")]
    assert suggestions[: len(focus)] == focus  # same focus first
    assert "How to diagnose Iron-Deficiency Anemia?" in focus
    assert "What is Iron-Deficiency Anemia?" not in suggestions  # the question itself
    assert len(suggestions) == len(set(suggestions))
    # Every suggestion is the heading (or a question title) of a given passage.
    sources = {p.section for p in passages} | {p.title for p in passages}
    tidy = {s.replace(" ?", "?").replace("What is (are)", "What is") for s in sources}
    assert set(suggestions) <= tidy


def test_asked_questions_are_not_suggested_and_limit_holds() -> None:
    passages = [p for p in load_passages() if p.kind is EvidenceKind.GUIDELINE]
    first = suggest_followups("What causes anemia?", passages, limit=2)
    assert len(first) == 2
    again = suggest_followups("What causes anemia?", passages, asked=first, limit=3)
    assert not set(first) & set(again)


def test_research_titles_that_are_questions_can_be_suggested() -> None:
    gluten = next(p for p in load_passages() if p.title.startswith("Nutritional assessment"))
    question = "What is a gluten-free diet?"
    focus = analyze(question).focus
    assert suggest_followups(question, [gluten], focus=focus) == [gluten.title]
    # Never about another condition than the answer's.
    assert suggest_followups("Is iron low?", [gluten], focus=analyze("Is iron low?").focus) == []
    assert focus_of(gluten) == gluten.title.lower()


def test_paraphrased_questions_count_as_asked() -> None:
    asked = content_terms("How is pernicious anemia treated?")
    assert same_question(asked, content_terms("What are the treatments for Pernicious Anemia?"))
    assert same_question(content_terms("How is it diagnosed?"), content_terms("diagnosis"))
    assert not same_question(asked, content_terms("What causes Pernicious Anemia?"))
    passages = [p for p in load_passages() if p.title == "Pernicious Anemia"]
    suggestions = suggest_followups("How is pernicious anemia treated?", passages, limit=10)
    assert "What are the treatments for Pernicious Anemia?" not in suggestions
