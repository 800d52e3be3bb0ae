"""Which evaluation queries the engine's defaults were tuned on: the in-sample notes of a report.

A figure measured on the queries a default was chosen on is optimistic. Each known tuning set
is listed here with what was tuned on it, and ``eval/data/tuning_sets.json`` holds a
fingerprint of each of its queries (:func:`fingerprint`: the first 12 hex digits of the SHA-256
of a BEIR query's text, whitespace collapsed, or of an MTRAG task id), written by
``scripts/tuning_sets.py`` from the data sets themselves. A report's notes then say how many of
its queries were tuning queries (a copy or a sample of a tuning set counts too), or that none
was.

Example:
    >>> in_sample_notes(["Acute ablation of KRAS causes severe growth impairment."])[0][:24]
    'In-sample: 1 of these 1 '
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

FINGERPRINTS = Path(__file__).parent / "data" / "tuning_sets.json"


@dataclass(frozen=True)
class TuningSet:
    """A set of queries some defaults were chosen on.

    Attributes:
        queries: What the set is, for a reader ("the 809 SciFact train claims").
        tuned: What was chosen on it, and by which benchmark.
        affected: The figures of a report that are in-sample when its queries are in the set.
    """

    queries: str
    tuned: str
    affected: str


TUNING_SETS: dict[str, TuningSet] = {
    "scifact-train": TuningSet(
        "the 809 judged SciFact train claims",
        "the index's BM25 settings and the hybrid's fusion (benchmarks/bm25_tuning.py, "
        "benchmarks/retrieval_tuning.py, benchmarks/fusion_cv.py)",
        "bm25 and hybrid",
    ),
    "liveqa-med-dev": TuningSet(
        "the 35 judged LiveQA-Med dev questions",
        "the hybrid's adaptive fusion and its key-term cut (benchmarks/fusion_cv.py)",
        "hybrid",
    ),
    "pubmedqa-pqal": TuningSet(
        "the 1,000 PubMedQA PQA-L questions",
        "the hybrid's adaptive fusion (benchmarks/fusion_cv.py)",
        "hybrid",
    ),
    "mtrag": TuningSet(
        "the 350 MTRAG tasks",
        "the follow-up knobs of retriever.followup.FollowupConfig (context weights, topic-shift "
        "rule and thresholds; benchmarks/followup_mtrag.py) and the hybrid's adaptive fusion "
        "(benchmarks/fusion_cv.py)",
        "with-context and hybrid",
    ),
}


def fingerprint(key: str) -> str:
    """The fingerprint of a query text or task id: whitespace collapsed, SHA-256, 12 hex."""
    return hashlib.sha256(" ".join(key.split()).encode("utf-8")).hexdigest()[:12]


@functools.cache
def _fingerprints() -> dict[str, frozenset[str]]:
    data = json.loads(FINGERPRINTS.read_text(encoding="utf-8"))
    return {name: frozenset(data["sets"][name]) for name in TUNING_SETS}


def in_sample_notes(keys: Iterable[str]) -> list[str]:
    """A report's notes on tuning: one per tuning set its queries overlap, else one saying that
    none of them was used for tuning.

    Args:
        keys: the evaluated queries' texts (BEIR) or task ids (MTRAG).
    """
    prints = [fingerprint(key) for key in keys]
    notes = []
    for name, known in _fingerprints().items():
        shared = sum(p in known for p in prints)
        if shared:
            tuning = TUNING_SETS[name]
            notes.append(
                f"In-sample: {shared} of these {len(prints)} queries are among "
                f"{tuning.queries}, on which {tuning.tuned} were chosen, so the "
                f"{tuning.affected} figures are optimistic."
            )
    if not notes:
        notes.append(
            "None of these queries is in a set the engine's defaults were tuned on "
            "(eval/tuning.py lists them), so no figure here is in-sample."
        )
    return notes
