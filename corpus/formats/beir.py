"""BEIR ``corpus.jsonl`` (``{"_id", "title", "text"}`` per line), or a folder holding one.

Research tier; the design comes from :func:`corpus.design.classify_design`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from corpus.design import classify_design
from corpus.formats.records import (
    KNOWN_LICENCES,
    MAX_RECORD_BYTES,
    CorpusError,
    CorpusFormat,
    LoadResult,
    load_lines,
    make_document,
    required_field,
    string_field,
)
from corpus.types import Document

logger = logging.getLogger(__name__)

# Display names for BEIR data sets (the folder name is used for any other).
BEIR_NAMES = {"scifact": "SciFact", "nfcorpus": "NFCorpus", "trec-covid": "TREC-COVID"}


def _beir_converter(dataset: str, licence: str) -> Callable[[dict[str, Any]], Document]:
    source = BEIR_NAMES.get(dataset, dataset)

    def convert(record: dict[str, Any]) -> Document:
        raw_id = record.get("_id")
        if isinstance(raw_id, int) and not isinstance(raw_id, bool):
            raw_id = str(raw_id)  # some BEIR exports write numeric ids as numbers
            record = {**record, "_id": raw_id}
        identifier = required_field(record, "_id").strip()
        title = (string_field(record, "title", required=False) or "").strip()
        text = required_field(record, "text")
        return make_document(
            id=f"{dataset}:{identifier}",
            title=title,
            text=text,
            tier=classify_design(title, text),
            source=source,
            licence=licence,
            dataset=dataset,
            # SciFact ids are S2ORC ids, not PMIDs, so no PubMed URL can be made; the document
            # id ("scifact:<id>") is the identifier.
            url=None,
        )

    return convert


def load_beir(
    path: Path,
    *,
    dataset: str | None = None,
    licence: str | None = None,
    skip_bad: bool = False,
    max_record_bytes: int = MAX_RECORD_BYTES,
) -> LoadResult:
    """Load a BEIR ``corpus.jsonl`` (or the folder holding it).

    Args:
        path: the ``corpus.jsonl`` file, or the data set folder.
        dataset: the data set name; defaults to the folder name (``scifact``). Document ids are
            ``<dataset>:<_id>``.
        licence: the licence; defaults to the known licence of the data set, else "unknown".
        skip_bad: skip malformed records instead of raising.
        max_record_bytes: refuse longer lines.

    Raises:
        CorpusError: a malformed record (with ``skip_bad=False``) or an unusable file.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "corpus.jsonl"
    name = (dataset or path.resolve().parent.name).strip().lower()
    if not name:
        raise CorpusError(path, None, "cannot tell the data set name; pass dataset=")
    if licence is None:
        licence = KNOWN_LICENCES.get(name)
        if licence is None:
            logger.warning("no known licence for BEIR data set %r; recording 'unknown'", name)
            licence = "unknown"
    documents, skipped = load_lines(
        path,
        _beir_converter(name, licence),
        skip_bad=skip_bad,
        max_record_bytes=max_record_bytes,
    )
    return LoadResult(tuple(documents), tuple(skipped), CorpusFormat.BEIR)
