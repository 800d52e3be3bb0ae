"""The offline evaluation harness: retrieval runs, follow-up runs, answer audits, reports.

Import it as ``from eval import ...`` (``import eval`` would shadow the builtin). The core,
dependency-light pieces are re-exported here; the rest lives in the submodules
(:mod:`eval.runs`, :mod:`eval.followup`, :mod:`eval.audit`, :mod:`eval.parsing`,
:mod:`eval.support`, :mod:`eval.tuning`, the reports in :mod:`eval.report`,
:mod:`eval.plots`, :mod:`eval.retrieval_report`, :mod:`eval.followup_report`,
:mod:`eval.audit_report`, and the answer-quality benchmark in :mod:`eval.quality`,
:mod:`eval.quality_data`, :mod:`eval.quality_metrics`, :mod:`eval.quality_report`). See
docs/eval.md.

Example:
    >>> from eval import evaluate
    >>> evaluate({"q1": {"d1": 1}}, {"q1": {"d0": 2.0, "d1": 1.0}}).mean("RR@10")
    0.5
"""

from __future__ import annotations

from eval.metrics import MEASURES, evaluate, trec_order
from eval.quality import QualityRun, build_run, score_system
from eval.quality_data import Expectations, QualityItem, QualitySet, load_quality_set
from eval.quality_metrics import coverage, rouge
from eval.significance import compare, compare_tables, paired_t, randomisation
from eval.trec import read_qrels, read_queries, read_run, write_run
from eval.types import Comparison, Issue, IssueKind, MetricTable, Qrels, Run, SystemResult

__all__ = [
    "MEASURES",
    "Comparison",
    "Expectations",
    "Issue",
    "IssueKind",
    "MetricTable",
    "Qrels",
    "QualityItem",
    "QualityRun",
    "QualitySet",
    "Run",
    "SystemResult",
    "build_run",
    "compare",
    "compare_tables",
    "coverage",
    "evaluate",
    "load_quality_set",
    "paired_t",
    "randomisation",
    "read_qrels",
    "read_queries",
    "read_run",
    "rouge",
    "score_system",
    "trec_order",
    "write_run",
]
