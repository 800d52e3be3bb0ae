"""The reports' plots: PNGs drawn with matplotlib's Agg backend (no display needed).

Each plot has a title, labelled axes and, on bar charts, the value on every bar; colours are
the Okabe-Ito palette, safe for colour-blind readers.

Example:
    >>> plot_counts({"dangling_citation": 1}, Path("issues.png"), title="Audit", xlabel="found")
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eval.types import MetricTable

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Colour-blind-safe palette (Okabe and Ito 2008), in system order.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")


def pyplot() -> Any:
    """matplotlib.pyplot on the Agg backend, with the reports' font."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"font.family": "DejaVu Sans", "font.size": 10})
    return plt


def save_figure(fig: Figure, path: Path) -> None:
    """Save ``fig`` as a PNG at ``path`` and close it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130, bbox_inches="tight", facecolor="white")
    pyplot().close(fig)


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
    plt = pyplot()
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
    save_figure(fig, path)


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
    save_figure(fig, path)


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
    plt = pyplot()
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
    save_figure(fig, path)


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
    plt = pyplot()
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
    save_figure(fig, path)


def plot_counts(counts: Mapping[str, float], path: Path, *, title: str, xlabel: str) -> None:
    """Horizontal bars with the count (or rate) written at each bar's end."""
    plt = pyplot()
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
    save_figure(fig, path)


def plot_rates(rates: Mapping[str, float | None], path: Path, *, title: str) -> None:
    """Vertical bars of rates in [0, 1] with values; a missing rate is drawn as 'n/a'."""
    plt = pyplot()
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
    save_figure(fig, path)
