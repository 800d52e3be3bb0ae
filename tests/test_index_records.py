"""The passage and document records of an index: records.sqlite (format 3) read lazily, and the
JSON lines of format-1 indexes, which still load."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from answer.engine import build_engine
from answer.settings import Settings
from corpus.chunking import ChunkingConfig, CounterKind, chunk_documents
from corpus.types import Passage
from index.errors import IndexFormatError
from index.layout import DOCUMENTS_FILE, FAISS_DATA_FILES, PASSAGES_FILE, RECORDS_FILE
from index.load import PassageIndex
from index.manifest import FileEntry, Manifest
from index.passage_records import (
    MemoryRecords,
    SqliteRecords,
    topic_key,
    write_records,
)
from index.records import DocumentRecord, document_content_hash, passage_to_dict, write_jsonl
from index.verify import verify
from tests.fixtures_index import (  # noqa: F401
    copy_index,
    index_embedder,
    sample_documents,
    sample_index,
)

FAST_CHUNKING = ChunkingConfig(counter=CounterKind.ESTIMATE)  # plumbing tests: no tokenizer


def _corpus() -> tuple[list[Passage], list[DocumentRecord]]:
    documents = sample_documents()
    passages = chunk_documents(documents, FAST_CHUNKING)
    counts = Counter(p.document_id for p in passages)
    records = [DocumentRecord(d.id, document_content_hash(d), counts[d.id]) for d in documents]
    return passages, records


@pytest.fixture
def stored(tmp_path: Path) -> tuple[SqliteRecords, MemoryRecords]:
    """The sample corpus's records on disk, and the same records in memory."""
    passages, documents = _corpus()
    write_records(tmp_path / RECORDS_FILE, passages, documents)
    return SqliteRecords.open(tmp_path / RECORDS_FILE), MemoryRecords(
        passages, {d.id: d for d in documents}
    )


def test_records_round_trip(stored: tuple[SqliteRecords, MemoryRecords]) -> None:
    on_disk, in_memory = stored
    assert list(on_disk.passages) == list(in_memory.passages)
    assert on_disk.passages == in_memory.passages  # equal to any sequence of the same passages
    assert list(on_disk.documents.items()) == list(in_memory.documents.items())  # same order
    last = in_memory.passages[-1]
    assert on_disk.passages[-1] == last and on_disk.passages[1:3] == in_memory.passages[1:3]
    with pytest.raises(IndexError):
        on_disk.passages[len(in_memory.passages)]


def test_lookups_agree_with_the_records_in_memory(
    stored: tuple[SqliteRecords, MemoryRecords],
) -> None:
    on_disk, in_memory = stored
    for row, passage in enumerate(in_memory.passages):
        assert on_disk.row(passage.id) == row
        assert on_disk.document_rows(passage.document_id) == in_memory.document_rows(
            passage.document_id
        )
        assert on_disk.topic_rows(topic_key(passage)) == in_memory.topic_rows(topic_key(passage))
    assert on_disk.row("p-none") is None and on_disk.document_rows("none") == []
    assert on_disk.document_codes().tolist() == in_memory.document_codes().tolist()
    # Documents are numbered in order of first appearance, as the retriever numbers them.
    codes = on_disk.document_codes().tolist()
    assert codes[0] == 0 and all(b - a in (0, 1) for a, b in zip(codes, codes[1:], strict=False))
    some = next(iter(in_memory.documents))
    assert on_disk.documents[some] == in_memory.documents[some]
    assert some in on_disk.documents and "none" not in on_disk.documents


def test_a_lookup_parses_only_the_passages_it_returns(
    stored: tuple[SqliteRecords, MemoryRecords],
) -> None:
    on_disk, in_memory = stored
    assert on_disk.parsed == 0  # opening reads no passage
    passage = in_memory.passages[5]
    assert on_disk.row(passage.id) == 5 and on_disk.parsed == 0  # an id lookup parses nothing
    assert on_disk.passages[5] is on_disk.passages[5]  # parsed once, then kept
    assert on_disk.parsed == 1
    rows = on_disk.document_rows(passage.document_id)
    _ = [on_disk.passages[row] for row in rows]
    assert on_disk.parsed == len({5, *rows})


def test_records_refuse_repeated_ids_and_unlisted_documents(tmp_path: Path) -> None:
    passages, documents = _corpus()
    with pytest.raises(ValueError, match="repeats"):
        write_records(tmp_path / "a.sqlite", [*passages, passages[0]], documents)
    with pytest.raises(ValueError, match="not among the documents"):
        write_records(tmp_path / "b.sqlite", passages, documents[1:])


def _to_format_1(link: Path) -> None:
    """Rewrite a format-3 index version as format 1 wrote it: JSON lines, no records.sqlite."""
    version = link.resolve()
    index = PassageIndex.load(link)
    write_jsonl(version / PASSAGES_FILE, (passage_to_dict(p) for p in index.passages))
    write_jsonl(
        version / DOCUMENTS_FILE,
        (
            {"id": r.id, "content_hash": r.content_hash, "passages": r.passages}
            for r in index.documents.values()
        ),
    )
    index.close()
    (version / RECORDS_FILE).unlink()
    manifest = json.loads((version / "manifest.json").read_text())
    manifest["format_version"] = 1
    files = {k: v for k, v in manifest["files"].items() if k != RECORDS_FILE}
    for name in (PASSAGES_FILE, DOCUMENTS_FILE):
        entry = FileEntry.of(version / name)
        files[name] = {"size": entry.size, "sha256": entry.sha256}
    manifest["files"] = files
    (version / "manifest.json").write_text(json.dumps(manifest))


def test_a_format_1_index_still_loads_verifies_and_answers_the_same(
    tmp_path: Path,
    sample_index: Path,  # noqa: F811
) -> None:
    old = copy_index(sample_index, tmp_path / "old")
    _to_format_1(old)
    assert set(Manifest.read(old.resolve()).files) == set(FAISS_DATA_FILES[1])
    current, legacy = PassageIndex.load(sample_index), PassageIndex.load(old)
    assert legacy.manifest.format_version == 1 and current.manifest.format_version == 3
    assert legacy.passages == current.passages
    assert dict(legacy.documents) == dict(current.documents)
    assert legacy.document_codes().tolist() == current.document_codes().tolist()
    assert verify(old).ok

    questions = ["What causes pernicious anemia?", "Is ferritin low in iron deficiency?"]
    answers = []
    for link in (sample_index, old):
        settings = Settings(index={"path": link}, answer={"sentence_cache_dir": None})
        engine = build_engine(settings)
        answers.append([engine.answer(q).model_dump(exclude={"timings_ms"}) for q in questions])
    assert answers[0] == answers[1]


def test_a_faiss_index_of_an_unknown_format_names_the_fix(
    tmp_path: Path,
    sample_index: Path,  # noqa: F811
) -> None:
    link = copy_index(sample_index, tmp_path / "copy")
    path = link.resolve() / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["format_version"] = 2  # a Qdrant format, on a FAISS index
    path.write_text(json.dumps(manifest))
    with pytest.raises(IndexFormatError, match="rebuild it"):
        PassageIndex.load(link)
