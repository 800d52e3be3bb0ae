"""The rows of an index version: passages (``passages.jsonl``) and documents
(``documents.jsonl``), as JSON lines."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from corpus.types import Document, EvidenceTier, Passage


def document_content_hash(document: Document) -> str:
    """SHA-256 of everything in a document that its passages carry.

    Text, title and sections decide the passages and their embedding text; the evidence fields
    (tier, source, year, ...) are copied into each passage. A change to any of them means the
    document's passages must be replaced on ``add``.
    """
    record = document.to_dict()
    record["sections"] = [[s.heading, s.start, s.end] for s in document.sections]
    canonical = json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def passage_to_dict(passage: Passage) -> dict[str, Any]:
    data = asdict(passage)
    data["tier"] = passage.tier.value
    data["mesh"] = list(passage.mesh)
    return data


def passage_from_dict(data: Mapping[str, Any]) -> Passage:
    values = dict(data)
    values["tier"] = EvidenceTier(values["tier"])
    values["mesh"] = tuple(values.get("mesh") or ())
    return Passage(**values)


@dataclass(frozen=True)
class DocumentRecord:
    """What the index remembers about one document: its content hash and passage count."""

    id: str
    content_hash: str
    passages: int


def tier_counts(passages: Iterable[Passage]) -> dict[str, int]:
    """Passages per evidence tier, strongest tier first, tiers without passages left out."""
    counts = Counter(passage.tier for passage in passages)
    return {tier.value: counts[tier] for tier in EvidenceTier if counts[tier]}


def write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")))
            handle.write("\n")


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open("r", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
