"""Concepts: what a question or a sentence is about, and when a text mentions it.

A :class:`Concept` has a display name (canonical when the synonym table knows it), a head (the
core entity) and a qualifier (a condition or measure word attached to it: :data:`QUALIFIERS`),
and the lower-cased terms whose presence in a text counts as a mention
(:meth:`Concept.mentioned_in`). :data:`SYNONYMS` is the one synonym table of the engine
(B12 / cobalamin / cyanocobalamin, anemia / anaemia, iron deficiency / low iron, ...);
:func:`concept` builds a concept from a phrase through it. Pure, no I/O.

Example:
    >>> concept("B12 deficiency").name
    'vitamin B12 deficiency'
    >>> concept("anemia").mentioned_in("Iron-deficiency anaemias are common.")
    True
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache


class EntityKind(str, enum.Enum):  # noqa: UP042 - str mixin like the project's other enums
    """What an entry of the synonym table is; drives qualifiers and type refinements."""

    NUTRIENT = "nutrient"  # takes "deficiency", "anemia", "overload" ...
    LAB = "lab"  # a measured value: "high ferritin" asks for test interpretation
    CONDITION = "condition"
    DRUG = "drug"  # "X causes Y" about a drug asks for side effects


# --------------------------------------------------------------------------------------------
# The synonym table.
# --------------------------------------------------------------------------------------------


def _alternatives(text: str) -> tuple[str, ...]:
    """``"a | b c"`` -> ``("a", "b c")``: the tables below read better as text."""
    return tuple(v.strip() for v in text.split("|"))


SYNONYMS: dict[str, tuple[str, ...]] = {
    # Nutrients (the demo corpus is about anaemia and vitamins).
    "vitamin B12": _alternatives(
        "vitamin b12 | b12 | b-12 | vitamin b-12 | vit b12 | cobalamin | cobalamine | "
        "cyanocobalamin | methylcobalamin | hydroxocobalamin | hydroxycobalamin"
    ),
    "folate": _alternatives("folate | folic acid | vitamin b9 | b9 | folacin | methylfolate"),
    "iron": _alternatives("iron"),
    "iron deficiency": _alternatives(
        "iron deficiency | iron-deficiency | low iron | iron deficient | sideropenia"
    ),
    "vitamin D": _alternatives("vitamin d | vit d | cholecalciferol | ergocalciferol | calciferol"),
    "vitamin C": _alternatives("vitamin c | vit c | ascorbic acid"),
    "calcium": _alternatives("calcium"),
    "magnesium": _alternatives("magnesium"),
    "zinc": _alternatives("zinc"),
    "potassium": _alternatives("potassium"),
    "iodine": _alternatives("iodine"),
    "copper": _alternatives("copper"),
    # Laboratory measures.
    "ferritin": _alternatives("ferritin | serum ferritin"),
    "hemoglobin": _alternatives("hemoglobin | haemoglobin | hgb | hb"),
    "homocysteine": _alternatives("homocysteine | hcy"),
    "methylmalonic acid": _alternatives("methylmalonic acid | mma"),
    "white blood cell count": _alternatives(
        "white blood cell count | white cell count | white blood count | leukocyte count | wbc | "
        "wbc count"
    ),
    "complete blood count": _alternatives("complete blood count | full blood count | cbc | fbc"),
    "body mass index": _alternatives("body mass index | bmi"),  # "body" alone is generic
    # Conditions, with the abbreviations and adjective forms users type.
    "anemia": _alternatives("anemia | anaemia | anemic | anaemic"),
    "pernicious anemia": _alternatives(
        "pernicious anemia | pernicious anaemia | addisonian anemia | addisonian anaemia"
    ),
    "hypertension": _alternatives("hypertension | high blood pressure"),
    "deep vein thrombosis": _alternatives("deep vein thrombosis | deep venous thrombosis | dvt"),
    "age-related macular degeneration": _alternatives(
        "age-related macular degeneration | age related macular degeneration | amd | armd"
    ),
    "granulomatosis with polyangiitis": _alternatives(
        "granulomatosis with polyangiitis | wegener's granulomatosis | wegener granulomatosis | "
        "wegener's | wegeners | gpa"
    ),
    "common variable immunodeficiency": _alternatives("common variable immunodeficiency | cvid"),
    "hereditary neuropathy with liability to pressure palsies": _alternatives(
        "hereditary neuropathy with liability to pressure palsies | hnpp"
    ),
    "normal pressure hydrocephalus": _alternatives("normal pressure hydrocephalus | nph"),
    "shingles": _alternatives("shingles | herpes zoster | zoster"),
    "gastroesophageal reflux disease": _alternatives(
        "gastroesophageal reflux disease | gastro-oesophageal reflux disease | gerd | gord | "
        "acid reflux"
    ),
    "chronic obstructive pulmonary disease": _alternatives(
        "chronic obstructive pulmonary disease | copd"
    ),
    "urinary tract infection": _alternatives("urinary tract infection | uti"),
    "asthma": _alternatives("asthma | asthmatic | asthmatics"),
    "diabetes": _alternatives("diabetes | diabetes mellitus | diabetic | diabetics"),
    "epilepsy": _alternatives("epilepsy | epileptic | epileptics"),
    "erectile dysfunction": _alternatives("erectile dysfunction | impotence"),
    # Diets, also named by who keeps them ("strict vegetarians").
    "vegetarian diet": _alternatives("vegetarian diet | vegetarian | vegetarianism"),
    "vegan diet": _alternatives("vegan diet | vegan | veganism"),
    # Drugs and drug classes.
    "NSAIDs": _alternatives(
        "nsaids | nsaid | non-steroidal anti-inflammatory drugs | nonsteroidal anti-inflammatory "
        "drugs | non-steroidal anti-inflammatory drug | nonsteroidal anti-inflammatory drug | "
        "non-steroidal anti-inflammatories"
    ),
    "proton pump inhibitors": _alternatives(
        "proton pump inhibitors | proton pump inhibitor | ppis | ppi"
    ),
    "metformin": _alternatives("metformin | glucophage"),
    "acetaminophen": _alternatives("acetaminophen | paracetamol | tylenol"),
    "ibuprofen": _alternatives("ibuprofen | advil | motrin"),
    "aspirin": _alternatives("aspirin | acetylsalicylic acid"),
}
"""Canonical display name -> lower-cased variants (the canonical spelling first).

Matching is done after :func:`normalize`, so "B-12"/"B12", "anaemia"/"anemia",
"iron-deficiency"/"iron deficiency" and plural forms meet without listing each spelling.
Entries cover the demo corpus (anaemia, vitamins), abbreviations seen in LiveQA questions and a
few common drug names; extend it, do not special-case words in the rules."""

KINDS: dict[str, EntityKind] = {
    **dict.fromkeys(
        (
            "vitamin B12",
            "folate",
            "iron",
            "vitamin D",
            "vitamin C",
            "calcium",
            "magnesium",
            "zinc",
            "potassium",
            "iodine",
            "copper",
        ),
        EntityKind.NUTRIENT,
    ),
    **dict.fromkeys(
        (
            "ferritin",
            "hemoglobin",
            "homocysteine",
            "methylmalonic acid",
            "white blood cell count",
            "complete blood count",
            "body mass index",
        ),
        EntityKind.LAB,
    ),
    **dict.fromkeys(
        ("NSAIDs", "proton pump inhibitors", "metformin", "acetaminophen", "ibuprofen", "aspirin"),
        EntityKind.DRUG,
    ),
}
"""Kind of the synonym-table entries that are not plain conditions."""

QUALIFIERS: dict[str, tuple[str, ...]] = {
    "deficiency anemia": ("deficiency anemia", "deficiency anaemia", "deficient anemia"),
    "deficiency": ("deficiency", "deficiencies", "deficient"),
    "anemia": ("anemia", "anaemia"),
    "overload": ("overload",),
    "toxicity": ("toxicity",),
    "levels": ("levels", "level", "concentration", "concentrations", "status", "stores", "store"),
    "supplements": ("supplements", "supplement", "supplementation"),
    "intake": ("intake",),
}
"""Condition or measure words that attach to a head ("vitamin B12 levels", "iron overload").

The key is the display form; "iron deficiency anemia" has head "iron" and qualifier
"deficiency anemia" (the longest variant wins)."""

TRANSPARENT_QUALIFIERS = frozenset({"levels", "supplements", "intake"})
"""Qualifiers that measure or supply the head: a text that mentions "ferritin" mentions
"ferritin levels". A deficiency or an overload is a condition of its own, so "iron" alone is not
a mention of "iron deficiency"."""

SUPPLY_QUALIFIERS = frozenset({"supplements"})
"""Transparent qualifiers that a text on the head alone does not answer for: a search for
"iron supplements" may find a page on iron, but a sentence on iron is not one on taking iron
supplements (:func:`named_as_asked`)."""

NUTRIENT_QUALIFIERS = frozenset({"deficiency anemia", "anemia"})
"""Qualifiers that attach only after a nutrient: "pernicious anemia" stays one entity."""

MODIFIERS = frozenset(
    "early late chronic acute severe mild moderate serum plasma total free oral "  # noqa: SIM905
    "recurrent advanced".split()
)
"""Leading words that do not change what a known entity is: "early AMD" mentions AMD."""

SYMPTOM_WORDS = frozenset(
    _alternatives(
        "ache | bleeding | bloating | blurred vision | breathlessness | bruising | chills | "
        "confusion | constipation | cough | cramping | cramps | diarrhea | difficulty swallowing | "
        "dizziness | dizzy | drowsiness | fainting | fatigue | fever | hair loss | headache | "
        "heartburn | insomnia | itch | itching | itchy | jaundice | loss of appetite | "
        "memory loss | nausea | night sweats | numbness | pain | pale skin | paleness | pallor | "
        "palpitations | rash | seizures | shortness of breath | sore throat | sweating | "
        "swelling | tingling | tired | tiredness | tremor | vomiting | weakness | weight loss"
    )
)
"""Symptoms and signs, for "Does X cause <symptom>?" (a SYMPTOMS question) and for the answer
layer's symptom vocabulary."""

_SYMPTOM_TERMS = tuple(sorted(SYMPTOM_WORDS))

_DRUG_SUFFIX = re.compile(
    r"\w{3,}(?:formin|statins?|pril|sartan|olol|azoles?|mycin|cillin|cyclines?|dipine|prazole|"
    r"tidine|oxetine|triptan|afil|parin|xaban|gliptin|glitazone|profen|coxib|semide|thiazide|"
    r"codone|morphone|azepam|azolam|barbital|caine|dronate|lukast|mab|tinib|ciclovir|clovir|"
    r"tadine|setron|isone|olone|adone|pentin|triptyline|pramine)\b"
)
"""INN stems (WHO "Use of stems in the selection of INNs") that mark a word as a drug name."""


# --------------------------------------------------------------------------------------------
# Text normalisation and concepts.
# --------------------------------------------------------------------------------------------

_LETTER_DIGIT_HYPHEN = re.compile(r"(?<=[a-z])-(?=\d)")
_INNER_HYPHEN = re.compile(r"(?<=\w)[-/](?=\w)")
_POSSESSIVE = re.compile(r"'s\b")
# A word: letters and digits, with inner apostrophes, hyphens, slashes and dots ("B-12", "o'clock").
TOKEN = re.compile(r"[^\W_]+(?:['\u2019][^\W\d_]+|[-/.][^\W_]+)*")
_DIGRAPH = re.compile(r"ae|oe")  # British spellings: anaemia, haemoglobin, diarrhoea, oestrogen
_SPACES = re.compile(r"\s+")


@lru_cache(maxsize=65536)
def normalize(text: str) -> str:
    """Lower-case ``text`` and fold spellings that should meet when matching.

    Letter-digit hyphens close up ("B-12" -> "b12"), other inner hyphens and slashes become
    spaces, a possessive "'s" goes, "ae"/"oe" become "e" (anaemia, haemoglobin, diarrhoea).
    Applied to both sides of every comparison, so the folding need not be linguistically exact.
    Cached: an answer checks the same sentences against every focus concept.

    Example:
        >>> normalize("Vitamin B-12 and iron-deficiency anaemia (Wegener's)")
        'vitamin b12 and iron deficiency anemia (wegener)'
    """
    t = text.lower().replace("\u2019", "'")
    t = _POSSESSIVE.sub("", t)
    t = _LETTER_DIGIT_HYPHEN.sub("", t)
    t = _INNER_HYPHEN.sub(" ", t)
    t = _DIGRAPH.sub("e", t)
    return _SPACES.sub(" ", t).strip()


def _lookup_table() -> dict[str, str]:
    table: dict[str, str] = {}
    for canonical, variants in SYNONYMS.items():
        for variant in (canonical.lower(), *variants):
            table.setdefault(normalize(variant), canonical)
    return table


SYNONYM_OF = _lookup_table()  # normalised variant -> canonical name
MAX_SYNONYM_WORDS = max(len(v.split()) for v in SYNONYM_OF)
QUALIFIER_OF = {normalize(v): key for key, vs in QUALIFIERS.items() for v in vs}


# Diseases named by a symptom and a word before it: "fever" is not mentioned in "rheumatic
# fever", a disease of its own.
NAMED_WITH = {
    "fever": (
        "rheumatic",
        "scarlet",
        "yellow",
        "hay",
        "typhoid",
        "paratyphoid",
        "dengue",
        "q",
        "valley",
        "lassa",
        "glandular",
        "relapsing",
        "spotted",
        "familial mediterranean",
    ),
}


def _term_pattern(term: str) -> str:
    words = normalize(term).split()
    last = words[-1]
    # Tolerate a plural on the last word; "aids" stays whole so "first aid" is no mention.
    if len(last) > 4 and last.endswith("s") and not last.endswith("ss"):
        last = last[:-1]
    # Not part of a disease named after it ("rheumatic fever" for "fever").
    named = NAMED_WITH.get(last, ()) if len(words) == 1 else ()
    guard = "".join(f"(?<!{re.escape(word)} )" for word in named)
    # Words may also be written as one ("second hand smoke": "secondhand smoke").
    return guard + r"\s*".join([*map(re.escape, words[:-1]), re.escape(last) + "(?:s|es)?"])


@lru_cache(maxsize=4096)
def _mention_regex(terms: tuple[str, ...]) -> re.Pattern[str] | None:
    patterns = sorted({_term_pattern(t) for t in terms if normalize(t)}, key=len, reverse=True)
    if not patterns:
        return None
    # One pair of word boundaries around the alternatives, not one per alternative: the
    # engine then scans for the alternatives' first letters, about ten times faster.
    return re.compile(r"(?<![a-z0-9])(?:" + "|".join(patterns) + r")(?![a-z0-9])")


@dataclass(frozen=True)
class Concept:
    """A thing a question is about.

    Attributes:
        name: Display name, canonical when the synonym table knows it ("vitamin B12
            deficiency" for "B12 deficiency").
        head: The core entity ("vitamin B12" for "vitamin B12 deficiency").
        qualifier: A condition or measure word attached to the head as asked ("deficiency",
            "levels", "deficiency anemia"), or ``None``.
        terms: Lower-cased variants whose presence in a text counts as a mention.
        said: The user's own words for a synonym-table entity named by a synonym ("folic acid"
            for folate), else ``None``. Not part of the concept's identity.

    Example:
        >>> c = concept("B12 levels")
        >>> c.name, c.head, c.qualifier
        ('vitamin B12 levels', 'vitamin B12', 'levels')
        >>> c.mentioned_in("Serum cobalamin was measured."), c.mentioned_in("Iron was low.")
        (True, False)
    """

    name: str
    head: str
    qualifier: str | None
    terms: tuple[str, ...]
    said: str | None = field(default=None, compare=False)

    @property
    def as_said(self) -> Concept:
        """The concept named in the user's words, for text the user reads back or searches with:
        "Why does folic acid matter?" finds the pages that say folic acid.

        Example:
            >>> concept("folic acid").name, concept("folic acid").as_said.name
            ('folate', 'folic acid')
        """
        return replace(self, name=self.said) if self.said else self

    def mentioned_in(self, text: str) -> bool:
        """Whether ``text`` mentions the concept: any term, on word boundaries, ignoring case,
        hyphens, British spellings, a plural ending and words written as one ("second hand
        smoke": "secondhand smoke").

        Example:
            >>> concept("anemia").mentioned_in("Iron-deficiency anaemias are common.")
            True
        """
        regex = _mention_regex(self.terms)
        return regex is not None and regex.search(normalize(text)) is not None


def _dedupe(items: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(i for i in items if i))


def _variants(phrase: str) -> tuple[str, ...]:
    canonical = SYNONYM_OF.get(normalize(phrase))
    return SYNONYMS[canonical] if canonical else (phrase.lower(),)


def _qualified(head: str, qualifier: str) -> Concept:
    heads = _variants(head)
    quals = QUALIFIERS[qualifier]
    name = f"{head} {qualifier}"
    terms = [f"{h} {q}" for h in heads for q in quals]
    if qualifier == "deficiency":
        terms += [f"low {h}" for h in heads] + [f"deficiency of {h}" for h in heads]
    terms += SYNONYMS.get(SYNONYM_OF.get(normalize(name), ""), ())
    if qualifier in TRANSPARENT_QUALIFIERS:
        terms += heads
    return Concept(name=name, head=head, qualifier=qualifier, terms=_dedupe(terms))


def named_as_asked(c: Concept) -> Concept:
    """``c`` without the terms that name only its head when its qualifier supplies the head
    (:data:`SUPPLY_QUALIFIERS`): the mentions that say what was asked about. Any other
    concept is returned as it is."""
    if c.qualifier not in SUPPLY_QUALIFIERS:
        return c
    heads = set(_variants(c.head))
    return replace(c, terms=tuple(t for t in c.terms if t not in heads))


def _split_qualifier(words: Sequence[str]) -> tuple[str, str] | None:
    """``(head phrase, qualifier key)`` when ``words`` is a head followed (or, with "of",
    preceded) by a qualifier; a bare qualifier has no head and is not split."""
    for size in (2, 1):
        if len(words) > size:
            key = QUALIFIER_OF.get(normalize(" ".join(words[-size:])))
            head = " ".join(words[:-size])
            if key and (key not in NUTRIENT_QUALIFIERS or _is_nutrient(head)):
                return head, key
        if len(words) > size + 1 and words[size].lower() == "of":
            key = QUALIFIER_OF.get(normalize(" ".join(words[:size])))
            if key and key not in NUTRIENT_QUALIFIERS:
                return " ".join(words[size + 1 :]), key
    if len(words) > 1 and words[0].lower() == "low" and _is_nutrient(" ".join(words[1:])):
        return " ".join(words[1:]), "deficiency"
    return None


def _is_nutrient(phrase: str) -> bool:
    return KINDS.get(SYNONYM_OF.get(normalize(phrase), "")) is EntityKind.NUTRIENT


def _contained_entity(words: Sequence[str]) -> tuple[int, int, str] | None:
    """The longest synonym-table phrase inside ``words``: ``(start, end, canonical)``."""
    for size in range(min(len(words), MAX_SYNONYM_WORDS), 0, -1):
        for start in range(len(words) - size + 1):
            canonical = SYNONYM_OF.get(normalize(" ".join(words[start : start + size])))
            if canonical:
                return start, start + size, canonical
    return None


def build_concept(surface: str, aliases: Sequence[str] = ()) -> Concept:
    words = [t.group() for t in TOKEN.finditer(surface)]
    if not words:
        raise ValueError(f"a concept needs at least one word, got {surface!r}")
    phrase = " ".join(words)
    canonical = SYNONYM_OF.get(normalize(phrase))
    base = canonical or phrase
    split = _split_qualifier(base.split() if canonical else words)
    inner = None
    if split is not None and split[1] in TRANSPARENT_QUALIFIERS:
        inner = build_concept(split[0])
    if inner is not None and inner.qualifier not in (None, *TRANSPARENT_QUALIFIERS):
        # A measure of a condition is the condition: "low iron stores" is iron deficiency.
        built = Concept(inner.name, inner.head, inner.qualifier, (*inner.terms, phrase.lower()))
    elif split is not None:
        head_phrase, qualifier = split
        built = _qualified(SYNONYM_OF.get(normalize(head_phrase), head_phrase), qualifier)
    elif canonical:
        said = phrase if normalize(phrase) != normalize(canonical) else None
        built = Concept(canonical, canonical, None, _dedupe(SYNONYMS[canonical]), said)
    else:
        built = _plain(words)
    if aliases:
        built = replace(built, terms=_dedupe([*built.terms, *aliases]))
    return built


def _plain(words: Sequence[str]) -> Concept:
    phrase = " ".join(words)
    inner = _contained_entity(words)
    if inner is None:
        return Concept(phrase, phrase, None, (phrase.lower(),))
    start, end, canonical = inner
    before, after = " ".join(words[:start]).lower(), " ".join(words[end:]).lower()
    terms = [" ".join(filter(None, (before, v, after))) for v in SYNONYMS[canonical]]
    rest = [w.lower() for w in (*words[:start], *words[end:])]
    if all(w in MODIFIERS for w in rest):  # "early AMD" is AMD; "sickle cell anemia" is not anemia
        return Concept(
            phrase, canonical, None, _dedupe([phrase.lower(), *terms, *SYNONYMS[canonical]])
        )
    return Concept(phrase, phrase, None, _dedupe([phrase.lower(), *terms]))


def concept(name: str) -> Concept:
    """Build a :class:`Concept` from a phrase, applying the synonym and qualifier tables.

    Args:
        name: A noun phrase as a user would write it ("B12", "low iron", "ferritin levels").

    Returns:
        The concept, with its canonical name, head, qualifier and mention terms.

    Raises:
        ValueError: If ``name`` has no word in it.

    Example:
        >>> concept("low iron").name, concept("iron deficiency anaemia").qualifier
        ('iron deficiency', 'deficiency anemia')
    """
    return build_concept(name)


def with_head(old: Concept, new: Concept) -> Concept:
    """``new``'s head with ``old``'s qualifier, for a follow-up that swaps the subject.

    "And for B12?" after a question about iron deficiency is about vitamin B12 deficiency.
    When ``new`` has a qualifier of its own, or ``old`` has none, ``new`` is returned as is.

    Example:
        >>> with_head(concept("iron deficiency"), concept("B12")).name
        'vitamin B12 deficiency'
        >>> with_head(concept("ferritin levels"), concept("folate")).name
        'folate levels'
    """
    if old.qualifier is None or new.qualifier is not None:
        return new
    if old.qualifier in NUTRIENT_QUALIFIERS and not _is_nutrient(new.head):
        return new
    return _qualified(new.head, old.qualifier)


def is_known(c: Concept) -> bool:
    """Whether ``c`` is about an entry of the synonym table (its head is one).

    Example:
        >>> is_known(concept("B12 deficiency")), is_known(concept("kettle descaling"))
        (True, False)
    """
    return c.head in SYNONYMS


def renamed(concepts: Sequence[Concept], text: str) -> tuple[str, ...]:
    """The synonym table's names of the entities in ``concepts`` that ``text`` words otherwise
    ("Wegener's" is granulomatosis with polyangiitis), so that a search for ``text`` can also
    find the pages that use the name. Concepts the table does not know keep their words.

    Example:
        >>> q = "Can strep cause Wegener's? Is nph rare?"
        >>> renamed([concept("Wegener's"), concept("nph"), concept("strep")], q)
        ('granulomatosis with polyangiitis', 'normal pressure hydrocephalus')
        >>> renamed([concept("anaemia")], "Is anaemia common?")
        ()
    """
    said = normalize(text)
    heads = [c.head for c in concepts if is_known(c)]
    return _dedupe([h for h in heads if (r := _mention_regex((h,))) and not r.search(said)])


def is_drug(c: Concept) -> bool:
    """Whether the concept names a drug: a drug in the synonym table or a word with an INN stem.

    Example:
        >>> is_drug(concept("metformin")), is_drug(concept("simvastatin")), is_drug(concept("iron"))
        (True, True, False)
    """
    if KINDS.get(c.head) is EntityKind.DRUG:
        return True
    return _DRUG_SUFFIX.search(c.name.lower()) is not None


def is_symptom(c: Concept) -> bool:
    """Whether the concept names a symptom or sign (:data:`SYMPTOM_WORDS`).

    Example:
        >>> is_symptom(concept("facial itch")), is_symptom(concept("infertility"))
        (True, False)
    """
    regex = _mention_regex(_SYMPTOM_TERMS)
    return regex is not None and regex.search(normalize(c.name)) is not None
