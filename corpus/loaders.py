"""Read corpora in the formats the project meets into ``Document`` records.

Formats (``CorpusFormat``; see docs/corpus-formats.md for the two user formats):

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

import enum
import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from corpus.design import classify_design
from corpus.repair import repair_medquad
from corpus.types import Document, EvidenceKind, EvidenceTier, Section, parse_choice

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
# Display names for BEIR data sets (the folder name is used for any other).
BEIR_NAMES = {"scifact": "SciFact", "nfcorpus": "NFCorpus", "trec-covid": "TREC-COVID"}
# MedQuAD's `source` codes, spelled as the publisher a reader would recognise. Codes not
# listed (NHLBI, NIDDK, NINDS, GARD, GHR, CDC, NIHSeniorHealth) are already the names.
MEDQUAD_PUBLISHERS = {"MPlusHealthTopics": "MedlinePlus", "CancerGov": "NCI"}
# Lines of MedQuAD answers that are navigation left over from the web page, not content.
_MEDQUAD_NAVIGATION = frozenset({"Espaol", "Español"})
# "Research, design unknown": generic records may ask for the design to be classified.
RESEARCH_AUTO = "research"


class CorpusFormat(enum.StrEnum):
    """The corpus formats :func:`load_corpus` reads."""

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


class _RecordError(Exception):
    """A problem with one record; the driver adds the file and line."""


# ---------------------------------------------------------------------------------------------
# Reading lines safely


def _read_lines(path: Path, max_bytes: int) -> Iterator[tuple[int, str | _RecordError]]:
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
                yield number, _RecordError(f"line is longer than the limit of {max_bytes:,} bytes")
                continue
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]  # a UTF-8 byte-order mark
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                yield (
                    number,
                    _RecordError(
                        f"not valid UTF-8 (byte 0x{raw[error.start]:02x} "
                        f"at column {error.start + 1})"
                    ),
                )
                continue
            if text.strip():
                yield number, text


def _check_file(path: Path) -> None:
    if not path.exists():
        raise CorpusError(path, None, "no such file or directory")
    if not path.is_file():
        raise CorpusError(path, None, "not a regular file")
    if path.stat().st_size == 0:
        raise CorpusError(path, None, "file is empty (no records)")


def _parse_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise _RecordError(f"invalid JSON: {error.msg} (column {error.colno})") from None
    if not isinstance(value, dict):
        raise _RecordError(f"expected a JSON object, got {_type_name(value)}")
    return value


def _type_name(value: object) -> str:
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


def _string(record: Mapping[str, Any], name: str, *, required: bool = True) -> str | None:
    if name not in record or record[name] is None:
        if required:
            raise _RecordError(f"missing required field {name!r}")
        return None
    value = record[name]
    if not isinstance(value, str):
        raise _RecordError(f"field {name!r} must be a string, got {_type_name(value)}")
    if required and not value.strip():
        raise _RecordError(f"field {name!r} is empty")
    return value


def _required(record: Mapping[str, Any], name: str) -> str:
    value = _string(record, name)
    assert value is not None  # _string raises for a missing required field
    return value


def _year(record: Mapping[str, Any], name: str = "year") -> int | None:
    value = record.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _RecordError(f"field {name!r} must be a year, got a boolean")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or not 1000 <= value <= 2999:
        raise _RecordError(f"field {name!r} must be a four-digit year, got {value!r}")
    return value


def _string_list(record: Mapping[str, Any], name: str) -> tuple[str, ...]:
    value = record.get(name)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _RecordError(f"field {name!r} must be a list of strings")
    return tuple(item.strip() for item in value if item.strip())


def _tier(value: str, title: str, text: str, mesh: tuple[str, ...]) -> EvidenceTier:
    if value.strip().lower() == RESEARCH_AUTO:
        return classify_design(title, text, mesh)
    try:
        return EvidenceTier.parse(value)
    except ValueError as error:
        raise _RecordError(f"{error} (or {RESEARCH_AUTO!r} to classify the design)") from None


def _document(**fields: Any) -> Document:
    try:
        return Document(**fields)
    except ValueError as error:
        raise _RecordError(str(error)) from None


# ---------------------------------------------------------------------------------------------
# The driver shared by line-based formats


def _load_lines(
    path: Path,
    convert: Callable[[dict[str, Any]], Document],
    *,
    skip_bad: bool,
    max_record_bytes: int,
) -> tuple[list[Document], list[CorpusError]]:
    _check_file(path)
    documents: list[Document] = []
    skipped: list[CorpusError] = []
    first_line: dict[str, int] = {}
    records = 0
    for number, line in _read_lines(path, max_record_bytes):
        records += 1
        try:
            if isinstance(line, _RecordError):
                raise line
            document = convert(_parse_object(line))
            if document.id in first_line:
                raise _RecordError(
                    f"duplicate document id {document.id!r} "
                    f"(first on line {first_line[document.id]})"
                )
        except _RecordError as error:
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


# ---------------------------------------------------------------------------------------------
# BEIR


def _beir_converter(dataset: str, licence: str) -> Callable[[dict[str, Any]], Document]:
    source = BEIR_NAMES.get(dataset, dataset)

    def convert(record: dict[str, Any]) -> Document:
        raw_id = record.get("_id")
        if isinstance(raw_id, int) and not isinstance(raw_id, bool):
            raw_id = str(raw_id)  # some BEIR exports write numeric ids as numbers
            record = {**record, "_id": raw_id}
        identifier = _required(record, "_id").strip()
        title = (_string(record, "title", required=False) or "").strip()
        text = _required(record, "text")
        return _document(
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
    documents, skipped = _load_lines(
        path,
        _beir_converter(name, licence),
        skip_bad=skip_bad,
        max_record_bytes=max_record_bytes,
    )
    return LoadResult(tuple(documents), tuple(skipped), CorpusFormat.BEIR)


# ---------------------------------------------------------------------------------------------
# MedQuAD

_BULLET_RUN = re.compile(r"[ \t]{2,}(?=- )")
_SPACE_RUN = re.compile(r"[ \t\u00a0]+")


def normalise_medquad_answer(answer: str) -> str:
    """MedQuAD answer text with the XML indentation removed; only whitespace changes.

    Lines are stripped and blank ones dropped; bullets that the conversion ran together on one
    line ("...cells).    - Leukemia may...") get their own line; runs of spaces become one.
    Navigation lines left from the web page ("Espaol", a broken "Español" link) are dropped.
    """
    lines: list[str] = []
    for raw_line in answer.splitlines():
        for part in _BULLET_RUN.split(raw_line):
            line = _SPACE_RUN.sub(" ", part).strip()
            if line and line not in _MEDQUAD_NAVIGATION:
                lines.append(line)
    return "\n".join(lines)


def _medquad_converter(repair: bool) -> Callable[[dict[str, Any]], Document]:
    fix = repair_medquad if repair else str

    def convert(record: dict[str, Any]) -> Document:
        uid = _required(record, "uid").strip()
        source = _required(record, "source").strip()
        question = fix(" ".join(_required(record, "question").split()))
        focus = fix(" ".join((_string(record, "focus", required=False) or "").split()))
        text = fix(normalise_medquad_answer(_required(record, "answer")))
        if not text:
            raise _RecordError("field 'answer' has no text")
        url = _string(record, "url", required=False)
        return _document(
            id=f"medquad:{uid}",
            title=focus or question,
            text=text,
            tier=EvidenceTier.GUIDELINE,
            source=MEDQUAD_PUBLISHERS.get(source, source),
            licence=KNOWN_LICENCES["medquad"],
            dataset="medquad",
            url=url.strip() if url and url.strip() else None,
            sections=(Section(question, 0, len(text)),),
        )

    return convert


def load_medquad(
    path: Path,
    *,
    skip_bad: bool = False,
    max_record_bytes: int = MAX_RECORD_BYTES,
    repair: bool = True,
) -> LoadResult:
    """Load MedQuAD JSONL: one guideline-tier document per answer.

    The title is the ``focus`` (the condition), the question is the heading of the single
    section, the publisher is the ``source`` (``MPlusHealthTopics`` shown as MedlinePlus,
    ``CancerGov`` as NCI), the id is ``medquad:<uid>``. Whitespace in the answer is normalised
    (see :func:`normalise_medquad_answer`), and with ``repair=True`` the characters MedQuAD lost
    upstream are restored where that is certain ("Grsbeck" -> "Gräsbeck", "bodys" -> "body's";
    see :mod:`corpus.repair`) in the answer, the focus and the question. Nothing else changes.

    Raises:
        CorpusError: a malformed record (with ``skip_bad=False``) or an unusable file.
    """
    documents, skipped = _load_lines(
        Path(path),
        _medquad_converter(repair),
        skip_bad=skip_bad,
        max_record_bytes=max_record_bytes,
    )
    return LoadResult(tuple(documents), tuple(skipped), CorpusFormat.MEDQUAD)


# ---------------------------------------------------------------------------------------------
# PubMedQA


def _pubmedqa_document(pmid: str, record: Any, include_conclusion: bool) -> Document:
    if not isinstance(record, dict):
        raise _RecordError(f"entry {pmid!r} must be a JSON object, got {_type_name(record)}")
    if not pmid.strip().isdigit():
        raise _RecordError(f"key {pmid!r} is not a PubMed id (digits only)")
    question = " ".join(_required(record, "QUESTION").split())
    contexts = record.get("CONTEXTS")
    labels = record.get("LABELS")
    if not isinstance(contexts, list) or not contexts:
        raise _RecordError("field 'CONTEXTS' must be a non-empty list of strings")
    if not all(isinstance(context, str) and context.strip() for context in contexts):
        raise _RecordError("field 'CONTEXTS' must hold non-empty strings")
    if labels is None:
        labels = [""] * len(contexts)
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise _RecordError("field 'LABELS' must be a list of strings")
    if len(labels) != len(contexts):
        raise _RecordError(f"'LABELS' has {len(labels)} items but 'CONTEXTS' has {len(contexts)}")
    parts = [
        (label.strip(), context.strip()) for label, context in zip(labels, contexts, strict=True)
    ]
    if include_conclusion:
        conclusion = _string(record, "LONG_ANSWER", required=False)
        if conclusion and conclusion.strip():
            parts.append(("CONCLUSIONS", conclusion.strip()))
    text, sections = _join_sections(parts)
    mesh = _string_list(record, "MESHES")
    return _document(
        id=f"pubmedqa:{pmid.strip()}",
        title=question,
        text=text,
        tier=classify_design(question, text, mesh),
        source="PubMedQA",
        licence=KNOWN_LICENCES["pubmedqa"],
        dataset="pubmedqa",
        year=_year(record, "YEAR"),
        url=f"https://pubmed.ncbi.nlm.nih.gov/{pmid.strip()}/",
        mesh=mesh,
        sections=sections,
    )


def _join_sections(parts: Iterable[tuple[str, str]]) -> tuple[str, tuple[Section, ...]]:
    """Join section bodies with blank lines and record each body's offsets."""
    text = ""
    sections: list[Section] = []
    for heading, body in parts:
        if text:
            text += "\n\n"
        sections.append(Section(heading, len(text), len(text) + len(body)))
        text += body
    return text, tuple(sections)


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
    _check_file(path)
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
            path, 1, f"expected a JSON object of PMID -> entry, got {_type_name(data)}"
        )
    if not data:
        raise CorpusError(path, None, "file is empty (no records)")
    lines = _key_lines(raw)
    documents: list[Document] = []
    skipped: list[CorpusError] = []
    for pmid, record in data.items():
        try:
            documents.append(_pubmedqa_document(pmid, record, include_conclusion))
        except _RecordError as error:
            problem = CorpusError(path, lines.get(pmid), f"entry {pmid!r}: {error}")
            if not skip_bad:
                raise problem from None
            logger.warning("skipped %s", problem)
            skipped.append(problem)
    return LoadResult(tuple(documents), tuple(skipped), CorpusFormat.PUBMEDQA)


# ---------------------------------------------------------------------------------------------
# The shared demo-b12-iron selection


def _is_medquad(dataset: str, identifier: str) -> bool:
    return dataset.lower() == "medquad" or identifier.startswith("medquad:")


def _demo_b12_iron_converter(repair: bool) -> Callable[[dict[str, Any]], Document]:
    def convert(record: dict[str, Any]) -> Document:
        identifier = _required(record, "id").strip()
        title = " ".join(_required(record, "title").split())
        text = _required(record, "text")
        dataset = _required(record, "dataset").strip()
        if repair and _is_medquad(dataset, identifier):
            # MedQuAD answers (title "focus — question") carry MedQuAD's lost characters.
            title, text = repair_medquad(title), repair_medquad(text)
        licence = _required(record, "licence").strip()
        tier_name = _required(record, "tier")
        publisher = _string(record, "publisher", required=False)
        if tier_name.strip().lower() == EvidenceKind.GUIDELINE.value:
            tier = EvidenceTier.GUIDELINE
        elif tier_name.strip().lower() == EvidenceKind.RESEARCH.value:
            tier = classify_design(title, text)
        else:
            raise _RecordError(f"field 'tier' must be 'guideline' or 'research', got {tier_name!r}")
        url = _string(record, "url", required=False)
        return _document(
            id=identifier,
            title=title,
            text=text,
            tier=tier,
            source=(publisher or dataset).strip(),
            licence=licence,
            dataset=dataset,
            year=_year(record),
            url=url.strip() if url and url.strip() else None,
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
    documents, skipped = _load_lines(
        Path(path),
        _demo_b12_iron_converter(repair),
        skip_bad=skip_bad,
        max_record_bytes=max_record_bytes,
    )
    return LoadResult(tuple(documents), tuple(skipped), CorpusFormat.DEMO_B12_IRON)


# ---------------------------------------------------------------------------------------------
# Generic JSONL

JSONL_FIELDS = frozenset(
    {
        "id",
        "title",
        "text",
        "tier",
        "source",
        "licence",
        "dataset",
        "year",
        "url",
        "mesh",
        "sections",
    }
)


def _sections(value: Any, text: str) -> tuple[Section, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _RecordError("field 'sections' must be a list of {heading, start, end} objects")
    sections: list[Section] = []
    previous_end = 0
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise _RecordError(f"sections[{index}] must be an object, got {_type_name(item)}")
        heading = item.get("heading", "")
        start, end = item.get("start"), item.get("end")
        if not isinstance(heading, str):
            raise _RecordError(f"sections[{index}].heading must be a string")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (start, end)):
            raise _RecordError(f"sections[{index}] needs integer 'start' and 'end'")
        assert isinstance(start, int) and isinstance(end, int)
        if not previous_end <= start < end <= len(text):
            raise _RecordError(
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
            raise _RecordError(
                f"unknown field(s) {', '.join(map(repr, unknown))}; "
                f"allowed: {', '.join(sorted(JSONL_FIELDS))}"
            )
        identifier = _required(record, "id").strip()
        title = " ".join(_required(record, "title").split())
        text = _required(record, "text")
        mesh = _string_list(record, "mesh")
        url = _string(record, "url", required=False)
        dataset = _string(record, "dataset", required=False)
        return _document(
            id=identifier,
            title=title,
            text=text,
            tier=_tier(_required(record, "tier"), title, text, mesh),
            source=_required(record, "source").strip(),
            licence=_required(record, "licence").strip(),
            dataset=(dataset or default_dataset).strip(),
            year=_year(record),
            url=url.strip() if url and url.strip() else None,
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
    documents, skipped = _load_lines(
        path,
        _jsonl_converter(dataset or path.stem),
        skip_bad=skip_bad,
        max_record_bytes=max_record_bytes,
    )
    return LoadResult(tuple(documents), tuple(skipped), CorpusFormat.JSONL)


def document_to_json(document: Document) -> dict[str, Any]:
    """A document as one generic-JSONL record (the inverse of the ``jsonl`` loader)."""
    record: dict[str, Any] = {
        "id": document.id,
        "title": document.title,
        "text": document.text,
        "tier": document.tier.value,
        "source": document.source,
        "licence": document.licence,
        "dataset": document.dataset,
    }
    if document.year is not None:
        record["year"] = document.year
    if document.url is not None:
        record["url"] = document.url
    if document.mesh:
        record["mesh"] = list(document.mesh)
    if document.sections:
        record["sections"] = [
            {"heading": s.heading, "start": s.start, "end": s.end} for s in document.sections
        ]
    return record


# ---------------------------------------------------------------------------------------------
# Markdown with YAML front matter

MARKDOWN_FIELDS = frozenset(
    {"id", "title", "tier", "source", "licence", "dataset", "year", "url", "mesh"}
)
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
        raise CorpusError(path, 2, f"front matter must be a mapping, got {_type_name(meta)}")
    try:
        unknown = sorted(str(key) for key in set(meta) - MARKDOWN_FIELDS)
        if unknown:
            raise _RecordError(
                f"unknown front matter field(s) {', '.join(map(repr, unknown))}; "
                f"allowed: {', '.join(sorted(MARKDOWN_FIELDS))}"
            )
        year = _year(meta)
        body_start = closing + 1
        title = _string(meta, "title", required=False)
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
            raise _RecordError("no title: add 'title:' to the front matter or a '# Title' line")
        bodies = [(heading, "\n".join(body).strip()) for heading, body in parts]
        text, sections = _join_sections((h, b) for h, b in bodies if b)
        if not text:
            raise _RecordError("the document has no text after the front matter")
        if len(sections) == 1 and not sections[0].heading:
            sections = ()
        mesh = _string_list(meta, "mesh")
        url = _string(meta, "url", required=False)
        dataset = _string(meta, "dataset", required=False)
        identifier = _string(meta, "id", required=False)
        if isinstance(meta.get("id"), int):
            identifier = str(meta["id"])
        return _document(
            id=(identifier or f"md:{path.stem}").strip(),
            title=" ".join(title.split()),
            text=text,
            tier=_tier(_required(meta, "tier"), title, text, mesh),
            source=_required(meta, "source").strip(),
            licence=_required(meta, "licence").strip(),
            dataset=(dataset or default_dataset).strip(),
            year=year,
            url=url.strip() if url and url.strip() else None,
            mesh=mesh,
            sections=sections,
        )
    except _RecordError as error:
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
            _check_file(file)
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


# ---------------------------------------------------------------------------------------------
# Format detection and the one entry point


def _first_record(path: Path) -> dict[str, Any] | None:
    try:
        for _, line in _read_lines(path, MAX_RECORD_BYTES):
            if isinstance(line, _RecordError):
                return None
            return _parse_object(line)
    except (OSError, _RecordError):
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
