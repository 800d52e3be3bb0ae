"""The widget's reference helpers, run in Chromium: title cleaning, "journal, year", Markdown.

A clinician judges a reference by its title, journal and year. Titles extracted from PDFs carry
boilerplate (a citation of the journal, a copyright line, a DOI); data-set loaders put the data
set's name where the journal belongs. These rules are pure functions of the widget
(``FollowupChat.cleanTitle``, ``sourceLine``, ``answerMarkdown``), checked here case by case.
"""

from __future__ import annotations

import pytest

from tests.fixtures_ui import WIDGET_JS, browser, page  # noqa: F401  (pytest fixtures)

pytestmark = pytest.mark.browser

BJN = (
    "British Journal of Nutrition (2003), 89, 295–301 q The Authors 2003 "
    "DOI: 10.1079/BJN2002776 Plasma homocysteine concentration is decreased by dietary "
    "intervention*"
)

# (raw title, cleaned title, journal read from it, year read from it)
TITLES = [
    # The demo corpus's one damaged title (SciFact 4442799's neighbour in the demo corpus).
    (
        BJN,
        "Plasma homocysteine concentration is decreased by dietary intervention",
        "British Journal of Nutrition",
        2003,
    ),
    # Clean titles pass through unchanged, parentheses and all.
    ("Iron-Deficiency Anemia", "Iron-Deficiency Anemia", None, None),
    ("What is (are) Anemia ?", "What is (are) Anemia ?", None, None),
    ("Anaemia in 2010 (a survey)", "Anaemia in 2010 (a survey)", None, None),
    # A copyright line with its holder, and "All rights reserved".
    (
        "Ferritin in pregnancy. © 2010 Elsevier Ltd. All rights reserved.",
        "Ferritin in pregnancy.",
        None,
        None,
    ),
    ("Iron stores in infants. Copyright 2015 Wiley.", "Iron stores in infants.", None, None),
    # A DOI alone, with and without "DOI:".
    ("Effect of iron on fatigue DOI: 10.1000/xyz.123", "Effect of iron on fatigue", None, None),
    ("Effect of iron on fatigue doi 10.1000/xyz", "Effect of iron on fatigue", None, None),
    # Nothing left after cleaning: the raw title is kept rather than an empty one.
    ("DOI: 10.1000/xyz", "DOI: 10.1000/xyz", None, None),
]


@pytest.fixture
def widget_page(page):  # noqa: F811
    page.set_content("<!doctype html><title>references</title>")
    page.add_script_tag(path=str(WIDGET_JS))
    return page


@pytest.mark.parametrize(("raw", "title", "journal", "year"), TITLES)
def test_clean_title(widget_page, raw, title, journal, year) -> None:
    got = widget_page.evaluate("t => customElements.get('followup-chat').cleanTitle(t)", raw)
    assert got == {"title": title, "journal": journal, "year": year}


def _ref(**fields):
    return {
        "n": 1,
        "passage_id": "p0123456789abcdef",
        "document_id": "scifact:4442799",
        "tier": "research",
        "design": "observational",
        "title": "Iron status and anaemia",
        "source": "SciFact",
        "year": None,
        "url": None,
        **fields,
    }


SOURCES = [
    # A data set's name is never shown as the journal.
    (_ref(), "journal not recorded"),
    (
        _ref(document_id="pubmedqa:21645374", source="PubMedQA", year=2011),
        "journal not recorded, 2011",
    ),
    (_ref(source=""), "journal not recorded"),
    # The journal and year a damaged title cites are used when the record has none.
    (_ref(title=BJN), "British Journal of Nutrition, 2003"),
    # A real journal, and a guideline publisher, are shown as recorded.
    (_ref(document_id="mine:1", source="The Lancet", year=2019), "The Lancet, 2019"),
    (_ref(document_id="medquad:x", tier="guideline", design="guideline", source="NHLBI"), "NHLBI"),
]


@pytest.mark.parametrize(("ref", "line"), SOURCES)
def test_source_line(widget_page, ref, line) -> None:
    got = widget_page.evaluate("r => customElements.get('followup-chat').sourceLine(r)", ref)
    assert got == line


def test_markdown_keeps_notes_as_notes_and_cleans_references(widget_page) -> None:
    answer = {
        "sections": [
            {
                "kind": "bottom_line",
                "title": "Bottom line",
                "sentences": [{"text": "Iron   tablets help.", "kind": "quote", "citations": [1]}],
            },
            {
                "kind": "research",
                "title": "From the Research",
                "sentences": [
                    {
                        "text": "Homocysteine fell.",
                        "kind": "quote",
                        "citations": [1],
                        "design": "rct",
                        "year": 2003,
                        "sample_size": 40,
                    },
                    {"text": "No trial compared doses.", "kind": "evidence_gap", "citations": []},
                ],
            },
            {
                "kind": "notice",
                "title": "Please note",
                "sentences": [{"text": "The evidence is thin.", "kind": "notice"}],
            },
        ],
        "references": [_ref(title=BJN, design="rct")],
        "disclaimer": "Information, not advice.",
    }
    markdown = widget_page.evaluate(
        "([q, a]) => customElements.get('followup-chat').answerMarkdown(q, a)",
        ["Does diet lower homocysteine?", answer],
    )
    assert markdown == (
        "# Does diet lower homocysteine?\n\n"
        "## Bottom line\n\nIron tablets help. [1]\n\n"
        "## From the Research\n\n"
        "- Homocysteine fell. [1] *(Randomised trial, 2003, n = 40)*\n"
        "- *Note: No trial compared doses.*\n\n"
        "> **Note:** The evidence is thin.\n\n"
        "## References\n\n### Research\n\n"
        "- [1] Plasma homocysteine concentration is decreased by dietary intervention. "
        "British Journal of Nutrition, 2003. (Randomised trial)\n\n"
        "---\n\n*Information, not advice.*\n"
    )
