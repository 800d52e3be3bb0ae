"""The reports of answer audits: one answer from any system (``followup eval audit``), and a
run of the engine over a question file (``followup eval answers``).

Example:
    >>> write_audit_report(Path("var/eval/audit"), source, doc, audit)  # doctest: +SKIP
    ['report.md', 'report.json', 'issues.png']
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eval.plots import plot_counts, plot_rates
from eval.report import format_rate, markdown_table, now, provenance, write_json
from eval.types import IssueKind

if TYPE_CHECKING:
    from eval.audit import AnswerAudit, AuditSummary, StructureAudit
    from eval.parsing import AuditedAnswer


def write_audit_report(
    out: Path, source: Path, doc: AuditedAnswer, audit: StructureAudit, *, command: str = ""
) -> list[str]:
    """Report of one external answer's audit: report.md, report.json and issues.png."""
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
                    f"{format_rate(summary.citation_coverage)}",
                ],
                ["notice sentences (exempt)", summary.notice_sentences],
                ["dangling citations", summary.dangling_citations],
                ["unused references", summary.unused_references],
                ["answers with invalid citations", summary.answers_with_invalid_citations],
                [
                    "citation support (supported / checked pairs)",
                    f"{summary.support_supported}/{summary.support_checked} = "
                    f"{format_rate(summary.citation_support)}",
                ],
                ["support by method", json.dumps(summary.support_by_method)],
                ["tier violations (research cited in guideline section)", summary.tier_violations],
                [
                    "hierarchy inversion rate (answers with guideline evidence)",
                    f"{summary.hierarchy_inversions}/{summary.guideline_answers} = "
                    f"{format_rate(summary.hierarchy_inversion_rate)}",
                ],
                ["abstention precision", format_rate(abst.get("precision"))],
                ["abstention recall", format_rate(abst.get("recall"))],
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
    lines += ["", *provenance(settings, manifest)]
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")
    return ["report.md", "report.json", "rates.png", "issues.png"]
