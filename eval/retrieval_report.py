"""The report of a retrieval run (``followup eval retrieval``): report.md, report.json,
metrics.png and one per-query difference plot per system against the first.

Example:
    >>> write_retrieval_report(Path("var/eval/scifact-train"), report)  # doctest: +SKIP
    ['report.md', 'report.json', 'metrics.png', 'per_query_nDCG_at_10_dense_vs_bm25.png']
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.plots import plot_metric_bars, plot_per_query_diff
from eval.report import (
    SIGNIFICANCE_NOTE,
    format_p,
    markdown_table,
    now,
    provenance,
    write_json,
)
from eval.significance import stars
from eval.types import Comparison, MetricTable, SystemResult, TestKind

MAX_COMPARISON_ROWS = 20
"""Beyond this many comparisons report.md lists only the first measure's (all are in JSON)."""


@dataclass(frozen=True)
class RetrievalReport:
    """Everything a retrieval evaluation produced and ran with."""

    dataset: Mapping[str, Any]
    systems: Sequence[SystemResult]
    comparisons: Sequence[Comparison]
    settings: Mapping[str, Any]
    manifest: Mapping[str, Any]
    run_files: Mapping[str, str] = field(default_factory=dict)
    command: str = ""
    notes: Sequence[str] = ()
    created: str = field(default_factory=now)


def write_retrieval_report(out: Path, report: RetrievalReport) -> list[str]:
    """Write report.json, report.md and the plots into ``out``; returns the file names."""
    out.mkdir(parents=True, exist_ok=True)
    tables = {s.name: s.metrics for s in report.systems}
    files = ["report.md", "report.json", "metrics.png"]
    name = report.dataset.get("name", "data set")
    split = report.dataset.get("split", "")
    plot_metric_bars(tables, out / "metrics.png", title=f"{name} {split}: retrieval by system")
    diff_plots: list[tuple[str, str]] = []
    primary = next(iter(tables.values())).measures[0] if tables else "nDCG@10"
    names = list(tables)
    for other in names[1:]:
        file = f"per_query_{primary.replace('@', '_at_')}_{other}_vs_{names[0]}.png"
        found = [
            c for c in report.comparisons if (c.a, c.b, c.measure) == (names[0], other, primary)
        ]
        note = ""
        if found:
            p_t = found[0].p_values.get(TestKind.T_TEST, math.nan)
            p_r = found[0].p_values.get(TestKind.RANDOMISATION, math.nan)
            note = f"paired t p={format_p(p_t)}, randomisation p={format_p(p_r)}"
        plot_per_query_diff(
            names[0], other, tables[names[0]], tables[other], primary, out / file, note=note
        )
        diff_plots.append((other, file))
        files.append(file)
    data = {
        "kind": "retrieval",
        "created": report.created,
        "command": report.command,
        "dataset": dict(report.dataset),
        "settings": dict(report.settings),
        "index_manifest": dict(report.manifest),
        "significance": {"tests": [k.value for k in TestKind], "note": SIGNIFICANCE_NOTE},
        "systems": [
            {
                "name": s.name,
                "settings": dict(s.settings),
                "seconds": round(s.seconds, 2),
                "run_file": report.run_files.get(s.name),
                **s.metrics.to_dict(),
            }
            for s in report.systems
        ],
        "comparisons": [c.to_dict() for c in report.comparisons],
        "notes": list(report.notes),
    }
    write_json(out / "report.json", data)
    (out / "report.md").write_text(
        _retrieval_markdown(report, tables, diff_plots), encoding="utf-8"
    )
    return files


def _retrieval_markdown(
    report: RetrievalReport,
    tables: Mapping[str, MetricTable],
    diff_plots: Sequence[tuple[str, str]],
) -> str:
    ds = report.dataset
    measures = list(next(iter(tables.values())).measures) if tables else []
    lines = [
        f"# Retrieval: {ds.get('name')} ({ds.get('split')} split)",
        "",
        f"Created {report.created}. Command: `{report.command}`" if report.command else "",
        "",
        f"{ds.get('queries')} queries with judgements, {ds.get('documents', '?')} documents in "
        f"{ds.get('passages', '?')} passages. Document score = best passage score (MaxP).",
        "",
        "## Results",
        "",
        markdown_table(
            ["system", *measures, "seconds"],
            [
                [s.name, *[s.metrics.mean(m) for m in measures], f"{s.seconds:.1f}"]
                for s in report.systems
            ],
        ),
        "",
        "![metrics by system](metrics.png)",
        "",
    ]
    if report.comparisons:
        shown = list(report.comparisons)
        scope = ""
        if len(shown) > MAX_COMPARISON_ROWS and measures:
            shown = [c for c in shown if c.measure == measures[0]]
            scope = (
                f" Shown here: {measures[0]} only; every measure's comparisons are in report.json."
            )
        lines += [
            "## Paired significance",
            "",
            SIGNIFICANCE_NOTE + scope,
            "",
            markdown_table(
                [
                    "measure",
                    "b vs a",
                    "mean a",
                    "mean b",
                    "Δ (b−a)",
                    "b better / worse / tied",
                    "p (t-test)",
                    "p (randomisation)",
                    "",
                ],
                [
                    [
                        c.measure,
                        f"{c.b} vs {c.a}",
                        c.mean_a,
                        c.mean_b,
                        f"{c.mean_diff:+.4f}",
                        f"{c.wins} / {c.losses} / {c.n - c.wins - c.losses}",
                        format_p(c.p_values.get(TestKind.T_TEST, math.nan)),
                        format_p(c.p_values.get(TestKind.RANDOMISATION, math.nan)),
                        stars(c.p_values.get(TestKind.RANDOMISATION, math.nan)),
                    ]
                    for c in shown
                ],
            ),
            "",
        ]
        for other, file in diff_plots:
            lines += [f"![per-query differences, {other}]({file})", ""]
    if report.notes:
        lines += ["## Notes", "", *[f"- {note}" for note in report.notes], ""]
    lines += ["## Run files", ""]
    lines += [f"- {name}: `{path}`" for name, path in report.run_files.items()]
    lines += ["", *provenance(report.settings, report.manifest)]
    return "\n".join(lines)
