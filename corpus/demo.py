"""The demo corpus that ships with the package: a curated anaemia, iron and B12 collection.

``corpus/data/demo.jsonl`` is in the generic JSONL format (docs/corpus-formats.md) and is
regenerated from ``../shared/data`` by ``scripts/build_demo_corpus.py``; its contents, sources
and licences are described in docs/demo-corpus.md and corpus/data/ATTRIBUTION.md.

Example:
    >>> result = load_demo()
    >>> result.documents[0].tier
    <EvidenceTier.GUIDELINE: 'guideline'>
"""

from __future__ import annotations

from pathlib import Path

from corpus.loaders import CorpusFormat, LoadResult, load_corpus

DEMO_CORPUS = Path(__file__).resolve().parent / "data" / "demo.jsonl"
DEMO_ATTRIBUTION = DEMO_CORPUS.with_name("ATTRIBUTION.md")


def load_demo() -> LoadResult:
    """Load the demo corpus (all-or-nothing, like any corpus).

    Raises:
        CorpusError: the packaged file is missing or damaged.
    """
    return load_corpus(DEMO_CORPUS, CorpusFormat.JSONL)
