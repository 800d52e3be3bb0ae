"""Citation numbering: first appearance order, every reference cited, notices never cite."""

from __future__ import annotations

import pytest

from answer.assemble import Draft, DraftSentence, assemble, design_of
from answer.schema import Audience, SectionKind
from tests.fixtures_answer import passage_by_text

# Real sentences from three fixture passages.
PA = "Vitamin B12 is a nutrient found in some foods."
IDA = "Iron-deficiency anemia is a common type of anemia."
RCT = "Serum folate level increased approximately linearly"


def build(sections: list[Draft]):  # type: ignore[no-untyped-def]
    return assemble(
        question="q", standalone_query="q", audience=Audience.CLINICIAN, sections=sections
    )


def test_numbers_follow_first_appearance_across_sections() -> None:
    pa, ida, rct = passage_by_text(PA), passage_by_text(IDA), passage_by_text(RCT)
    answer = build(
        [
            Draft(SectionKind.BOTTOM_LINE, [DraftSentence("s1", (ida,))]),
            Draft(
                SectionKind.GUIDELINES, [DraftSentence("s2", (pa,)), DraftSentence("s3", (ida,))]
            ),
            Draft(SectionKind.RESEARCH, [DraftSentence("s4", (rct, pa))]),
        ]
    )
    cites = [s.citations for section in answer.sections for s in section.sentences]
    # ida first (bottom line) = 1, pa = 2, rct = 3; a sentence citing two passages gets both.
    assert cites == [[1], [2], [1], [3, 2]]
    assert [(r.n, r.passage_id) for r in answer.references] == [
        (1, ida.id),
        (2, pa.id),
        (3, rct.id),
    ]
    assert answer.sections[-1].sentences[0].design == "rct"
    assert answer.sections[0].sentences[0].design is None  # guideline sentences show no design


def test_empty_sections_are_dropped_and_notices_never_cite() -> None:
    pa = passage_by_text(PA)
    answer = build(
        [
            Draft(SectionKind.NOTICE, [DraftSentence("A notice.", (pa,))]),
            Draft(SectionKind.BOTTOM_LINE, [DraftSentence("s", (pa,))]),
            Draft(SectionKind.GUIDELINES, []),
        ]
    )
    assert [s.kind for s in answer.sections] == [SectionKind.NOTICE, SectionKind.BOTTOM_LINE]
    assert answer.sections[0].sentences[0].citations == []
    assert [r.n for r in answer.references] == [1]  # only the cited passage is listed
    assert answer.sections[0].title == "Note"


def test_an_uncited_sentence_is_refused() -> None:
    with pytest.raises(ValueError, match="uncited"):
        build([Draft(SectionKind.GUIDELINES, [DraftSentence("No source.")])])


def test_design_of_picks_the_strongest_research_tier() -> None:
    pa, rct = passage_by_text(PA), passage_by_text(RCT)
    observational = passage_by_text("microcytosis")
    assert design_of([pa]) is None
    assert design_of([observational, rct]) == "rct"
