"""eval.parsing and eval.audit: reading answers (JSON and Markdown) and checking their citations."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from answer.schema import Answer, AnswerSection, Reference, SectionKind, Sentence
from corpus.types import EvidenceKind
from eval.audit import abstention_scores, audit_structure, load_questions
from eval.parsing import (
    AnswerFormat,
    AnswerParseError,
    citation_numbers,
    from_answer,
    load_answer,
    parse_markdown,
    split_sentences,
)
from eval.types import IssueKind

DATA = Path(__file__).parent / "data"
BROKEN = DATA / "eval_broken_answer.md"


def _ref(n: int, tier: str, design: str | None = None) -> Reference:
    return Reference(
        n=n,
        passage_id=f"p{n}",
        document_id=f"doc{n}",
        tier=tier,
        design=design or tier,
        title=f"Title {n}",
        source="NIH" if tier == "guideline" else "J Nutr",
        year=2020,
    )


def _answer(**overrides: object) -> Answer:
    values: dict[str, object] = {
        "question": "Are B12 levels higher with low ferritin?",
        "standalone_query": "B12 levels low ferritin",
        "sections": [
            AnswerSection(
                kind=SectionKind.BOTTOM_LINE,
                title="Bottom line",
                sentences=[Sentence(text="Ferritin reflects iron stores.", citations=[1])],
            ),
            AnswerSection(
                kind=SectionKind.GUIDELINES,
                title="From the guidelines",
                sentences=[Sentence(text="Check ferritin first.", citations=[1])],
            ),
            AnswerSection(
                kind=SectionKind.RESEARCH,
                title="From the research",
                sentences=[Sentence(text="B12 was higher.", citations=[2], design="rct")],
            ),
            AnswerSection(
                kind=SectionKind.NOTICE,
                title="Notice",
                sentences=[Sentence(text="Evidence is limited.")],
            ),
        ],
        "references": [_ref(1, "guideline"), _ref(2, "research", "rct")],
    }
    values.update(overrides)
    return Answer.model_validate(values)


def test_clean_answer_of_ours_passes() -> None:
    audit = audit_structure(from_answer(_answer()))
    assert audit.ok and audit.issues == ()
    # 3 sentences must cite and all do; the notice sentence is counted apart.
    assert (audit.sentences, audit.cited_sentences, audit.notice_sentences) == (3, 3, 1)
    assert audit.coverage == 1.0
    assert audit.guideline_evidence and not audit.inversion


def test_answer_of_ours_with_every_problem() -> None:
    answer = _answer(
        sections=[
            AnswerSection(
                kind=SectionKind.RESEARCH,
                title="Research",
                sentences=[
                    Sentence(text="B12 was higher.", citations=[2]),
                    Sentence(text="Nobody knows why."),  # uncited
                    Sentence(text="A third study.", citations=[9]),  # dangling
                ],
            ),
            AnswerSection(
                kind=SectionKind.GUIDELINES,
                title="Guidelines",
                sentences=[Sentence(text="A trial says so.", citations=[2])],  # research in here
            ),
        ],
        references=[_ref(1, "guideline"), _ref(2, "research")],  # [1] never cited
    )
    audit = audit_structure(from_answer(answer), guideline_retrieved=True)
    kinds = [issue.kind for issue in audit.issues]
    assert kinds == [
        IssueKind.UNCITED_SENTENCE,
        IssueKind.DANGLING_CITATION,
        IssueKind.TIER_VIOLATION,
        IssueKind.UNUSED_REFERENCE,
        IssueKind.HIERARCHY_INVERSION,
    ]
    # 4 sentences must cite, 3 do: coverage 3/4.
    assert audit.coverage == pytest.approx(0.75)
    assert audit.inversion and not audit.ok


def test_hierarchy_needs_guideline_evidence() -> None:
    only_research = _answer(
        sections=[
            AnswerSection(
                kind=SectionKind.RESEARCH,
                title="Research",
                sentences=[Sentence(text="B12 was higher.", citations=[1])],
            )
        ],
        references=[_ref(1, "research")],
    )
    assert not audit_structure(from_answer(only_research)).inversion
    # The engine says guideline passages were retrieved, but the answer has no guideline section.
    audit = audit_structure(from_answer(only_research), guideline_retrieved=True)
    assert audit.inversion
    assert "no guideline section" in audit.issues[-1].detail
    # A bottom line that quotes a guideline puts it first: the sections need not repeat it.
    led = _answer(sections=[s for s in _answer().sections if s.kind is not SectionKind.GUIDELINES])
    assert not audit_structure(from_answer(led), guideline_retrieved=True).inversion


def test_abstained_answer_is_not_an_inversion() -> None:
    abstained = _answer(
        abstained=True,
        sections=[
            AnswerSection(
                kind=SectionKind.NOTICE,
                title="Notice",
                sentences=[Sentence(text="The indexed evidence does not answer this.")],
            )
        ],
        references=[],
    )
    audit = audit_structure(from_answer(abstained), guideline_retrieved=True)
    assert audit.ok and not audit.inversion
    assert audit.sentences == 0 and math.isnan(audit.coverage)


def test_broken_markdown_fixture() -> None:
    doc = load_answer(BROKEN)
    assert doc.format is AnswerFormat.MARKDOWN
    assert doc.question.startswith("Are vitamin B12 levels higher")
    assert [s.kind for s in doc.sections] == [
        SectionKind.BOTTOM_LINE,
        SectionKind.RESEARCH,
        SectionKind.GUIDELINES,
        SectionKind.NOTICE,
    ]
    assert [(r.n, r.kind) for r in doc.references] == [
        (1, EvidenceKind.GUIDELINE),
        (2, EvidenceKind.RESEARCH),
        (3, EvidenceKind.GUIDELINE),
        (4, EvidenceKind.RESEARCH),
    ]
    audit = audit_structure(doc)
    found = {(issue.kind, issue.citation) for issue in audit.issues}
    assert found == {
        (IssueKind.DANGLING_CITATION, 7),
        (IssueKind.UNCITED_SENTENCE, None),
        (IssueKind.TIER_VIOLATION, 2),
        (IssueKind.UNUSED_REFERENCE, 4),
        (IssueKind.HIERARCHY_INVERSION, None),
    }
    # Sentences that must cite: 1 bottom line + 3 research + 2 guideline = 6; 5 cite.
    assert (audit.sentences, audit.cited_sentences, audit.notice_sentences) == (6, 5, 1)


def test_markdown_leniency() -> None:
    text = """**Summary**
Iron tablets raise ferritin.[1] They also cause constipation. [2]

### What the research says
* Women responded better (e.g. in one RCT) [^2].
* Children were not studied [2-3].

**Sources**
1. NICE anaemia guideline. https://nice.org.uk (Guideline)
2) Iron trial, Lancet 2019 — [RCT]
[^3]: Cohort study, Tier: observational
"""
    doc = parse_markdown(text)
    assert [s.kind for s in doc.sections] == [SectionKind.BOTTOM_LINE, SectionKind.RESEARCH]
    assert [s.citations for s in doc.sections[0].sentences] == [(1,), (2,)]
    assert [s.citations for s in doc.sections[1].sentences] == [(2,), (2, 3)]
    assert doc.sections[1].sentences[0].text.startswith("Women responded better (e.g. in one RCT)")
    assert [(r.n, r.kind, r.design) for r in doc.references] == [
        (1, EvidenceKind.GUIDELINE, "guideline"),
        (2, EvidenceKind.RESEARCH, "rct"),
        (3, EvidenceKind.RESEARCH, "observational"),
    ]
    # Every citation resolves, and the summary leads with the guideline: it is above the
    # research, though no section of its own repeats it.
    assert audit_structure(doc).issues == ()
    # A summary that leads with the trial, with no guideline section, inverts the hierarchy.
    swapped = parse_markdown(
        text.replace("ferritin.[1]", "ferritin.[2]").replace(
            "constipation. [2]", "constipation. [1]"
        )
    )
    assert [i.kind for i in audit_structure(swapped).issues] == [IssueKind.HIERARCHY_INVERSION]


def test_reference_without_tier_is_a_warning_only() -> None:
    doc = parse_markdown("Ferritin is low [1].\n\n## References\n[1] Some page, 2020.")
    audit = audit_structure(doc)
    assert [i.kind for i in audit.issues] == [IssueKind.UNKNOWN_TIER]
    assert audit.ok  # a warning does not fail the audit


def test_json_answer_file(tmp_path: Path) -> None:
    path = tmp_path / "answer.json"
    path.write_text(_answer().model_dump_json(), encoding="utf-8")
    doc = load_answer(path)
    assert doc.format is AnswerFormat.JSON and audit_structure(doc).ok
    bad = tmp_path / "bad.json"
    bad.write_text('{"question": 1}', encoding="utf-8")
    with pytest.raises(AnswerParseError, match="schema"):
        load_answer(bad)


def test_citation_numbers_and_sentences() -> None:
    assert citation_numbers("a [1] b [2, 4] c [5-7] d [^8] e [9; 10]") == [
        1,
        2,
        4,
        5,
        6,
        7,
        8,
        9,
        10,
    ]
    assert split_sentences("Dr. Smith et al. found it. It rose by 2.5 mg. Then [3] fell.") == [
        "Dr. Smith et al. found it.",
        "It rose by 2.5 mg.",
        "Then [3] fell.",
    ]


def test_question_file_and_abstention_scores(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(
        '{"id": "a", "question": "Q1?", "answerable": true, "followups": ["F1?", '
        '{"question": "F2?", "answerable": false}]}\n'
        "# a comment line\n"
        '{"question": "Q2?"}\n',
        encoding="utf-8",
    )
    questions = load_questions(path)
    assert [q.id for q in questions] == ["a", "3"]
    assert [f.question for f in questions[0].followups] == ["F1?", "F2?"]
    assert questions[0].followups[1].answerable is False
    path.write_text('{"question": ""}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=":1:"):
        load_questions(path)


def test_abstention_precision_recall_by_hand() -> None:
    from eval.audit import AnswerAudit, Question

    def audit(answerable: bool | None, abstained: bool) -> AnswerAudit:
        answer = _answer(abstained=abstained)
        return AnswerAudit(
            Question("x", "q", answerable=answerable),
            0,
            answer,
            audit_structure(from_answer(answer)),
            (),
        )

    # Unanswerable: 3 (2 abstained, 1 answered). Answerable: 3 (1 abstained). Unlabelled: 1.
    audits = [
        audit(False, True),
        audit(False, True),
        audit(False, False),
        audit(True, True),
        audit(True, False),
        audit(True, False),
        audit(None, True),
    ]
    scores = abstention_scores(audits)
    # precision = 2 true abstentions / 3 abstentions; recall = 2 / 3 unanswerable.
    assert scores["precision"] == pytest.approx(2 / 3)
    assert scores["recall"] == pytest.approx(2 / 3)
    assert scores["labelled"] == 6


def test_markdown_written_by_answer_render_reads_back() -> None:
    from answer.render import to_markdown

    answer = _answer(suggested_followups=["What dose?"])
    doc = parse_markdown(to_markdown(answer))
    ours = from_answer(answer)
    non_notice = [s for s in doc.sections if s.kind is not SectionKind.NOTICE]
    assert [(s.kind, [x.citations for x in s.sentences]) for s in non_notice] == [
        (s.kind, [x.citations for x in s.sentences])
        for s in ours.sections
        if s.kind is not SectionKind.NOTICE
    ]
    assert [(r.n, r.kind) for r in doc.references] == [(r.n, r.kind) for r in ours.references]
    assert doc.followups == ("What dose?",)
    audit = audit_structure(doc)
    assert audit.ok and audit.coverage == 1.0
    # The note and the two disclaimer sentences are notices.
    assert audit.notice_sentences == 3
