"""TREC run files and BEIR-layout queries and qrels: the field's plain formats, read and written.

A TREC run line is ``qid Q0 docid rank score tag``; ranks follow :func:`eval.metrics.trec_order`
(score descending, ties by document id descending), the order trec_eval itself uses, so the
rank column agrees with what the metrics saw. A BEIR data set is a folder with
``corpus.jsonl``, ``queries.jsonl`` and ``qrels/<split>.tsv`` (header ``query-id corpus-id
score``).

Example:
    >>> write_run({"q1": {"d1": 2.0, "d2": 1.0}}, Path("bm25.trec"), tag="bm25")
    >>> read_run(Path("bm25.trec"))
    {'q1': {'d1': 2.0, 'd2': 1.0}}
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path

from eval.metrics import trec_order
from eval.types import Qrels, Run

_TAG = re.compile(r"^\S+$")


def write_run(run: Mapping[str, Mapping[str, float]], path: Path, *, tag: str) -> None:
    """Write a TREC run file (queries sorted by id; atomic replace).

    Raises:
        ValueError: ``tag`` is empty or has whitespace, or an id has whitespace.
    """
    if not _TAG.match(tag):
        raise ValueError(f"run tag must be one word, got {tag!r}")
    lines = []
    for qid in sorted(run):
        for rank, (docid, score) in enumerate(trec_order(run[qid]), start=1):
            if not (_TAG.match(qid) and _TAG.match(docid)):
                raise ValueError(f"ids in a TREC run cannot contain whitespace: {qid!r} {docid!r}")
            lines.append(f"{qid} Q0 {docid} {rank} {score:.6f} {tag}\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(lines), encoding="utf-8")
    os.replace(tmp, path)


def read_run(path: Path) -> Run:
    """Read a TREC run file into ``{qid: {docid: score}}``.

    Raises:
        ValueError: a line does not have six fields (the message names the line).
    """
    run: Run = {}
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 6:
                raise ValueError(f"{path}:{number}: expected 6 fields, got {len(parts)}")
            qid, _, docid, _, score, _ = parts
            run.setdefault(qid, {})[docid] = float(score)
    return run


def read_qrels(path: Path) -> Qrels:
    """Read BEIR qrels (``query-id<TAB>corpus-id<TAB>score``, header optional) or TREC qrels
    (``qid 0 docid rel``).

    Raises:
        ValueError: a line has another shape or a non-integer relevance.
    """
    qrels: Qrels = {}
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            parts = line.split()
            if not parts:
                continue
            if number == 1 and parts[0] in {"query-id", "query_id", "qid"}:
                continue
            if len(parts) == 3:
                qid, docid, rel = parts
            elif len(parts) == 4:
                qid, _, docid, rel = parts
            else:
                raise ValueError(f"{path}:{number}: expected 3 (BEIR) or 4 (TREC) fields")
            try:
                qrels.setdefault(qid, {})[docid] = int(float(rel))
            except ValueError:
                raise ValueError(f"{path}:{number}: relevance {rel!r} is not a number") from None
    return qrels


def read_queries(path: Path) -> dict[str, str]:
    """Read BEIR ``queries.jsonl`` (``{"_id", "text"}`` per line) into ``{qid: text}``.

    Raises:
        ValueError: a line is not JSON or lacks ``_id``/``text`` (the message names the line).
    """
    queries: dict[str, str] = {}
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                queries[str(row["_id"])] = str(row["text"])
            except (ValueError, KeyError, TypeError) as error:
                raise ValueError(f"{path}:{number}: {error}") from None
    return queries
