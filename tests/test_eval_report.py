"""The eval reports: JSON with settings, manifest and per-query values; Markdown and PNGs exist."""

from __future__ import annotations

import json
import math
from pathlib import Path

from eval.audit import AnswerAudit, Question, audit_structure, summarise
from eval.audit_report import write_answers_report
from eval.followup import Condition, FollowupRun, load_mtrag
from eval.followup_report import FollowupReport, write_followup_report
from eval.parsing import from_answer
from eval.report import markdown_table
from eval.retrieval_report import RetrievalReport, write_retrieval_report
from eval.significance import compare_tables
from eval.types import MetricTable, SystemResult
from tests.fixtures_eval import TINY_MTRAG
from tests.test_eval_audit import _answer

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _table(values: list[float]) -> MetricTable:
    qids = [f"q{i}" for i in range(len(values))]
    per = {m: dict(zip(qids, values, strict=True)) for m in ("nDCG@10", "R@10")}
    return MetricTable(("nDCG@10", "R@10"), per)


def test_retrieval_report(tmp_path: Path) -> None:
    tables = {"bm25": _table([0.2, 0.5, 0.9, 0.0]), "dense": _table([0.4, 0.5, 0.7, 0.1])}
    systems = [SystemResult(n, {"q0": {"d": 1.0}}, t, {"kind": n}, 1.5) for n, t in tables.items()]
    report = RetrievalReport(
        dataset={"name": "tiny", "split": "test", "queries": 4},
        systems=systems,
        comparisons=compare_tables(tables, permutations=100),
        settings={"passage_depth": 300},
        manifest={"model": {"name": "m"}, "corpus": {"fingerprint": "abc"}},
        run_files={"bm25": "runs/bm25.trec", "dense": "runs/dense.trec"},
        command="followup eval retrieval ...",
        notes=("a note",),
    )
    files = write_retrieval_report(tmp_path, report)
    assert files[:3] == ["report.md", "report.json", "metrics.png"]
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["index_manifest"]["corpus"]["fingerprint"] == "abc"
    assert data["settings"] == {"passage_depth": 300}
    assert data["systems"][1]["per_query"]["nDCG@10"]["q0"] == 0.4
    assert data["systems"][0]["aggregate"]["nDCG@10"] == (0.2 + 0.5 + 0.9 + 0.0) / 4
    # dense - bm25 on nDCG@10: +0.2, 0, -0.2, +0.1 -> 2 better, 1 worse.
    first = data["comparisons"][0]
    assert (first["a"], first["b"], first["wins"], first["losses"]) == ("bm25", "dense", 2, 1)
    md = (tmp_path / "report.md").read_text()
    assert "| bm25 | 0.4000 | 0.4000 | 1.5 |" in md and "a note" in md and "runs/bm25.trec" in md
    for name in files[2:]:
        assert (tmp_path / name).read_bytes()[:8] == PNG_MAGIC


def test_followup_report(tmp_path: Path) -> None:
    data = load_mtrag(TINY_MTRAG)
    ids = [t.task_id for t in data.scored_tasks]
    runs = []
    for condition, values in (
        (Condition.NO_CONTEXT, [1.0, 0.0, 0.5, 0.0]),
        (Condition.WITH_CONTEXT, [1.0, 1.0, 0.5, 1.0]),
    ):
        table = MetricTable(
            ("R@5", "R@10"), {m: dict(zip(ids, values, strict=True)) for m in ("R@5", "R@10")}
        )
        runs.append(FollowupRun("hybrid", condition, {}, table, {i: "q" for i in ids}))
    report = FollowupReport(
        runs=runs,
        tasks=data.tasks,
        comparisons=[],
        dataset={"pool": 6, "tasks": 5, "scored_tasks": 4},
        settings={},
        manifest={},
        max_turn=3,
    )
    write_followup_report(tmp_path, report)
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["runs"][1]["by_turn"]["2"] == {"R@5": 1.0, "R@10": 1.0, "n": 1.0}
    md = (tmp_path / "report.md").read_text()
    # Turns 3 and 5 pooled as "3+": (0.5 + 1.0) / 2 with context.
    assert "| hybrid, with context | 1.0000 | 1.0000 | 0.7500 |" in md
    assert (tmp_path / "recall_by_turn.png").read_bytes()[:8] == PNG_MAGIC


def test_answers_report(tmp_path: Path) -> None:
    answer = _answer()
    audits = [
        AnswerAudit(
            Question("1", "q", answerable=True), 0, answer, audit_structure(from_answer(answer)), ()
        )
    ]
    summary = summarise(audits)
    assert summary.citation_coverage == 1.0 and math.isnan(summary.citation_support)
    files = write_answers_report(tmp_path, audits, summary, settings={"x": 1}, manifest={"m": 1})
    data = json.loads((tmp_path / "report.json").read_text())
    assert data["summary"]["citation_support"] is None  # NaN is written as null
    assert data["summary"]["abstention"]["labelled"] == 1
    assert data["index_manifest"] == {"m": 1}
    for name in files[2:]:
        assert (tmp_path / name).read_bytes()[:8] == PNG_MAGIC


def test_markdown_table_escapes() -> None:
    assert markdown_table(["a", "b"], [["x|y", float("nan")], [None, 0.5]]) == (
        "| a | b |\n|---|---|\n| x\\|y | – |\n| – | 0.5000 |"
    )
