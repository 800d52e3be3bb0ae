"""eval.followup on five real MTRAG tasks: conversation parsing, pool, runs by turn."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.embedcache import CachedEmbedder
from eval.followup import (
    Condition,
    by_turn,
    followup_retriever,
    load_mtrag,
    pool_id,
    run_followup,
)
from eval.runs import SystemSpec, default_hybrid, ensure_index
from eval.types import MetricTable
from index.load import PassageIndex
from tests.fixtures_eval import TINY_MTRAG


def test_load_tasks_and_pool() -> None:
    data = load_mtrag(TINY_MTRAG)
    rows = [json.loads(line) for line in TINY_MTRAG.open()]
    assert [t.turn for t in data.tasks] == [int(r["turn"]) for r in rows] == [1, 2, 3, 5, 2]
    # Gold contexts: 1 + 2 + 1 + 2 + 0 passages, all distinct.
    assert len(data.pool) == 6
    assert len(data.scored_tasks) == 4  # the unanswerable task has no gold passage
    task = data.tasks[3]
    assert task.question == rows[3]["input"][-1]["text"].strip()
    assert len(task.history) == 4  # turns 1-4 as (question, answer) pairs
    assert task.history[0].question == rows[3]["input"][0]["text"]
    assert task.history[0].answer == rows[3]["input"][1]["text"].strip()
    assert task.gold == tuple(pool_id("fiqa", c["document_id"]) for c in rows[3]["contexts"])
    assert data.qrels() == {t.task_id: {d: 1 for d in t.gold} for t in data.scored_tasks}


def test_by_turn_by_hand() -> None:
    data = load_mtrag(TINY_MTRAG)
    ids = [t.task_id for t in data.scored_tasks]  # turns 1, 2, 3, 5
    table = MetricTable(("R@5",), {"R@5": dict(zip(ids, [1.0, 0.5, 0.0, 1.0], strict=True))})
    assert by_turn(table, data.tasks) == {
        1: {"R@5": 1.0, "n": 1.0},
        2: {"R@5": 0.5, "n": 1.0},
        3: {"R@5": 0.0, "n": 1.0},
        5: {"R@5": 1.0, "n": 1.0},
    }
    # Turns 3 and above pooled: (0.0 + 1.0) / 2.
    assert by_turn(table, data.tasks, max_turn=3)[3] == {"R@5": 0.5, "n": 2.0}


@pytest.fixture(scope="module")
def mtrag_index(cached_embedder: CachedEmbedder, indexes_dir: Path) -> PassageIndex:
    data = load_mtrag(TINY_MTRAG)
    path = ensure_index(data.pool, indexes_dir, "mtrag_tiny", cached_embedder)
    return PassageIndex.load(path, expected_model=cached_embedder.model_name)


@pytest.mark.parametrize("system", ["bm25", "dense", "hybrid"])
def test_runs_with_and_without_context(
    system: str, mtrag_index: PassageIndex, cached_embedder: CachedEmbedder
) -> None:
    data = load_mtrag(TINY_MTRAG)
    hybrid = default_hybrid(mtrag_index, cached_embedder)
    retriever = followup_retriever(SystemSpec.parse(system), hybrid)
    plain = run_followup(system, retriever, data.scored_tasks, Condition.NO_CONTEXT)
    context = run_followup(system, retriever, data.scored_tasks, Condition.WITH_CONTEXT)
    pool = {d.id for d in data.pool}
    for result in (plain, context):
        assert result.metrics.query_ids == tuple(sorted(t.task_id for t in data.scored_tasks))
        for docs in result.run.values():
            assert set(docs) <= pool
    # Without context the searched text is the question itself.
    assert all(plain.queries[t.task_id] == t.question for t in data.scored_tasks)
    assert plain.used_context == 0
    # Turn 1 has no history, so both conditions search the same thing there.
    first = data.scored_tasks[0]
    assert first.turn == 1 and context.queries[first.task_id] == first.question
    assert context.run[first.task_id] == plain.run[first.task_id]
    # The pool has 6 documents, so the 10 best always hold every gold document.
    assert plain.metrics.mean("R@10") == context.metrics.mean("R@10") == 1.0


def test_a_single_leg_system_is_not_the_hybrid(
    mtrag_index: PassageIndex, cached_embedder: CachedEmbedder
) -> None:
    """Under the default (adaptive) fusion the configured leg weights are not used, so a single
    leg is searched under weighted fusion with the other leg's weight at 0."""
    task = load_mtrag(TINY_MTRAG).scored_tasks[1]  # a question both legs find passages for
    hybrid = default_hybrid(mtrag_index, cached_embedder)
    scores = {
        system: [
            round(s.score, 6)
            for s in followup_retriever(SystemSpec.parse(system), hybrid)
            .evidence(task.question)
            .fused
        ]
        for system in ("bm25", "dense", "hybrid")
    }
    assert len({tuple(values) for values in scores.values()}) == 3  # three different systems
