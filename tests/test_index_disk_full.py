"""A disk that fills while an index version is written: one line that says so and names the path,
and the index exactly as it was."""

from __future__ import annotations

import errno
import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import index.publish as publish
from corpus.chunking import ChunkingConfig, CounterKind
from followup.cli import main
from index.build import add_documents, build_index, remove_documents
from index.dense import DenseConfig, FaissDenseStore
from index.errors import IndexDiskFullError
from index.load import PassageIndex
from index.verify import verify
from tests.fixtures_index import DOCS_FILE, KeywordEmbedder, sample_documents

FAST_CHUNKING = ChunkingConfig(counter=CounterKind.ESTIMATE)  # plumbing tests: no tokenizer
DEV_FULL = Path("/dev/full")  # Linux: every write to it fails with ENOSPC
needs_dev_full = pytest.mark.skipif(not DEV_FULL.exists(), reason="no /dev/full")


def _faiss_to_dev_full(monkeypatch: pytest.MonkeyPatch) -> None:
    """The real FAISS writer, writing to a device that is always full."""
    real = FaissDenseStore.save
    monkeypatch.setattr(FaissDenseStore, "save", lambda self, _path: real(self, DEV_FULL))


def _fsync_reports_full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """fsync failing as it does when delayed allocation finds no space."""

    def fsync(_directory: Path) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(publish, "_fsync_tree", fsync)


@needs_dev_full
def test_the_faiss_writer_reports_a_full_disk() -> None:
    """faiss.write_index(path) only prints an error closing a file; the store must raise."""
    store = FaissDenseStore.build(np.eye(4, dtype=np.float32), DenseConfig())
    with pytest.raises(OSError) as raised:
        store.save(DEV_FULL)
    assert raised.value.errno == errno.ENOSPC


@needs_dev_full
@pytest.mark.parametrize("fill", [_faiss_to_dev_full, _fsync_reports_full_disk])
@pytest.mark.parametrize("operation", ["build", "add", "remove"])
def test_a_full_disk_leaves_the_index_as_it_was(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fill: Callable[[pytest.MonkeyPatch], None],
    operation: str,
) -> None:
    link = tmp_path / "index"
    docs = sample_documents()
    first = build_index(docs[:4], link, KeywordEmbedder(), FAST_CHUNKING)
    fill(monkeypatch)
    with pytest.raises(IndexDiskFullError) as raised:
        if operation == "build":
            build_index(docs[4:9], link, KeywordEmbedder(), FAST_CHUNKING)
        elif operation == "add":
            add_documents(link, docs[4:9], KeywordEmbedder())
        else:
            remove_documents(link, [docs[0].id])
    monkeypatch.undo()
    message = str(raised.value)
    partial = re.escape(str(tmp_path / ".index.")) + r"\d{8}T\d{6}Z-[0-9a-f]{8}\.partial"
    assert re.fullmatch(
        rf"disk full: no space left on device to write {partial}; {re.escape(str(link))} is "
        "unchanged",
        message,
    ), message
    assert PassageIndex.load(link).manifest == first
    assert verify(link).ok
    # The failed version was removed, so the space it took is free again.
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".index.lock",
        "index",
        f"index.{first.build_id}",
    ]


@needs_dev_full
def test_the_cli_says_the_disk_is_full_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = DOCS_FILE.read_text(encoding="utf-8").splitlines(keepends=True)
    first, rest = tmp_path / "first.jsonl", tmp_path / "rest.jsonl"
    first.write_text("".join(lines[:3]), encoding="utf-8")
    rest.write_text("".join(lines[3:5]), encoding="utf-8")
    out = tmp_path / "idx"
    assert main(["index", "build", "--corpus", str(first), "--out", str(out)]) == 0
    before = PassageIndex.load(out).manifest
    capsys.readouterr()

    _faiss_to_dev_full(monkeypatch)
    line = re.compile(
        rf"error: disk full: no space left on device to write {re.escape(str(tmp_path))}/"
        rf"\.idx\.\S+\.partial; {re.escape(str(out))} is unchanged"
    )
    for argv in (
        ["index", "add", "--index", str(out), "--corpus", str(rest)],
        ["index", "build", "--corpus", str(rest), "--out", str(out)],
    ):
        assert main([*argv, "--no-progress"]) == 1
        captured = capsys.readouterr()
        assert captured.out == ""
        err = captured.err.splitlines()
        assert len(err) == 1 and line.fullmatch(err[0]), captured.err
    monkeypatch.undo()
    assert PassageIndex.load(out).manifest == before
    assert main(["index", "verify", "--index", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
