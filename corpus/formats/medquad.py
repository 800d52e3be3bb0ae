"""MedQuAD JSONL (``uid``, ``source``, ``url``, ``focus``, ``question``, ``answer``).

Guideline tier (NIH health-authority pages), one document per answer, with the characters
MedQuAD lost upstream restored where that is certain (:mod:`corpus.repair`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from corpus.formats.records import (
    KNOWN_LICENCES,
    MAX_RECORD_BYTES,
    CorpusFormat,
    LoadResult,
    RecordError,
    load_lines,
    make_document,
    required_field,
    string_field,
    url_field,
)
from corpus.repair import repair_medquad
from corpus.types import Document, EvidenceTier, Section

# MedQuAD's `source` codes, spelled as the publisher a reader would recognise. Codes not
# listed (NHLBI, NIDDK, NINDS, GARD, GHR, CDC, NIHSeniorHealth) are already the names.
MEDQUAD_PUBLISHERS = {"MPlusHealthTopics": "MedlinePlus", "CancerGov": "NCI"}
# Lines of MedQuAD answers that are navigation left over from the web page, not content.
_MEDQUAD_NAVIGATION = frozenset({"Espaol", "Español"})

_BULLET_RUN = re.compile(r"[ \t]{2,}(?=- )")
# Where the conversion ran two paragraphs (or a list's last item and the paragraph after it)
# together on one line, a run of four or more spaces is all that is left of the break: "- Low
# fever        Not everyone with appendicitis has all these symptoms."
_PARAGRAPH_RUN = re.compile(r"[ \t]{4,}")
_SPACE_RUN = re.compile(r"[ \t\u00a0]+")


def normalise_medquad_answer(answer: str) -> str:
    """MedQuAD answer text with the XML indentation removed; only whitespace changes.

    Lines are stripped and blank ones dropped; bullets and paragraphs that the conversion ran
    together on one line ("...cells).    - Leukemia may...", "- Low fever        Not everyone
    ...") get their own lines; runs of spaces become one.
    Navigation lines left from the web page ("Espaol", a broken "Español" link) are dropped.
    """
    lines: list[str] = []
    for raw_line in answer.splitlines():
        for paragraph in _PARAGRAPH_RUN.split(raw_line):
            for part in _BULLET_RUN.split(paragraph):
                line = _SPACE_RUN.sub(" ", part).strip()
                if line and line not in _MEDQUAD_NAVIGATION:
                    lines.append(line)
    return "\n".join(lines)


def _medquad_converter(repair: bool) -> Callable[[dict[str, Any]], Document]:
    fix = repair_medquad if repair else str

    def convert(record: dict[str, Any]) -> Document:
        uid = required_field(record, "uid").strip()
        source = required_field(record, "source").strip()
        question = fix(" ".join(required_field(record, "question").split()))
        focus = fix(" ".join((string_field(record, "focus", required=False) or "").split()))
        text = fix(normalise_medquad_answer(required_field(record, "answer")))
        if not text:
            raise RecordError("field 'answer' has no text")
        return make_document(
            id=f"medquad:{uid}",
            title=focus or question,
            text=text,
            tier=EvidenceTier.GUIDELINE,
            source=MEDQUAD_PUBLISHERS.get(source, source),
            licence=KNOWN_LICENCES["medquad"],
            dataset="medquad",
            url=url_field(record),
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
    documents, skipped = load_lines(
        Path(path),
        _medquad_converter(repair),
        skip_bad=skip_bad,
        max_record_bytes=max_record_bytes,
    )
    return LoadResult(tuple(documents), tuple(skipped), CorpusFormat.MEDQUAD)
