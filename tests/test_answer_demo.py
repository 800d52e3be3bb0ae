"""The acceptance test on the shipped demo corpus (slow: it indexes ~1,000 passages).

Run with ``pytest -m slow tests/test_answer_demo.py``. It builds the demo index in a temporary
directory with the index package, then checks the issue's acceptance criteria and that the
abstention threshold calibrated on MTRAG behaves on this medical corpus: off-topic questions
abstain, the demo question set about B12, iron, folate and anaemia does not.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from answer.engine import IndexEngine, build_engine
from answer.schema import SectionKind, SentenceKind
from answer.settings import Settings
from corpus.demo import load_demo
from corpus.types import EvidenceKind
from index.build import build_index
from index.embedder import SentenceTransformerEmbedder

pytestmark = pytest.mark.slow

QUESTIONS = Path(__file__).resolve().parents[1] / "benchmarks" / "questions_demo.jsonl"
ACCEPTANCE = "Are vitamin B12 levels higher with lower ferritin levels?"
OFF_TOPIC = [
    "How do I pay for a car with cash?",
    "What is the capital of France?",
    "Who won the football world cup in 2014?",
]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> IndexEngine:
    root = tmp_path_factory.mktemp("demo")
    build_index(load_demo().documents, root / "index", SentenceTransformerEmbedder.load())
    return build_engine(
        Settings(index={"path": root / "index"}, answer={"sentence_cache_dir": root / "cache"})
    )


def test_acceptance(engine: IndexEngine) -> None:
    answer = engine.answer(ACCEPTANCE)
    assert not answer.abstained
    kinds = [s.kind for s in answer.sections]
    assert kinds.index(SectionKind.GUIDELINES) < kinds.index(SectionKind.RESEARCH)
    # The corpus does not relate the two: the lead says so, naming both, and then quotes
    # what the evidence holds on each.
    lead = answer.section(SectionKind.BOTTOM_LINE).sentences  # type: ignore[union-attr]
    assert lead[0].kind is SentenceKind.EVIDENCE_GAP
    assert "vitamin B12" in lead[0].text and "ferritin" in lead[0].text
    assert len(lead) == 3 and all(s.label and s.citations for s in lead[1:])
    by_n = {r.n: r for r in answer.references}
    for section in answer.sections:
        for sentence in section.sentences:
            if section.kind is SectionKind.NOTICE or sentence.kind is SentenceKind.EVIDENCE_GAP:
                assert not sentence.citations
                continue
            assert sentence.citations
            for n in sentence.citations:
                passage = engine.passage(by_n[n].passage_id)
                assert passage is not None and sentence.text in passage.text
                if section.kind is SectionKind.GUIDELINES:
                    assert passage.kind is EvidenceKind.GUIDELINE


@pytest.mark.parametrize("question", OFF_TOPIC)
def test_off_topic_abstains(engine: IndexEngine, question: str) -> None:
    assert engine.answer(question).abstained


def test_demo_questions_are_answered(engine: IndexEngine) -> None:
    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines()]
    abstained = [q for q in questions if engine.answer(q).abstained]
    assert abstained == []


def test_conversation_suite(engine: IndexEngine) -> None:
    """The hand-written conversation suite (eval/data/conversations.jsonl) on the demo corpus.

    The target is 90 % of turns (25 of 27), which the engine reaches (docs/eval.md says which
    turns fail and why), so a change that loses a turn fails.
    """
    from eval.quality import answer_all, score_system
    from eval.quality_data import load_quality_set

    data = load_quality_set(Path(__file__).resolve().parents[1] / "eval/data/conversations.jsonl")
    scores = score_system("focused", data, answer_all(engine, data))
    passed = [s for s in scores if s.check is not None and s.check.passed]
    assert len(scores) == 27
    assert len(passed) >= 25, [(s.item_id, s.check) for s in scores if s not in passed]
    # No quote leans on an unseen sentence, and no two sources read as one claim.
    assert not any(s.anaphoric for s in scores)
    assert not any(s.juxtapositions for s in scores)
