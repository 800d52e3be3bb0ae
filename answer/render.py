"""Render an :class:`Answer` as Markdown, as plain text, or as a rich terminal renderable.

The Markdown form is the one other layers reuse (the API's chat-completions endpoint, the eval
harness): a notice block, then one ``##`` heading per section with an ``[n]`` marker after every
sentence (and the study design after research sentences), then the references grouped into
Guideline and Research, the suggested follow-ups and the disclaimer. Sentence text is written
exactly as quoted; only the layout around it is ours.

Example:
    >>> print(to_markdown(answer))  # doctest: +SKIP
    ## Bottom line
    Ferritin is a protein that helps store iron in your body. [1]
    ...
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.panel import Panel
from rich.text import Text

from answer.schema import Answer, AnswerSection, Reference, SectionKind, Sentence, SentenceKind

DESIGN_LABELS = {
    "guideline": "Guideline",
    "systematic_review": "Systematic review",
    "rct": "RCT",
    "observational": "Observational study",
    "case_report": "Case report",
    "preclinical": "Preclinical study",
    "other": "Other research",
}

_REFERENCE_GROUPS = (("guideline", "Guideline"), ("research", "Research"))


def design_label(design: str | None) -> str:
    """A reader's label for a tier or design value ("rct" -> "RCT")."""
    if not design:
        return ""
    return DESIGN_LABELS.get(design, design.replace("_", " ").capitalize())


def markers(citations: Iterable[int]) -> str:
    """``[1][3]`` for citations 1 and 3."""
    return "".join(f"[{n}]" for n in citations)


def study_note(sentence: Sentence) -> str:
    """ "RCT, 2011, n = 312" for a research sentence; "" for a guideline quote."""
    if not sentence.design:
        return ""
    parts = [design_label(sentence.design)]
    if sentence.year:
        parts.append(str(sentence.year))
    if sentence.sample_size:
        parts.append(f"n = {sentence.sample_size}")
    return ", ".join(parts)


def _quote_markdown(text: str) -> str:
    """A quote's text as Markdown: lines of its source run together as one paragraph, but the
    items of a list it quotes ("Other symptoms may include / - Low fever") stay a list, nested
    so that it also reads under a bullet, and the sentence after the list stays apart."""
    blocks: list[str] = []
    for line in text.split("\n"):
        line = " ".join(line.split())
        if line.startswith("- "):
            blocks.append(f"\n  {line}")
        elif blocks and blocks[-1].startswith("\n  - "):
            blocks.append(f"\n\n  {line}")
        else:
            blocks.append(f" {line}" if blocks else line)
    return "".join(blocks)


def _sentence_markdown(sentence: Sentence) -> str:
    if sentence.kind is not SentenceKind.QUOTE:
        return f"*{sentence.text}*"  # our own words about the evidence, shown as a note
    text = f"{_quote_markdown(sentence.text)} {markers(sentence.citations)}".rstrip()
    if sentence.label:
        text = f"*{sentence.label}:* {text}"
    note = study_note(sentence)
    if note:
        text += f" *({note})*"
    return text


def reference_line(reference: Reference) -> str:
    """``[n] Title. Source, year. URL (design)`` without Markdown."""
    title = reference.title.strip()
    parts = [f"[{reference.n}] {title if title.endswith(('.', '?', '!')) else title + '.'}"]
    where = reference.source + (f", {reference.year}" if reference.year else "")
    if where:
        parts.append(f"{where}.")
    if reference.url:
        parts.append(reference.url)
    parts.append(f"({design_label(reference.design)})")
    return " ".join(parts)


def _grouped(references: list[Reference]) -> list[tuple[str, list[Reference]]]:
    groups = []
    for tier, title in _REFERENCE_GROUPS:
        members = [r for r in references if r.tier == tier]
        if members:
            groups.append((title, members))
    return groups


def to_markdown(answer: Answer) -> str:
    """The answer as Markdown: sections with [n] markers, references grouped by tier."""
    blocks: list[str] = []
    for section in answer.sections:
        if section.kind is SectionKind.NOTICE:
            blocks.append("\n".join(f"> **Note:** {s.text}" for s in section.sentences))
        elif section.kind is SectionKind.BOTTOM_LINE:
            # One paragraph per sentence: quotes from different sources never run together.
            body = "\n\n".join(_sentence_markdown(s) for s in section.sentences)
            blocks.append(f"## {section.title}\n\n{body}")
        else:
            body = "\n".join(f"- {_sentence_markdown(s)}" for s in section.sentences)
            blocks.append(f"## {section.title}\n\n{body}")
    if answer.references:
        lines = ["## References"]
        for title, members in _grouped(answer.references):
            lines.append(f"\n### {title}\n")
            lines.extend(f"- {reference_line(r)}" for r in members)
        blocks.append("\n".join(lines))
    if answer.suggested_followups:
        lines = ["## Suggested follow-up questions", ""]
        lines.extend(f"- {q}" for q in answer.suggested_followups)
        blocks.append("\n".join(lines))
    blocks.append(f"---\n\n*{answer.disclaimer}*")
    return "\n\n".join(blocks) + "\n"


def plain_text(answer: Answer) -> str:
    """The quoted sentences of the answer, without markers (what a conversation turn keeps).

    The bottom line is left out when a section repeats it; notices are left out entirely.
    """
    seen: set[str] = set()
    sentences = []
    for section in answer.sections:
        if section.kind is SectionKind.NOTICE:
            continue
        for sentence in section.sentences:
            if sentence.kind is SentenceKind.QUOTE and sentence.text not in seen:
                seen.add(sentence.text)
                sentences.append(sentence.text)
    return " ".join(sentences)


def cited_passage_ids(answer: Answer) -> tuple[str, ...]:
    """The passage ids of the references, in citation order."""
    return tuple(r.passage_id for r in sorted(answer.references, key=lambda r: r.n))


# --------------------------------------------------------------------------------- rich


def _sentence_text(sentence: Sentence, *, bullet: bool) -> Text:
    # Text objects, never markup strings: quoted sentences contain "[...]" that rich would
    # otherwise read as style tags.
    text = Text("• " if bullet else "")
    if sentence.kind is not SentenceKind.QUOTE:
        text.append(sentence.text, style="italic yellow")
        return text
    if sentence.label:
        text.append(f"{sentence.label}: ", style="italic")
    text.append(sentence.text)
    if sentence.citations:
        text.append(" " + markers(sentence.citations), style="bold cyan")
    note = study_note(sentence)
    if note:
        text.append(f" ({note})", style="dim italic")
    return text


def _section_renderable(section: AnswerSection) -> RenderableType:
    if section.kind is SectionKind.NOTICE:
        body = Text("\n").join(Text(s.text) for s in section.sentences)
        return Panel(body, title="Note", border_style="yellow", title_align="left")
    heading = Text(section.title, style="bold underline")
    bullet = section.kind is not SectionKind.BOTTOM_LINE
    sentences = [Padding(_sentence_text(s, bullet=bullet), (0, 0, 0, 2)) for s in section.sentences]
    return Group(heading, *sentences, Text(""))


def to_rich(answer: Answer) -> RenderableType:
    """A rich renderable of the answer for the terminal (``Console().print(to_rich(a))``)."""
    parts: list[RenderableType] = [_section_renderable(s) for s in answer.sections]
    if answer.references:
        parts.append(Text("References", style="bold underline"))
        for title, members in _grouped(answer.references):
            parts.append(Padding(Text(title, style="bold"), (0, 0, 0, 2)))
            for reference in members:
                line = Text(f"[{reference.n}] ", style="bold cyan")
                line.append(reference_line(reference).split("] ", 1)[1])
                parts.append(Padding(line, (0, 0, 0, 4)))
        parts.append(Text(""))
    if answer.suggested_followups:
        parts.append(Text("You could also ask", style="bold underline"))
        parts.extend(Padding(Text(f"• {q}"), (0, 0, 0, 2)) for q in answer.suggested_followups)
        parts.append(Text(""))
    parts.append(Text(answer.disclaimer, style="dim italic"))
    return Group(*parts)
