"""The evaluation harness's data model: runs, qrels, metric tables, comparisons and audit issues.

A *run* is what the IR field passes around: ``dict[query_id, dict[doc_id, score]]``, higher score
better. *Qrels* are ``dict[query_id, dict[doc_id, graded relevance]]``. Everything the harness
computes from them is a frozen dataclass, so a report is plain data that can be written as JSON.

Example:
    >>> table = MetricTable(measures=("nDCG@10",), per_query={"nDCG@10": {"q1": 1.0, "q2": 0.5}})
    >>> table.mean("nDCG@10")
    0.75
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from answer.schema import Answer, Audience
from retriever.types import Conversation

Run = dict[str, dict[str, float]]
"""query id -> document id -> score (higher is better)."""

Qrels = dict[str, dict[str, int]]
"""query id -> document id -> graded relevance (0 = judged not relevant)."""


class AnswerEngine(Protocol):
    """What an answer audit needs from an engine: one question in, one :class:`Answer` out.

    :class:`answer.engine.Engine` satisfies it; so does anything else that produces our schema.
    """

    def answer(
        self,
        question: str,
        *,
        conversation: Conversation | None = None,
        audience: Audience = Audience.CLINICIAN,
    ) -> Answer: ...


@dataclass(frozen=True)
class MetricTable:
    """Per-query values of several measures over one fixed set of queries.

    Attributes:
        measures: measure names in ir-measures syntax (``nDCG@10``, ``R@100``, ``RR@10``, ``AP``).
        per_query: measure -> query id -> value. Every measure covers the same query ids.
    """

    measures: tuple[str, ...]
    per_query: Mapping[str, Mapping[str, float]]

    def __post_init__(self) -> None:
        missing = [m for m in self.measures if m not in self.per_query]
        if missing:
            raise ValueError(f"no per-query values for measure(s) {missing}")
        sets = {frozenset(self.per_query[m]) for m in self.measures}
        if len(sets) > 1:
            raise ValueError("every measure must cover the same query ids")

    @property
    def query_ids(self) -> tuple[str, ...]:
        """The evaluated query ids, sorted."""
        if not self.measures:
            return ()
        return tuple(sorted(self.per_query[self.measures[0]]))

    def mean(self, measure: str) -> float:
        """The mean over queries (``nan`` when there are no queries)."""
        values = self.per_query[measure]
        return math.fsum(values.values()) / len(values) if values else math.nan

    def aggregate(self) -> dict[str, float]:
        """measure -> mean over queries, in the order of :attr:`measures`."""
        return {m: self.mean(m) for m in self.measures}

    def to_dict(self) -> dict[str, Any]:
        return {
            "measures": list(self.measures),
            "n_queries": len(self.query_ids),
            "aggregate": self.aggregate(),
            "per_query": {m: dict(sorted(self.per_query[m].items())) for m in self.measures},
        }


@dataclass(frozen=True)
class SystemResult:
    """One system's run over a data set, with its metrics and what it ran with."""

    name: str
    run: Mapping[str, Mapping[str, float]]
    metrics: MetricTable
    settings: Mapping[str, Any] = field(default_factory=dict)
    seconds: float = 0.0


class TestKind(str, enum.Enum):
    """The paired tests :mod:`eval.significance` runs over per-query values."""

    __test__ = False  # not a pytest test class, despite the name

    T_TEST = "paired_t"  # Student's paired t-test, two-sided (scipy.stats.ttest_rel)
    RANDOMISATION = "randomisation"  # paired sign-flip randomisation test, two-sided


@dataclass(frozen=True)
class Comparison:
    """A paired comparison of system ``b`` against system ``a`` on one measure.

    ``mean_diff`` is ``mean(b) - mean(a)`` over the ``n`` shared queries; ``p_values`` holds one
    two-sided p-value per :class:`TestKind` that was run.
    """

    measure: str
    a: str
    b: str
    n: int
    mean_a: float
    mean_b: float
    mean_diff: float
    wins: int  # queries where b > a
    losses: int  # queries where b < a
    p_values: Mapping[TestKind, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "measure": self.measure,
            "a": self.a,
            "b": self.b,
            "n": self.n,
            "mean_a": self.mean_a,
            "mean_b": self.mean_b,
            "mean_diff": self.mean_diff,
            "wins": self.wins,
            "losses": self.losses,
            "ties": self.n - self.wins - self.losses,
            "p_values": {kind.value: p for kind, p in self.p_values.items()},
        }


class IssueKind(str, enum.Enum):
    """Problems an answer audit can find; :attr:`severity` says which ones fail an audit."""

    DANGLING_CITATION = "dangling_citation"  # [n] with no reference n
    UNCITED_SENTENCE = "uncited_sentence"  # a non-notice sentence without any [n]
    UNUSED_REFERENCE = "unused_reference"  # a listed reference that no sentence cites
    TIER_VIOLATION = "tier_violation"  # a research reference cited in the guideline section
    HIERARCHY_INVERSION = "hierarchy_inversion"  # guideline evidence missing or after research
    UNSUPPORTED_CITATION = "unsupported_citation"  # the cited passage does not support the text
    UNKNOWN_TIER = "unknown_tier"  # a reference whose tier could not be read (external answers)
    EMPTY_ANSWER = "empty_answer"  # no sentences at all

    @property
    def is_error(self) -> bool:
        """Errors make ``followup eval audit`` exit non-zero; warnings are only reported."""
        return self is not IssueKind.UNKNOWN_TIER


@dataclass(frozen=True)
class Issue:
    """One problem found in one answer, located by section and sentence where that applies."""

    kind: IssueKind
    detail: str
    section: str | None = None
    sentence: int | None = None  # 0-based index within the section
    citation: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "detail": self.detail,
            "section": self.section,
            "sentence": self.sentence,
            "citation": self.citation,
        }


def ordered_unique(items: Sequence[str]) -> list[str]:
    """The items in first-seen order without repeats."""
    return list(dict.fromkeys(items))
