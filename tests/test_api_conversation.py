"""Messages and stored turns become a Conversation; the streamed Markdown adds up to the whole."""

from __future__ import annotations

import pytest

from answer.engine import IndexEngine
from answer.render import plain_text, to_markdown
from answer.schema import Answer
from api.conversation import from_history, message_text, turn_of
from api.errors import InvalidHistoryError
from api.schemas import Message
from api.streaming import MarkdownProgress


def test_user_assistant_pairs_become_turns_and_cited_ids_go_to_the_last_answer() -> None:
    history = [
        Message(role="user", content="What causes pernicious anemia?"),
        Message(role="assistant", content="A lack of intrinsic factor. [1]"),
        Message(role="user", content="How is it diagnosed?"),
        Message(role="assistant", content="Blood tests. [1][2]"),
    ]
    convo = from_history(history, cited=["p00000000000000aa", "p00000000000000bb"])
    assert [t.question for t in convo.turns] == [
        "What causes pernicious anemia?",
        "How is it diagnosed?",
    ]
    assert [t.answer for t in convo.turns] == ["A lack of intrinsic factor.", "Blood tests."]
    assert convo.turns[0].cited == ()
    assert convo.turns[1].cited == ("p00000000000000aa", "p00000000000000bb")


def test_a_trailing_question_without_answer_is_a_turn_without_answer() -> None:
    convo = from_history([Message(role="user", content="q1")])
    assert [(t.question, t.answer) for t in convo.turns] == [("q1", "")]


def test_strict_history_refuses_an_answer_without_a_question() -> None:
    with pytest.raises(InvalidHistoryError, match=r"history\[0\] is an assistant message"):
        from_history([Message(role="assistant", content="Hello!")])
    # OpenAI clients may open with a greeting: skipped when not strict.
    assert (
        from_history([("assistant", "Hello!"), ("user", "q")], strict=False).turns[0].question
        == "q"
    )


def test_cited_ids_need_an_assistant_message() -> None:
    with pytest.raises(InvalidHistoryError, match="no assistant message"):
        from_history([Message(role="user", content="q")], cited=["p00000000000000aa"])


def test_markdown_sent_back_is_reduced_to_the_quoted_sentences(
    answer_engine: IndexEngine,
) -> None:
    answer = answer_engine.answer("What causes pernicious anemia?")
    text = message_text(to_markdown(answer))
    # Every quoted sentence is there, and nothing of the layout: headings, markers, references.
    for sentence in plain_text(answer).split(". "):
        assert sentence.strip(". ") in text
    assert "##" not in text and "[1]" not in text and "References" not in text
    assert answer.disclaimer[:40] not in text


def test_turn_of_keeps_the_cited_passages_in_citation_order(answer_engine: IndexEngine) -> None:
    answer = answer_engine.answer("What causes pernicious anemia?")
    turn = turn_of("What causes pernicious anemia?", answer)
    assert turn.cited == tuple(r.passage_id for r in answer.references)
    assert turn.answer == plain_text(answer)


def test_passage_ids_quoted_in_an_answer_count_as_cited() -> None:
    convo = from_history([("user", "q"), ("assistant", "See /v1/passages/p0123456789abcdef.")])
    assert convo.turns[0].cited == ("p0123456789abcdef",)


@pytest.mark.parametrize(
    "question", ["What causes pernicious anemia?", "iron deficiency homocysteine folic acid"]
)
def test_streamed_markdown_adds_up_to_the_final_markdown(
    answer_engine: IndexEngine, question: str
) -> None:
    events = list(answer_engine.stream(question))
    answer = Answer.model_validate(events[-1].data["answer"])
    progress = MarkdownProgress(question)
    deltas = []
    for event in events:
        deltas.append(progress.finish(answer) if event.name == "done" else progress.feed(event))
    assert "".join(deltas) == to_markdown(answer)
    # Progressive: every sentence arrives in its own delta, before the references.
    sentences = sum(len(s.sentences) for s in answer.sections)
    assert len([d for d in deltas if d]) == sentences + 1
