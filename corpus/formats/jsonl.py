"""The generic JSON-lines format for users' own documents (and the demo corpus); see
docs/corpus-formats.md.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from corpus.formats.records import (
    MAX_RECORD_BYTES,
    CorpusFormat,
    LoadResult,
    RecordError,
    load_lines,
    make_document,
    parse_tier,
    required_field,
    string_field,
    string_list_field,
    type_name,
    url_field,
    year_field,
)
from corpus.types import DOCUMENT_FIELDS, Document, Section

JSONL_FIELDS = frozenset(DOCUMENT_FIELDS)
_OPTIONAL = frozenset({"year", "url", "mesh", "sections"})


def _sections(value: Any, text: str) -> tuple[Section, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise RecordError("field 'sections' must be a list of {heading, start, end} objects")
    sections: list[Section] = []
    previous_end = 0
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise RecordError(f"sections[{index}] must be an object, got {type_name(item)}")
        heading = item.get("heading", "")
        start, end = item.get("start"), item.get("end")
        if not isinstance(heading, str):
            raise RecordError(f"sections[{index}].heading must be a string")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)):
            raise RecordError(f"sections[{index}] needs integer 'start' and 'end'")
        assert isinstance(start, int) and isinstance(end, int)
        if not previous_end <= start < end <= len(text):
            raise RecordError(
                f"sections[{index}] spans [{start}, {end}), which is not inside the text "
                f"(length {len(text)}) after the previous section (ending at {previous_end})"
            )
        sections.append(Section(heading.strip(), start, end))
        previous_end = end
    return tuple(sections)


def _jsonl_converter(default_dataset: str) -> Callable[[dict[str, Any]], Document]:
    def convert(record: dict[str, Any]) -> Document:
        unknown = sorted(set(record) - JSONL_FIELDS)
        if unknown:
            raise RecordError(
                f"unknown field(s) {', '.join(map(repr, unknown))}; "
                f"allowed: {', '.join(sorted(JSONL_FIELDS))}"
            )
        identifier = required_field(record, "id").strip()
        title = " ".join(required_field(record, "title").split())
        text = required_field(record, "text")
        mesh = string_list_field(record, "mesh")
        dataset = string_field(record, "dataset", required=False)
        return make_document(
            id=identifier,
            title=title,
            text=text,
            tier=parse_tier(required_field(record, "tier"), title, text, mesh),
            source=required_field(record, "source").strip(),
            licence=required_field(record, "licence").strip(),
            dataset=(dataset or default_dataset).strip(),
            year=year_field(record),
            url=url_field(record),
            mesh=mesh,
            sections=_sections(record.get("sections"), text),
        )

    return convert


def load_jsonl(
    path: Path,
    *,
    dataset: str | None = None,
    skip_bad: bool = False,
    max_record_bytes: int = MAX_RECORD_BYTES,
) -> LoadResult:
    """Load the generic JSONL format (docs/corpus-formats.md): one document per line.

    Required fields: ``id``, ``title``, ``text``, ``tier`` (an evidence tier, or ``research``
    to classify the design), ``source``, ``licence``. Optional: ``dataset`` (defaults to
    ``dataset=`` or the file name without extension), ``year``, ``url``, ``mesh``,
    ``sections`` (``[{"heading", "start", "end"}]`` character offsets into ``text``).
    Unknown fields are an error, so a typo ("licence"/"license") is caught.

    Raises:
        CorpusError: a malformed record (with ``skip_bad=False``) or an unusable file.
    """
    path = Path(path)
    documents, skipped = load_lines(
        path,
        _jsonl_converter(dataset or path.stem),
        skip_bad=skip_bad,
        max_record_bytes=max_record_bytes,
    )
    return LoadResult(tuple(documents), tuple(skipped), CorpusFormat.JSONL)


def document_to_json(document: Document) -> dict[str, Any]:
    """A document as one generic-JSONL record (the inverse of the ``jsonl`` loader): every
    field, the optional ones left out when empty."""
    return {
        name: value
        for name, value in document.to_dict().items()
        if name not in _OPTIONAL or value not in (None, [])
    }
