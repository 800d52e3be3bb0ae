"""`followup corpus stats` and `followup corpus validate`, through the real entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from followup.cli import main

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data" / "corpus"


def _bad_copy(tmp_path: Path) -> Path:
    """The generic sample with line 2 missing its licence and a non-object on line 4."""
    records = [json.loads(line) for line in (DATA / "generic_sample.jsonl").open()]
    del records[1]["licence"]
    path = tmp_path / "mine.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + "[1, 2]\n")
    return path


def test_validate_a_good_file(capsys: pytest.CaptureFixture[str]) -> None:
    path = DATA / "medquad_sample.jsonl"
    assert main(["corpus", "validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.strip() == f"{path}: 4 valid documents (medquad), 0 bad records: ok"


def test_validate_lists_every_bad_record_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _bad_copy(tmp_path)
    assert main(["corpus", "validate", str(path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"error: {path}:2: missing required field 'licence'",
        f"error: {path}:4: expected a JSON object, got an array",
        f"{path}: 2 valid documents (jsonl), 2 bad records; fix them or pass --skip-bad to "
        "skip them",
    ]


def test_validate_with_skip_bad_passes_and_reports_the_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _bad_copy(tmp_path)
    assert main(["corpus", "validate", str(path), "--skip-bad"]) == 0
    captured = capsys.readouterr()
    assert f"error: {path}:2: missing required field 'licence'" in captured.err
    assert captured.out.strip() == f"{path}: 2 valid documents (jsonl), 2 bad records skipped"


def test_validate_a_file_level_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    assert main(["corpus", "validate", str(path), "--skip-bad"]) == 1
    assert capsys.readouterr().err.strip() == f"error: {path}: file is empty (no records)"


def test_validate_with_an_explicit_format(capsys: pytest.CaptureFixture[str]) -> None:
    path = DATA / "scifact" / "corpus.jsonl"
    assert main(["corpus", "validate", str(path), "--format", "jsonl"]) == 1
    err = capsys.readouterr().err
    assert err.splitlines()[0] == (
        f"error: {path}:1: unknown field(s) '_id'; allowed: dataset, id, licence, mesh, "
        "sections, source, text, tier, title, url, year"
    )
    assert err.splitlines()[4].startswith(f"error: {path}: no valid records (4 skipped")
    assert main(["corpus", "validate", str(path), "--format", "xml"]) == 2
    assert "unknown corpus format 'xml'" in capsys.readouterr().err


def test_stats_counts_passages_by_kind_design_and_publisher(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["corpus", "stats", "--corpus", str(DATA / "medquad_sample.jsonl")]
    argv += ["--corpus", str(DATA / "scifact")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert first.startswith(f"{DATA / 'medquad_sample.jsonl'}, {DATA / 'scifact'}: 8 documents, ")
    assert "max_tokens=200, overlap_sentences=1" in first
    for heading in ("By kind", "By design", "By publisher"):
        assert heading in out
    for label in (
        "guideline",
        "research",
        "rct",
        "systematic_review",
        "NHLBI (guideline)",
        "MedlinePlus (guideline)",
        "SciFact (research)",
    ):
        assert label in out


def test_stats_of_the_demo_corpus_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["corpus", "stats"]) == 0
    out = capsys.readouterr().out
    assert ": 378 documents, " in out.splitlines()[0]
    assert "NHLBI (guideline)" in out and "PubMedQA (research)" in out


def test_stats_reports_a_bad_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _bad_copy(tmp_path)
    assert main(["corpus", "stats", "--corpus", str(path)]) == 1
    assert capsys.readouterr().err.strip() == f"error: {path}:2: missing required field 'licence'"
    assert main(["corpus", "stats", "--corpus", str(path), "--skip-bad"]) == 0
    captured = capsys.readouterr()
    assert "2 bad records skipped" in captured.out
    assert f"skipped {path}:4: expected a JSON object, got an array" in captured.err


def test_the_installed_entry_point_returns_the_exit_codes(tmp_path: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    bad = _bad_copy(tmp_path)
    failed = subprocess.run(
        [sys.executable, "-m", "followup", "corpus", "validate", str(bad)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert failed.returncode == 1
    assert f"{bad}:2: missing required field 'licence'" in failed.stderr
    skipped = subprocess.run(
        [sys.executable, "-m", "followup", "corpus", "validate", str(bad), "--skip-bad"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert skipped.returncode == 0
    assert "2 bad records skipped" in skipped.stdout
