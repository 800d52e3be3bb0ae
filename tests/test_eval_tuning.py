"""A report's in-sample notes depend on its data: the known tuning sets, matched per query."""

from __future__ import annotations

import json
from pathlib import Path

from eval.followup import load_mtrag
from eval.trec import read_queries
from eval.tuning import fingerprint, in_sample_notes
from tests.fixtures_eval import TINY_BEIR, TINY_MTRAG

DEMO_QUESTIONS = Path(__file__).parent.parent / "eval" / "data" / "demo_questions.jsonl"
ELSEWHERE = ["What is the capital of France?", "How do I pay for a car with cash?"]


def test_scifact_train_claims_are_in_sample() -> None:
    claims = list(read_queries(TINY_BEIR / "queries.jsonl").values())  # 6 train claims
    assert in_sample_notes(claims) == [
        "In-sample: 6 of these 6 queries are among the 809 judged SciFact train claims, on "
        "which the index's BM25 settings and the hybrid's fusion (benchmarks/bm25_tuning.py, "
        "benchmarks/retrieval_tuning.py, benchmarks/fusion_cv.py) were chosen, so the bm25 and "
        "hybrid figures are optimistic."
    ]
    # A sample mixed with other queries counts only the tuning ones; spacing does not matter.
    (note,) = in_sample_notes([f"  {claims[0]}\n", claims[1], *ELSEWHERE])
    assert note.startswith("In-sample: 2 of these 4 queries are among the 809 judged SciFact")


def test_mtrag_tasks_are_in_sample_for_the_followup_knobs() -> None:
    tasks = [t.task_id for t in load_mtrag(TINY_MTRAG).scored_tasks]
    (note,) = in_sample_notes(tasks)
    assert note.startswith("In-sample: 4 of these 4 queries are among the 350 MTRAG tasks")
    assert "FollowupConfig" in note and "with-context and hybrid figures" in note


def test_other_queries_are_not_called_in_sample() -> None:
    questions = [
        json.loads(line)["question"]
        for line in DEMO_QUESTIONS.read_text(encoding="utf-8").splitlines()
    ]
    for keys in (ELSEWHERE, questions):
        assert in_sample_notes(keys) == [
            "None of these queries is in a set the engine's defaults were tuned on "
            "(eval/tuning.py lists them), so no figure here is in-sample."
        ]


def test_fingerprint_by_hand() -> None:
    # sha256(b"ferritin iron") begins c822db38b694; whitespace is collapsed before hashing.
    assert fingerprint(" ferritin\t iron ") == fingerprint("ferritin iron") == "c822db38b694"
