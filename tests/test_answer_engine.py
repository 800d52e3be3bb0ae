"""The engine end to end: a small real index (13 real records, ~50 passages), the real model,
the hybrid retriever, the sentence cache, streaming, conversations and `followup ask`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from answer.abstain import ABSTAIN_NOTICE
from answer.engine import IndexEngine, as_turn, build_engine, sentence_cache_path
from answer.llm import FALLBACK_UNAVAILABLE_NOTICE
from answer.schema import Answer, Audience, SectionKind, SentenceKind
from answer.settings import Settings
from answer.types import StreamEvent
from corpus.types import EvidenceKind, EvidenceTier
from followup.cli import main
from retriever.question import analyze
from retriever.types import Conversation, EmptyQueryError, Filters, ScoredPassage
from tests.fixtures_answer import load_embedder

ACCEPTANCE = "Are vitamin B12 levels higher with lower ferritin levels?"
OFF_TOPIC = ["How do I pay for a car with cash?", "What is the capital of France?"]
ON_TOPIC = ["How is pernicious anemia diagnosed?", "What is iron-deficiency anemia?", ACCEPTANCE]


def check_grounded(engine: IndexEngine, answer: Answer) -> None:
    """Every sentence cited, every citation resolving to an indexed passage that contains it."""
    by_n = {r.n: r for r in answer.references}
    assert sorted(by_n) == list(range(1, len(by_n) + 1))
    cited: set[int] = set()
    for section in answer.sections:
        for sentence in section.sentences:
            if section.kind is SectionKind.NOTICE or sentence.kind is not SentenceKind.QUOTE:
                assert not sentence.citations  # notices and gap statements are ours
                continue
            assert sentence.citations
            for n in sentence.citations:
                passage = engine.passage(by_n[n].passage_id)
                assert passage is not None
                assert sentence.text in passage.text
                if section.kind is SectionKind.GUIDELINES:
                    assert passage.kind is EvidenceKind.GUIDELINE
                if section.kind is SectionKind.RESEARCH:
                    assert passage.kind is EvidenceKind.RESEARCH
                cited.add(n)
    assert cited == set(by_n)


def test_acceptance_question(answer_engine: IndexEngine) -> None:
    answer = answer_engine.answer(ACCEPTANCE)
    assert not answer.abstained
    kinds = [s.kind for s in answer.sections]
    assert SectionKind.GUIDELINES in kinds and SectionKind.RESEARCH in kinds
    assert kinds.index(SectionKind.GUIDELINES) < kinds.index(SectionKind.RESEARCH)
    check_grounded(answer_engine, answer)
    # No page of the fixture is about B12 or ferritin, and the lead states the gap: nothing
    # about another condition is suggested.
    assert answer.suggested_followups == []
    assert answer.timings_ms["total"] > 0


def test_suggestions_are_grounded_next_questions_about_the_focus(
    answer_engine: IndexEngine,
) -> None:
    question = "What causes pernicious anemia?"
    answer = answer_engine.answer(question)
    suggestions = answer.suggested_followups
    assert 2 <= len(suggestions) <= 3
    asked = analyze(question).types
    for suggestion in suggestions:
        analysis = analyze(suggestion)
        assert suggestion.endswith("?")
        assert "pernicious anemia" in suggestion.lower()  # the answer's own subject
        assert analysis.qtype not in asked  # a next question, not the same one again
        # Grounded: the engine answers it from the index, above the abstention cut.
        assert not answer_engine.answer(suggestion).abstained


@pytest.mark.parametrize("question", ON_TOPIC)
def test_on_topic_questions_are_answered(answer_engine: IndexEngine, question: str) -> None:
    answer = answer_engine.answer(question)
    assert not answer.abstained
    check_grounded(answer_engine, answer)


@pytest.mark.parametrize("question", OFF_TOPIC)
def test_off_topic_questions_abstain(answer_engine: IndexEngine, question: str) -> None:
    answer = answer_engine.answer(question)
    assert answer.abstained
    assert answer.references == [] and answer.suggested_followups == []
    assert [s.text for s in answer.sections[0].sentences] == [ABSTAIN_NOTICE]


def test_patient_audience(answer_engine: IndexEngine) -> None:
    answer = answer_engine.answer("What is iron-deficiency anemia?", audience=Audience.PATIENT)
    assert answer.audience is Audience.PATIENT
    check_grounded(answer_engine, answer)


def test_filters_reach_the_retriever(answer_engine: IndexEngine) -> None:
    answer = answer_engine.answer(
        "Does folic acid lower homocysteine?",
        filters=Filters(kinds=frozenset({EvidenceKind.RESEARCH})),
    )
    assert {r.tier for r in answer.references} == {"research"}
    assert answer.section(SectionKind.GUIDELINES) is None


def test_follow_up_conversation(answer_engine: IndexEngine) -> None:
    first = answer_engine.answer("What is pernicious anemia?")
    conversation = Conversation((as_turn(first),))
    follow_up = answer_engine.answer("How is it treated?", conversation=conversation)
    assert follow_up.question == "How is it treated?"
    assert follow_up.standalone_query != follow_up.question  # the conversation was used
    assert not follow_up.abstained
    check_grounded(answer_engine, follow_up)


def test_retrieve_is_the_evidence_answer_uses(answer_engine: IndexEngine) -> None:
    question = "How is pernicious anemia diagnosed?"
    evidence = answer_engine.retrieve(question)
    prepared = answer_engine.composer.prepare(evidence)
    answer = answer_engine.answer(question)
    bottom = answer.section(SectionKind.BOTTOM_LINE).sentences[0]  # type: ignore[union-attr]
    assert bottom.text in {c.span.text for c in prepared.guideline + prepared.research}


def test_search(answer_engine: IndexEngine) -> None:
    evidence = answer_engine.search("ferritin iron stores", top_k=3)
    assert len(evidence.fused) <= 3 and len(evidence.guideline) <= 3
    with pytest.raises(ValueError):
        answer_engine.search("ferritin", top_k=0)


FOLIC = "Does folic acid lower homocysteine in anemia?"


@pytest.mark.parametrize(
    ("question", "filters"),
    [
        (FOLIC, None),
        (
            "How is iron-deficiency anemia diagnosed?",
            Filters(kinds=frozenset({EvidenceKind.RESEARCH})),
        ),
        (FOLIC, Filters(designs=frozenset({EvidenceTier.RCT}))),
        ("Is a gluten-free diet low in iron?", Filters(year_from=2010)),
    ],
    ids=["none", "research", "rct", "year"],
)
def test_search_sees_the_passages_an_answer_sees(
    answer_settings: Settings, question: str, filters: Filters | None
) -> None:
    """One retrieval path: a search of ``top_k`` returns the fused list an answer is composed
    from, filters included. Legs of 3 candidates make a difference visible: with filters set
    each leg fetches more candidates and is cut among those that pass (a search that filtered
    the unfiltered candidates found no research passage, and no dated one, for these two)."""
    shallow = build_engine(
        answer_settings.model_copy(
            update={
                "retrieval": answer_settings.retrieval.model_copy(
                    update={"lexical_depth": 3, "dense_depth": 3}
                )
            }
        )
    )
    searched = shallow.search(question, top_k=answer_settings.retrieval.top_k, filters=filters)
    answered = shallow.retrieve(question, filters=filters)
    assert searched.fused and _ids(searched.fused) == _ids(answered.fused)
    for group in ("guideline", "research"):  # the answer's groups are the search's first ones
        seen = _ids(getattr(answered, group))
        assert _ids(getattr(searched, group))[: len(seen)] == seen
    # The answer cites the documents searched (a quote may come from another chunk of one).
    answer = shallow.answer(question, filters=filters)
    found = {s.passage.document_id for s in searched.guideline + searched.research}
    assert {r.document_id for r in answer.references} <= found


def _ids(scored: list[ScoredPassage]) -> list[str]:
    return [s.passage.id for s in scored]


def _names(events: list[StreamEvent]) -> list[str]:
    return [e.name for e in events]


def test_stream_order_and_payloads(answer_engine: IndexEngine) -> None:
    events = list(answer_engine.stream("How is pernicious anemia diagnosed?"))
    names = _names(events)
    assert names[0] == "retrieval" and names[-2:] == ["references", "done"]
    body = names[1:-2]
    assert body[0] == "section"
    for previous, current in zip(body, body[1:], strict=False):
        assert (previous, current) != ("section", "section")  # no empty section
    answer = Answer.model_validate(events[-1].data["answer"])
    sections = [e.data for e in events if e.name == "section"]
    assert [s["kind"] for s in sections] == [s.kind.value for s in answer.sections]
    sentences = [e.data for e in events if e.name == "sentence"]
    assert [s["text"] for s in sentences] == [
        s.text for section in answer.sections for s in section.sentences
    ]
    assert events[0].data["passages"] > 0
    references = events[-2].data
    assert [r["n"] for r in references["references"]] == [r.n for r in answer.references]
    assert references["disclaimer"] == answer.disclaimer
    json.dumps([e.data for e in events])  # every payload is JSON


def test_stream_reports_an_empty_question_as_an_error_event(answer_engine: IndexEngine) -> None:
    events = list(answer_engine.stream("   "))
    assert _names(events) == ["error"]
    assert events[0].data["status"] == 422
    with pytest.raises(EmptyQueryError):
        answer_engine.answer("   ")


def test_sentence_cache_is_written_and_reused(
    answer_engine: IndexEngine, answer_settings: Settings
) -> None:
    path = sentence_cache_path(
        answer_settings.answer.sentence_cache_dir,  # type: ignore[arg-type]
        answer_engine.manifest,
        load_embedder().model_name,
    )
    assert path.is_file()
    again = build_engine(answer_settings)
    assert len(again.composer.bank) == len(answer_engine.composer.bank) > 0
    assert not again.composer.bank.dirty  # everything came from the file


def test_llm_setting_without_a_reachable_endpoint_falls_back(answer_settings: Settings) -> None:
    llm_settings = answer_settings.model_copy(
        update={
            "answer": answer_settings.answer.model_copy(update={"generator": "llm"}),
            "llm": answer_settings.llm.model_copy(
                update={"base_url": "http://127.0.0.1:9/v1", "timeout_s": 2.0}
            ),
        }
    )
    llm_engine = build_engine(llm_settings)
    assert llm_engine.generator.startswith("llm:")
    answer = llm_engine.answer("How is pernicious anemia diagnosed?")
    assert answer.generator == "extractive"
    notices = [s.text for s in answer.section(SectionKind.NOTICE).sentences]  # type: ignore[union-attr]
    assert FALLBACK_UNAVAILABLE_NOTICE in notices


# ------------------------------------------------------------------------------- CLI


@pytest.fixture
def cli_env(answer_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(
        "FOLLOWUP_ANSWER__SENTENCE_CACHE_DIR", str(answer_settings.answer.sentence_cache_dir)
    )
    yield


def test_cli_json_with_follow_ups(
    answer_index: Path, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "ask",
            "What is pernicious anemia?",
            "--followup",
            "How is it treated?",
            "--index",
            str(answer_index),
            "--json",
        ]
    )
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    answers = [Answer.model_validate_json(line) for line in lines]
    assert [a.question for a in answers] == ["What is pernicious anemia?", "How is it treated?"]
    assert all(not a.abstained for a in answers)


def test_cli_readable_output(
    answer_index: Path, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ask", ACCEPTANCE, "--index", str(answer_index), "--audience", "patient"]) == 0
    out = capsys.readouterr().out
    assert "From the Guidelines" in out and "From the Research" in out
    assert out.index("From the Guidelines") < out.index("From the Research")
    assert "References" in out and "[1]" in out


def test_cli_off_topic_markdown(
    answer_index: Path, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ask", OFF_TOPIC[0], "--index", str(answer_index), "--markdown"]) == 0
    out = capsys.readouterr().out
    assert ABSTAIN_NOTICE in out and "## References" not in out


def test_cli_missing_index(
    tmp_path: Path, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ask", "What is anemia?", "--index", str(tmp_path / "nope")]) == 2
    assert "error" in capsys.readouterr().err
