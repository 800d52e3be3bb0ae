"""The loose selection in ``../shared/data/demo-b12-iron``: fields id, tier, publisher, url,
title, text, dataset, licence.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from corpus.design import classify_design
from corpus.formats.records import (
    MAX_RECORD_BYTES,
    CorpusFormat,
    LoadResult,
    RecordError,
    load_lines,
    make_document,
    required_field,
    string_field,
    url_field,
    year_field,
)
from corpus.repair import repair_medquad
from corpus.types import Document, EvidenceKind, EvidenceTier


def _is_medquad(dataset: str, identifier: str) -> bool:
    return dataset.lower() == "medquad" or identifier.startswith("medquad:")


def _demo_b12_iron_converter(repair: bool) -> Callable[[dict[str, Any]], Document]:
    def convert(record: dict[str, Any]) -> Document:
        identifier = required_field(record, "id").strip()
        title = " ".join(required_field(record, "title").split())
        text = required_field(record, "text")
        dataset = required_field(record, "dataset").strip()
        if repair and _is_medquad(dataset, identifier):
            # MedQuAD answers (title "focus — question") carry MedQuAD's lost characters.
            title, text = repair_medquad(title), repair_medquad(text)
        licence = required_field(record, "licence").strip()
        tier_name = required_field(record, "tier")
        publisher = string_field(record, "publisher", required=False)
        if tier_name.strip().lower() == EvidenceKind.GUIDELINE.value:
            tier = EvidenceTier.GUIDELINE
        elif tier_name.strip().lower() == EvidenceKind.RESEARCH.value:
            tier = classify_design(title, text)
        else:
            raise RecordError(f"field 'tier' must be 'guideline' or 'research', got {tier_name!r}")
        return make_document(
            id=identifier,
            title=title,
            text=text,
            tier=tier,
            source=(publisher or dataset).strip(),
            licence=licence,
            dataset=dataset,
            year=year_field(record),
            url=url_field(record),
        )

    return convert


def load_demo_b12_iron(
    path: Path,
    *,
    skip_bad: bool = False,
    max_record_bytes: int = MAX_RECORD_BYTES,
    repair: bool = True,
) -> LoadResult:
    """Load a file of ``../shared/data/demo-b12-iron`` (fields id, tier, publisher, url, title,
    text, dataset, licence; ``tier`` is guideline or research, research is classified).

    With ``repair=True`` the MedQuAD records (data set "MedQuAD" or an id ``medquad:...``) get
    the same restoration of lost characters as :func:`load_medquad`; the text is otherwise
    verbatim.

    Raises:
        CorpusError: a malformed record (with ``skip_bad=False``) or an unusable file.
    """
    documents, skipped = load_lines(
        Path(path),
        _demo_b12_iron_converter(repair),
        skip_bad=skip_bad,
        max_record_bytes=max_record_bytes,
    )
    return LoadResult(tuple(documents), tuple(skipped), CorpusFormat.DEMO_B12_IRON)
