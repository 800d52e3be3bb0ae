"""The quality benchmark's report: ``report.md``, ``report.json`` and ``quality.png``.

Like the other reports (:mod:`eval.report`) it records the command, the settings of every
engine it built and the index manifest, so a figure can be reproduced.

Example:
    >>> write_quality_report(Path("var/eval/quality-liveqa"), run, settings={}, manifest={})
    ['report.md', 'report.json', 'quality.png']  # doctest: +SKIP
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eval.plots import PALETTE, pyplot, save_figure
from eval.quality import GAIN_TARGET, QualityRun, SystemKind
from eval.report import (
    SIGNIFICANCE_NOTE,
    comparison_table,
    markdown_table,
    now,
    provenance,
    write_json,
)

QUALITY_MEASURES: Mapping[str, str] = {
    "rouge1_recall": "ROUGE-1 recall",
    "rougeL_f1": "ROUGE-L F1",
    "coverage_quotes": "lead coverage (quotes)",
    "coverage_with_gaps": "lead coverage (+ gaps)",
    "type_fit": "lead type fit",
}
DEFECT_MEASURES: Mapping[str, str] = {
    "anaphora_rate": "anaphoric quotes",
    "answers_with_juxtaposition": "answers with juxtaposition",
    "repeat_rate": "repeated quotes",
    "abstention_rate": "abstentions",
}


def plot_quality(run: QualityRun, path: Path, *, title: str) -> None:
    """Two panels of grouped bars, one bar per system: quality measures, then defect rates.

    A measure that no item has (e.g. ROUGE without reference answers) is left out.
    """
    plt = pyplot()
    systems = list(run.systems)
    panels = []
    for measures in (QUALITY_MEASURES, DEFECT_MEASURES):
        shown = {
            k: v for k, v in measures.items() if any(run.summary(s)[k] is not None for s in systems)
        }
        if shown:
            panels.append(shown)
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels) + 1.0, 4.6), squeeze=False)
    width = 0.8 / max(1, len(systems))
    for ax, measures in zip(axes[0], panels, strict=True):
        for i, system in enumerate(systems):
            values = [run.summary(system)[k] for k in measures]
            xs = [j + (i - (len(systems) - 1) / 2) * width for j in range(len(measures))]
            heights = [0.0 if v is None else float(v) for v in values]
            bars = ax.bar(xs, heights, width * 0.92, label=system, color=PALETTE[i % len(PALETTE)])
            for bar, value in zip(bars, values, strict=True):
                ax.text(
                    bar.get_x() + bar.get_width() / 2,
                    bar.get_height() + 0.01,
                    "n/a" if value is None else f"{value:.2f}",
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    rotation=90 if len(systems) > 3 else 0,
                )
        ax.set_xticks(range(len(measures)))
        ax.set_xticklabels([textwrap.fill(label, 14) for label in measures.values()], fontsize=8)
        ax.set_ylim(0, 1.12)
        ax.set_ylabel("mean over items" if measures is panels[0] else "rate")
        ax.grid(axis="y", alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    axes[0][0].legend(loc="upper left", frameon=False, fontsize=8, ncol=min(4, len(systems)))
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    save_figure(fig, path)


def _fmt(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return value


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1%}"


def _overall(run: QualityRun) -> str:
    keys = [
        ("rouge1_recall", "ROUGE-1 R"),
        ("rougeL_f1", "ROUGE-L F1"),
        ("coverage_quotes", "coverage (quotes)"),
        ("coverage_with_gaps", "coverage (+gaps)"),
        ("type_fit", "type fit"),
        ("anaphora_rate", "anaphoric quotes"),
        ("answers_with_juxtaposition", "juxtaposed answers"),
        ("repeat_rate", "repeated quotes"),
        ("abstention_rate", "abstentions"),
        ("pass_rate", "turns passed"),
        ("mean_words", "words"),
    ]
    rows = []
    for system in run.systems:
        s = run.summary(system)
        cells = [_fmt(s[k]) for k, _ in keys]
        cells[-1] = "–" if s["mean_words"] is None else f"{s['mean_words']:.1f}"
        rows.append([system, run.kinds[system].value, *cells])
    return markdown_table(["system", "kind", *[label for _, label in keys]], rows)


def _per_item(run: QualityRun) -> str:
    rows = []
    for system in run.systems:
        for s in run.scores[system]:
            d = s.to_dict()
            cov = (
                f"{sum(d['focus_covered_by_quotes'])}/{sum(d['focus_covered_with_gaps'])}"
                f" of {len(d['focus'])}"
                if d["focus"]
                else "–"
            )
            rows.append(
                [
                    s.item_id,
                    system,
                    "yes" if s.abstained else "no",
                    _fmt(d["rouge1_recall"]),
                    _fmt(d["rougeL_f1"]),
                    cov,
                    _fmt(s.type_fit),
                    len(s.anaphoric),
                    s.juxtapositions,
                    len(s.repeated),
                    s.lead[:90],
                ]
            )
    headers = [
        "id",
        "system",
        "abstained",
        "R-1 R",
        "R-L F1",
        "focus (quotes/+gaps)",
        "type fit",
        "anaph.",
        "juxt.",
        "rep.",
        "lead",
    ]
    return markdown_table(headers, rows)


def _turns(run: QualityRun) -> list[str]:
    lines: list[str] = []
    composers = [n for n in run.systems if run.kinds[n] is SystemKind.COMPOSER]
    for system in composers:
        checked = [s for s in run.scores[system] if s.check is not None]
        if not checked:
            continue
        summary = run.summary(system)
        lines += [
            f"### {system}: {summary['turns_passed']}/{summary['turns_checked']} turns pass",
            "",
            markdown_table(
                ["turn", "question", "standalone query", "verdict", "reasons"],
                [
                    [
                        s.item_id,
                        s.question,
                        s.standalone_query,
                        "pass" if s.check and s.check.passed else "FAIL",
                        "; ".join(s.check.failures) if s.check else "",
                    ]
                    for s in checked
                ],
            ),
            "",
        ]
    return lines


def write_quality_report(
    out: Path,
    run: QualityRun,
    *,
    settings: Mapping[str, Any],
    manifest: Mapping[str, Any],
    command: str = "",
) -> list[str]:
    """Write report.md, report.json and quality.png into ``out``; returns the file names."""
    out.mkdir(parents=True, exist_ok=True)
    data = run.data
    title = f"Answer quality on {data.path.name} ({len(data.items)} items)"
    plot_quality(run, out / "quality.png", title=title)
    created = now()
    gain = run.gain()
    composers = [n for n in run.systems if run.kinds[n] is SystemKind.COMPOSER]
    gains = {name: run.gain(name) for name in composers}
    report = {
        "kind": "quality",
        "created": created,
        "command": command,
        "input": {
            "path": str(data.path),
            "format": data.format.value,
            "items": len(data.items),
            "conversations": len(data.conversations),
        },
        "systems": {name: {"kind": run.kinds[name].value} for name in run.systems},
        "summary": {name: dict(run.summary(name)) for name in run.systems},
        "gain_rouge1_recall_over_top1": gains,
        "gain_rouge1_recall_over_top1_at_equal_length": {
            name: dict(zip(("gain", "items"), run.gain_at_equal_length(name), strict=True))
            for name in composers
        },
        "gain_target": GAIN_TARGET,
        "comparisons": [c.to_dict() for c in run.comparisons],
        "significance": {"note": SIGNIFICANCE_NOTE},
        "items": {name: [s.to_dict() for s in run.scores[name]] for name in run.systems},
        "notes": list(run.notes),
        "settings": dict(settings),
        "index_manifest": dict(manifest),
    }
    write_json(out / "report.json", report)
    lines = [
        f"# {title}",
        "",
        f"Created {created}. Command: `{command}`" if command else "",
        "",
        f"Input `{data.path}` ({data.format.value}): {len(data.items)} items in "
        f"{len(data.conversations)} conversations. Systems: "
        + ", ".join(f"{n} ({run.kinds[n].value})" for n in run.systems)
        + ". Measures and rules: docs/eval.md, *Answer quality*.",
        "",
        "## Overall",
        "",
        _overall(run),
        "",
        "![quality](quality.png)",
        "",
    ]
    if gain is not None or any(g is not None for g in gains.values()):
        lines += ["## Gain over the top-1 passage (ROUGE-1 recall)", ""]
        for name, g in gains.items():
            verdict = "" if g is None else (" (met)" if g >= GAIN_TARGET else " (not met)")
            lines.append(f"- {name}: {_pct(g)}; target ≥ {GAIN_TARGET:+.0%}{verdict}")
        lines += ["", EQUAL_LENGTH_NOTE, ""]
        for name in composers:
            g, items = run.gain_at_equal_length(name)
            lines.append(f"- {name}: {_pct(g)} on {items} items")
        lines.append("")
    if run.comparisons:
        lines += [
            "### Paired tests over questions",
            "",
            SIGNIFICANCE_NOTE,
            "",
            comparison_table(run.comparisons),
            "",
        ]
    turn_lines = _turns(run)
    if turn_lines:
        lines += ["## Conversation turns", "", *turn_lines]
    lines += ["## Per item", "", _per_item(run), ""]
    if run.notes:
        lines += ["## Notes", "", *[f"- {note}" for note in run.notes], ""]
    lines += provenance(settings, manifest)
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")
    return ["report.md", "report.json", "quality.png"]


EQUAL_LENGTH_NOTE = (
    "The same gain on the answered items where the top passage is at least as long as the "
    "answer: where it is shorter, the baseline cannot match the answer's length, and part of "
    "the gain is the answer's extra words."
)


def summary_rows(run: QualityRun, keys: Sequence[str]) -> list[list[str]]:
    """Rows for a terminal table: system, then each key's value (3 decimals, '-' if none)."""
    rows = []
    for system in run.systems:
        s = run.summary(system)
        cells = []
        for k in keys:
            v = s[k]
            cells.append("-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v)))
        rows.append([system, *cells])
    return rows
