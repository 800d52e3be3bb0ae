"""Read corpora in the formats the project meets into ``Document`` records.

Formats (``CorpusFormat``, one module each under :mod:`corpus.formats`; see
docs/corpus-formats.md for the two user formats):

- ``beir``: a BEIR ``corpus.jsonl`` (``{"_id", "title", "text"}`` per line), or a folder
  holding one. Research tier; the design comes from :func:`corpus.design.classify_design`.
- ``medquad``: MedQuAD JSONL (``uid``, ``source``, ``url``, ``focus``, ``question``,
  ``answer``). Guideline tier (NIH health-authority pages), one document per answer, with the
  characters MedQuAD lost upstream restored where that is certain (:mod:`corpus.repair`).
- ``pubmedqa``: PubMedQA ``ori_pqal.json``. Research tier, with year, MeSH terms and the
  labelled abstract sections.
- ``demo-b12-iron``: the loose selection in ``../shared/data/demo-b12-iron``.
- ``jsonl``: the generic JSON-lines format for users' own documents (and the demo corpus).
- ``markdown``: Markdown files with YAML front matter, one document per file.

Loading is all-or-nothing: a malformed record raises :class:`CorpusError` naming the file,
the line and the problem, and nothing is returned. With ``skip_bad=True`` malformed records
are skipped instead and returned in ``LoadResult.skipped``; problems with the file as a whole
(missing, empty, unreadable) always raise.

Example:
    >>> result = load_corpus(Path("../shared/data/scifact"))
    >>> len(result.documents), result.format
    (5183, <CorpusFormat.BEIR: 'beir'>)
    >>> result.documents[0].id
    'scifact:4983'
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from pathlib import Path

from corpus.detect import detect_format
from corpus.formats.beir import load_beir
from corpus.formats.demo_b12_iron import load_demo_b12_iron
from corpus.formats.jsonl import load_jsonl
from corpus.formats.markdown import load_markdown
from corpus.formats.medquad import load_medquad
from corpus.formats.pubmedqa import load_pubmedqa
from corpus.formats.records import CorpusError, CorpusFormat, LoadResult
from corpus.types import Document

__all__ = ["CorpusError", "CorpusFormat", "LoadResult", "load_corpora", "load_corpus"]

logger = logging.getLogger(__name__)


def load_corpus(
    path: Path | str,
    fmt: CorpusFormat | str | None = None,
    skip_bad: bool = False,
    *,
    dataset: str | None = None,
) -> LoadResult:
    """Load a corpus file or folder in any supported format.

    Args:
        path: a file, or a folder (BEIR data set or Markdown documents).
        fmt: the format; detected from the name and content when ``None``.
        skip_bad: skip malformed records (returned in ``LoadResult.skipped``) instead of
            raising on the first one.
        dataset: the data set name, for the formats that take one (BEIR, JSONL, Markdown).

    Returns:
        All documents, or (on error) nothing: a partial result is never returned.

    Raises:
        CorpusError: names the file, the line when there is one, and the problem.
    """
    path = Path(path)
    corpus_format = detect_format(path) if fmt is None else CorpusFormat.parse(fmt)
    loaders: dict[CorpusFormat, Callable[[], LoadResult]] = {
        CorpusFormat.BEIR: lambda: load_beir(path, dataset=dataset, skip_bad=skip_bad),
        CorpusFormat.MEDQUAD: lambda: load_medquad(path, skip_bad=skip_bad),
        CorpusFormat.PUBMEDQA: lambda: load_pubmedqa(path, skip_bad=skip_bad),
        CorpusFormat.DEMO_B12_IRON: lambda: load_demo_b12_iron(path, skip_bad=skip_bad),
        CorpusFormat.JSONL: lambda: load_jsonl(path, dataset=dataset, skip_bad=skip_bad),
        CorpusFormat.MARKDOWN: lambda: load_markdown(path, dataset=dataset, skip_bad=skip_bad),
    }
    folder_formats = (CorpusFormat.BEIR, CorpusFormat.MARKDOWN)
    if corpus_format not in folder_formats and path.is_dir():
        raise CorpusError(path, None, f"a {corpus_format.value} corpus is a file, not a folder")
    result = loaders[corpus_format]()
    if not result.documents:
        first = f"; the first: {result.skipped[0]}" if result.skipped else ""
        raise CorpusError(
            path,
            None,
            f"no valid records ({len(result.skipped)} skipped as malformed{first})",
            result.skipped,
        )
    logger.info(
        "loaded %d documents from %s (%s), skipped %d",
        len(result.documents),
        path,
        corpus_format.value,
        len(result.skipped),
    )
    return result


def load_corpora(
    paths: Iterable[Path | str],
    fmt: CorpusFormat | str | None = None,
    skip_bad: bool = False,
) -> LoadResult:
    """Load several corpora into one result; a document id may occur only once across them.

    Raises:
        CorpusError: as :func:`load_corpus`, or for an id already loaded from an earlier path
            (skipped instead with ``skip_bad=True``).
    """
    documents: list[Document] = []
    skipped: list[CorpusError] = []
    origin: dict[str, Path] = {}
    for path in map(Path, paths):
        result = load_corpus(path, fmt, skip_bad)
        skipped.extend(result.skipped)
        for document in result.documents:
            if document.id in origin:
                problem = CorpusError(
                    path,
                    None,
                    f"document id {document.id!r} was already loaded from {origin[document.id]}",
                )
                if not skip_bad:
                    raise problem
                skipped.append(problem)
                continue
            origin[document.id] = path
            documents.append(document)
    return LoadResult(tuple(documents), tuple(skipped))
