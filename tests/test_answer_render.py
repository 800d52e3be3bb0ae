"""Markdown, plain-text and rich rendering of answers, and the conversation turn they become."""

from __future__ import annotations

import re
from dataclasses import replace as changed

import pytest
from rich.console import Console

from answer.abstain import ABSTAIN_NOTICE, WEAK_NOTICE
from answer.assemble import NOT_RECORDED, Draft, DraftSentence, assemble, reference_for
from answer.engine import as_turn
from answer.render import design_label, plain_text, reference_line, to_markdown, to_rich
from answer.schema import DISCLAIMER, Answer, Audience, SectionKind
from corpus.types import EvidenceKind
from tests.fixtures_answer import load_passages, passage_by_text

# Real sentences of the fixture passages (NHLBI pages; a SciFact RCT abstract).
FERRITIN = "Ferritin is a protein that helps store iron in your body."
SERUM_IRON = "This test measures the amount of iron in your blood."
FOLATE_RCT = (
    "Serum folate level increased approximately linearly (5.5 nmol/L for every 0.1 mg of "
    "folic acid)."
)


@pytest.fixture(scope="module")
def answer() -> Answer:
    guideline = passage_by_text(FERRITIN)
    research = passage_by_text(FOLATE_RCT)
    return assemble(
        question="What does ferritin show?",
        standalone_query="What does ferritin show?",
        audience=Audience.CLINICIAN,
        sections=[
            Draft(SectionKind.NOTICE, [DraftSentence(WEAK_NOTICE)]),
            Draft(SectionKind.BOTTOM_LINE, [DraftSentence(FERRITIN, (guideline,))]),
            Draft(
                SectionKind.GUIDELINES,
                [DraftSentence(FERRITIN, (guideline,)), DraftSentence(SERUM_IRON, (guideline,))],
            ),
            Draft(SectionKind.RESEARCH, [DraftSentence(FOLATE_RCT, (research,))]),
        ],
        suggested_followups=["How to diagnose Iron-Deficiency Anemia?"],
    )


def test_markdown_layout(answer: Answer) -> None:
    markdown = to_markdown(answer)
    headings = re.findall(r"^##+ (.+)$", markdown, flags=re.MULTILINE)
    assert headings == [
        "Bottom line",
        "From the Guidelines",
        "From the Research",
        "References",
        "Guideline",
        "Research",
        "Suggested follow-up questions",
    ]
    assert f"> **Note:** {WEAK_NOTICE}" in markdown
    assert f"{FERRITIN} [1]" in markdown
    assert f"- {SERUM_IRON} [1]" in markdown
    assert f"- {FOLATE_RCT} [2] *(RCT)*" in markdown
    assert markdown.rstrip().endswith(f"*{DISCLAIMER}*")
    assert (
        markdown.index("### Guideline") < markdown.index("- [1] ") < markdown.index("### Research")
    )
    assert markdown.index("### Research") < markdown.index("- [2] ")


def test_every_marker_in_markdown_has_a_reference(answer: Answer) -> None:
    markdown = to_markdown(answer)
    body, references = markdown.split("## References")
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", body)}
    listed = {int(n) for n in re.findall(r"^- \[(\d+)\]", references, flags=re.MULTILINE)}
    assert cited == listed == {1, 2}


def test_reference_line_shows_title_source_year_url_and_design(answer: Answer) -> None:
    guideline, research = answer.references
    line = reference_line(guideline)
    assert line.startswith("[1] Iron-Deficiency Anemia. NHLBI.")
    assert "http://www.nhlbi.nih.gov/health-topics/topics/ida" in line
    assert line.endswith("(Guideline)")
    assert reference_line(research).endswith("(RCT)")
    assert design_label("systematic_review") == "Systematic review"
    assert design_label(None) == ""


def test_markdown_of_a_partial_answer_is_a_prefix_of_the_final(answer: Answer) -> None:
    # The API streams Markdown deltas: the sections rendered so far must not change later.
    partial = answer.model_copy(update={"sections": answer.sections[:2], "references": []})
    trailer = "\n\n" + to_markdown(
        answer.model_copy(update={"sections": [], "references": [], "suggested_followups": []})
    )
    stable = to_markdown(partial.model_copy(update={"suggested_followups": []}))
    assert stable.endswith(trailer)
    assert to_markdown(answer).startswith(stable[: -len(trailer)])


def test_abstention_markdown_has_only_the_notice() -> None:
    answer = Answer(
        question="q",
        standalone_query="q",
        abstained=True,
        sections=[
            {"kind": "notice", "title": "Note", "sentences": [{"text": ABSTAIN_NOTICE}]}  # type: ignore[list-item]
        ],
        references=[],
    )
    markdown = to_markdown(answer)
    assert "## " not in markdown
    assert ABSTAIN_NOTICE in markdown and "[1]" not in markdown


def test_plain_text_and_turn(answer: Answer) -> None:
    assert plain_text(answer) == f"{FERRITIN} {SERUM_IRON} {FOLATE_RCT}"
    turn = as_turn(answer)
    assert turn.question == answer.question
    assert turn.answer == plain_text(answer)
    assert turn.cited == tuple(r.passage_id for r in answer.references)


def test_rich_rendering_keeps_brackets_and_markers(answer: Answer) -> None:
    console = Console(record=True, width=200)
    console.print(to_rich(answer))
    text = console.export_text()
    assert "From the Guidelines" in text and "From the Research" in text
    assert f"{FERRITIN} [1]" in text
    assert "(5.5 nmol/L for every 0.1 mg of folic acid). [2] (RCT)" in text
    assert "[1] Iron-Deficiency Anemia. NHLBI." in text
    assert "How to diagnose Iron-Deficiency Anemia?" in text


def test_a_research_reference_never_names_a_data_set_as_its_journal() -> None:
    research = next(p for p in load_passages() if p.kind is EvidenceKind.RESEARCH)
    for source in ("SciFact", "BEIR SciFact corpus", ""):
        passage = changed(research, source=source, dataset="scifact")
        assert reference_for(1, passage).source == NOT_RECORDED
    journal = changed(research, source="British Journal of Nutrition", dataset="scifact")
    assert reference_for(1, journal).source == "British Journal of Nutrition"
    # SciFact: a PDF header kept as the title cites the journal.
    header = (
        "British Journal of Nutrition (2003), 89, 295–301 q The Authors 2003 DOI: "
        "10.1079/BJN2002776 Plasma homocysteine concentration is decreased by dietary intervention"
    )
    cited = changed(research, source="SciFact", dataset="scifact", title=header)
    assert reference_for(1, cited).source == "British Journal of Nutrition"
    guideline = next(p for p in load_passages() if p.kind is EvidenceKind.GUIDELINE)
    assert reference_for(1, guideline).source == guideline.source


def test_a_quoted_list_stays_a_list_in_markdown() -> None:
    # MedlinePlus, "Appendicitis" (MedQuAD), as the loader lays it out.
    quote = (
        "Other symptoms may include\n- Swelling in the abdomen\n- Low fever\n"
        "Not everyone with appendicitis has all these symptoms."
    )
    page = changed(passage_by_text(FERRITIN), text=quote, end=len(quote))
    answer = assemble(
        question="Does appendicitis always cause fever?",
        standalone_query="Does appendicitis always cause fever?",
        audience=Audience.CLINICIAN,
        sections=[Draft(SectionKind.GUIDELINES, [DraftSentence(quote, (page,))])],
    )
    # Nested under the section's bullet; the sentence after the list is its own paragraph,
    # not run into the last item ("Low fever Not everyone ...").
    assert (
        "- Other symptoms may include\n  - Swelling in the abdomen\n  - Low fever\n\n"
        "  Not everyone with appendicitis has all these symptoms. [1]"
    ) in to_markdown(answer)
