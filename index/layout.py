"""Where an index lives on disk: the files of a version and the siblings of the index link.

The path a user names (``DIR``) is a symbolic link to a sibling version directory
``DIR.<build id>``::

    var/demo-index -> demo-index.20250101T120000Z-1a2b3c4d
    var/demo-index.20250101T120000Z-1a2b3c4d/
        manifest.json      format/package versions, model, chunking, BM25, counts, file checksums
        records.sqlite     passages (row i is row i of every store) and documents, read lazily
        vectors.npy        float32 (passages, dimension), L2-normalised
        dense.faiss        IndexFlatIP or IndexHNSWFlat over vectors.npy
        bm25/              bm25s arrays (.npy) and vocabulary/parameters (.json)

Beside them: hidden partial builds ``.DIR.<build id>.partial``, temporary links
``.DIR.<build id>.link`` and the writers' lock ``.DIR.lock`` (see :mod:`index.publish`).
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from index.lexical import BM25_FILES

RECORDS_FILE = "records.sqlite"
VECTORS_FILE = "vectors.npy"
DENSE_FILE = "dense.faiss"
BM25_DIR = "bm25"
# Format 1 kept the records as JSON lines, one passage (row i on line i) or document a line;
# they are read whole into memory. Format 3 keeps them in RECORDS_FILE.
PASSAGES_FILE = "passages.jsonl"
DOCUMENTS_FILE = "documents.jsonl"

_STORE_FILES = (VECTORS_FILE, DENSE_FILE, *(f"{BM25_DIR}/{name}" for name in BM25_FILES))
# The data files of a FAISS index, by manifest format version.
FAISS_DATA_FILES = {
    1: (PASSAGES_FILE, DOCUMENTS_FILE, *_STORE_FILES),
    3: (RECORDS_FILE, *_STORE_FILES),
}
DATA_FILES = FAISS_DATA_FILES[3]  # what this code writes

BUILD_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{8}")


def new_build_id() -> str:
    """A build id: the UTC time to the second and 8 random hex digits."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(4)}"


@dataclass(frozen=True)
class Layout:
    """Names of the link, its versions, partial builds and the lock, all siblings of ``DIR``."""

    link: Path

    @property
    def parent(self) -> Path:
        return self.link.parent

    @property
    def name(self) -> str:
        return self.link.name

    def version(self, build_id: str) -> Path:
        return self.parent / f"{self.name}.{build_id}"

    def partial(self, build_id: str) -> Path:
        return self.parent / f".{self.name}.{build_id}.partial"

    def temp_link(self, build_id: str) -> Path:
        return self.parent / f".{self.name}.{build_id}.link"

    @property
    def lock(self) -> Path:
        return self.parent / f".{self.name}.lock"

    def current(self) -> Path | None:
        """The version directory ``DIR`` points to, or None if there is none yet."""
        if not self.link.is_symlink():
            return None
        return self.parent / os.readlink(self.link)

    def leftovers(self) -> list[Path]:
        """Partial builds, temporary links and versions that ``DIR`` no longer points to."""
        current = self.current()
        patterns = {
            re.compile(rf"\.{re.escape(self.name)}\.({BUILD_ID.pattern})\.(partial|link)"),
            re.compile(rf"{re.escape(self.name)}\.({BUILD_ID.pattern})"),
        }
        found = []
        for entry in self.parent.iterdir():
            if any(p.fullmatch(entry.name) for p in patterns) and entry != current:
                found.append(entry)
        return sorted(found)
