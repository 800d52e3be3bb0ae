"""Reports: ``report.md`` for people, ``report.json`` for programs, PNG plots for both.

Every report records what it ran with (settings, the index manifest, the command line), so a
number can be reproduced. Plots use matplotlib's Agg backend (no display needed); each has a
title, labelled axes and, on bar charts, the value on every bar.

Example:
    >>> write_retrieval_report(Path("var/eval/scifact-train"), report)  # doctest: +SKIP
    ['report.md', 'report.json', 'metrics.png', 'per_query_bm25_vs_dense.png']
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eval.significance import EXACT_MAX_N, PERMUTATIONS, SEED, stars
from eval.types import Comparison, MetricTable, SystemResult, TestKind

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from eval.audit import AnswerAudit, AuditSummary, StructureAudit
    from eval.followup import FollowupRun, MtragTask
    from eval.parsing import AuditedAnswer

SIGNIFICANCE_NOTE = (
    "Paired tests over queries, two-sided: Student's paired t-test (scipy.stats.ttest_rel) and a "
    f"paired sign-flip randomisation test ({PERMUTATIONS:,} random sign assignments, seed {SEED}; "
    f"exact enumeration when at most {EXACT_MAX_N} queries differ). No multiple-comparison "
    "correction. * p < 0.05, ** p < 0.01 (randomisation test)."
)

MAX_COMPARISON_ROWS = 20
"""Beyond this many comparisons report.md lists only the first measure's (all are in JSON)."""

# Colour-blind-safe palette (Okabe and Ito 2008), in system order.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.family": "DejaVu Sans", "font.size": 10})
    return plt


def _save(fig: Figure, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130, bbox_inches="tight", facecolor="white")
    _pyplot().close(fig)


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (NaN written as null)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(_clean(data), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def _clean(value: Any) -> Any:
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
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
                _p(c.p_values.get(TestKind.T_TEST, math.nan)),
                _p(c.p_values.get(TestKind.RANDOMISATION, math.nan)),
            ]
            for c in comparisons
        ],
    )


def _p(value: float) -> str:
    if math.isnan(value):
        return "–"
    return f"{value:.2g}" if value < 0.001 else f"{value:.3f}"


# --------------------------------------------------------------------------- plots


def plot_metric_bars(
    tables: Mapping[str, MetricTable],
    path: Path,
    *,
    title: str,
    measures: Sequence[str] | None = None,
) -> None:
    """The mean of each measure for each system, the value written on every bar.

    Up to three systems: grouped vertical bars, one group per measure. More systems: one panel
    per measure with a horizontal bar per system, so names and values stay legible.
    """
    plt = _pyplot()
    names = list(tables)
    chosen = list(measures or tables[names[0]].measures)
    n = len(tables[names[0]].query_ids)
    if len(names) > 3:
        _metric_panels(plt, tables, names, chosen, path, f"{title} ({n} queries)")
        return
    width = 0.8 / max(1, len(names))
    fig, ax = plt.subplots(figsize=(max(6.5, 2.0 * len(chosen) + 1.5), 4.6))
    for i, name in enumerate(names):
        values = [tables[name].mean(m) for m in chosen]
        xs = [j + (i - (len(names) - 1) / 2) * width for j in range(len(chosen))]
        bars = ax.bar(xs, values, width * 0.92, label=name, color=PALETTE[i % len(PALETTE)])
        for bar, value in zip(bars, values, strict=True):
            ax.text(
                bar.get_x() + bar.get_width() / 2,
                bar.get_height() + 0.012,
                f"{value:.3f}",
                ha="center",
                va="bottom",
                fontsize=8,
            )
    ax.set_xticks(range(len(chosen)))
    ax.set_xticklabels(chosen)
    top = max(tables[name].mean(m) for name in names for m in chosen)
    ax.set_ylim(0, min(1.15, max(0.2, top + 0.15)))
    ax.set_ylabel("mean over queries")
    ax.set_title(f"{title} ({n} queries)")
    ax.legend(loc="upper left", frameon=False, ncol=len(names))
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", alpha=0.3)
    _save(fig, path)


def _metric_panels(
    plt: Any,
    tables: Mapping[str, MetricTable],
    names: Sequence[str],
    measures: Sequence[str],
    path: Path,
    title: str,
) -> None:
    cols = min(3, len(measures))
    rows = math.ceil(len(measures) / cols)
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(4.6 * cols + 1.2, (0.42 * len(names) + 1.1) * rows + 0.6),
        squeeze=False,
    )
    label_width = max(len(name) for name in names)
    for k, measure in enumerate(measures):
        ax = axes[k // cols][k % cols]
        values = [tables[name].mean(measure) for name in names]
        ys = list(range(len(names)))
        ax.barh(ys, values, color=[PALETTE[i % len(PALETTE)] for i in ys], height=0.7)
        for y, value in zip(ys, values, strict=True):
            ax.text(value + 0.01, y, f"{value:.3f}", va="center", fontsize=8)
        ax.set_yticks(ys)
        ax.set_yticklabels(names if k % cols == 0 else [""] * len(names), fontsize=8)
        ax.invert_yaxis()
        ax.set_xlim(0, min(1.2, max(values) + 0.15))
        ax.set_title(measure, fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    for k in range(len(measures), rows * cols):
        axes[k // cols][k % cols].set_visible(False)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout(w_pad=1.0 + 0.05 * label_width)
    _save(fig, path)


def plot_per_query_diff(
    a: str,
    b: str,
    table_a: MetricTable,
    table_b: MetricTable,
    measure: str,
    path: Path,
    *,
    note: str = "",
) -> None:
    """Per-query differences ``b - a`` on one measure, sorted, with wins/losses/ties counted.

    ``note`` (e.g. the p-values) is added to the mean's legend entry.
    """
    plt = _pyplot()
    shared = sorted(set(table_a.query_ids) & set(table_b.query_ids))
    diffs = sorted(table_b.per_query[measure][q] - table_a.per_query[measure][q] for q in shared)
    wins = sum(d > 0 for d in diffs)
    losses = sum(d < 0 for d in diffs)
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    colours = ["#D55E00" if d < 0 else "#009E73" if d > 0 else "#999999" for d in diffs]
    ax.bar(range(len(diffs)), diffs, width=1.0, color=colours, linewidth=0)
    ax.axhline(0, color="black", linewidth=0.8)
    mean = sum(diffs) / len(diffs) if diffs else math.nan
    label = f"mean {mean:+.4f}" + (f" ({note})" if note else "")
    ax.axhline(mean, color="#0072B2", linewidth=1.2, linestyle="--", label=label)
    ax.set_xlim(-0.5, len(diffs) - 0.5)
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlabel("queries, sorted by difference")
    ax.set_ylabel(f"{measure}: {b} − {a}")
    ax.set_title(
        f"{measure} per query, {b} vs {a}: {b} better on {wins}, worse on {losses}, "
        f"tied on {len(diffs) - wins - losses}",
        fontsize=10,
    )
    ax.legend(loc="upper left", frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    _save(fig, path)


def plot_recall_by_turn(
    series: Mapping[str, Mapping[str, Mapping[int, Mapping[str, float]]]],
    path: Path,
    *,
    measures: Sequence[str] = ("R@5", "R@10"),
    title: str,
    last_turn_label: str | None = None,
) -> None:
    """A grid: one row per measure, one column per system, one line per condition.

    ``series`` maps system -> condition label -> ``{turn: {measure: mean, "n": count}}``. The
    y axis starts just below the lowest value so differences between the lines stay visible.
    """
    plt = _pyplot()
    systems = list(series)
    fig, axes = plt.subplots(
        len(measures),
        len(systems),
        figsize=(4.2 * len(systems) + 0.6, 3.3 * len(measures) + 0.8),
        sharey=True,
        squeeze=False,
    )
    turns = sorted({t for by in series.values() for s in by.values() for t in s})
    values = [s[t][m] for by in series.values() for s in by.values() for t in s for m in measures]
    low = max(0.0, math.floor(min(values, default=0.0) * 10) / 10 - 0.05)
    counts: dict[int, int] = {}
    for by in series.values():
        for points in by.values():
            for t in turns:
                counts.setdefault(t, int(points.get(t, {}).get("n", 0)))
    tick_labels = [f"{t}\nn={counts[t]}" for t in turns]
    if last_turn_label and turns:
        tick_labels[-1] = f"{last_turn_label}\nn={counts[turns[-1]]}"
    styles = [("-", "o", "#7F7F7F"), ("--", "s", "#D55E00"), (":", "^", "#0072B2")]
    for row, measure in enumerate(measures):
        for col, system in enumerate(systems):
            ax = axes[row][col]
            for i, (label, points) in enumerate(series[system].items()):
                line, marker, colour = styles[i % len(styles)]
                xs = [t for t in turns if t in points]
                ax.plot(
                    xs,
                    [points[t][measure] for t in xs],
                    line,
                    marker=marker,
                    color=colour,
                    label=label,
                    linewidth=1.8,
                    markersize=4,
                )
            ax.set_title(f"{system}: {measure}", fontsize=10)
            ax.set_xticks(turns)
            ax.set_xticklabels(tick_labels, fontsize=7)
            ax.set_ylim(low, 1.0)
            ax.grid(alpha=0.3)
            ax.spines[["top", "right"]].set_visible(False)
            if col == 0:
                ax.set_ylabel(f"mean {measure} over tasks")
            if row == len(measures) - 1:
                ax.set_xlabel("user turn of the question")
    axes[0][0].legend(loc="lower left", frameon=False, fontsize=8)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    _save(fig, path)


def plot_counts(counts: Mapping[str, float], path: Path, *, title: str, xlabel: str) -> None:
    """Horizontal bars with the count (or rate) written at each bar's end."""
    plt = _pyplot()
    names = list(counts)
    values = [float(counts[n]) for n in names]
    fig, ax = plt.subplots(figsize=(7.0, 0.5 * len(names) + 1.4))
    colours = ["#D55E00" if v > 0 else "#999999" for v in values]
    ax.barh(range(len(names)), values, color=colours)
    top = max(values + [1.0])
    for i, value in enumerate(values):
        text = f"{value:.0f}" if float(value).is_integer() else f"{value:.3f}"
        ax.text(value + top * 0.01, i, text, va="center", fontsize=9)
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels([n.replace("_", " ") for n in names])
    ax.invert_yaxis()
    ax.set_xlim(0, top * 1.15)
    if all(float(v).is_integer() for v in values):
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(xlabel)
    ax.set_title(title, fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    _save(fig, path)


def plot_rates(rates: Mapping[str, float | None], path: Path, *, title: str) -> None:
    """Vertical bars of rates in [0, 1] with values; a missing rate is drawn as 'n/a'."""
    plt = _pyplot()
    names = list(rates)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.3 * len(names)), 4.2))
    for i, name in enumerate(names):
        value = rates[name]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            ax.text(i, 0.02, "n/a", ha="center", fontsize=9, color="#666666")
            continue
        ax.bar(i, value, color=PALETTE[i % len(PALETTE)], width=0.6)
        ax.text(i, value + 0.02, f"{value:.3f}", ha="center", fontsize=9)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels([n.replace("_", " ") for n in names], rotation=15, ha="right", fontsize=9)
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("rate")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    _save(fig, path)


# --------------------------------------------------------------------------- retrieval


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
            note = f"paired t p={_p(p_t)}, randomisation p={_p(p_r)}"
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
                        _p(c.p_values.get(TestKind.T_TEST, math.nan)),
                        _p(c.p_values.get(TestKind.RANDOMISATION, math.nan)),
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
    lines += ["", *_provenance(report.settings, report.manifest)]
    return "\n".join(lines)


# --------------------------------------------------------------------------- follow-ups


@dataclass(frozen=True)
class FollowupReport:
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
    lines += _provenance(report.settings, report.manifest)
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")
    return ["report.md", "report.json", "recall_by_turn.png"]


# --------------------------------------------------------------------------- audits


def write_audit_report(
    out: Path, source: Path, doc: AuditedAnswer, audit: StructureAudit, *, command: str = ""
) -> list[str]:
    """Report of one external answer's audit: report.md, report.json and issues.png."""
    from eval.types import IssueKind

    out.mkdir(parents=True, exist_ok=True)
    # Support needs the cited passages' text, which an external answer does not carry.
    kinds = [kind for kind in IssueKind if kind is not IssueKind.UNSUPPORTED_CITATION]
    counts = {kind.value: audit.count(kind) for kind in kinds}
    errors = sum(1 for issue in audit.issues if issue.kind.is_error)
    plot_counts(
        counts,
        out / "issues.png",
        title=f"Audit of {source.name}: "
        + ("no problems" if audit.ok else f"{errors} problem{'s' if errors != 1 else ''} found"),
        xlabel="number found",
    )
    created = now()
    data = {
        "kind": "audit",
        "created": created,
        "command": command,
        "file": str(source),
        "format": doc.format.value,
        "sections": [
            {
                "title": s.title,
                "kind": s.kind.value if s.kind else None,
                "sentences": [
                    {"text": x.text, "citations": list(x.citations)} for x in s.sentences
                ],
            }
            for s in doc.sections
        ],
        "references": [
            {"n": r.n, "kind": r.kind.value if r.kind else None, "design": r.design, "text": r.text}
            for r in doc.references
        ],
        **audit.to_dict(),
    }
    write_json(out / "report.json", data)
    verdict = "PASS: no problems found." if audit.ok else "FAIL: problems found."
    lines = [
        f"# Answer audit: {source.name}",
        "",
        f"Created {created}. Command: `{command}`" if command else "",
        "",
        f"**{verdict}** Format read as {doc.format.value}: {len(doc.sections)} sections, "
        f"{audit.sentences + audit.notice_sentences} sentences, {len(doc.references)} references.",
        "",
        markdown_table(
            ["check", "value"],
            [
                ["sentences that must cite", audit.sentences],
                ["of which cite", audit.cited_sentences],
                ["citation coverage", audit.coverage],
                ["notice sentences (exempt)", audit.notice_sentences],
                ["guideline evidence present", audit.guideline_evidence],
                ["hierarchy inversion", audit.inversion],
                *[[kind.value.replace("_", " "), counts[kind.value]] for kind in kinds],
            ],
        ),
        "",
        "![issues](issues.png)",
        "",
        "## Problems",
        "",
    ]
    if not audit.issues:
        lines.append("None.")
    for issue in audit.issues:
        where = (
            f" ({issue.section}, sentence {issue.sentence + 1})"
            if issue.section and issue.sentence is not None
            else ""
        )
        level = "error" if issue.kind.is_error else "warning"
        lines.append(f"- **{issue.kind.value}** [{level}]{where}: {issue.detail}")
    lines += ["", "## Sections as read", ""]
    for section in doc.sections:
        kind = section.kind.value if section.kind else "other"
        lines += [f"### {section.title or '(untitled)'} — {kind}", ""]
        lines += [
            f"{i + 1}. {s.text} — cites {list(s.citations) or 'nothing'}"
            for i, s in enumerate(section.sentences)
        ]
        lines.append("")
    lines += ["## References as read", ""]
    lines += [
        f"- [{r.n}] ({r.kind.value if r.kind else 'tier unknown'}) {r.text}" for r in doc.references
    ]
    lines.append("")
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")
    return ["report.md", "report.json", "issues.png"]


def write_answers_report(
    out: Path,
    audits: Sequence[AnswerAudit],
    summary: AuditSummary,
    *,
    settings: Mapping[str, Any],
    manifest: Mapping[str, Any],
    calibration: Mapping[str, Any] | None = None,
    command: str = "",
    questions_file: str = "",
) -> list[str]:
    """Report of an answer audit run: report.md, report.json, rates.png and issues.png."""
    from eval.types import IssueKind

    out.mkdir(parents=True, exist_ok=True)
    abst = summary.abstention
    rates = {
        "citation_coverage": summary.citation_coverage,
        "citation_support": summary.citation_support,
        "hierarchy_inversions\n(lower is better)": summary.hierarchy_inversion_rate,
        "abstention_precision": abst.get("precision"),
        "abstention_recall": abst.get("recall"),
    }
    plot_rates(
        rates,
        out / "rates.png",
        title=f"Answer audit of {Path(questions_file).name or 'questions'}: "
        f"{summary.answers} answers, {summary.abstained} abstained",
    )
    issue_totals = {kind.value: sum(a.structure.count(kind) for a in audits) for kind in IssueKind}
    issue_totals["unsupported_citation"] = summary.support_checked - summary.support_supported
    plot_counts(
        issue_totals,
        out / "issues.png",
        title=f"Problems found in {summary.answers} answers: "
        + (str(sum(issue_totals.values())) if sum(issue_totals.values()) else "none"),
        xlabel="number found",
    )
    created = now()
    data = {
        "kind": "answers",
        "created": created,
        "command": command,
        "questions_file": questions_file,
        "settings": dict(settings),
        "index_manifest": dict(manifest),
        "support_calibration": dict(calibration) if calibration else None,
        "summary": summary.to_dict(),
        "issue_totals": issue_totals,
        "answers": [a.to_dict() for a in audits],
    }
    write_json(out / "report.json", data)
    rows = []
    for a in audits:
        s = a.structure
        rows.append(
            [
                a.question.id,
                a.turn,
                a.question.question[:60],
                "yes" if a.answer.abstained else "no",
                "–" if a.question.answerable is None else str(a.question.answerable).lower(),
                s.coverage,
                f"{sum(c.supported for c in a.support)}/{len(a.support)}",
                "yes" if s.inversion else ("no" if s.guideline_evidence else "–"),
                sum(1 for i in s.issues if i.kind.is_error),
            ]
        )
    lines = [
        "# Answer audit",
        "",
        f"Created {created}. Command: `{command}`" if command else "",
        "",
        f"Questions: `{questions_file}`; {summary.answers} answers "
        f"({summary.abstained} abstained).",
        "",
        "## Summary",
        "",
        markdown_table(
            ["check", "value"],
            [
                [
                    "citation coverage (cited / non-notice sentences)",
                    f"{summary.cited_sentences}/{summary.sentences} = "
                    f"{_fmt(summary.citation_coverage)}",
                ],
                ["notice sentences (exempt)", summary.notice_sentences],
                ["dangling citations", summary.dangling_citations],
                ["unused references", summary.unused_references],
                ["answers with invalid citations", summary.answers_with_invalid_citations],
                [
                    "citation support (supported / checked pairs)",
                    f"{summary.support_supported}/{summary.support_checked} = "
                    f"{_fmt(summary.citation_support)}",
                ],
                ["support by method", json.dumps(summary.support_by_method)],
                ["tier violations (research cited in guideline section)", summary.tier_violations],
                [
                    "hierarchy inversion rate (answers with guideline evidence)",
                    f"{summary.hierarchy_inversions}/{summary.guideline_answers} = "
                    f"{_fmt(summary.hierarchy_inversion_rate)}",
                ],
                ["abstention precision", _fmt(abst.get("precision"))],
                ["abstention recall", _fmt(abst.get("recall"))],
                ["labelled answers", abst.get("labelled")],
            ],
        ),
        "",
        "![rates](rates.png)",
        "",
        "![issues](issues.png)",
        "",
        "## Answers",
        "",
        markdown_table(
            [
                "id",
                "turn",
                "question",
                "abstained",
                "answerable",
                "coverage",
                "supported",
                "inversion",
                "errors",
            ],
            rows,
        ),
        "",
        "## Problems",
        "",
    ]
    problems = 0
    for a in audits:
        for issue in a.structure.issues:
            problems += 1
            lines.append(
                f"- {a.question.id} (turn {a.turn}) **{issue.kind.value}**: {issue.detail}"
            )
        for c in a.support:
            if not c.supported:
                problems += 1
                lines.append(
                    f"- {a.question.id} (turn {a.turn}) **unsupported_citation** [{c.citation}] in "
                    f"{c.section}, sentence {c.sentence + 1} "
                    f"(score {c.score:.3f}, {c.method.value})"
                )
    if not problems:
        lines.append("None.")
    if calibration:
        lines += [
            "",
            "## Support calibration (generated answers)",
            "",
            f"Threshold {calibration.get('threshold'):.3f} (TPR {calibration.get('tpr'):.2f}, "
            f"FPR {calibration.get('fpr'):.2f}) on {calibration.get('positives')} positive and "
            f"{calibration.get('negatives')} negative examples from real passages.",
        ]
    lines += [
        "",
        "## Settings",
        "",
        "```json",
        json.dumps(_clean(dict(settings)), indent=2),
        "```",
        "",
        "## Index manifest",
        "",
        "```json",
        json.dumps(_clean(dict(manifest)), indent=2),
        "```",
        "",
    ]
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")
    return ["report.md", "report.json", "rates.png", "issues.png"]


def _fmt(value: float | int | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.3f}"


def _provenance(settings: Mapping[str, Any], manifest: Mapping[str, Any]) -> list[str]:
    """The report's closing sections: the settings and the index manifest it ran with."""
    lines: list[str] = []
    for title, data in (("Settings", settings), ("Index manifest", manifest)):
        lines += [f"## {title}", "", "```json", json.dumps(_clean(dict(data)), indent=2), "```", ""]
    return lines
