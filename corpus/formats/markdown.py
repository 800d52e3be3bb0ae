"""Markdown files with YAML front matter, one document per file; see docs/corpus-formats.md."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import yaml

from corpus.formats.records import (
    MAX_RECORD_BYTES,
    CorpusError,
    CorpusFormat,
    LoadResult,
    RecordError,
    check_file,
    join_sections,
    make_document,
    parse_tier,
    required_field,
    string_field,
    string_list_field,
    type_name,
    url_field,
    year_field,
)
from corpus.types import DOCUMENT_FIELDS, Document

logger = logging.getLogger(__name__)


# The body is the text, and its headings are the sections.
MARKDOWN_FIELDS = frozenset(DOCUMENT_FIELDS) - {"text", "sections"}
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$")


def _markdown_document(path: Path, raw: str, default_dataset: str) -> Document:
    lines = raw.splitlines()
    if not lines or lines[0].strip() != "---":
        raise CorpusError(
            path, 1, "missing YAML front matter: the file must start with a '---' line"
        )
    try:
        closing = next(i for i in range(1, len(lines)) if lines[i].strip() in ("---", "..."))
    except StopIteration:
        raise CorpusError(path, 1, "front matter is not closed by a '---' line") from None
    try:
        meta = yaml.safe_load("\n".join(lines[1:closing]))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        problem = getattr(error, "problem", None) or str(error)
        raise CorpusError(path, line, f"invalid YAML front matter: {problem}") from None
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise CorpusError(path, 2, f"front matter must be a mapping, got {type_name(meta)}")
    try:
        unknown = sorted(str(key) for key in set(meta) - MARKDOWN_FIELDS)
        if unknown:
            raise RecordError(
                f"unknown front matter field(s) {', '.join(map(repr, unknown))}; "
                f"allowed: {', '.join(sorted(MARKDOWN_FIELDS))}"
            )
        year = year_field(meta)
        body_start = closing + 1
        title = string_field(meta, "title", required=False)
        parts: list[tuple[str, list[str]]] = [("", [])]
        for line in lines[body_start:]:
            heading = _HEADING.match(line)
            if heading and heading.group(1) == "#" and title is None:
                title = heading.group(2).strip()  # the first H1 is the title
                continue
            if heading:
                parts.append((heading.group(2).strip(), []))
            else:
                parts[-1][1].append(line)
        if title is None or not title.strip():
            raise RecordError("no title: add 'title:' to the front matter or a '# Title' line")
        bodies = [(heading, "\n".join(body).strip()) for heading, body in parts]
        text, sections = join_sections((h, b) for h, b in bodies if b)
        if not text:
            raise RecordError("the document has no text after the front matter")
        if len(sections) == 1 and not sections[0].heading:
            sections = ()
        mesh = string_list_field(meta, "mesh")
        dataset = string_field(meta, "dataset", required=False)
        identifier = string_field(meta, "id", required=False)
        if isinstance(meta.get("id"), int):
            identifier = str(meta["id"])
        return make_document(
            id=(identifier or f"md:{path.stem}").strip(),
            title=" ".join(title.split()),
            text=text,
            tier=parse_tier(required_field(meta, "tier"), title, text, mesh),
            source=required_field(meta, "source").strip(),
            licence=required_field(meta, "licence").strip(),
            dataset=(dataset or default_dataset).strip(),
            year=year,
            url=url_field(meta),
            mesh=mesh,
            sections=sections,
        )
    except RecordError as error:
        # Front-matter problems point at the opening '---'; the body has no line of its own.
        raise CorpusError(path, 1, str(error)) from None


def load_markdown(
    path: Path,
    *,
    dataset: str | None = None,
    skip_bad: bool = False,
    max_file_bytes: int = MAX_RECORD_BYTES,
) -> LoadResult:
    """Load one Markdown file, or every ``*.md`` file under a folder (sorted, recursive).

    Each file is one document: YAML front matter (``tier``, ``source``, ``licence``
    required; ``id``, ``title``, ``dataset``, ``year``, ``url``, ``mesh`` optional), then the
    body. The first ``# H1`` is the title when the front matter has none; every other heading
    starts a section. The id defaults to ``md:<file name without .md>``, the data set to the
    folder name. See docs/corpus-formats.md.

    Raises:
        CorpusError: a malformed file (with ``skip_bad=False``), or no Markdown files at all.
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.suffix.lower() in (".md", ".markdown")
            and p.is_file()
            and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
        if not files:
            raise CorpusError(path, None, "no Markdown (.md) files in this folder")
        default_dataset = dataset or path.resolve().name
    else:
        files = [path]
        default_dataset = dataset or path.resolve().parent.name
    documents: list[Document] = []
    skipped: list[CorpusError] = []
    seen: dict[str, Path] = {}
    for file in files:
        try:
            check_file(file)
            if file.stat().st_size > max_file_bytes:
                raise CorpusError(
                    file, None, f"file is larger than the limit of {max_file_bytes:,} bytes"
                )
            data = file.read_bytes()
            try:
                raw = data.decode("utf-8-sig")
            except UnicodeDecodeError as error:
                line = data[: error.start].count(b"\n") + 1
                raise CorpusError(
                    file, line, f"not valid UTF-8 (byte 0x{data[error.start]:02x})"
                ) from None
            if not raw.strip():
                raise CorpusError(file, None, "file is empty (no records)")
            document = _markdown_document(file, raw, default_dataset)
            if document.id in seen:
                raise CorpusError(
                    file, 1, f"duplicate document id {document.id!r} (also in {seen[document.id]})"
                )
        except CorpusError as problem:
            if not skip_bad or len(files) == 1:
                raise
            logger.warning("skipped %s", problem)
            skipped.append(problem)
            continue
        seen[document.id] = file
        documents.append(document)
    return LoadResult(tuple(documents), tuple(skipped), CorpusFormat.MARKDOWN)
