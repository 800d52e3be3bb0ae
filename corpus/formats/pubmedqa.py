"""PubMedQA's ``ori_pqal.json``: research tier, with year, MeSH terms and the labelled abstract
sections.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

from corpus.design import classify_design
from corpus.formats.records import (
    KNOWN_LICENCES,
    MAX_FILE_BYTES,
    CorpusError,
    CorpusFormat,
    LoadResult,
    RecordError,
    check_file,
    join_sections,
    make_document,
    required_field,
    string_field,
    string_list_field,
    type_name,
    year_field,
)
from corpus.types import Document

logger = logging.getLogger(__name__)


def _pubmedqa_document(pmid: str, record: Any, include_conclusion: bool) -> Document:
    if not isinstance(record, dict):
        raise RecordError(f"entry {pmid!r} must be a JSON object, got {type_name(record)}")
    if not pmid.strip().isdigit():
        raise RecordError(f"key {pmid!r} is not a PubMed id (digits only)")
    question = " ".join(required_field(record, "QUESTION").split())
    contexts = record.get("CONTEXTS")
    labels = record.get("LABELS")
    if not isinstance(contexts, list) or not contexts:
        raise RecordError("field 'CONTEXTS' must be a non-empty list of strings")
    if not all(isinstance(context, str) and context.strip() for context in contexts):
        raise RecordError("field 'CONTEXTS' must hold non-empty strings")
    if labels is None:
        labels = [""] * len(contexts)
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise RecordError("field 'LABELS' must be a list of strings")
    if len(labels) != len(contexts):
        raise RecordError(f"'LABELS' has {len(labels)} items but 'CONTEXTS' has {len(contexts)}")
    parts = [
        (label.strip(), context.strip()) for label, context in zip(labels, contexts, strict=True)
    ]
    if include_conclusion:
        conclusion = string_field(record, "LONG_ANSWER", required=False)
        if conclusion and conclusion.strip():
            parts.append(("CONCLUSIONS", conclusion.strip()))
    text, sections = join_sections(parts)
    mesh = string_list_field(record, "MESHES")
    return make_document(
        id=f"pubmedqa:{pmid.strip()}",
        title=question,
        text=text,
        tier=classify_design(question, text, mesh),
        source="PubMedQA",
        licence=KNOWN_LICENCES["pubmedqa"],
        dataset="pubmedqa",
        year=year_field(record, "YEAR"),
        url=f"https://pubmed.ncbi.nlm.nih.gov/{pmid.strip()}/",
        mesh=mesh,
        sections=sections,
    )


def _key_lines(raw: str) -> dict[str, int]:
    """The line on which each top-level key of a JSON object starts (for error messages)."""
    lines: dict[str, int] = {}
    for number, line in enumerate(raw.splitlines(), start=1):
        match = re.match(r'\s{0,4}"([^"]+)"\s*:\s*\{', line)
        if match and match.group(1) not in lines:
            lines[match.group(1)] = number
    return lines


def load_pubmedqa(
    path: Path,
    *,
    skip_bad: bool = False,
    include_conclusion: bool = True,
    max_file_bytes: int = MAX_FILE_BYTES,
) -> LoadResult:
    """Load PubMedQA's ``ori_pqal.json`` (an object of PMID -> entry).

    PubMedQA entries carry no article title; the ``QUESTION`` (which its authors derived from
    the title) stands in as the title. Each context becomes a section under its label
    (BACKGROUND, METHODS, RESULTS...), and the ``LONG_ANSWER``, which is the abstract's own
    conclusion, is added as CONCLUSIONS unless ``include_conclusion=False`` (for the
    reasoning-required setting that hides it). Year, MeSH terms and the PubMed URL are kept;
    the design comes from :func:`corpus.design.classify_design`.

    Raises:
        CorpusError: a malformed entry (with ``skip_bad=False``; the line is where the entry
            starts) or an unusable file.
    """
    path = Path(path)
    check_file(path)
    if path.stat().st_size > max_file_bytes:
        raise CorpusError(path, None, f"file is larger than the limit of {max_file_bytes:,} bytes")
    try:
        raw = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = path.read_bytes()[: error.start].count(b"\n") + 1
        raise CorpusError(path, line, f"not valid UTF-8 (byte at offset {error.start})") from None
    if not raw.strip():
        raise CorpusError(path, None, "file is empty (no records)")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as error:
        raise CorpusError(
            path, error.lineno, f"invalid JSON: {error.msg} (column {error.colno})"
        ) from None
    if not isinstance(data, dict):
        raise CorpusError(
            path, 1, f"expected a JSON object of PMID -> entry, got {type_name(data)}"
        )
    if not data:
        raise CorpusError(path, None, "file is empty (no records)")
    lines = _key_lines(raw)
    documents: list[Document] = []
    skipped: list[CorpusError] = []
    for pmid, record in data.items():
        try:
            documents.append(_pubmedqa_document(pmid, record, include_conclusion))
        except RecordError as error:
            problem = CorpusError(path, lines.get(pmid), f"entry {pmid!r}: {error}")
            if not skip_bad:
                raise problem from None
            logger.warning("skipped %s", problem)
            skipped.append(problem)
    return LoadResult(tuple(documents), tuple(skipped), CorpusFormat.PUBMEDQA)
