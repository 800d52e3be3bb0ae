"""Answer audits with the real engine over a small real index (the 13 records of the answer
tests): `followup eval answers` end to end, and audit_answers on a conversation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from answer.engine import IndexEngine
from answer.settings import Settings
from eval.audit import audit_answers, load_questions, summarise
from eval.support import SupportMethod
from tests.fixtures_answer import load_documents
from tests.test_eval_cli import run_cli

QUESTIONS = [
    {
        "id": "b12",
        "question": "Are vitamin B12 levels higher with lower ferritin levels?",
        "answerable": True,
        "followups": [{"question": "How is pernicious anemia diagnosed?", "answerable": True}],
    },
    {"id": "car", "question": "How do I pay for a car with cash?", "answerable": False},
]


@pytest.fixture(scope="module")
def questions_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("eval-questions") / "questions.jsonl"
    path.write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS), encoding="utf-8")
    return path


def test_audit_answers_with_real_engine(answer_engine: IndexEngine, questions_file: Path) -> None:
    audits = audit_answers(
        answer_engine, load_questions(questions_file), passage=answer_engine.passage
    )
    assert [(a.question.id, a.turn) for a in audits] == [("b12", 0), ("b12.1", 1), ("car", 0)]
    answered = [a for a in audits if not a.answer.abstained]
    assert answered, "the on-topic questions are answered"
    for audit in answered:
        # The extractive composer quotes and cites every sentence, and every reference resolves.
        assert audit.structure.coverage == 1.0
        assert audit.structure.ok, audit.structure.issues
        assert audit.support and all(c.supported for c in audit.support)
        assert {c.method for c in audit.support} <= {SupportMethod.EXACT, SupportMethod.NEAR_EXACT}
    summary = summarise(audits)
    assert summary.dangling_citations == 0 and summary.unused_references == 0
    assert summary.citation_support == 1.0
    # The follow-up was asked inside the conversation of the first question.
    assert audits[1].answer.question == QUESTIONS[0]["followups"][0]["question"]
    # Labels: 3 labelled answers; the car question is the only unanswerable one.
    assert summary.abstention["labelled"] == 3


def test_answers_command(
    answer_settings: Settings,
    questions_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    index_dir = answer_settings.index.path
    monkeypatch.setenv("FOLLOWUP_EMBEDDER__THREADS", "1")
    monkeypatch.setenv(
        "FOLLOWUP_ANSWER__SENTENCE_CACHE_DIR", str(answer_settings.answer.sentence_cache_dir)
    )
    out = tmp_path / "answers"
    argv = ["eval", "answers", "--questions", str(questions_file), "--index", str(index_dir)]
    assert run_cli([*argv, "--out", str(out), "--no-progress"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["summary"]["answers"] == 3
    assert report["summary"]["citation_coverage"] == 1.0
    assert report["index_manifest"]["corpus"]["documents"] == len(load_documents())
    assert report["settings"]["engine_settings"]["index"]["path"] == str(index_dir)
    assert len(report["answers"]) == 3 and "structure" in report["answers"][0]
    for name in ("rates.png", "issues.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
    assert "## Summary" in (out / "report.md").read_text()
