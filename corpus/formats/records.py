"""What every corpus format shares: the load result and its errors, reading lines safely,
field access with clear messages, and the driver for formats with one JSON record per line."""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corpus.design import classify_design
from corpus.types import Document, EvidenceTier, Section, parse_choice

logger = logging.getLogger(__name__)

# A record longer than this is refused before it is parsed (the largest real record, a MedQuAD
# answer, is 29 kB): a corrupt or hostile file cannot make the loader hold a gigabyte line.
MAX_RECORD_BYTES = 1_000_000
# Whole-file formats (PubMedQA JSON, one Markdown file) are read at once; cap them too.
MAX_FILE_BYTES = 200_000_000

# Licences of the public data sets this project reads, by data set name.
KNOWN_LICENCES = {
    "scifact": "CC BY-NC 2.0",
    "medquad": "CC BY 4.0",
    "pubmedqa": "MIT",
}

# "Research, design unknown": generic records may ask for the design to be classified.
RESEARCH_AUTO = "research"


class CorpusFormat(enum.StrEnum):
    """The corpus formats :func:`corpus.loaders.load_corpus` reads."""

    BEIR = "beir"
    MEDQUAD = "medquad"
    PUBMEDQA = "pubmedqa"
    DEMO_B12_IRON = "demo-b12-iron"
    JSONL = "jsonl"
    MARKDOWN = "markdown"

    @classmethod
    def parse(cls, value: str) -> CorpusFormat:
        """Parse a format name, with an error that lists the valid names."""
        return parse_choice(cls, value, "corpus format")


class CorpusError(Exception):
    """A corpus file, or one record in it, cannot be read.

    Attributes:
        file: the file.
        line: the 1-based line of the bad record, or ``None`` for the file as a whole.
        message: what is wrong.
    """

    def __init__(
        self,
        file: Path | str,
        line: int | None,
        message: str,
        skipped: tuple[CorpusError, ...] = (),
    ) -> None:
        self.file = Path(file)
        self.line = line
        self.message = message
        # With skip_bad=True and no valid record left: the record errors that caused it.
        self.skipped = skipped
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else str(self.file)
        return f"{where}: {self.message}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.file, self.line, self.message, self.skipped))


@dataclass(frozen=True)
class LoadResult:
    """The documents of a corpus and the records skipped with ``skip_bad=True``.

    Example:
        >>> result = load_corpus(Path("guidelines/"), skip_bad=True)
        >>> [str(error) for error in result.skipped]
        ["guidelines/anaemia.md:1: missing required field 'licence'"]
    """

    documents: tuple[Document, ...]
    skipped: tuple[CorpusError, ...] = ()
    format: CorpusFormat | None = None


# ---------------------------------------------------------------------------------------------
# Reading lines safely


class RecordError(Exception):
    """A problem with one record; the driver adds the file and line."""


def read_lines(path: Path, max_bytes: int) -> Iterator[tuple[int, str | RecordError]]:
    """``(line number, text)`` for each non-blank line, or a record error for a bad line.

    A line longer than ``max_bytes`` is never held whole: it is reported and skipped over.
    """
    with path.open("rb") as handle:
        number = 0
        while True:
            raw = handle.readline(max_bytes + 1)
            if not raw:
                return
            number += 1
            if len(raw) > max_bytes and not raw.endswith(b"\n"):
                while raw and not raw.endswith(b"\n"):
                    raw = handle.readline(1 << 20)
                yield number, RecordError(f"line is longer than the limit of {max_bytes:,} bytes")
                continue
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]  # a UTF-8 byte-order mark
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                yield (
                    number,
                    RecordError(
                        f"not valid UTF-8 (byte 0x{raw[error.start]:02x} "
                        f"at column {error.start + 1})"
                    ),
                )
                continue
            if text.strip():
                yield number, text


def check_file(path: Path) -> None:
    if not path.exists():
        raise CorpusError(path, None, "no such file or directory")
    if not path.is_file():
        raise CorpusError(path, None, "not a regular file")
    if path.stat().st_size == 0:
        raise CorpusError(path, None, "file is empty (no records)")


def parse_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise RecordError(f"invalid JSON: {error.msg} (column {error.colno})") from None
    if not isinstance(value, dict):
        raise RecordError(f"expected a JSON object, got {type_name(value)}")
    return value


def type_name(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return names.get(type(value), type(value).__name__)


# ---------------------------------------------------------------------------------------------
# Field access with clear messages


def string_field(record: Mapping[str, Any], name: str, *, required: bool = True) -> str | None:
    if name not in record or record[name] is None:
        if required:
            raise RecordError(f"missing required field {name!r}")
        return None
    value = record[name]
    if not isinstance(value, str):
        raise RecordError(f"field {name!r} must be a string, got {type_name(value)}")
    if required and not value.strip():
        raise RecordError(f"field {name!r} is empty")
    return value


def required_field(record: Mapping[str, Any], name: str) -> str:
    value = string_field(record, name)
    assert value is not None  # string_field raises for a missing required field
    return value


def url_field(record: Mapping[str, Any]) -> str | None:
    """The optional ``url`` field, stripped; ``None`` when it is missing or blank."""
    url = string_field(record, "url", required=False)
    return url.strip() if url and url.strip() else None


def year_field(record: Mapping[str, Any], name: str = "year") -> int | None:
    value = record.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise RecordError(f"field {name!r} must be a year, got a boolean")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or not 1000 <= value <= 2999:
        raise RecordError(f"field {name!r} must be a four-digit year, got {value!r}")
    return value


def string_list_field(record: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = record.get(name)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise RecordError(f"field {name!r} must be a list of strings")
    return tuple(item.strip() for item in value if item.strip())


def parse_tier(value: str, title: str, text: str, mesh: tuple[str, ...]) -> EvidenceTier:
    if value.strip().lower() == RESEARCH_AUTO:
        return classify_design(title, text, mesh)
    try:
        return EvidenceTier.parse(value)
    except ValueError as error:
        raise RecordError(f"{error} (or {RESEARCH_AUTO!r} to classify the design)") from None


def make_document(**fields: Any) -> Document:
    try:
        return Document(**fields)
    except ValueError as error:
        raise RecordError(str(error)) from None


# ---------------------------------------------------------------------------------------------
# The driver shared by line-based formats


def load_lines(
    path: Path,
    convert: Callable[[dict[str, Any]], Document],
    *,
    skip_bad: bool,
    max_record_bytes: int,
) -> tuple[list[Document], list[CorpusError]]:
    check_file(path)
    documents: list[Document] = []
    skipped: list[CorpusError] = []
    first_line: dict[str, int] = {}
    records = 0
    for number, line in read_lines(path, max_record_bytes):
        records += 1
        try:
            if isinstance(line, RecordError):
                raise line
            document = convert(parse_object(line))
            if document.id in first_line:
                raise RecordError(
                    f"duplicate document id {document.id!r} "
                    f"(first on line {first_line[document.id]})"
                )
        except RecordError as error:
            problem = CorpusError(path, number, str(error))
            if not skip_bad:
                raise problem from None
            logger.warning("skipped %s", problem)
            skipped.append(problem)
            continue
        first_line[document.id] = number
        documents.append(document)
    if records == 0:
        raise CorpusError(path, None, "file is empty (no records)")
    return documents, skipped


def join_sections(parts: Iterable[tuple[str, str]]) -> tuple[str, tuple[Section, ...]]:
    """Join section bodies with blank lines and record each body's offsets."""
    text = ""
    sections: list[Section] = []
    for heading, body in parts:
        if text:
            text += "\n\n"
        sections.append(Section(heading, len(text), len(text) + len(body)))
        text += body
    return text, tuple(sections)
