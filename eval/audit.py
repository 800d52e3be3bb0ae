"""Answer audits: citation coverage, validity and support, evidence order, and abstention.

Two entry points:

* :func:`audit_structure` checks one answer, ours or any other system's (see
  :mod:`eval.parsing`): every non-notice sentence cites (coverage; NOTICE sentences and
  evidence-gap statements are exempt and counted separately), every ``[n]`` resolves to a
  listed reference and every reference is cited (validity), no research reference is cited
  in the guideline section (tier), and when guideline evidence exists the guideline section is
  present and comes before the research section (hierarchy).
* :func:`audit_answers` asks an engine every question of a question file (with its follow-ups,
  as a conversation), runs :func:`audit_structure` on each answer, checks that each cited
  passage supports its sentence (:mod:`eval.support`), and scores abstention against the
  ``answerable`` labels.

Example:
    >>> doc = parse_markdown("## Research\\nB12 was higher [2].\\n\\n## References\\n[1] A (rct)")
    >>> [issue.kind.value for issue in audit_structure(doc).issues]
    ['dangling_citation', 'unused_reference']
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from answer.engine import as_turn
from answer.schema import Answer, Audience, SectionKind
from corpus.types import EvidenceKind, Passage
from eval.parsing import AuditedAnswer, from_answer
from eval.support import GeneratedSupportScorer, SupportMethod, extractive_support
from eval.types import AnswerEngine, Issue, IssueKind
from retriever.types import Conversation, Turn

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- one answer


@dataclass(frozen=True)
class StructureAudit:
    """What :func:`audit_structure` found in one answer.

    Attributes:
        sentences: sentences that must cite (everything outside NOTICE sections).
        cited_sentences: those of them with at least one citation.
        notice_sentences: NOTICE sentences (exempt from coverage).
        citations: ``[n]`` occurrences in all sentences.
        guideline_evidence: guideline passages were retrieved (or, for an external answer,
            a guideline reference is listed), so the guideline section is expected first.
        inversion: guideline evidence exists but the guideline section is missing, comes after
            the research section, or cites research.
    """

    issues: tuple[Issue, ...]
    sentences: int
    cited_sentences: int
    notice_sentences: int
    citations: int
    references: int
    guideline_evidence: bool
    inversion: bool
    abstained: bool = False

    @property
    def coverage(self) -> float:
        """Share of non-notice sentences with at least one citation (nan when there are none)."""
        return self.cited_sentences / self.sentences if self.sentences else math.nan

    def count(self, kind: IssueKind) -> int:
        return sum(1 for issue in self.issues if issue.kind is kind)

    @property
    def ok(self) -> bool:
        """True when no issue is an error (unknown tiers are warnings)."""
        return not any(issue.kind.is_error for issue in self.issues)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "sentences": self.sentences,
            "cited_sentences": self.cited_sentences,
            "notice_sentences": self.notice_sentences,
            "coverage": None if math.isnan(self.coverage) else self.coverage,
            "citations": self.citations,
            "references": self.references,
            "guideline_evidence": self.guideline_evidence,
            "hierarchy_inversion": self.inversion,
            "abstained": self.abstained,
            "issue_counts": {kind.value: self.count(kind) for kind in IssueKind},
            "issues": [issue.to_dict() for issue in self.issues],
        }


def audit_structure(
    doc: AuditedAnswer, *, guideline_retrieved: bool | None = None
) -> StructureAudit:
    """Check citations, references, tiers and section order of one answer.

    Args:
        doc: the answer (see :func:`eval.parsing.from_answer`, :func:`eval.parsing.parse_markdown`).
        guideline_retrieved: whether the engine retrieved guideline passages for it; ``None``
            (an external answer) infers it from the reference list: any guideline reference.
    """
    issues: list[Issue] = []
    cited_numbers: set[int] = set()
    sentences = cited = notices = citations = 0
    for section in doc.sections:
        for i, sentence in enumerate(section.sentences):
            citations += len(sentence.citations)
            cited_numbers.update(sentence.citations)
            if section.exempt or sentence.exempt:
                notices += 1
                continue
            sentences += 1
            if sentence.citations:
                cited += 1
            else:
                issues.append(
                    Issue(IssueKind.UNCITED_SENTENCE, _quote(sentence.text), section.title, i)
                )
            for n in sentence.citations:
                ref = doc.reference(n)
                if ref is None:
                    issues.append(
                        Issue(
                            IssueKind.DANGLING_CITATION,
                            f"[{n}] has no reference: {_quote(sentence.text)}",
                            section.title,
                            i,
                            n,
                        )
                    )
                elif section.kind is SectionKind.GUIDELINES and ref.kind is EvidenceKind.RESEARCH:
                    issues.append(
                        Issue(
                            IssueKind.TIER_VIOLATION,
                            f"research reference [{n}] cited in the guideline section: "
                            f"{_quote(sentence.text)}",
                            section.title,
                            i,
                            n,
                        )
                    )
    seen: set[int] = set()
    for ref in doc.references:
        if ref.n in seen:
            issues.append(
                Issue(IssueKind.DANGLING_CITATION, f"reference [{ref.n}] is listed twice")
            )
        seen.add(ref.n)
        if ref.n not in cited_numbers:
            issues.append(
                Issue(
                    IssueKind.UNUSED_REFERENCE,
                    f"[{ref.n}] {_quote(ref.text)} is never cited",
                    citation=ref.n,
                )
            )
        if ref.kind is None:
            issues.append(
                Issue(IssueKind.UNKNOWN_TIER, f"[{ref.n}] has no readable tier", citation=ref.n)
            )
    if sentences + notices == 0:
        issues.append(Issue(IssueKind.EMPTY_ANSWER, "the answer has no sentences"))
    if guideline_retrieved is None:
        guideline_retrieved = any(ref.kind is EvidenceKind.GUIDELINE for ref in doc.references)
    inversion = False
    if guideline_retrieved and not doc.abstained:
        reason = _inversion_reason(doc, any(i.kind is IssueKind.TIER_VIOLATION for i in issues))
        if reason:
            inversion = True
            issues.append(Issue(IssueKind.HIERARCHY_INVERSION, reason))
    return StructureAudit(
        issues=tuple(issues),
        sentences=sentences,
        cited_sentences=cited,
        notice_sentences=notices,
        citations=citations,
        references=len(doc.references),
        guideline_evidence=bool(guideline_retrieved),
        inversion=inversion,
        abstained=doc.abstained,
    )


def _inversion_reason(doc: AuditedAnswer, tier_violation: bool) -> str | None:
    kinds = [s.kind for s in doc.sections if s.sentences]
    if SectionKind.GUIDELINES in kinds:
        first_guideline = kinds.index(SectionKind.GUIDELINES)
        if SectionKind.RESEARCH in kinds and kinds.index(SectionKind.RESEARCH) < first_guideline:
            return "the research section comes before the guideline section"
    elif not _leads_with_guideline(doc):
        # A bottom line that quotes a guideline puts it first; the sections need not repeat it.
        return "guideline evidence exists but the answer has no guideline section"
    if tier_violation:
        return "research is cited inside the guideline section"
    return None


def _leads_with_guideline(doc: AuditedAnswer) -> bool:
    """Whether the bottom line's first cited sentence cites a guideline."""
    for section in doc.sections:
        if section.kind is not SectionKind.BOTTOM_LINE:
            continue
        for sentence in section.sentences:
            if sentence.citations:
                first = doc.reference(sentence.citations[0])
                return first is not None and first.kind is EvidenceKind.GUIDELINE
    return False


def _quote(text: str, limit: int = 90) -> str:
    text = " ".join(text.split())
    return f'"{text}"' if len(text) <= limit else f'"{text[: limit - 1]}…"'


# --------------------------------------------------------------------------- question files


@dataclass(frozen=True)
class Question:
    """One line of a question file.

    JSONL fields: ``question`` (required), ``id`` (default: the line number), ``followups``
    (strings, or objects with ``question`` and optional ``answerable``), ``answerable``
    (true/false, optional) and ``audience`` (``clinician``/``patient``, optional).
    """

    id: str
    question: str
    followups: tuple[Question, ...] = ()
    answerable: bool | None = None
    audience: Audience = Audience.CLINICIAN


def load_questions(path: Path | str) -> list[Question]:
    """Read a JSONL question file.

    Raises:
        ValueError: a line is not JSON or has no ``question`` (the message names the line).
    """
    out: list[Question] = []
    with Path(path).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                row = json.loads(line)
                out.append(_question(row, str(row.get("id", number))))
            except (ValueError, TypeError, KeyError, AttributeError) as error:
                raise ValueError(f"{path}:{number}: {error}") from None
    return out


def _question(row: Any, qid: str) -> Question:
    if isinstance(row, str):
        return Question(qid, row)
    text = str(row["question"]).strip()
    if not text:
        raise ValueError("empty question")
    answerable = row.get("answerable")
    if answerable is not None and not isinstance(answerable, bool):
        raise ValueError(f"answerable must be true or false, got {answerable!r}")
    followups = tuple(
        _question(item, f"{qid}.{i}") for i, item in enumerate(row.get("followups") or (), start=1)
    )
    audience = Audience(row.get("audience", Audience.CLINICIAN.value))
    return Question(qid, text, followups, answerable, audience)


@dataclass(frozen=True)
class CitationCheck:
    """Whether one cited passage supports one sentence."""

    section: str
    sentence: int
    citation: int
    passage_id: str | None
    supported: bool
    score: float
    method: SupportMethod

    def to_dict(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "sentence": self.sentence,
            "citation": self.citation,
            "passage_id": self.passage_id,
            "supported": self.supported,
            "score": round(self.score, 4),
            "method": self.method.value,
        }


@dataclass(frozen=True)
class AnswerAudit:
    """One generated answer and everything checked about it."""

    question: Question
    turn: int  # 0 for the opening question, 1.. for its follow-ups
    answer: Answer
    structure: StructureAudit
    support: tuple[CitationCheck, ...]

    @property
    def supported_share(self) -> float:
        return (
            sum(c.supported for c in self.support) / len(self.support) if self.support else math.nan
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.question.id,
            "turn": self.turn,
            "question": self.question.question,
            "answerable": self.question.answerable,
            "abstained": self.answer.abstained,
            "generator": self.answer.generator,
            "standalone_query": self.answer.standalone_query,
            "structure": self.structure.to_dict(),
            "support": [c.to_dict() for c in self.support],
            "answer": self.answer.model_dump(mode="json"),
        }


@dataclass(frozen=True)
class AuditSummary:
    """Aggregates over every audited answer of a run."""

    answers: int
    abstained: int
    sentences: int
    cited_sentences: int
    notice_sentences: int
    citation_coverage: float  # micro: cited / sentences over all answers
    dangling_citations: int
    unused_references: int
    answers_with_invalid_citations: int
    support_checked: int
    support_supported: int
    support_by_method: dict[str, int]
    tier_violations: int
    guideline_answers: int
    hierarchy_inversions: int
    abstention: dict[str, float | int | None] = field(default_factory=dict)

    @property
    def citation_support(self) -> float:
        return self.support_supported / self.support_checked if self.support_checked else math.nan

    @property
    def hierarchy_inversion_rate(self) -> float:
        return (
            self.hierarchy_inversions / self.guideline_answers
            if self.guideline_answers
            else math.nan
        )

    def to_dict(self) -> dict[str, Any]:
        def num(x: float) -> float | None:
            return None if math.isnan(x) else x

        return {
            "answers": self.answers,
            "abstained": self.abstained,
            "sentences": self.sentences,
            "cited_sentences": self.cited_sentences,
            "notice_sentences": self.notice_sentences,
            "citation_coverage": num(self.citation_coverage),
            "dangling_citations": self.dangling_citations,
            "unused_references": self.unused_references,
            "answers_with_invalid_citations": self.answers_with_invalid_citations,
            "support_checked": self.support_checked,
            "support_supported": self.support_supported,
            "citation_support": num(self.citation_support),
            "support_by_method": self.support_by_method,
            "tier_violations": self.tier_violations,
            "guideline_answers": self.guideline_answers,
            "hierarchy_inversions": self.hierarchy_inversions,
            "hierarchy_inversion_rate": num(self.hierarchy_inversion_rate),
            "abstention": self.abstention,
        }


def check_support(
    answer: Answer,
    passage: Callable[[str], Passage | None],
    scorer: GeneratedSupportScorer | None = None,
) -> list[CitationCheck]:
    """Check every (sentence, cited passage) pair of an answer of ours.

    Extractive answers use containment / near-exact similarity; generated ones (``generator``
    other than ``extractive``) use ``scorer`` and are skipped with a warning when it is None.
    A reference whose passage is not in the index counts as unsupported.
    """
    refs = {ref.n: ref for ref in answer.references}
    extractive = answer.generator == "extractive"
    if not extractive and scorer is None:
        logger.warning("no scorer for generated answer %r: support not checked", answer.question)
        return []
    pending: list[tuple[str, int, int, str | None, str | None, str]] = []
    for section in answer.sections:
        if section.kind is SectionKind.NOTICE:
            continue
        for i, sentence in enumerate(section.sentences):
            for n in sentence.citations:
                ref = refs.get(n)
                found = passage(ref.passage_id) if ref is not None else None
                pending.append(
                    (
                        section.title,
                        i,
                        n,
                        ref.passage_id if ref else None,
                        found.text if found else None,
                        sentence.text,
                    )
                )
    checks: list[CitationCheck] = []
    generated_rows = [k for k, row in enumerate(pending) if row[4] is not None and not extractive]
    generated = {}
    if generated_rows and scorer is not None:
        results = scorer.check(
            [pending[k][5] for k in generated_rows], [str(pending[k][4]) for k in generated_rows]
        )
        generated = dict(zip(generated_rows, results, strict=True))
    for k, (title, i, n, pid, text, sentence_text) in enumerate(pending):
        if text is None:
            checks.append(CitationCheck(title, i, n, pid, False, 0.0, SupportMethod.NONE))
            continue
        result = extractive_support(sentence_text, text) if extractive else generated[k]
        checks.append(
            CitationCheck(title, i, n, pid, result.supported, result.score, result.method)
        )
    return checks


def audit_answers(
    engine: AnswerEngine,
    questions: Sequence[Question],
    *,
    passage: Callable[[str], Passage | None],
    guideline_retrieved: Callable[[Answer], bool] | None = None,
    scorer: GeneratedSupportScorer | None = None,
    progress: bool = False,
) -> list[AnswerAudit]:
    """Answer every question and its follow-ups (as one conversation each) and audit them.

    Args:
        engine: produces the answers.
        questions: from :func:`load_questions`.
        passage: looks a passage up by id (``PassageIndex.get``), for the support check.
        guideline_retrieved: whether guideline passages were retrieved for an answer; default:
            whether the answer lists a guideline reference.
        scorer: support scorer for generated (non-extractive) answers.
        progress: show a tqdm bar.
    """
    audits: list[AnswerAudit] = []
    total = sum(1 + len(q.followups) for q in questions)
    bar = tqdm(total=total, desc="answers", unit="answer", disable=not progress)
    try:
        for item in questions:
            turns: list[Turn] = []
            for turn, asked in enumerate((item, *item.followups)):
                conversation = Conversation(tuple(turns)) if turns else None
                result = engine.answer(
                    asked.question, conversation=conversation, audience=item.audience
                )
                retrieved = guideline_retrieved(result) if guideline_retrieved else None
                structure = audit_structure(from_answer(result), guideline_retrieved=retrieved)
                support = tuple(check_support(result, passage, scorer))
                audits.append(AnswerAudit(asked, turn, result, structure, support))
                turns.append(as_turn(result))  # the turn the API and CLI would remember
                bar.update(1)
    finally:
        bar.close()
    return audits


def abstention_scores(audits: Iterable[AnswerAudit]) -> dict[str, float | int | None]:
    """Precision and recall of abstaining, over answers whose question has a label.

    The positive class is "abstained": precision = abstained on unanswerable / abstained,
    recall = abstained on unanswerable / unanswerable. ``None`` where a denominator is 0.
    """
    tp = fp = fn = tn = 0
    for audit in audits:
        label = audit.question.answerable
        if label is None:
            continue
        abstained = audit.answer.abstained
        if abstained and not label:
            tp += 1
        elif abstained and label:
            fp += 1
        elif not abstained and not label:
            fn += 1
        else:
            tn += 1
    return {
        "labelled": tp + fp + fn + tn,
        "true_abstentions": tp,
        "false_abstentions": fp,
        "missed_abstentions": fn,
        "answered_answerable": tn,
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None,
    }


def summarise(audits: Sequence[AnswerAudit]) -> AuditSummary:
    """Aggregate the audits of a run (micro-averaged rates)."""
    structures = [a.structure for a in audits]
    checks = [c for a in audits for c in a.support]
    methods = Counter(c.method.value for c in checks)
    return AuditSummary(
        answers=len(audits),
        abstained=sum(a.answer.abstained for a in audits),
        sentences=sum(s.sentences for s in structures),
        cited_sentences=sum(s.cited_sentences for s in structures),
        notice_sentences=sum(s.notice_sentences for s in structures),
        citation_coverage=(
            sum(s.cited_sentences for s in structures) / sum(s.sentences for s in structures)
            if sum(s.sentences for s in structures)
            else math.nan
        ),
        dangling_citations=sum(s.count(IssueKind.DANGLING_CITATION) for s in structures),
        unused_references=sum(s.count(IssueKind.UNUSED_REFERENCE) for s in structures),
        answers_with_invalid_citations=sum(
            1
            for s in structures
            if s.count(IssueKind.DANGLING_CITATION) or s.count(IssueKind.UNUSED_REFERENCE)
        ),
        support_checked=len(checks),
        support_supported=sum(c.supported for c in checks),
        support_by_method=dict(sorted(methods.items())),
        tier_violations=sum(s.count(IssueKind.TIER_VIOLATION) for s in structures),
        guideline_answers=sum(s.guideline_evidence and not s.abstained for s in structures),
        hierarchy_inversions=sum(s.inversion for s in structures),
        abstention=abstention_scores(audits),
    )
