"""`followup index build|add|remove|info|verify`, run through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from followup.cli import main
from index.encoders import DEFAULT_BACKEND, encoder_name
from index.load import PassageIndex
from tests.fixtures_index import DOCS_FILE

LINES = DOCS_FILE.read_text(encoding="utf-8").splitlines(keepends=True)


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(lines), encoding="utf-8")
    return path


def test_build_add_remove_info_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = _write(tmp_path / "first.jsonl", LINES[:12])
    rest = _write(tmp_path / "rest.jsonl", LINES[12:])
    out = tmp_path / "idx"

    argv = ["index", "build", "--corpus", str(first), "--format", "jsonl", "--out", str(out)]
    assert main([*argv, "--threads", "2", "--no-progress"]) == 0
    assert "12 documents" in capsys.readouterr().out
    assert out.is_symlink() and PassageIndex.load(out).manifest.documents == 12

    # Re-adding the first file changes nothing; the rest is added.
    argv = ["index", "add", "--index", str(out), "--corpus", str(first), str(rest)]
    assert main([*argv, "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "added 8 documents" in printed and "unchanged 12" in printed
    index = PassageIndex.load(out)
    assert index.manifest.documents == 20

    ids_file = _write(tmp_path / "ids.txt", ["scifact:3215494\n", "\n", "not-there\n"])
    assert main(["index", "remove", "--index", str(out), "--ids-file", str(ids_file)]) == 0
    captured = capsys.readouterr()
    assert "removed 1 documents" in captured.out and "not in the index: not-there" in captured.err
    assert main(["index", "remove", "--index", str(out), "--ids", "scifact:4449524"]) == 0
    capsys.readouterr()
    assert PassageIndex.load(out).manifest.documents == 18

    assert main(["index", "info", "--index", str(out)]) == 0
    printed = capsys.readouterr().out
    # Built with the default encoder, the int8 ONNX export, and added to with the same one.
    assert f"{encoder_name(DEFAULT_BACKEND)}, 384d" in printed
    assert "lucene k1=0.9 b=0.4, stop words english, stemming snowball_english" in printed
    assert main(["index", "info", "--index", str(out), "--json"]) == 0
    manifest = json.loads(capsys.readouterr().out)
    assert manifest["corpus"]["documents"] == 18 and manifest["build"]["parent_id"]

    assert main(["index", "verify", "--index", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.rstrip().endswith(": ok") and "FAIL" not in printed

    # Damage a file: verify says so and exits 1.
    vectors = out.resolve() / "vectors.npy"
    data = bytearray(vectors.read_bytes())
    data[-1] ^= 0xFF
    vectors.write_bytes(bytes(data))
    assert main(["index", "verify", "--index", str(out), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and "vectors.npy" in report["checks"][0]["detail"]


def test_a_lone_surrogate_fails_validate_and_build_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A JSON escape of half a UTF-16 pair loads as text that UTF-8 cannot hold."""
    record = json.loads(LINES[1])
    record["text"] = "Iron \ud800 " + record["text"]
    corpus = _write(tmp_path / "mine.jsonl", [LINES[0], json.dumps(record) + "\n"])
    line = (
        f"error: {corpus}:2: document {record['id']!r}: field 'text' is not valid Unicode "
        "(a lone surrogate U+D800 at character 5)"
    )
    assert main(["corpus", "validate", str(corpus)]) == 1
    assert line in capsys.readouterr().err.splitlines()
    out = tmp_path / "idx"
    assert main(["index", "build", "--corpus", str(corpus), "--out", str(out)]) == 1
    assert capsys.readouterr().err.splitlines() == [line]
    assert not out.exists()


@pytest.mark.parametrize("kind", ["hnsw", "ivf-sq8"])
def test_approximate_build_reports_recall(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    corpus = _write(tmp_path / "few.jsonl", LINES[:6])
    out = tmp_path / "idx"
    argv = ["index", "build", "--corpus", str(corpus), "--out", str(out), "--dense", kind]
    assert main([*argv, "--no-progress"]) == 0
    assert f"{kind} dense index" in capsys.readouterr().out
    assert main(["index", "verify", "--index", str(out)]) == 0
    assert "recall@10 of the approximate index vs exact search: 1.0000" in capsys.readouterr().out


def test_build_records_bm25_parameters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = _write(tmp_path / "few.jsonl", LINES[:6])
    out = tmp_path / "idx"
    argv = ["index", "build", "--corpus", str(corpus), "--out", str(out), "--no-progress"]
    assert main([*argv, "--bm25-b", "0.75"]) == 0
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert (manifest["bm25"]["k1"], manifest["bm25"]["b"]) == (0.9, 0.75)  # k1: the default
    assert main(["index", "verify", "--index", str(out)]) == 0
    capsys.readouterr()
    assert main([*argv, "--bm25-b", "2"]) == 1
    assert "b must be within [0, 1], got 2.0" in capsys.readouterr().err


def test_usage_and_input_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "idx")
    assert main(["index", "build", "--out", out]) == 2
    assert "--corpus PATH... or --demo" in capsys.readouterr().err
    assert main(["index", "build", "--corpus", str(DOCS_FILE), "--out", out, "--format", "x"]) == 1
    assert "unknown corpus format 'x'" in capsys.readouterr().err
    missing = str(tmp_path / "missing.jsonl")
    assert main(["index", "build", "--corpus", missing, "--out", out]) == 1
    assert "no such file" in capsys.readouterr().err
    assert main(["index", "build", "--corpus", str(DOCS_FILE), "--out", out, "--threads", "0"]) == 2
    for action in (["info"], ["verify"]):
        assert main(["index", *action, "--index", out]) == 1
        assert "no index at" in capsys.readouterr().err
    assert main(["index", "remove", "--index", out, "--ids", "x"]) == 1
    assert "no index at" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["index", "remove", "--index", out])  # --ids or --ids-file is required
    assert exit_info.value.code == 2


@pytest.mark.slow
def test_demo_build(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The shipped demo corpus (~1,000 passages, a few minutes of encoding)."""
    out = tmp_path / "demo-index"
    assert main(["index", "build", "--demo", "--out", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["index", "verify", "--index", str(out)]) == 0
    index = PassageIndex.load(out)
    assert {p.tier.kind.value for p in index.passages} == {"guideline", "research"}
