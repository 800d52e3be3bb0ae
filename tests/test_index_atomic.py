"""Atomic builds: a writer killed with SIGKILL never damages the index others load."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from corpus.chunking import ChunkingConfig, CounterKind
from index.build import build_index
from index.load import PassageIndex
from index.verify import verify
from tests.fixtures_index import (  # noqa: F401
    KeywordEmbedder,
    copy_index,
    index_embedder,
    sample_documents,
    sample_index,
    subprocess_env,
)

FAST_CHUNKING = ChunkingConfig(counter=CounterKind.ESTIMATE)


def _read_line(process: subprocess.Popen[str], expected: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith(expected):
            return line
        if not line and process.poll() is not None:
            raise AssertionError(f"child exited {process.returncode}: {process.stderr.read()}")  # type: ignore[union-attr]
    raise AssertionError(f"child did not print {expected!r} within {timeout}s")


def _kill(process: subprocess.Popen[str]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL


def _siblings(link: Path) -> list[str]:
    return sorted(p.name for p in link.parent.iterdir())


MID_ENCODE_SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from index.embedder import SentenceTransformerEmbedder
    from index.build import build_index
    from tests.fixtures_index import sample_documents

    class Announcing:
        # The real model; it says on stdout when encoding starts, then waits for a line on
        # stdin that never comes, so the test's kill always lands mid-encode.
        def __init__(self, embedder):
            self._embedder = embedder
            self.model_name, self.dimension = embedder.model_name, embedder.dimension
        def encode_queries(self, texts):
            return self._embedder.encode_queries(texts)
        def encode_documents(self, texts, *, progress=False):
            print("encoding", len(texts), flush=True)
            sys.stdin.readline()
            return self._embedder.encode_documents(texts, progress=progress)

    embedder = Announcing(SentenceTransformerEmbedder.load(threads=1))
    build_index(sample_documents(), Path(sys.argv[1]), embedder)
    print("finished", flush=True)
    """
)


def test_sigkill_during_encoding_leaves_the_previous_index(
    tmp_path: Path,
    sample_index: Path,  # noqa: F811
    index_embedder: object,  # noqa: F811
) -> None:
    link = copy_index(sample_index, tmp_path)
    before = PassageIndex.load(link)
    child = subprocess.Popen(
        [sys.executable, "-c", MID_ENCODE_SCRIPT, str(link)],
        env=subprocess_env(),
        stdin=subprocess.PIPE,  # never written: the child waits mid-encode until killed
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _read_line(child, "encoding", timeout=300)
        _kill(child)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    # The link still points at the old version; it loads and verifies as before.
    after = PassageIndex.load(link)
    assert after.manifest == before.manifest
    assert after.passages == before.passages
    assert verify(link).ok
    leftovers = [name for name in _siblings(link) if name.endswith(".partial")]
    assert len(leftovers) == 1  # the killed build's half-written directory
    # The next writer removes it; the lock died with the killed process.
    manifest = build_index(sample_documents()[:3], link, KeywordEmbedder(), FAST_CHUNKING)
    assert _siblings(link) == [".index.lock", "index", f"index.{manifest.build_id}"]


LOOP_SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from corpus.chunking import ChunkingConfig, CounterKind
    from index.build import build_index, add_documents, remove_documents
    from tests.fixtures_index import KeywordEmbedder, sample_documents

    out, docs = Path(sys.argv[1]), sample_documents()
    embedder, chunking = KeywordEmbedder(), ChunkingConfig(counter=CounterKind.ESTIMATE)
    print("ready", flush=True)
    while True:
        build_index(docs[:10], out, embedder, chunking)
        add_documents(out, docs[10:], embedder)
        remove_documents(out, [docs[0].id, docs[19].id])
    """
)


def test_sigkill_at_random_moments_of_builds_and_updates(tmp_path: Path) -> None:
    """Plumbing: a cheap embedder makes each write take milliseconds, so kills land anywhere."""
    link = tmp_path / "index"
    docs = sample_documents()
    build_index(docs[:10], link, KeywordEmbedder(), FAST_CHUNKING)
    valid_counts = {10, 20, 18}  # after build, after add, after remove
    rng = random.Random(20240601)
    for _ in range(3):
        child = subprocess.Popen(
            [sys.executable, "-c", LOOP_SCRIPT, str(link)],
            env=subprocess_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _read_line(child, "ready", timeout=120)
            time.sleep(rng.uniform(0.2, 1.5))
            assert child.poll() is None, child.stderr.read() if child.stderr else ""
            _kill(child)
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        index = PassageIndex.load(link, verify_checksums=True)
        assert index.manifest.documents in valid_counts
        report = verify(link)
        assert report.ok, report.to_dict()
    manifest = build_index(docs[:2], link, KeywordEmbedder(), FAST_CHUNKING)
    assert _siblings(link) == [".index.lock", "index", f"index.{manifest.build_id}"]


@pytest.mark.parametrize("stage", ["write", "rename", "switch"])
def test_failure_at_each_stage_keeps_the_old_index(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stage: str
) -> None:
    """An exception at each step of publishing leaves the link on the complete old version."""
    import index.publish as publish

    link = tmp_path / "index"
    docs = sample_documents()
    first = build_index(docs[:4], link, KeywordEmbedder(), FAST_CHUNKING)

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError(f"simulated failure at {stage}")

    if stage == "write":
        monkeypatch.setattr(publish, "_fsync_tree", boom)
    elif stage == "rename":
        monkeypatch.setattr(publish.os, "rename", boom)
    else:
        monkeypatch.setattr(publish.os, "replace", boom)
    with pytest.raises(OSError, match="simulated"):
        build_index(docs[4:9], link, KeywordEmbedder(), FAST_CHUNKING)
    monkeypatch.undo()
    assert PassageIndex.load(link).manifest == first
    assert verify(link).ok
    if stage != "switch":  # the failed version never became visible and was removed
        assert sorted(p.name for p in tmp_path.iterdir()) == [
            ".index.lock",
            "index",
            f"index.{first.build_id}",
        ]
