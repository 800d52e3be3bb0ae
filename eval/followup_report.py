"""The report of a follow-up run (``followup eval followup``): report.md, report.json and
recall_by_turn.png.

Example:
    >>> write_followup_report(Path("var/eval/mtrag-followup"), report)  # doctest: +SKIP
    ['report.md', 'report.json', 'recall_by_turn.png']
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eval.plots import plot_recall_by_turn
from eval.report import (
    SIGNIFICANCE_NOTE,
    comparison_table,
    markdown_table,
    now,
    provenance,
    write_json,
)
from eval.types import Comparison

if TYPE_CHECKING:
    from eval.followup import FollowupRun, MtragTask


@dataclass(frozen=True)
class FollowupReport:
    """Everything a follow-up evaluation produced and ran with."""

    runs: Sequence[FollowupRun]
    tasks: Sequence[MtragTask]
    comparisons: Sequence[Comparison]
    dataset: Mapping[str, Any]
    settings: Mapping[str, Any]
    manifest: Mapping[str, Any]
    max_turn: int = 8
    command: str = ""
    examples: Sequence[Mapping[str, str]] = ()
    notes: Sequence[str] = ()
    created: str = field(default_factory=now)


def write_followup_report(out: Path, report: FollowupReport) -> list[str]:
    """Write report.json, report.md and recall_by_turn.png into ``out``."""
    from eval.followup import by_turn

    out.mkdir(parents=True, exist_ok=True)
    series: dict[str, dict[str, dict[int, dict[str, float]]]] = {}
    for run in report.runs:
        label = run.condition.value.replace("_", " ")
        series.setdefault(run.system, {})[label] = by_turn(
            run.metrics, report.tasks, max_turn=report.max_turn
        )
    plot_recall_by_turn(
        series,
        out / "recall_by_turn.png",
        title=f"MTRAG follow-ups: recall of gold passages by turn ({report.dataset.get('pool')} "
        "pool passages)",
        last_turn_label=f"{report.max_turn}+",
    )
    measures = list(report.runs[0].metrics.measures) if report.runs else []
    data = {
        "kind": "followup",
        "created": report.created,
        "command": report.command,
        "dataset": dict(report.dataset),
        "settings": dict(report.settings),
        "index_manifest": dict(report.manifest),
        "runs": [
            {
                "system": r.system,
                "condition": r.condition.value,
                **r.metrics.to_dict(),
                "by_turn": {str(t): v for t, v in by_turn(r.metrics, report.tasks).items()},
                "topic_shifts": r.topic_shifts,
                "used_context": r.used_context,
                "queries": dict(r.queries),
            }
            for r in report.runs
        ],
        "comparisons": [c.to_dict() for c in report.comparisons],
        "significance": {"note": SIGNIFICANCE_NOTE},
        "examples": list(report.examples),
        "notes": list(report.notes),
    }
    write_json(out / "report.json", data)
    flat = {
        f"{system}, {label}": points
        for system, by in series.items()
        for label, points in by.items()
    }
    turns = sorted({t for s in flat.values() for t in s})
    lines = [
        "# Follow-up retrieval on MTRAG",
        "",
        f"Created {report.created}. Command: `{report.command}`" if report.command else "",
        "",
        f"{report.dataset.get('scored_tasks')} tasks with gold passages (of "
        f"{report.dataset.get('tasks')}); pool of {report.dataset.get('pool')} gold passages from "
        "every task. Query = the last user turn, alone (*no context*) or rewritten with the "
        "earlier turns by the retriever's follow-up query building (*with context*).",
        "",
        "## Overall",
        "",
        markdown_table(
            ["system", "condition", *measures, "topic shifts", "used context"],
            [
                [
                    r.system,
                    r.condition.value,
                    *[r.metrics.mean(m) for m in measures],
                    r.topic_shifts,
                    r.used_context,
                ]
                for r in report.runs
            ],
        ),
        "",
        "*topic shifts*: questions the follow-up query building judged to change the subject "
        "(searched alone); *used context*: questions searched with the conversation.",
        "",
        "## By turn",
        "",
        "![recall by turn](recall_by_turn.png)",
        "",
    ]
    for measure in measures:
        rows = []
        for label, points in flat.items():
            rows.append([label, *[points.get(t, {}).get(measure, math.nan) for t in turns]])
        counts = next(iter(flat.values())) if flat else {}
        header = [
            f"{t}{'+' if t == report.max_turn else ''} (n={int(counts.get(t, {}).get('n', 0))})"
            for t in turns
        ]
        lines += [f"### {measure}", "", markdown_table(["system, condition", *header], rows), ""]
    if report.comparisons:
        lines += [
            "## With vs without context (paired over tasks)",
            "",
            SIGNIFICANCE_NOTE,
            "",
            comparison_table(report.comparisons),
            "",
        ]
    if report.notes:
        lines += ["## Notes", "", *[f"- {note}" for note in report.notes], ""]
    if report.examples:
        lines += ["## Example rewrites", ""]
        for ex in report.examples:
            lines += [f"- turn {ex['turn']}: *{ex['question']}* → `{ex['query']}`"]
        lines += [""]
    lines += provenance(report.settings, report.manifest)
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")
    return ["report.md", "report.json", "recall_by_turn.png"]
