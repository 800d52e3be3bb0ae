"""`followup eval ...` end to end on the tiny fixtures: exit codes, reports, plots, run files."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest

from followup.cli import main
from index.encoders import DEFAULT_BACKEND, encoder_name
from tests.fixtures_eval import BROKEN_ANSWER, TINY_BEIR, TINY_MTRAG

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run_cli(argv: list[str]) -> int:
    """`followup ...` in this process, through its entry point."""
    return main(argv)


def _png(path: Path) -> None:
    assert path.read_bytes()[:8] == PNG_MAGIC, path
    assert path.stat().st_size > 5_000, path  # a real plot, not an empty canvas


def test_audit_broken_markdown_fails_with_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "audit"
    assert run_cli(["eval", "audit", str(BROKEN_ANSWER), "--out", str(out)]) == 1
    printed = capsys.readouterr().out
    for kind in ("dangling_citation", "uncited_sentence", "unused_reference", "tier_violation"):
        assert kind in printed
    report = json.loads((out / "report.json").read_text())
    assert report["ok"] is False
    assert report["issue_counts"]["dangling_citation"] == 1
    assert report["issue_counts"]["tier_violation"] == 1
    assert "FAIL" in (out / "report.md").read_text()
    _png(out / "issues.png")


def test_audit_clean_markdown_passes(tmp_path: Path) -> None:
    clean = tmp_path / "clean.md"
    clean.write_text(
        "## From the Guidelines\nFerritin below 30 µg/L confirms iron deficiency [1].\n\n"
        "## From the Research\nB12 was higher in one cohort [2].\n\n"
        "## References\n[1] Anemia — NHLBI, 2022 (guideline)\n"
        "[2] B12 and iron — J Nutr, 2019 (observational)\n",
        encoding="utf-8",
    )
    assert run_cli(["eval", "audit", str(clean), "--out", str(tmp_path / "r")]) == 0
    assert json.loads((tmp_path / "r" / "report.json").read_text())["ok"] is True
    assert (
        run_cli(["eval", "audit", str(tmp_path / "missing.md"), "--out", str(tmp_path / "x")]) == 2
    )


def test_retrieval_command_on_tiny_beir(
    tmp_path: Path, indexes_dir: Path, eval_cache: Path
) -> None:
    out = tmp_path / "retrieval"
    argv = [
        *("eval", "retrieval", "--dataset", str(TINY_BEIR), "--split", "test"),
        *("--systems", "bm25,dense", "--variant", "rrf=hybrid:rrf_k=10"),
        *("--indexes", str(indexes_dir), "--cache", str(eval_cache)),
        *("--passage-depth", "40", "--doc-depth", "20", "--permutations", "200", "--no-progress"),
    ]
    assert run_cli([*argv, "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text())
    # The command is the argv main() was given (not the test runner's sys.argv).
    assert report["command"] == f"followup {shlex.join([*argv, '--out', str(out)])}"
    assert [s["name"] for s in report["systems"]] == ["bm25", "dense", "rrf"]
    assert report["systems"][2]["settings"]["config"]["rrf_k"] == 10
    # Eval builds its indexes with the encoder new indexes get: what is evaluated is served.
    assert report["index_manifest"]["model"]["name"] == encoder_name(DEFAULT_BACKEND)
    assert report["settings"]["passage_depth"] == 40
    assert any(n.startswith("In-sample: 6 of these 6 queries") for n in report["notes"])
    assert len(report["comparisons"]) == 3 * 5  # 3 pairs x 5 measures
    for system in report["systems"]:
        assert set(system["aggregate"]) == {"nDCG@10", "R@10", "R@100", "RR@10", "AP"}
        assert len(system["per_query"]["nDCG@10"]) == 6
        assert (out / system["run_file"]).exists()
    _png(out / "metrics.png")
    assert len(list(out.glob("per_query_*.png"))) == 2
    # A second run reuses the index and every vector: the model is never loaded.
    again = tmp_path / "again"
    assert run_cli([*argv, "--out", str(again)]) == 0
    cache = json.loads((again / "report.json").read_text())["settings"]["embedding_cache"]
    assert cache["misses"] == 0 and cache["hits"] > 0


def _ranking(run_file: Path) -> list[list[str]]:
    """[query, document] pairs of a TREC run file in rank order, scores left out."""
    return [line.split()[:3:2] for line in run_file.read_text().splitlines()]


def test_an_environment_variable_changes_what_eval_measures(
    tmp_path: Path, indexes_dir: Path, eval_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hybrid system is the served retriever: a FOLLOWUP_RETRIEVAL__* variable, which
    changes the server, changes the evaluated ranking and the configuration the report records."""

    def hybrid(name: str) -> tuple[dict[str, Any], list[list[str]]]:
        out = tmp_path / name
        argv = [
            *("eval", "retrieval", "--dataset", str(TINY_BEIR), "--split", "test"),
            *("--systems", "hybrid", "--indexes", str(indexes_dir), "--cache", str(eval_cache)),
            *("--permutations", "10", "--no-progress", "--out", str(out)),
        ]
        assert run_cli(argv) == 0
        return json.loads((out / "report.json").read_text()), _ranking(out / "runs/hybrid.trec")

    served, served_ranking = hybrid("served")
    monkeypatch.setenv("FOLLOWUP_RETRIEVAL__FUSION", "rrf")
    monkeypatch.setenv("FOLLOWUP_RETRIEVAL__LEXICAL_DEPTH", "3")
    changed, changed_ranking = hybrid("changed")
    assert served["settings"]["engine_settings"]["retrieval"]["fusion"] == "adaptive"
    assert changed["settings"]["engine_settings"]["retrieval"]["fusion"] == "rrf"
    config = changed["systems"][0]["settings"]["config"]
    assert (config["fusion"], config["lexical_depth"]) == ("rrf", 3)
    assert served["systems"][0]["settings"]["config"]["lexical_depth"] == 200  # as served
    assert changed_ranking != served_ranking


def test_followup_command_on_tiny_mtrag(
    tmp_path: Path, indexes_dir: Path, eval_cache: Path
) -> None:
    out = tmp_path / "followup"
    argv = [
        "eval",
        "followup",
        "--dataset",
        str(TINY_MTRAG),
        "--systems",
        "hybrid",
        "--out",
        str(out),
        "--indexes",
        str(indexes_dir),
        "--cache",
        str(eval_cache),
        "--no-progress",
    ]
    assert run_cli(argv) == 0
    report = json.loads((out / "report.json").read_text())
    assert [(r["system"], r["condition"]) for r in report["runs"]] == [
        ("hybrid", "no_context"),
        ("hybrid", "with_context"),
    ]
    assert set(report["runs"][0]["by_turn"]) == {"1", "2", "3", "5"}
    assert report["dataset"]["pool"] == 6
    assert report["notes"][0].startswith("In-sample: 4 of these 4 queries are among the 350")
    _png(out / "recall_by_turn.png")
    assert "## By turn" in (out / "report.md").read_text()


def test_bad_input_is_one_line_and_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["eval", "retrieval", "--dataset", str(TINY_BEIR), "--split", "train"]
    assert run_cli([*argv, "--out", str(tmp_path / "x")]) == 2
    assert "splits present: ['test']" in capsys.readouterr().err
    assert run_cli([*argv[:-1], "test", "--systems", "splade"]) == 2
    assert "unknown system 'splade'" in capsys.readouterr().err
