"""Telling the format of a corpus file or folder from its name and first record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from corpus.formats.records import (
    MAX_RECORD_BYTES,
    CorpusError,
    CorpusFormat,
    RecordError,
    parse_object,
    read_lines,
)


def _first_record(path: Path) -> dict[str, Any] | None:
    try:
        for _, line in read_lines(path, MAX_RECORD_BYTES):
            if isinstance(line, RecordError):
                return None
            return parse_object(line)
    except (OSError, RecordError):
        return None
    return None


def detect_format(path: Path) -> CorpusFormat:
    """Guess the format from the file name and, for JSON lines, the first record's fields.

    Folders: one holding ``corpus.jsonl`` is BEIR, one holding ``.md`` files is Markdown.
    Files: ``.md`` is Markdown, ``.json`` is PubMedQA, ``corpus.jsonl`` is BEIR; other JSON
    lines are told apart by fields (``_id`` -> BEIR, ``uid``/``question``/``answer`` ->
    MedQuAD, ``publisher`` without ``source`` or a ``demo-b12-iron`` folder -> that format,
    anything else -> generic JSONL).

    Raises:
        CorpusError: the path does not exist or nothing fits; pass a format explicitly.
    """
    path = Path(path)
    if not path.exists():
        raise CorpusError(path, None, "no such file or directory")
    if path.is_dir():
        if (path / "corpus.jsonl").is_file():
            return CorpusFormat.BEIR
        if any(path.rglob("*.md")):
            return CorpusFormat.MARKDOWN
        raise CorpusError(
            path, None, "cannot tell the format of this folder (no corpus.jsonl, no .md files)"
        )
    suffix = path.suffix.lower()
    if suffix in (".md", ".markdown"):
        return CorpusFormat.MARKDOWN
    if suffix == ".json":
        return CorpusFormat.PUBMEDQA
    if path.name == "corpus.jsonl":
        return CorpusFormat.BEIR
    if suffix not in (".jsonl", ".ndjson"):
        names = ", ".join(member.value for member in CorpusFormat)
        raise CorpusError(path, None, f"cannot tell the format from the name; pass one of: {names}")
    record = _first_record(path) or {}
    if "_id" in record:
        return CorpusFormat.BEIR
    if {"uid", "question", "answer"} <= set(record):
        return CorpusFormat.MEDQUAD
    if path.resolve().parent.name == "demo-b12-iron" or (
        "publisher" in record and "source" not in record
    ):
        return CorpusFormat.DEMO_B12_IRON
    return CorpusFormat.JSONL
