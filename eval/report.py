"""What every report shares: ``report.json`` written atomically, Markdown tables, the
significance note and the provenance sections (settings and index manifest).

Each kind of report has its module: :mod:`eval.retrieval_report`, :mod:`eval.followup_report`,
:mod:`eval.audit_report` (single answers and answer-audit runs) and :mod:`eval.quality_report`;
their plots are in :mod:`eval.plots`. Every report records what it ran with (settings, the
index manifest, the command line), so a number can be reproduced.

Example:
    >>> markdown_table(["system", "nDCG@10"], [["bm25", 0.69251]])
    '| system | nDCG@10 |\n|---|---|\n| bm25 | 0.6925 |'
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from eval.significance import EXACT_MAX_N, PERMUTATIONS, SEED
from eval.types import Comparison, TestKind

SIGNIFICANCE_NOTE = (
    "Paired tests over queries, two-sided: Student's paired t-test (scipy.stats.ttest_rel) and a "
    f"paired sign-flip randomisation test ({PERMUTATIONS:,} random sign assignments, seed {SEED}; "
    f"exact enumeration when at most {EXACT_MAX_N} queries differ). No multiple-comparison "
    "correction. * p < 0.05, ** p < 0.01 (randomisation test)."
)


def now() -> str:
    """The time now, UTC, as a report's ``created`` stamp."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (NaN written as null)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(clean(data), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def clean(value: Any) -> Any:
    """``value`` as plain JSON data: NaN and infinities become ``None``, paths strings."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, Mapping):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table; floats get 4 decimals, ``|`` in cells is escaped."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "–" if math.isnan(value) else f"{value:.4f}"
        if value is None:
            return "–"
        return str(value).replace("|", "\\|").replace("\n", " ")

    head = "| " + " | ".join(headers) + " |"
    rule = "|" + "|".join("---" for _ in headers) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join([head, rule, *body])


def comparison_table(comparisons: Sequence[Comparison]) -> str:
    """Paired comparisons as a Markdown table: measure, systems, Δ, wins, both p-values."""
    return markdown_table(
        ["measure", "comparison", "Δ", "better / worse", "p (t)", "p (rand.)"],
        [
            [
                c.measure,
                f"{c.b} vs {c.a}",
                f"{c.mean_diff:+.4f}",
                f"{c.wins} / {c.losses}",
                format_p(c.p_values.get(TestKind.T_TEST, math.nan)),
                format_p(c.p_values.get(TestKind.RANDOMISATION, math.nan)),
            ]
            for c in comparisons
        ],
    )


def format_p(value: float) -> str:
    """A p-value for a table: two significant digits below 0.001, else three decimals."""
    if math.isnan(value):
        return "–"
    return f"{value:.2g}" if value < 0.001 else f"{value:.3f}"


def format_rate(value: float | int | None) -> str:
    """A rate with three decimals, ``n/a`` when there is none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.3f}"


def provenance(settings: Mapping[str, Any], manifest: Mapping[str, Any]) -> list[str]:
    """The report's closing sections: the settings and the index manifest it ran with."""
    lines: list[str] = []
    for title, data in (("Settings", settings), ("Index manifest", manifest)):
        lines += [f"## {title}", "", "```json", json.dumps(clean(dict(data)), indent=2), "```", ""]
    return lines
