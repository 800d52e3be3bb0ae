"""Quotes that keep their context: the units an answer may quote, and what frames them.

A sentence that leans on an earlier one ("Affected individuals also have ...", "This protein
...", "In this study ...") means nothing, or the wrong thing, on its own. :func:`quote_units`
therefore turns a passage's quotable sentences into *units*:

* a sentence that does not lean back is a unit by itself;
* one that does is joined with the sentence right before it in the same passage, as one
  contiguous span of the passage text (up to :data:`MAX_CHAIN` sentences back, while each
  earlier one leans back too), so the antecedent is quoted with it;
* one that opens a section (right after a MedQuAD heading such as "What causes X?", or at the
  start of the passage) has the page itself as its antecedent: it is kept, and marked so that
  it is always shown with the page's :func:`source_label` ("On African iron overload (GHR)");
* any other (its antecedent was cut as a heading, table or fragment) is not quoted at all.

The module also classifies research sentences (results and conclusions are quoted, methods and
background are not: :func:`research_role`) and finds a study's size where its abstract states
it (:func:`sample_size`). Everything here is pure.

Example:
    >>> leans_back("Affected individuals also have high levels of a protein called ferritin.")
    True
    >>> research_role("Levels of plasma homocysteine, folate and vitamin B12 were also determined.")
    <Role.METHODS: 'methods'>
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from answer.sentences import SentenceSpan, abstract_section
from answer.terms import content_terms, overlap
from corpus.types import Passage
from index.types import Vectors

# How many sentences back a unit may reach for its antecedent (a chain "X is ... . It ... .
# They ... ." is quoted whole; a longer chain is not quoted).
MAX_CHAIN = 2

# Openers that point back at a sentence the reader would not otherwise see. Pronouns and
# demonstratives, connectives that continue an argument, and the noun phrases MedQuAD and
# abstracts use for "the people/condition/study just named".
_LEANS_BACK = re.compile(
    r"^(?:It|Its|It's|This|These|That|Those|They|Their|Them|He|She|He or she|Such|Thus|"
    r"Therefore|However|Also|Here|Both|Hence|In addition|Instead|Additionally|Moreover|"
    r"Furthermore|Similarly|Likewise|Consequently|Otherwise|Then|Soon|Other|Another|"
    r"Affected (?:individuals|people|persons|infants|children|babies|males|females|women|men)|"
    r"People with (?:this|the) (?:condition|disorder|disease|syndrome)|"
    r"(?:The|This|That) (?:condition|disorder|disease|syndrome|protein|enzyme|gene|mutation|"
    r"study|trial|review|analysis|cohort|treatment|therapy|drug|medicine|test|procedure|"
    r"deficiency|finding|result|effect|association|patients?|participants|subjects|group|amount|number|dose|level|rate|value)s?\b"
    # "The treatment for chronic diarrhea ..." names its subject.
    r"(?!\s+(?:of|for|in|with)\b)|"
    r"In (?:this|the|our|these) (?:study|trial|studies|review|analysis|cohort|patients|group|"
    r"population|case)|In (?:both|either|such) cases?|If (?:either|both|neither)|Either|Neither|"
    r"These (?:patients|individuals|people|findings|results|data|children|women|men|subjects)|"
    r"The (?:former|latter|same)|Most of them|Many of them|Some of them|"
    # "Like AMN gene mutations, some CUBN gene mutations ...": compared with the sentence before
    # (not "Like other B vitamins, ...", which compares with a class).
    r"(?:Like|Unlike)\s+(?!(?:other|many|most|all|some|any)\b)[^,]{1,60}?(?=,)|"
    # "Levels above 300 µg/L ...": the measure was named in the sentence before.
    r"(?:Levels?|Values?|Concentrations?|Results?|Readings?)\s+(?:above|below|over|under|"
    r"between|greater|less|higher|lower|of\s+(?:more|less)|in\s+the)"
    r")\b",
)

# A research sentence that only says what was done, or why, is not evidence on its own.
_METHODS = re.compile(
    r"\b(?:(?:was|were|is|are)\s+(?:also\s+)?(?:determined|measured|assessed|collected|"
    r"analy[sz]ed|recorded|obtained|evaluated|examined|enrolled|randomi[sz]ed|included|"
    r"recruited|calculated|estimated|quantified|investigated|studied|compared|followed|"
    r"selected|assigned|allocated|screened|interviewed|performed|conducted|used|tested|"
    r"excluded|defined|matched|stratified|adjusted|undertaken|carried out)\b|"
    r"we\s+(?:then\s+|also\s+|further\s+)?(?:report|describe|present|defined|conducted|performed|used|measured|studied|investigated|examined|assessed|"
    r"analy[sz]ed|enrolled|recruited|randomi[sz]ed|evaluated|compared|aimed|sought|designed|"
    r"hypothesi[sz]ed|tested|reviewed|searched|included|collected|retrospectively)\b|"
    r"(?:aim|objective|purpose|goal)s?\s+of\s+(?:this|the|our)\s+(?:study|trial|work|review)|"
    r"(?:aim|objective|purpose|goal)s?\b[^.]{0,40}?\b(?:was|were|is|are)\s+to\b|"
    r"(?:this|the present|our)\s+study\s+(?:aimed|was designed|examined|investigated|evaluated|"
    r"assessed|sought|explored)|"
    r"\bto\s+(?:determine|assess|investigate|examine|evaluate|explore|compare|test)\s+"
    r"(?:whether|if|the)\b|"
    r"participants\s+received|randomly\s+(?:assigned|allocated)|a total of \d|"
    r"data\s+(?:were|was)\s+(?:collected|obtained|extracted|analy[sz]ed))",
    re.IGNORECASE,
)
# A sentence that states the study's question, or announces explanations without giving them,
# is no finding even when it names one ("We investigated the hypothesis that folic acid ...
# reduce(s) the risk of preeclampsia"; "Possible explanations for the association ... are
# suggested").
_QUESTION_ASKED = re.compile(
    r"\bwe\s+(?:\w+\s+)?(?:investigated|examined|tested|explored|assessed|evaluated|"
    r"hypothesi[sz]ed|aimed|sought)\s+(?:the\s+hypothesis|whether|if|how)\b|"
    r"\b(?:we\s+)?hypothesi[sz]ed\s+that\b|"
    r"\b(?:aim|objective|purpose|goal)s?\b[^.]{0,40}?\b(?:was|were|is|are)\s+to\b|"
    r"\bto\s+(?:determine|assess|investigate|examine|evaluate|explore|test)\s+(?:whether|if)\b|"
    r"\b(?:possible|potential)\s+(?:explanations?|mechanisms?|reasons?)\b[^.]*\b"
    r"(?:are|is|were|was)\s+(?:suggested|discussed|proposed)\b",
    re.IGNORECASE,
)
# What a study starts from, not what it found, whatever finding's words it uses: "Emerging
# evidence suggests that ...", "... remains unknown".
_BACKGROUND = re.compile(
    r"\bemerging evidence\b|\b(?:remains?|is|are)\s+(?:largely\s+|still\s+)?"
    r"(?:unknown|unclear|poorly understood|controversial)\b|\blittle is known\b",
    re.IGNORECASE,
)
# Words of a finding: they make a sentence a result even when it also names a method.
_RESULT = re.compile(
    r"\b(?:significant(?:ly)?|associated|association|correlat\w*|higher|lower|increas\w*|"
    r"decreas\w*|reduc\w*|improv\w*|unchanged|no (?:difference|effect|change)|did not|"
    r"was not|were not|odds ratio|hazard ratio|relative risk|confidence interval|"
    r"p\s*[<=>]|showed|shows|found|suggest\w*|conclu\w*|indicat\w*|demonstrat\w*|"
    r"predict\w*|compared with|versus|prevalence of|risk of)\b|\d+(?:\.\d+)?\s*%",
    re.IGNORECASE,
)

_SAMPLE = re.compile(
    r"\b[nN]\s*=\s*(\d[\d,]*)|"
    r"\b(\d{1,3}(?:,\d{3})+|\d+)\s+(?:[a-z-]+\s+){0,3}?"
    r"(?:patients|participants|subjects|women|men|children|adults|individuals|people|infants|"
    r"volunteers|cases|persons|pregnancies|newborns|neonates|adolescents|students|residents|"
    r"donors|mothers|girls|boys|elderly)\b"
)


# A demonstrative inside the sentence points back as surely as one that opens it: "If vitamin
# B12 deficiency isn't treated, these infants may ...", "A lack of this protein leads to ...",
# "... remained unchanged during the intervention".
_POINTS_BACK = re.compile(
    r"\b(?:this|these|those)\s+(?:condition|disorder|disease|syndrome|protein|enzyme|gene|"
    r"mutation|infants|babies|children|patients|people|individuals|women|men|subjects|"
    r"participants|study|trial|intervention|treatment|drug|cells|findings|results|symptoms|"
    r"signs|factors|tests|problems|complications|steps)\b|"
    r"\bthe\s+intervention\b|"
    r",\s*however\s*,",  # "In AI/ACD, however, iron stores are normal": contrasts with before
    re.IGNORECASE,
)


# The thing a sentence compares with, named before it: "Like AMN gene mutations, ...".
_COMPARED = re.compile(r"(?:Like|Unlike)\s+(?!(?:other|many|most|all|some|any)\b)([^,]{1,60}?),")


def compares_with_unseen(text: str, before: str) -> bool:
    """Whether ``text`` opens by comparing with something ``before`` (the sentence preceding it)
    does not name: "Like AMN gene mutations, ..." after a sentence on cubilin points at a part
    of the page the reader will not see.

    Example:
        >>> compares_with_unseen("Like AMN gene mutations, CUBN gene mutations impair it.",
        ...                      "Without cubilin, B12 is not taken into the body.")
        True
        >>> compares_with_unseen("Like AMN gene mutations, CUBN gene mutations impair it.",
        ...                      "AMN gene mutations impair cubilin's function.")
        False
    """
    compared = _COMPARED.match(text)
    if compared is None:
        return False
    seen = before.lower()
    return not all(word in seen for word in compared.group(1).lower().split() if len(word) > 2)


def leans_back(text: str) -> bool:
    """True when ``text`` opens with a word that refers to an earlier sentence, or names what
    an earlier sentence introduced with "this", "these" or "those"."""
    return _LEANS_BACK.match(text) is not None or _POINTS_BACK.search(text) is not None


# Abbreviations a clinician reads without a definition. Any other, in an abstract's sentence
# that does not define it ("AM recovered from 12 smokers (8 HS, 4 LS) ..."), leaves the reader
# without its meaning: the abstract defined it in a sentence the answer does not show.
KNOWN_ABBREVIATIONS = frozenset(
    [
        "DNA",
        "RNA",
        "HIV",
        "AIDS",
        "BMI",
        "CI",
        "OR",
        "RR",
        "HR",
        "SD",
        "SE",
        "SEM",
        "IQR",
        "IV",
        "US",
        "USA",
        "UK",
        "EU",
        "WHO",
        "FDA",
        "NIH",
        "CDC",
        "UNICEF",
        "MRI",
        "CT",
        "ICU",
        "ECG",
        "EKG",
        "LDL",
        "HDL",
        "CRP",
        "RBC",
        "WBC",
        "CBC",
        "MCV",
        "MI",
        "CHD",
        "CAD",
        "CVD",
        "TIA",
        "HCV",
        "HBV",
        "RDA",
        "RCT",
        "ANOVA",
        "PCR",
        "ELISA",
        "COPD",
        "ADHD",
    ]
)
_ABBREVIATION = re.compile(r"\b([A-Z]{2,6})s?\b")


# An abbreviation an abstract defines in brackets, in any case: "homocysteine (Hcy)", "(tHcy)".
_DEFINED = re.compile(r"\(([A-Za-z][A-Za-z0-9-]{1,7})\)")


def undefined_abbreviation(text: str, abstract: str = "") -> str | None:
    """The first abbreviation ``text`` uses without defining it, unless a clinician knows it.

    An abbreviation is a word in capitals, or one that ``abstract`` (the whole text ``text`` is
    quoted from) defines in brackets, in any case ("homocysteine (Hcy)"). It counts as defined
    when it stands in brackets in ``text`` itself. Capitals with digits (B12, C282Y) are names,
    not abbreviations.

    Example:
        >>> undefined_abbreviation("AM recovered from 12 smokers (8 HS, 4 LS) contained iron.")
        'AM'
        >>> undefined_abbreviation("Risk of MI rose (OR 1.4, 95% CI 1.1-1.8).") is None
        True
        >>> undefined_abbreviation("Folate is a cofactor of Hcy.", "homocysteine (Hcy) ...")
        'Hcy'
    """
    defined = {m.group(1) for m in _DEFINED.finditer(abstract)} - KNOWN_ABBREVIATIONS
    used = [m.group(1) for m in _ABBREVIATION.finditer(text)]
    used += [m.group() for m in re.finditer(r"\b[\w-]+\b", text) if m.group() in defined]
    for word in used:
        if word in KNOWN_ABBREVIATIONS or re.search(rf"\({re.escape(word)}\b", text):
            continue
        return word
    return None


class Role(str, enum.Enum):  # noqa: UP042 - str mixin like the other enums here
    """What a research sentence reports."""

    RESULT = "result"  # a finding or a conclusion: quotable as evidence
    METHODS = "methods"  # what was done or measured, or why: not evidence on its own


# Structured-abstract sections whose sentences say why and how a study was done, not what it
# found; the first part of a combined label decides ("BACKGROUND/OBJECTIVES").
_METHODS_SECTIONS = frozenset(
    {
        *("BACKGROUND", "INTRODUCTION", "CONTEXT", "RATIONALE", "PURPOSE"),
        *("OBJECTIVE", "OBJECTIVES", "AIM", "AIMS"),
        *("METHOD", "METHODS", "MATERIALS AND METHODS", "MATERIAL AND METHODS", "DESIGN"),
        *("SETTING", "SETTINGS", "PARTICIPANTS", "PATIENTS", "SUBJECTS", "INTERVENTION"),
        *("INTERVENTIONS", "MEASUREMENTS", "MAIN OUTCOME MEASURE", "MAIN OUTCOME MEASURES"),
        *("DATA SOURCES", "STUDY SELECTION", "DATA EXTRACTION"),
    }
)


def research_role(text: str, section: str | None = None) -> Role:
    """A research sentence's role: methods when it stands in an abstract's background or
    methods section (``section``, see :func:`answer.sentences.abstract_section`), states what
    was asked or what was not known, or names a method and no finding.

    Example:
        >>> research_role("Folic acid has been suggested to reduce the risk of preeclampsia.",
        ...               "BACKGROUND/OBJECTIVES")
        <Role.METHODS: 'methods'>
    """
    if section is not None and section.split("/")[0] in _METHODS_SECTIONS:
        return Role.METHODS
    if _QUESTION_ASKED.search(text) or _BACKGROUND.search(text):
        return Role.METHODS
    if _METHODS.search(text) and not _RESULT.search(text):
        return Role.METHODS
    return Role.RESULT


def reports_findings(unit: QuoteUnit, passage_text: str) -> bool:
    """Whether a research unit quotes findings: its sentence and any antecedent joined to it
    are results or conclusions, not background or methods ("Methodology: 340 subjects ... were
    studied"). ``passage_text`` is the abstract the unit is a span of."""
    antecedent = unit.span.text[: len(unit.span.text) - len(unit.last)].strip()
    section = abstract_section(passage_text, unit.span.start)
    return all(
        research_role(part, section) is Role.RESULT for part in (antecedent, unit.last) if part
    )


def sample_size(text: str) -> int | None:
    """The number of participants an abstract states (the largest it names), or ``None``.

    Example:
        >>> sample_size("We enrolled 1,024 pregnant women and 12 controls.")
        1024
    """
    sizes = []
    for match in _SAMPLE.finditer(text):
        number = int((match.group(1) or match.group(2)).replace(",", ""))
        if 5 <= number <= 10_000_000 and not 1900 <= number <= 2100:  # years are not sizes
            sizes.append(number)
    return max(sizes) if sizes else None


def topic_of(passage: Passage) -> str:
    """What a passage's page is about: its title up to a " — " heading separator."""
    return passage.topic


def source_label(passage: Passage) -> str:
    """The framing shown before a quote: "On African iron overload (GHR)"."""
    source = f" ({passage.source})" if passage.source else ""
    return f"On {topic_of(passage)}{source}"


def names_topic(text: str, passage: Passage) -> bool:
    """Whether ``text`` itself names what its page is about (half its title's terms, or more)."""
    topic = content_terms(topic_of(passage))
    return not topic or overlap(topic, content_terms(text)) >= 0.5


@dataclass(frozen=True)
class QuoteUnit:
    """A contiguous span of one passage that can be quoted as it stands.

    Attributes:
        span: ``passage.text[span.start:span.end] == span.text``; one sentence or several.
        vector: the unit-length mean of its sentences' embeddings.
        sentences: how many sentences it joins.
        framed: it opens its section with a back-reference, so it is quoted only with the
            page's :func:`source_label`.
        last: the sentence the unit was made for (the others are its antecedents).
    """

    span: SentenceSpan
    vector: Vectors
    sentences: int = 1
    framed: bool = False
    last: str = ""  # the unit's own sentence (the others are its antecedents)

    def __post_init__(self) -> None:
        if not self.last:
            object.__setattr__(self, "last", self.span.text)


def _adjacent(text: str, earlier: SentenceSpan, later: SentenceSpan) -> bool:
    return not text[earlier.end : later.start].strip()


def _opens_section(text: str, spans: Sequence[SentenceSpan], index: int) -> bool:
    """Only the start of the passage, or a heading (a question line), stands right before
    the sentence."""
    previous_end = spans[index - 1].end if index > 0 else 0
    between = text[previous_end : spans[index].start].strip()
    return (index == 0 and not between) or between.endswith("?")


# A sentence that sends the reader to a link the quote cannot show says nothing itself: "For
# more detailed information regarding the treatment of hemochromatosis, please reference
# Medscape at the following link." (GARD).
_POINTS_ELSEWHERE = re.compile(
    r"\bthe following (?:links?|websites?|resources?)\b|\bplease (?:reference|refer to|visit)\b",
    re.IGNORECASE,
)


# A list a sentence may lean on: at most this many items, each of at most this many words.
MAX_LIST_ITEMS = 10
MAX_ITEM_WORDS = 12


def list_before(text: str, start: int, end: int) -> int | None:
    r"""Where the list that ``text[start:end]`` consists of begins: its lead-in line ("Other
    symptoms may include"), then short bullet items, each on its own line, and nothing else.
    ``None`` when ``text[start:end]`` is not such a list.

    Example:
        >>> text = "It hurts. Other symptoms may include\n- Swelling\n- Low fever\nNot all."
        >>> text[list_before(text, 9, text.index("Not")) :].split("\n")[0]
        'Other symptoms may include'
    """
    lines = text[start:end].strip().split("\n")
    lead_in, items = lines[0], lines[1:]
    if not 2 <= len(items) <= MAX_LIST_ITEMS or not all(i.startswith("- ") for i in items):
        return None
    if lead_in.startswith("- ") or lead_in.endswith("?") or len(lead_in.split()) > 25:
        return None  # no lead-in, or a heading: the items would stand alone
    if any(len(item[2:].split()) > MAX_ITEM_WORDS for item in items):
        return None
    return text.index(lead_in, start)


def _joined(text: str, start: int, last: SentenceSpan, vectors: Vectors) -> QuoteUnit:
    """The unit from ``start`` to the end of ``last``, with the unit-length mean of its
    sentences' ``vectors``."""
    total = np.asarray(vectors, np.float32).sum(axis=0)
    norm = float(np.linalg.norm(total))
    span = SentenceSpan(start, last.end, text[start : last.end])
    return QuoteUnit(span, total / norm if norm else total, len(vectors), last=last.text)


def quote_units(
    passage: Passage, spans: Sequence[SentenceSpan], vectors: Vectors
) -> list[QuoteUnit]:
    """The quotable units of ``passage`` (its quotable ``spans`` and their ``vectors``)."""
    text = passage.text
    units: list[QuoteUnit] = []
    for index, span in enumerate(spans):
        before = spans[index - 1].text if index > 0 else ""
        if _POINTS_ELSEWHERE.search(span.text) or compares_with_unseen(span.text, before):
            continue
        if not leans_back(span.text):
            units.append(QuoteUnit(span, vectors[index]))
            continue
        # "Not everyone with appendicitis has all these symptoms." leans on the list before it
        # ("Other symptoms may include / - Low fever"): quoted with the whole list.
        previous_end = spans[index - 1].end if index > 0 else 0
        opens = list_before(text, previous_end, span.start)
        if opens is not None:
            # A lead-in that leans back itself ("Other symptoms ...") brings its antecedents.
            first, leaning = index, leans_back(text[opens : text.index("\n", opens)])
            while leaning and first > 0 and index - first < MAX_CHAIN:
                first -= 1
                leaning = leans_back(spans[first].text)
            if not leaning:
                start = spans[first].start if first < index else opens
                units.append(_joined(text, start, spans[index], vectors[first : index + 1]))
            continue
        first = index
        while (
            first > 0
            and index - first < MAX_CHAIN
            and _adjacent(text, spans[first - 1], spans[first])
        ):
            first -= 1
            if not leans_back(spans[first].text):
                break
        if first < index and not leans_back(spans[first].text):
            units.append(_joined(text, spans[first].start, span, vectors[first : index + 1]))
        elif first == index and _opens_section(text, spans, index):
            units.append(QuoteUnit(span, vectors[index], framed=True))
    return units
