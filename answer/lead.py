"""The lead of an answer: a quote that addresses the question, or a statement of the gap.

A clinician who reads only the lead must learn what the evidence says about *their* question,
or that it is silent on it. So a quote may lead only if it

* covers every focus concept of the question (its own words, or the page it frames with
  :func:`answer.quotes.source_label`, name each one; a relation question needs the quote
  itself to name them all, since a page about one concept cannot relate it to another), and
* fits the question type (:func:`answer.typefit.fits_type`: a dose for a dosage question, a
  treatment for a treatment question, a relation for a relation question ...).

When no quote qualifies, the lead is one of the fixed sentences below, naming the concepts:
a statement *about the evidence*, never a medical claim, never cited, and marked
``evidence_gap`` in the schema. What the evidence does say about each concept follows it, one
labelled quote per concept ("On ferritin (African iron overload, GHR): ...").

Example:
    >>> from retriever.question import analyze
    >>> gap_statement(analyze("Are vitamin B12 levels higher with lower ferritin levels?"))
    'The indexed evidence does not directly relate vitamin B12 levels to ferritin levels.'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from answer.terms import content_terms, overlap
from answer.typefit import direction_of, has_dose, names_next
from retriever.concepts import Concept, concept, named_as_asked
from retriever.question import QuestionAnalysis, QuestionType

# The fixed wording of a gap lead per question type; "{focus}" is the focus concepts joined
# as a list. A relation question with two or more concepts has its own sentence.
_GAP_TEMPLATES: dict[QuestionType, str] = {
    QuestionType.DOSAGE: "The indexed evidence does not state a dose for {focus}.",
    QuestionType.TREATMENT: "The indexed evidence does not directly describe how {focus} is "
    "treated.",
    QuestionType.CAUSE: "The indexed evidence does not directly describe the causes of {focus}.",
    QuestionType.SYMPTOMS: "The indexed evidence does not directly describe the symptoms of "
    "{focus}.",
    QuestionType.DIAGNOSIS: "The indexed evidence does not directly describe how {focus} is "
    "diagnosed or how its tests are read.",
    QuestionType.RISK: "The indexed evidence does not directly describe who is at risk of {focus}.",
    QuestionType.PREVENTION: "The indexed evidence does not directly describe how {focus} is "
    "prevented.",
    QuestionType.PROGNOSIS: "The indexed evidence does not directly describe the outlook of "
    "{focus}.",
    QuestionType.COMPLICATIONS: "The indexed evidence does not directly describe the "
    "complications of {focus}.",
    QuestionType.SIDE_EFFECTS: "The indexed evidence does not directly describe the side "
    "effects of {focus}.",
    QuestionType.INTERACTION: "The indexed evidence does not directly describe interactions "
    "of {focus}.",
    QuestionType.COMPARISON: "The indexed evidence does not directly compare {focus}.",
}
_RELATION_TEMPLATE = "The indexed evidence does not directly relate {first} to {rest}."
_LISTING_TYPES = frozenset({QuestionType.INTERACTION, QuestionType.COMPARISON})
# A test-reading question ("What does a high ferritin mean?").
_READING_TEMPLATE = "The indexed evidence does not directly explain what {direction} {focus} means."
_GENERIC_TEMPLATE = "The indexed evidence does not directly answer this question about {focus}."
# A question about what the index holds no word of ("shingles" over an index on anaemia).
_UNKNOWN_TEMPLATE = "The indexed evidence does not mention {focus}."
# The label of the part that says what the evidence holds on one concept.
_CONCEPT_LABEL = "On {concept}"


def listing(names: Sequence[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    if len(names) <= 2:
        return " and ".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def gap_statement(analysis: QuestionAnalysis, *, between: bool = True) -> str:
    """The fixed evidence-gap sentence for ``analysis`` (which has at least one concept).

    ``between=False`` names the gap in the question's type even for several concepts: after a
    quote that relates them and answers another part of the question, "does not directly
    relate X to Y" would contradict it.
    """
    names = [c.name for c in analysis.focus]  # as asked, qualifier kept
    # The type templates speak of one subject ("how X is treated"); a question on several
    # links them ("Can X cause Y?", "Is X good for Y?"), and the gap is between them, unless
    # its template lists them itself (interactions of X and Y; compare X and Y).
    if between and len(names) >= 2 and analysis.qtype not in _LISTING_TYPES:
        return _RELATION_TEMPLATE.format(first=names[0], rest=listing(names[1:]))
    direction = direction_of(analysis.question)
    if analysis.qtype is QuestionType.DIAGNOSIS and direction is not None:
        return _READING_TEMPLATE.format(direction=direction, focus=listing(names))
    template = _GAP_TEMPLATES.get(analysis.qtype, _GENERIC_TEMPLATE)
    return template.format(focus=listing(names))


def unknown_statement(analysis: QuestionAnalysis) -> str:
    """The fixed sentence for a question about concepts the index holds no word of
    (``analysis.unknown``): "The indexed evidence does not mention shingles." """
    return _UNKNOWN_TEMPLATE.format(focus=listing([c.name for c in analysis.unknown]))


def concept_label(subject: Concept, topic: str | None, source: str | None) -> str:
    """ "On ferritin" or, when the quote's page is about something else, "On ferritin
    (African iron overload, GHR)"."""
    label = _CONCEPT_LABEL.format(concept=subject.name)
    where = [part for part in (topic, source) if part]
    return f"{label} ({', '.join(where)})" if where else label


# Qualifiers that narrow a concept without changing what it is about, and what remains: a
# sentence on vitamin B12 speaks to "vitamin B12 deficiency" and "vitamin B12 levels"
# questions, one on iron deficiency to "iron-deficiency anemia" questions. Looser than
# Concept.mentioned_in (retriever.concepts.TRANSPARENT_QUALIFIERS), on purpose: a quote may
# speak to the question's subject without naming its condition; but a sentence on iron is no
# sentence on taking iron supplements, so "supplements" is not dropped here.
_QUALIFIERS = {
    "deficiency anemia": "deficiency",
    "deficiency anaemia": "deficiency",
    "deficiency": "",
    "deficiencies": "",
    "levels": "",
    "level": "",
    "status": "",
    "concentration": "",
    "concentrations": "",
    "overload": "",
}


@lru_cache(maxsize=4096)
def core(c: Concept) -> Concept | None:
    """The concept without its qualifier ("vitamin B12" for "vitamin B12 deficiency"), when
    the qualifier is one of :data:`_QUALIFIERS` ("iron supplements" keeps its qualifier: a
    sentence on iron is not one on taking it)."""
    name = c.name.lower().replace("-", " ")
    for qualifier, remains in _QUALIFIERS.items():
        if name.endswith(" " + qualifier):
            return concept(f"{name[: -len(qualifier) - 1]} {remains}".strip())
    return None


# A concept of several words is also named by a text holding most of its words in any form
# ("white blood cell count" by "... the number of white blood cells ...").
MULTIWORD_SHARE = 0.75


@lru_cache(maxsize=65536)
def mentions(c: Concept, text: str) -> bool:
    """Whether ``text`` names the concept, the concept without its qualifier, or (for a
    concept of three or more content words) at least :data:`MULTIWORD_SHARE` of its stemmed
    content words. Cached: one answer asks it of the same sentences and page titles many
    times (coverage, gap parts, suggestions)."""
    asked = named_as_asked(c)
    if asked is not c:  # "iron supplements": a sentence on iron does not name them, unless it
        # gives a dose of it ("a maximum at 0.8 mg of folic acid per day"): that is taking it
        return asked.mentioned_in(text) or (concept(c.head).mentioned_in(text) and has_dose(text))
    bare = core(c)
    if c.mentioned_in(text) or (bare is not None and bare.mentioned_in(text)):
        return True
    words = content_terms(c.name)
    return len(words) >= 3 and overlap(words, content_terms(text)) >= MULTIWORD_SHARE


def names(c: Concept, text: str) -> bool:
    """Whether ``text`` names the concept, or the condition it is a form of ("iron deficiency"
    for "iron-deficiency anemia"), but not its bare head ("iron"): stricter than
    :func:`mentions`, for text with no page to frame it (a study).

    Example:
        >>> names(concept("iron-deficiency anemia"), "Half were iron-deficient.")
        True
        >>> names(concept("iron deficiency"), "Pulmonary iron accumulation was found.")
        False
    """
    bare = core(c)
    return c.mentioned_in(text) or (
        bare is not None and bare.qualifier is not None and bare.mentioned_in(text)
    )


def covers(focus: Sequence[Concept], text: str, frame: str | None = None) -> int:
    """How many focus concepts ``text`` (or the page ``frame`` naming its topic) mentions."""
    return sum(1 for c in focus if mentions(c, text) or (frame and mentions(c, frame)))


# Words that narrow a condition to some of its cases: "Severe iron-deficiency anemia may require
# treatment in a hospital" is about severe cases, not the answer for everyone who has it; "The
# symptoms of iron-refractory iron deficiency anemia ..." are those of a rare inherited form.
_SEVERITIES = r"(?:less |more |very )?(?:severe|mild|moderate|advanced|life-threatening)"
_KINDS = (
    r"primary|secondary|hereditary|inherited|acquired|congenital|chronic|acute|juvenile|"
    r"childhood|neonatal|[a-z]+-(?:refractory|resistant|induced|linked|onset|dependent)"
)
_NARROWING = re.compile(
    rf"\b({_SEVERITIES}|{_KINDS})\b\s*(?:(?:cases?|forms?|types?) of\s+)?", re.IGNORECASE
)


def narrowings(text: str) -> frozenset[str]:
    """The words that narrow a condition in ``text`` ("How is severe anemia treated?":
    ``{"severe"}``), lower-cased."""
    return frozenset(word for word, _ in _narrowing_words(text))


def narrowing_of(focus: Sequence[Concept], text: str) -> str | None:
    """The word that narrows a focus concept to some of its cases in ``text`` ("severe
    iron-deficiency anemia", "iron-refractory iron deficiency anemia"), or ``None`` when it
    speaks of the concept as such.

    Example:
        >>> anemia = concept("iron-deficiency anemia")
        >>> narrowing_of([anemia], "Severe iron-deficiency anemia may require a transfusion.")
        'severe'
        >>> narrowing_of([anemia], "Iron-deficiency anemia is treated with iron supplements.")
    """
    for word, end in _narrowing_words(text):
        # The concept right after the word (a little slack for "iron-deficiency anaemias").
        if names_next(focus, text, end, slack=8):
            return word
    return None


@lru_cache(maxsize=65536)
def _narrowing_words(text: str) -> tuple[tuple[str, int], ...]:
    """Each narrowing word of ``text``, lower-cased, and where its phrase ends. Cached: the
    same sentences are judged for every question that retrieves them."""
    return tuple((m.group(1).lower(), m.end()) for m in _NARROWING.finditer(text))
