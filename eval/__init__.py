"""The offline evaluation harness: retrieval runs, follow-up runs, answer audits, reports.

Import it as ``from eval import ...`` (``import eval`` would shadow the builtin). The core,
dependency-light pieces are re-exported here; the rest lives in the submodules
(:mod:`eval.runs`, :mod:`eval.followup`, :mod:`eval.audit`, :mod:`eval.parsing`,
:mod:`eval.support`, :mod:`eval.report`). See docs/eval.md.

Example:
    >>> from eval import evaluate
    >>> evaluate({"q1": {"d1": 1}}, {"q1": {"d0": 2.0, "d1": 1.0}}).mean("RR@10")
    0.5
"""

from __future__ import annotations

from eval.metrics import MEASURES, evaluate, trec_order
from eval.significance import compare, compare_tables, paired_t, randomisation
from eval.trec import read_qrels, read_queries, read_run, write_run
from eval.types import Comparison, Issue, IssueKind, MetricTable, Qrels, Run, SystemResult

__all__ = [
    "MEASURES",
    "Comparison",
    "Issue",
    "IssueKind",
    "MetricTable",
    "Qrels",
    "Run",
    "SystemResult",
    "compare",
    "compare_tables",
    "evaluate",
    "paired_t",
    "randomisation",
    "read_qrels",
    "read_queries",
    "read_run",
    "trec_order",
    "write_run",
]
