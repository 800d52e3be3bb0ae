"""Rule-based question analysis: what a question is about, what kind of answer it wants, and
how it is worded around its subject. Pure functions, no model and no I/O.

:func:`analyze` returns a :class:`QuestionAnalysis`:

* **Focus.** The concepts the question is about, in surface order. Question words, auxiliaries,
  type cues ("treated", "dose", "symptoms", "higher"), generic words ("people", "take", "safe")
  and population words ("pregnancy", "children") are removed; what is left is cut into runs of
  content words at prepositions, conjunctions and punctuation (a rule-based noun-phrase
  chunker). A run ``Q of X`` whose ``Q`` is only a qualifier ("deficiency of vitamin B12") and a
  run of proper nouns joined by "of" ("Game of Thrones") are kept whole; a parenthesis right
  after a concept ("trisomy 13 (Patau syndrome)") becomes an alias of it. Phrases of the
  :data:`SYNONYMS` table are matched first, so "high blood pressure" and "granulomatosis with
  polyangiitis" survive the chunker. With a :class:`Vocabulary` (the index's), words the index
  does not know are dropped, but a concept is kept whole if any of its terms is known.
* **Concept.** A display name (canonical when the synonym table knows it), a head (the core
  entity) and a qualifier (a condition or measure word attached to it: :data:`QUALIFIERS`), and
  the lower-cased terms whose presence in a text counts as a mention (:meth:`Concept.mentioned_in`).
* **Type.** Cue patterns in one table (:data:`CUES`), each with the :class:`QuestionType` it
  signals and an optional condition; no ``elif`` ladder. All types found are reported in order of
  appearance; the main type is the first *strong* cue of the last sentence that has one (so in
  "How is iron deficiency treated? What dose?" it is DOSAGE). A definition cue ("What is X?") is
  weak: "What is X and how is it diagnosed?" is DIAGNOSIS. So is a "why" that asks what a thing
  is for ("Why does the body need folic acid?", "Why is iron important?"): a DEFINITION, not a
  CAUSE, since the answer says what it does. "X causes Y" is refined to the more
  specific SIDE_EFFECTS when X is a drug (:func:`is_drug`) and to SYMPTOMS when Y is a symptom
  (:data:`SYMPTOM_WORDS`). With no cue, a yes/no question about two concepts is RELATION, anything
  else OTHER.
* **Frame.** The question (leading greetings and "and"/"so" removed) with each focus concept
  replaced by a placeholder: ``{focus}`` for the first, ``{focus2}``, ``{focus3}`` ... for the
  others, in order of appearance (:func:`fill` puts names back). A question with no focus is
  its own frame; a question that is only a focus ("And for B12?") has none.
* **Population.** Words naming who is asked about (pregnancy, children, elderly, women ...) are
  context, not focus, unless the question has no other subject and does not refer back ("What
  are the symptoms of pregnancy?") and the caller allows it (``population_focus``: inside a
  conversation with a focus, never). "The body" and "medicine" are generic words, not focus.
* **Refers back.** A pronoun or an elliptical cue ("it", "they", "this", "what about",
  "and for" ...) leans on an earlier focus; so does a question with no focus at all ("What
  dose?").

One general typo rule: a first word that starts with "wh" and is followed by an auxiliary
("Whar are Schmorl's nodes?") is read as "what".

Example:
    >>> a = analyze("How is iron deficiency treated?")
    >>> a.focus[0].name, a.focus[0].head, a.focus[0].qualifier, a.qtype.value, a.frame
    ('iron deficiency', 'iron', 'deficiency', 'treatment', 'How is {focus} treated?')
    >>> analyze("And for B12?").frame is None
    True
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from retriever.concepts import (
    KINDS,
    MAX_SYNONYM_WORDS,
    QUALIFIER_OF,
    SYNONYM_OF,
    SYNONYMS,
    TOKEN,
    Concept,
    EntityKind,
    build_concept,
    is_drug,
    is_symptom,
    normalize,
)


class QuestionType(str, enum.Enum):  # noqa: UP042 - str mixin like the project's other enums
    """What kind of answer a question asks for."""

    RELATION = "relation"  # relation between concepts, or a yes/no question relating two
    CAUSE = "cause"
    TREATMENT = "treatment"
    DOSAGE = "dosage"
    DIAGNOSIS = "diagnosis"  # diagnosis or test interpretation
    SYMPTOMS = "symptoms"
    RISK = "risk"  # who gets it, inheritance, transmission, susceptibility
    PREVENTION = "prevention"
    PROGNOSIS = "prognosis"
    COMPLICATIONS = "complications"
    DEFINITION = "definition"  # "What is X?", information
    COMPARISON = "comparison"
    SIDE_EFFECTS = "side_effects"
    INTERACTION = "interaction"
    OTHER = "other"


# --------------------------------------------------------------------------------------------
# Word classes.
# --------------------------------------------------------------------------------------------


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


QUESTION_WORDS = _words("what which who whom whose when where why how")
AUXILIARIES = _words(
    "is are was were be been being am do does did can could will would shall should may might "
    "must has have had isn't aren't wasn't weren't don't doesn't didn't can't cannot couldn't "
    "won't wouldn't shouldn't hasn't haven't"
)
_FUNCTION = _words(
    "a an the this that these those my your his her its our their it they them i me we us you he "
    "she him one someone somebody anyone anybody something anything any some all each every "
    "other others another such same there here it's i'm i've i'd you're they're that's there's "
    "what's how's who's let's not no never always ever also too very really just only still even "
    "especially possibly usually often generally more most less least much many few else again "
    "already actually basically maybe perhaps probably so then than now yet please hi hello hey "
    "thanks thank ok okay oh well yes yeah sure hmm um wow cool great mine yours"
)
_BREAKS = _words(
    "with and or between in into for of to from on at by about after before during vs versus "
    "without through while if as like since because but nor whether per via within among against "
    "over under when where once until including except besides regarding towards toward off up "
    "out down along forward whenever wherever however enough behind across around beyond near "
    "inside outside throughout upon despite onto beside"
)
_GENERIC = _words(
    # nouns that frame a question rather than name its subject
    "people person persons patient patients individual individuals human humans thing things "
    "stuff kind kinds type types sort way ways lot lots information info question questions "
    "answer answers fact facts example examples detail details doctor doctors physician drug "
    "drugs medication medications medicine medicines body bodies product products option options "
    "alternative alternatives "
    "benefit benefits advantage advantages disadvantage disadvantages pros cons guideline "
    "guidelines protocol protocols research study studies evidence stability effectiveness "
    "efficacy safety usage use uses indication indications age time times day days daily week "
    "weeks month months year years yrs morning evening night amount number percentage part parts "
    "step steps feature features challenge challenges requirement requirements factor factors "
    "approach approaches choice choices category categories content contents characteristic "
    "characteristics list sites site place places tablet tablets capsule capsules "
    # adjectives
    "safe safely good bad best possible common different current new certain specific main "
    "particular basic general important usual typical average available necessary real whole extra "
    "non-toxic "
    # verbs
    "take takes taking took taken get gets getting got give gives giving gave given use using "
    "used make makes making made go goes going went help helps helping work works working happen "
    "happens happened find see seen feel feels stop stopping start starting keep try trying "
    "receive hold holds put let come comes became become specialize specializes specialise "
    "recommend recommended suggest want wants need needs needed know think say said tell told ask "
    "asked hear heard read wonder wondering curious concerned worried able allowed offer offers "
    "require required include includes cost costs pay paid involve involved appear appeared play "
    "plays built create created add added opened happen live lives exist exists stand stands "
    "hear do done speaking worth right show shows showed shown indicate indicates reveal reveals "
    "confirm confirms "
    # comparatives that rate rather than name
    "easier harder better worse cheaper faster safer riskier bigger smaller larger"
)
POPULATION_WORDS = _words(
    "pregnancy pregnant pregnancies breastfeeding children child kids kid toddler toddlers "
    "infant infants baby babies newborn newborns elderly seniors women woman men adults adult "
    "teenagers teenager teens teen adolescents adolescent girls boys vegetarians vegans athletes "
    "older man mother mothers mom moms mum mums fetus fetuses unborn lactating"
)
"""Who a question is asked about: context for the answer, not its focus. "she" and "he" are
pronouns (never a focus either); the rewriter reads them as pointing back to these people."""

_LEVEL = _words("high low normal abnormal elevated raised")  # skipped at the start of a run
_ELLIPSIS = _words(
    "and or for about what how then also too so ok okay please again the a an of with regarding "
    "re instead same as well but"
)
_PRONOUN = re.compile(
    r"\b(?:it|its|itself|they|them|their|theirs|these|those|this|he|she|him|her|hers|former|"
    r"latter)\b|\b(?:what|how) about\b|\band (?:for|what|how|with|in)\b|^\W*(?:and|or|also|"
    r"then)\b",
    re.IGNORECASE,
)
_FILLER = re.compile(
    r"^(?:\W*(?:hi|hello|hey|ok(?:ay)?|oh my god|omg|oh|so|well|please|thanks|thank you|yes|"
    r"yeah|great|cool|hmm+|um+|and|but|also|then|now|by the way|one more (?:thing|question)|"
    r"i see|i mean|in other words)\b)+\W*",
    re.IGNORECASE,
)
_WH_TYPO = re.compile(r"^(\W*)(wh[a-z]{1,4})(?=\s+(?:is|are|was|were|do|does|did)\b)", re.I)
_INTEGER = re.compile(r"\d+")


# --------------------------------------------------------------------------------------------
# Question types: the cue table.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    text: str
    start: int
    end: int

    @property
    def lower(self) -> str:
        return self.text.lower().replace("\u2019", "'")


@dataclass(frozen=True)
class _Found:
    """A focus concept and the character span it was found at."""

    concept: Concept
    start: int
    end: int


@dataclass(frozen=True)
class _Context:
    """What a cue's condition may look at."""

    text: str
    found: tuple[_Found, ...]
    body_start: int
    yes_no: bool


Condition = Callable[[_Context, "re.Match[str]"], bool]


@dataclass(frozen=True)
class Cue:
    """One row of the type table: a pattern, the type it signals, and when it counts.

    A *weak* cue (a definition wording) only decides the main type when no strong cue does.
    Every cue's matched words are frame words, never focus.
    """

    qtype: QuestionType
    pattern: re.Pattern[str]
    strong: bool = True
    condition: Condition | None = None


def _cue(
    qtype: QuestionType, pattern: str, *, strong: bool = True, condition: Condition | None = None
) -> Cue:
    return Cue(qtype, re.compile(pattern, re.IGNORECASE), strong, condition)


def _about_a_value(ctx: _Context, match: re.Match[str]) -> bool:
    """ "What does X mean?" asks to interpret a value when X is a lab measure or is qualified as
    high, low, a level, a count or a result."""
    if re.search(
        r"\b(?:high|higher|low|lower|elevated|raised|normal|abnormal|levels?|counts?|results?|"
        r"readings?|positive|negative|\d)\b",
        ctx.text,
        re.IGNORECASE,
    ):
        return True
    return any(KINDS.get(f.concept.head) is EntityKind.LAB for f in ctx.found)


def _not_about_a_value(ctx: _Context, match: re.Match[str]) -> bool:
    return not _about_a_value(ctx, match)


_PURPOSE = re.compile(
    r"\bwhy\b(?=[^?.!]*?\b(?:need|needs|needed|matter|matters|mattered|important|essential|"
    r"necessary|vital|required)\b)|"
    r"\bwhy (?:should|must|would)\b(?=[^?.!]*?\b(?:take|use|eat|drink|avoid)\b)",
    re.IGNORECASE,
)
"""A "why" that asks what something is for or why it counts ("Why does the body need folic
acid?", "Why is iron important?", "Why should women take folic acid before pregnancy?"): the
answer says what it does, a DEFINITION, not a cause."""


def asks_purpose(question: str) -> bool:
    """Whether ``question`` asks what something is for or why it counts.

    Example:
        >>> asks_purpose("Why does folate matter before pregnancy?")
        True
        >>> asks_purpose("Why do pregnant women get anemia?")
        False
    """
    return _PURPOSE.search(question) is not None


def _not_purpose(ctx: _Context, match: re.Match[str]) -> bool:
    return _PURPOSE.match(ctx.text, match.start()) is None


def _asks_if_safe(ctx: _Context, match: re.Match[str]) -> bool:
    """ "Is it safe ...?", "Are X safe ...?": a yes/no question about safety."""
    return ctx.yes_no and ctx.text[ctx.body_start :].lstrip().lower().startswith(("is ", "are "))


def _two_concepts(ctx: _Context, match: re.Match[str] | None = None) -> bool:
    return len({f.concept.name for f in ctx.found}) >= 2


_DETERMINER = re.compile(r"\s*(?:(?:a|an|the)\s+)?", re.IGNORECASE)
_BACK_PRONOUN = re.compile(r"(?:it|this|that|they|these|those|them)\b", re.IGNORECASE)


def _defines_focus(ctx: _Context, match: re.Match[str]) -> bool:
    """ "What is X?" asks for a definition when X (after an article) is the focus itself, not an
    attribute of it ("What is the stability of X?")."""
    if match.start() != ctx.body_start:
        return False
    after = _DETERMINER.match(ctx.text, match.end())
    position = after.end() if after else match.end()
    if _BACK_PRONOUN.match(ctx.text, position):
        return True
    return any(f.start == position for f in ctx.found)


CUES: tuple[Cue, ...] = (
    _cue(
        QuestionType.SIDE_EFFECTS,
        r"\bside[- ]?effects?\b|\badverse (?:effects?|reactions?|events?)\b|\bsafety of\b",
    ),
    # "Are iron supplements safe in pregnancy?", not "What exercises are safe ...?"
    _cue(QuestionType.SIDE_EFFECTS, r"\b(?:safe|unsafe)\b", strong=False, condition=_asks_if_safe),
    _cue(
        QuestionType.INTERACTION,
        r"\binteract(?:s|ions?|ing)?\b|\btogether with\b|"
        r"\b(?:take|taken|taking|combined?|mix(?:ed)?)(?=(?: [\w'-]+){0,3} with\b)",
    ),
    _cue(
        QuestionType.DOSAGE,
        r"\bdos(?:e|es|age|ages|ing)\b|\bmaximum daily\b|"
        r"\bhow much\b(?=[^?.]*\b(?:need|needs|daily|per day|each day|a day)\b)|"
        r"\bhow (?:much|many|often)\b(?=[^?.]*\b(?:take|taken|taking|give|given|should|mg|mcg|"
        r"iu|units?|tablets?|pills?|capsules?)\b)",
    ),
    _cue(
        QuestionType.TREATMENT,
        # "if it is not treated" asks what follows (COMPLICATIONS), not how it is treated
        r"(?<!\bnot )(?<!\bwithout )\btreat(?:s|ed|ing|ments?|able)?\b|"
        r"\btherap(?:y|ies|eutic)\b|\bcur(?:e|es|ed|ing)\b|"
        r"\bmanag(?:e|ed|ing|ement)\b|\bremed(?:y|ies)\b|\brelie(?:f|ve|ves|ved)\b|"
        r"\bget rid of\b|\bbeneficial\b|\bhelp(?:s|ful)? (?:with|for)\b|\bgood for\b",
    ),
    _cue(
        QuestionType.PREVENTION,
        r"\b(?:(?:primary|secondary) )?prevent(?:s|ed|ing|ion|ive)?\b|\bavoid(?:s|ed|ing)?\b|"
        r"\bprotect(?:s|ed|ion)? (?:against|from)\b|\breduce the (?:risk|chance)\b|\bprophyla\w*",
    ),
    _cue(
        QuestionType.PROGNOSIS,
        r"\bprognos\w*|\boutlook\b|\blife expectancy\b|"
        r"\blong[- ]term (?:effects?|outcomes?|consequences?)\b|\bsurviv(?:al|e|ors?)\b|"
        r"\bchances? of (?:recovery|survival)\b|\bcome back\b|\brecur\w*|\brelaps\w*",
    ),
    # "What happens if it is not treated?", "Is it dangerous?": what it leads to.
    _cue(
        QuestionType.COMPLICATIONS,
        r"\bcomplications?\b|\b(?:not treated|untreated|without treatment)\b|"
        r"\bwhat happens if\b|\b(?:dangerous|life[- ]threatening)\b",
    ),
    _cue(QuestionType.RISK, r"\binheritance\b|\bgenetically\b"),
    # "Is it inherited?", not "How is hereditary hemochromatosis treated?": the adjective asks
    # only where it is the predicate (nothing, or a function word, follows it).
    _cue(
        QuestionType.RISK,
        r"\b(?:inherit(?:ed|able)?|hereditary|genetic)\b(?=\s*(?:$|[?.!,;:)]|(?:or|and|in|from|"
        r"to|through|by|for|with|at|on|is|are|was|were|if|when|than)\b))",
    ),
    _cue(
        QuestionType.RISK,
        r"\bcontagious\b|\binfectious\b|\btransmit(?:ted|s)?\b|\btransmission\b|\brisks?\b|"
        r"\bsusceptib\w*|\bpredispos\w*|\bwho (?:gets?|is at)\b|\bmore (?:common|likely)\b|"
        r"\bhow (?:common|rare|frequent|prevalent|widespread)\b|\bprevalen\w*|\bincidence\b|"
        r"\bhow many (?:people|patients|women|men|children|adults)\b|"
        r"\bcan(?= (?:children|kids|babies|infants|women|men|adults|teens|teenagers|people|"
        r"(?:older|young) (?:people|adults)) (?:get|develop|have|catch)\b)|"
        r"\b(?:get|catch|contract)\b(?=(?: [\w'-]+){1,3} from\b)",
    ),
    _cue(QuestionType.SYMPTOMS, r"\bsymptoms?\b|\bsigns? (?:of|and)\b|\bwarning signs?\b"),
    _cue(
        QuestionType.DIAGNOSIS,
        r"\bdiagnos\w*|\b(?:blood )?test(?:s|ed|ing)?\b|\bdetect\w*|\bscreen(?:ed|ing)?\b|"
        r"\bfind out (?:if|whether)\b|\btell (?:if|whether)\b|\bnormal (?:range|levels?|values?)\b|"
        r"\b(?:test|lab|blood) results?\b",
    ),
    _cue(QuestionType.DIAGNOSIS, r"\bmean(?:s)?\b", condition=_about_a_value),
    _cue(QuestionType.CAUSE, r"\bwhy\b", condition=_not_purpose),
    _cue(
        QuestionType.CAUSE,
        r"\bcaus(?:e|es|ed|ing)(?: by)?\b|\blead(?:s|ing)? to\b|\bresult(?:s|ing)? "
        r"(?:in|from)\b|\bcontribut\w* to\b|\btrigger(?:s|ed)?\b|\bdue to\b|\breasons?\b",
    ),
    _cue(
        QuestionType.COMPARISON,
        r"\bdifferen(?:ce|ces|tiate|tiating)\b|\bdiffer(?:s)?\b|\bvs\b\.?|\bversus\b|"
        r"\bcompar(?:e|ed|ison)\b|\b(?:better|worse|safer|stronger|more effective) than\b|"
        r"\bsame as\b|\b(?:mistaken|confused) (?:for|with)\b",
    ),
    _cue(
        QuestionType.RELATION,
        r"\brelat(?:ed|ion|ions|ionship|ionships)\b|\bassociat(?:ed|ion)\b|\blink(?:ed|s)?\b|"
        r"\bcorrelat\w*|\bconnect(?:ed|ion)\b|\beffects? of\b(?=[^?]* on\b)|\baffect(?:s|ed)?\b",
    ),
    _cue(
        QuestionType.RELATION,
        r"\b(?:higher|lower|increase[sd]?|decrease[sd]?|more|less|elevated|reduced|raise[sd]?|"
        r"rise|drop)\b(?! (?:about|on|info|information|details)\b)",
        condition=_two_concepts,
    ),
    _cue(
        QuestionType.OTHER,
        r"\b(?:what|which) (?:kind of |type of |sort of )?(?:doctors?|specialists?|physicians?|"
        r"hospitals?|clinics?)\b|\bingredients?\b|\bcontains?\b|\bdispos(?:e|al)\b|"
        r"\bstor(?:e|age)\b|\btaper\w*|\bstop (?:using|taking)\b",
    ),
    _cue(
        QuestionType.DEFINITION,
        r"\b(?:what|who)(?:'s| is| are| was| were)\b",
        strong=False,
        condition=_defines_focus,
    ),
    _cue(
        QuestionType.DEFINITION,
        r"\b(?:information|info|details|known|learn|more) (?:on|about|regarding)\b|"
        r"\bmeaning of\b|\bdefin(?:e|ed|ition)\b|\bexplain\b|\bstands? for\b",
        strong=False,
    ),
    _cue(QuestionType.DEFINITION, r"\bmean(?:s)?\b", strong=False, condition=_not_about_a_value),
    _cue(QuestionType.DEFINITION, _PURPOSE.pattern, strong=False),
)
"""The question-type cues, in priority order for cues that start at the same word."""

_PASSIVE_CAUSE = re.compile(r"caused by|due to|results? from|resulting from", re.IGNORECASE)


def _refine_cause(ctx: _Context, match: re.Match[str]) -> QuestionType:
    """ "X causes Y": SIDE_EFFECTS when the agent is a drug, SYMPTOMS when a condition's effect
    is a symptom, otherwise CAUSE."""
    before = [f.concept for f in ctx.found if f.end <= match.start()]
    after = [f.concept for f in ctx.found if f.start >= match.end()]
    if _PASSIVE_CAUSE.match(match.group()):
        agent, effect = (after[0] if after else None), (before[-1] if before else None)
    else:
        agent, effect = (before[-1] if before else None), (after[0] if after else None)
    if agent is not None and is_drug(agent):
        return QuestionType.SIDE_EFFECTS
    if agent is not None and effect is not None and is_symptom(effect):
        return QuestionType.SYMPTOMS
    return QuestionType.CAUSE


_REFINE: dict[QuestionType, Callable[[_Context, re.Match[str]], QuestionType]] = {
    QuestionType.CAUSE: _refine_cause,
}
"""Types that a more specific type can replace, given the concepts around the cue."""


# --------------------------------------------------------------------------------------------
# Analysis.
# --------------------------------------------------------------------------------------------


class Vocabulary(Protocol):
    """Which words the index holds (the engine passes its BM25 store: idf > 0). Hashable, as
    :func:`analyze` caches by it."""

    def known(self, word: str) -> bool: ...

    def __hash__(self) -> int: ...


@dataclass(frozen=True)
class QuestionAnalysis:
    """What :func:`analyze` found in a question.

    Attributes:
        question: The question as given.
        focus: The concepts it is about, in order of appearance; ``()`` when it names none.
        qtype: The main type.
        types: All types asked, the main one first, the others in order of appearance.
        frame: The wording with the focus replaced by ``{focus}`` (``{focus2}`` ... for later
            concepts); the question itself when it has no focus; ``None`` when it is only a
            focus ("And for B12?").
        refers_back: It leans on an earlier focus (a pronoun, "what about", or no focus).
        population: Who it is asked about ("pregnancy", "pregnant women"), lower-cased, as
            context; adjacent population words make one phrase.
        unknown: What it names that the index's vocabulary holds no word of ("shingles" over
            an index on anaemia): no focus, but the question is about it, not the last one.

    Example:
        >>> a = analyze("Is it safe in pregnancy?")
        >>> a.focus, a.population, a.refers_back
        ((), ('pregnancy',), True)
    """

    question: str
    focus: tuple[Concept, ...]
    qtype: QuestionType
    types: tuple[QuestionType, ...]
    frame: str | None
    refers_back: bool
    population: tuple[str, ...] = ()
    unknown: tuple[Concept, ...] = ()


def slot(index: int) -> str:
    """The frame placeholder of the ``index``-th focus concept (0-based): ``{focus}``,
    ``{focus2}`` ...

    Example:
        >>> slot(0), slot(1)
        ('{focus}', '{focus2}')
    """
    return "{focus}" if index == 0 else f"{{focus{index + 1}}}"


_SLOT = re.compile(r"\{(focus|head)(\d*)\}")


def fill(frame: str, focus: Sequence[Concept]) -> str:
    """Put concept names into a frame and tidy it into a question.

    ``{focus}``/``{focusN}`` take the names of ``focus[0]``/``focus[N-1]``; ``{head}`` takes
    ``focus[0].head``. Concepts beyond the frame's placeholders join the last one with "and". A
    frame without placeholders is prefixed with the focus ("Iron deficiency: what dose?").

    Example:
        >>> from retriever.concepts import concept
        >>> fill("How is {focus} treated? What dose?", [concept("B12 deficiency")])
        'How is vitamin B12 deficiency treated? What dose?'
    """
    if not focus:
        return as_question(frame)
    indices = [int(m.group(2) or 1) for m in _SLOT.finditer(frame)]
    if not indices:
        return as_question(f"{_capitalised(_names(focus))}: {_decapitalised(frame)}")
    top = max(indices)

    def name(match: re.Match[str]) -> str:
        i = int(match.group(2) or 1) - 1
        if match.group(1) == "head":
            return focus[min(i, len(focus) - 1)].head
        if i >= len(focus):
            return focus[-1].name
        if i == top - 1:
            return _names(focus[i:])
        return focus[i].name

    return as_question(_SLOT.sub(name, frame))


def _names(focus: Sequence[Concept]) -> str:
    names = [c.name for c in focus]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:] if text[:1].islower() else text


def _decapitalised(text: str) -> str:
    first = text.split(" ", 1)[0]
    return text[:1].lower() + text[1:] if first[1:].islower() or len(first) == 1 else text


_SPACES = re.compile(r"\s+")
_POSSESSIVE = re.compile(r"'s\b")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([?!.,;:)])")


def as_question(text: str) -> str:
    """Tidy ``text`` into a question: single spaces, capitalised, ending in "?".

    Example:
        >>> as_question("  what dose .")
        'What dose?'
    """
    t = _SPACE_BEFORE_PUNCT.sub(r"\1", _SPACES.sub(" ", text).strip())
    t = t.rstrip(" .!,;:")
    return _capitalised(t if t.endswith("?") else t + "?")


# Analyses kept: one request analyses its question more than once (the rewriter, then the
# standalone question; every earlier turn of the conversation again), and suggested follow-ups
# are page headings that recur from answer to answer.
ANALYSIS_CACHE_SIZE = 8192


@lru_cache(maxsize=ANALYSIS_CACHE_SIZE)
def analyze(
    question: str, vocabulary: Vocabulary | None = None, *, population_focus: bool = True
) -> QuestionAnalysis:
    """Analyse one question: focus, types, frame, back-reference and population (cached: see
    :data:`ANALYSIS_CACHE_SIZE`).

    Args:
        question: The question as asked.
        vocabulary: The index's vocabulary; focus words it does not know are dropped (a concept
            with any known term is kept). ``None`` keeps every word.
        population_focus: Whether population words may be the focus of a question that names
            nothing else ("What are the symptoms of pregnancy?"). The rewriter passes ``False``
            inside a conversation that has a focus, where "How much should a woman take before
            pregnancy?" leans on that focus.

    Returns:
        The analysis (see :class:`QuestionAnalysis`).

    Raises:
        ValueError: If the question has no word in it.

    Example:
        >>> a = analyze("Are vitamin B12 levels higher with lower ferritin levels?")
        >>> [c.name for c in a.focus], a.qtype.value
        (['vitamin B12 levels', 'ferritin levels'], 'relation')
        >>> a.frame
        'Are {focus} higher with lower {focus2}?'
    """
    typo = _WH_TYPO.match(question)
    text = question
    if typo and typo.group(2).lower() not in QUESTION_WORDS:
        text = question[: typo.start(2)] + "What" + question[typo.end(2) :]
    tokens = tuple(_Token(m.group(), m.start(), m.end()) for m in TOKEN.finditer(text))
    if not tokens:
        # Imported here: retriever.types imports this module. The message does not quote the
        # question, which may reach a log.
        from retriever.types import EmptyQueryError

        raise EmptyQueryError("a question needs at least one word")
    filler = _FILLER.match(text)
    body_start = filler.end() if filler and filler.end() < len(text) else 0

    cue_hits = [
        (m, cue, order)
        for order, cue in enumerate(CUES)
        for m in cue.pattern.finditer(text)
        if m.group()
    ]
    in_cue = [
        any(m.start() <= t.start and t.end <= m.end() for m, _, _ in cue_hits) for t in tokens
    ]
    runs, population, unknown = _runs(text, tokens, in_cue, body_start, vocabulary)
    cue_back = _refers_back(text, tokens)
    if population_focus and not runs and not unknown and population and not cue_back:
        runs = [(i, i + 1, ()) for i, t in enumerate(tokens) if t.lower in POPULATION_WORDS]
        population = []
    found = _concepts(text, tokens, runs)

    body = [t for t in tokens if t.start >= body_start]
    yes_no = bool(body) and body[0].lower in AUXILIARIES
    ctx = _Context(text=text, found=found, body_start=body_start, yes_no=yes_no)
    main, types = _types(ctx, cue_hits)
    focus = tuple(dict.fromkeys(f.concept for f in found))
    return QuestionAnalysis(
        question=question,
        focus=focus,
        qtype=main,
        types=types,
        frame=_frame(text, tokens, found, focus, body_start),
        refers_back=cue_back or not (focus or unknown),
        population=tuple(dict.fromkeys(population)),
        unknown=tuple(dict.fromkeys(f.concept for f in _concepts(text, tokens, unknown))),
    )


_Runs = list[tuple[int, int, tuple[str, ...]]]
# A strength run into its number ("20mg", "0.5mcg") that ends a run: how much of it, not
# what it is.
_STRENGTH = re.compile(r"\d+(?:\.\d+)?(?:mg|mcg|µg|ug|g|ml|iu|units?)")


def _runs(
    text: str,
    tokens: Sequence[_Token],
    in_cue: Sequence[bool],
    body_start: int,
    vocabulary: Vocabulary | None,
) -> tuple[_Runs, list[str], _Runs]:
    """Runs of content tokens as ``(start, end, aliases)`` token ranges, population phrases
    (adjacent population words together: "pregnant women"), and the runs ``vocabulary`` holds
    no word of."""
    protected = _synonym_units(text, tokens)
    population: list[str] = []
    for i, t in enumerate(tokens):
        if t.lower not in POPULATION_WORDS or in_cue[i] or protected[i]:
            continue
        prev = tokens[i - 1] if i else None
        adjacent = prev is not None and not text[prev.end : t.start].strip()
        if population and adjacent and prev is not None and prev.lower in POPULATION_WORDS:
            population[-1] += " " + t.lower
            continue
        population.append(t.lower)
    candidate = [
        bool(protected[i])
        or (
            not in_cue[i]
            and t.start >= body_start
            and _candidate(t.lower)
            and not (i and tokens[i - 1].lower == "how" and t.lower in _HOW_DEGREE)
        )
        for i, t in enumerate(tokens)
    ]
    verbs = _verb_positions(tokens, candidate, in_cue, protected)
    content = [c and not v for c, v in zip(candidate, verbs, strict=True)]
    last = len(tokens) - 1
    opening = next((t.lower for t in tokens if t.start >= body_start), None)
    final = tokens[last].lower
    if (
        opening in _COPULAS
        and not protected[last]
        and (
            _ADJECTIVE.fullmatch(final)
            or _PARTICIPLE.fullmatch(final)
            or final in _IRREGULAR_PARTICIPLES
        )
        and not text[tokens[last].end :].strip(" ?!.")
    ):
        # "Are they expensive?", "Is dementia inherited or acquired?": a predicate, not a focus
        content[last] = False
    body = [t.lower for t in tokens if t.start >= body_start]
    if (
        body
        and body[0] in QUESTION_WORDS
        and any(word in _DO for word in body[1:3])
        and final in _FINAL_VERBS
        and not protected[last]
    ):
        content[last] = False  # "What does a serum ferritin test *measure*?"

    runs: list[list[int]] = []
    for i, tok in enumerate(tokens):
        if not content[i]:
            continue
        if runs and runs[-1][-1] == i - 1 and _joins(text, tokens[i - 1], tok):
            runs[-1].append(i)
        elif tok.lower in _LEVEL and not protected[i]:
            continue  # "a high ferritin": the level word frames the value, it is not the focus
        else:
            runs.append([i])
    for run in runs:
        # "ferritin high", "How are weddings celebrated?", "amphetamine salts 20mg": a trailing
        # level word, participle or strength is not the focus either.
        while (
            len(run) > 1
            and not protected[run[-1]]
            and (
                tokens[run[-1]].lower in _LEVEL
                or _PARTICIPLE.fullmatch(tokens[run[-1]].lower)
                or _STRENGTH.fullmatch(tokens[run[-1]].lower)
            )
        ):
            run.pop()
    _drop_main_verb(tokens, runs, protected, body_start)
    spans = [(r[0], r[-1] + 1) for r in runs if not _passive_participle(tokens, r, protected)]
    spans = _merge_of(text, tokens, spans)
    merged = _aliases(text, tokens, spans)
    unknown: _Runs = []
    if vocabulary is not None:
        known = [r for run in merged for r in _known_parts(tokens, run, protected, vocabulary)]
        unknown = [r for r in merged if not any(r[0] <= k[0] and k[1] <= r[1] for k in known)]
        merged = known

    def solid(found: _Runs) -> _Runs:
        return [r for r in found if not _hollow(tokens[r[0] : r[1]])]

    return solid(merged), population, solid(unknown)


def _candidate(low: str) -> bool:
    return not (
        low in POPULATION_WORDS
        or low in _BREAKS
        or low in _FUNCTION
        or low in QUESTION_WORDS
        or low in AUXILIARIES
        or all(part in _GENERIC for part in re.split(r"[-/]", low))
    )


def _joins(text: str, left: _Token, right: _Token) -> bool:
    """Whether two adjacent content tokens belong to one run: nothing but spaces between them,
    or the full stop of an initial ("E. E. Cummings")."""
    gap = text[left.end : right.start].strip()
    return not gap or (gap == "." and len(left.text) == 1 and left.text.isupper())


_SUBJECTS = _words("i you we they he she it")
_HOW_DEGREE = _words(
    "long far soon old big large high low bad serious common quickly fast early late"
)
_COPULAS = _words("is are was were am isn't aren't wasn't weren't")
_MODAL_OR_BE = _words(
    "can could will would shall should may might must am is are was were be been being 'm 're "
    "can't cannot couldn't won't wouldn't shouldn't isn't aren't wasn't weren't"
)
_ADVERBS = _words("not really also just still even ever never actually usually always already only")
_PARTICIPLE = re.compile(r"[a-z]{3,}[^e\W]ed")  # "filmed", "celebrated"; not "speed", "need"
_IRREGULAR_PARTICIPLES = _words(
    "mistaken taken given known shown seen done written broken chosen eaten forgotten hidden "
    "driven born borne worn spoken stolen beaten bitten fallen grown thrown drawn frozen"
)  # "Can it be *mistaken* for iron deficiency?": no "-ed" to recognise them by
_GERUND = re.compile(r"[a-z]{3,}ing")
_ADJECTIVE = re.compile(r"[a-z]{3,}(?:ive|ous|ful|able|ible|less)")


def _verb_positions(
    tokens: Sequence[_Token],
    candidate: Sequence[bool],
    in_cue: Sequence[bool],
    protected: Sequence[str | None],
) -> list[bool]:
    """Tokens that sit where English puts a verb, so they are not focus words (no tagger):

    * after a subject pronoun, past modals and "be" ("can I *update*", "I am *having*", "how it
      *opens*"), unless the pronoun follows a copula ("Is it *anemia*?"), where only a
      participle is a verb ("was she *introduced*");
    * after an infinitive "to" that follows a frame word ("want to *secure*", "how to *pay*");
    * a gerund after a subject and an auxiliary, or after a generic word ("members are
      *receiving*", "worth *having*"), but not after a preposition ("about *smoking*") or in
      a question's inversion ("How is *smoking* harmful?").
    """
    verbs = [False] * len(tokens)

    def free(j: int) -> bool:
        return 0 <= j < len(tokens) and candidate[j] and not protected[j]

    for i, tok in enumerate(tokens):
        low = tok.lower
        prev = tokens[i - 1].lower if i else None
        if low in _SUBJECTS and prev in _COPULAS:
            # "was she *introduced*": a participle after an inverted subject is passive.
            if free(i + 1) and _PARTICIPLE.fullmatch(tokens[i + 1].lower):
                verbs[i + 1] = True
        elif low in _SUBJECTS:
            j = i + 1
            while j < len(tokens) and tokens[j].lower in _MODAL_OR_BE | _ADVERBS:
                j += 1
            if free(j):
                verbs[j] = True
        elif low == "to" and i and not in_cue[i] and not candidate[i - 1] and not in_cue[i - 1]:
            if free(i + 1):
                verbs[i + 1] = True
        elif free(i) and prev is not None and _GERUND.fullmatch(low):
            # "members are receiving" (a subject before the auxiliary), not "How is smoking".
            before = tokens[i - 2].lower if i >= 2 else None
            progressive = prev in AUXILIARIES and (
                before in _SUBJECTS or (i >= 2 and candidate[i - 2])
            )
            after_generic = not (
                _candidate(prev) or prev in _BREAKS or prev in _FUNCTION or prev in AUXILIARIES
            )
            verbs[i] = progressive or (after_generic and not in_cue[i - 1])
    return verbs


_DO = _words("do does did don't doesn't didn't")
# Verbs that end a wh-question after "do" and its subject ("What does the test *measure*?"),
# where no tagger tells them from a noun: the ones questions about tests and care end with.
_FINAL_VERBS = _words(
    "measure measures show shows indicate indicates detect detects involve involves include "
    "includes entail entails require requires check checks look feel cost costs mean"
)


def _drop_main_verb(
    tokens: Sequence[_Token],
    runs: list[list[int]],
    protected: Sequence[str | None],
    body_start: int,
) -> None:
    """In "How long does iron deficiency *last*?" the subject's run ends with the main verb.

    In a wh-question with "do"-support the first run after "do" is the subject followed by the
    verb when it has two or more words and ends the clause (at the end, a preposition or a
    determiner: "How do companies *hire* their employees?")."""
    body = [i for i, t in enumerate(tokens) if t.start >= body_start]
    if not body or tokens[body[0]].lower not in QUESTION_WORDS:
        return
    do = next((i for i in body[1:3] if tokens[i].lower in _DO), None)
    run = next((r for r in runs if do is not None and r[0] > do), None)
    if run is None or len(run) < 2 or protected[run[-1]] or tokens[run[-1]].lower in _LEVEL:
        return
    following = run[-1] + 1
    clause_ends = following == len(tokens) or tokens[following].lower in _BREAKS | _FUNCTION
    if clause_ends:
        run.pop()


def _passive_participle(
    tokens: Sequence[_Token], run: Sequence[int], protected: Sequence[str | None]
) -> bool:
    """A lone participle after "be" or "get" is a verb: "when was the song *released*", "can it
    be *mistaken* for ..."."""
    if len(run) != 1 or protected[run[0]] or not run[0]:
        return False
    prev = tokens[run[0] - 1].lower
    low = tokens[run[0]].lower
    participle = bool(_PARTICIPLE.fullmatch(low)) or low in _IRREGULAR_PARTICIPLES
    return participle and (prev in _MODAL_OR_BE or prev in {"get", "gets", "got", "been"})


def _synonym_units(text: str, tokens: Sequence[_Token]) -> list[str | None]:
    """For each token, the canonical name of the synonym-table phrase it is part of."""
    units: list[str | None] = [None] * len(tokens)
    i = 0
    while i < len(tokens):
        for size in range(min(MAX_SYNONYM_WORDS, len(tokens) - i), 0, -1):
            window = tokens[i : i + size]
            if any(text[a.end : b.start].strip() for a, b in zip(window, window[1:], strict=False)):
                continue
            canonical = SYNONYM_OF.get(normalize(" ".join(t.text for t in window)))
            if canonical:
                units[i : i + size] = [canonical] * size
                i += size
                break
        else:
            i += 1
    return units


def _merge_of(
    text: str, tokens: Sequence[_Token], spans: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """Join "deficiency of vitamin B12" and "Game of Thrones" across their "of"."""
    out: list[tuple[int, int]] = []
    for start, end in spans:
        if out:
            prev_start, prev_end = out[-1]
            between = tokens[prev_end:start]
            gap = text[tokens[prev_end - 1].end : tokens[start].start]
            joinable = len(between) == 1 and gap.lower().split() == ["of"]
            left = [t.text for t in tokens[prev_start:prev_end]]
            qualifier_only = all(normalize(w) in QUALIFIER_OF for w in left)
            proper = tokens[prev_end - 1].text[:1].isupper() and tokens[start].text[:1].isupper()
            if joinable and (qualifier_only or proper):
                out[-1] = (prev_start, end)
                continue
        out.append((start, end))
    return out


def _aliases(
    text: str, tokens: Sequence[_Token], spans: list[tuple[int, int]]
) -> list[tuple[int, int, tuple[str, ...]]]:
    """Fold a parenthesis right after a concept into it as an alias: "trisomy 13 (Patau
    syndrome)"."""
    out: list[tuple[int, int, tuple[str, ...]]] = []
    for start, end in spans:
        if out:
            prev_start, prev_end, prev_aliases = out[-1]
            gap = text[tokens[prev_end - 1].end : tokens[start].start]
            close = text[tokens[end - 1].end :].lstrip()
            if prev_end == start and gap.strip() == "(" and close.startswith(")"):
                alias = text[tokens[start].start : tokens[end - 1].end].lower()
                out[-1] = (prev_start, prev_end, (*prev_aliases, alias))
                continue
        out.append((start, end, ()))
    return out


def _token_known(vocabulary: Vocabulary, word: str) -> bool:
    word = word.lower().replace("\u2019", "'")
    if len(word) == 1:  # "vitamin C", "hepatitis B": an index keeps no one-letter words
        return True
    if vocabulary.known(word) or vocabulary.known(_POSSESSIVE.sub("", word)):
        return True
    parts = [p for p in re.split(r"[-/'.]", word) if p and p != "s"]
    return len(parts) > 1 and all(vocabulary.known(p) for p in parts)


def _known_parts(
    tokens: Sequence[_Token],
    run: tuple[int, int, tuple[str, ...]],
    protected: Sequence[str | None],
    vocabulary: Vocabulary,
) -> list[tuple[int, int, tuple[str, ...]]]:
    """Split a run at words the index does not know, unless it names a known table entry;
    nothing of it when the index does not know the word it ends with, its head ("acute otitis
    media" over an index on anaemia: "acute" alone is no subject)."""
    start, end, aliases = run
    for canonical in {p for p in protected[start:end] if p}:
        if any(
            all(_token_known(vocabulary, w) for w in normalize(term).split())
            for term in SYNONYMS[canonical]
        ):
            return [run]
    if not _token_known(vocabulary, tokens[end - 1].text):
        return []
    parts: list[tuple[int, int, tuple[str, ...]]] = []
    current: int | None = None
    for i in range(start, end + 1):
        known = i < end and _token_known(vocabulary, tokens[i].text)
        if known and current is None:
            current = i
        elif not known and current is not None:
            parts.append((current, i, aliases if current == start and i == end else ()))
            current = None
    return parts


def _hollow(run: Sequence[_Token]) -> bool:
    """A run that names nothing: only qualifier words ("levels"), only integers, or a lone
    negated adjective ("non-toxic treatments"). A synonym-table entry ("anemia") names
    something even when it can also qualify."""
    words = [t.lower for t in run]
    if normalize(" ".join(words)) in SYNONYM_OF:
        return False
    if len(words) == 1 and words[0].startswith("non-"):
        return True
    return all(normalize(w) in QUALIFIER_OF for w in words) or all(
        _INTEGER.fullmatch(w) for w in words
    )


def _concepts(
    text: str,
    tokens: Sequence[_Token],
    runs: Sequence[tuple[int, int, tuple[str, ...]]],
) -> tuple[_Found, ...]:
    found = []
    for start, end, aliases in runs:
        surface = text[tokens[start].start : tokens[end - 1].end]
        span_end = tokens[end - 1].end
        if aliases:  # the concept's span runs over its parenthesis
            close = text.find(")", span_end)
            span_end = close + 1 if close >= 0 else span_end
        found.append(_Found(build_concept(surface, aliases), tokens[start].start, span_end))
    return tuple(found)


def _types(
    ctx: _Context, cue_hits: Sequence[tuple[re.Match[str], Cue, int]]
) -> tuple[QuestionType, tuple[QuestionType, ...]]:
    hits = []
    for match, cue, order in cue_hits:
        if cue.condition is not None and not cue.condition(ctx, match):
            continue
        refine = _REFINE.get(cue.qtype)
        qtype = refine(ctx, match) if refine else cue.qtype
        hits.append((match.start(), order, qtype, cue.strong))
    hits.sort()
    main: QuestionType | None = None
    for start, end in reversed(_sentences(ctx.text)):
        strong = [h for h in hits if h[3] and start <= h[0] < end]
        if strong:
            main = strong[0][2]
            break
    if main is None and hits:
        main = hits[0][2]
    if main is None:
        yes_no_relation = ctx.yes_no and _two_concepts(ctx)
        main = QuestionType.RELATION if yes_no_relation else QuestionType.OTHER
    return main, tuple(dict.fromkeys([main, *(h[2] for h in hits)]))


def _sentences(text: str) -> list[tuple[int, int]]:
    bounds = [m.end() for m in re.finditer(r"[?!.](?=\s+\S)", text)]
    starts = [0, *bounds]
    return list(zip(starts, [*bounds, len(text)], strict=True))


def is_content_word(word: str) -> bool:
    """Whether ``word`` can be part of a focus: not a question word, auxiliary, function word,
    preposition, generic word, level word or population word.

    Example:
        >>> is_content_word("ferritin"), is_content_word("safe"), is_content_word("with")
        (True, False, False)
    """
    low = word.lower().replace("\u2019", "'")
    return not (
        low in QUESTION_WORDS
        or low in AUXILIARIES
        or low in _FUNCTION
        or low in _BREAKS
        or low in _LEVEL
        or low in POPULATION_WORDS
        or all(part in _GENERIC for part in re.split(r"[-/]", low))
    )


def _refers_back(text: str, tokens: Sequence[_Token]) -> bool:
    if _PRONOUN.search(text):
        return True
    # "that" leans back as a pronoun ("What causes that?"), not as a relative or a
    # complementiser ("drugs that cause ...", "Is it true that ...").
    for i, tok in enumerate(tokens):
        if tok.lower != "that":
            continue
        prev = tokens[i - 1].lower if i else None
        if prev is None or prev in QUESTION_WORDS or prev in AUXILIARIES or prev in _BREAKS:
            return True
    return False


def _frame(
    text: str,
    tokens: Sequence[_Token],
    found: Sequence[_Found],
    focus: Sequence[Concept],
    body_start: int,
) -> str | None:
    covered = [any(f.start <= t.start < f.end for f in found) for t in tokens]
    leftover = [
        t for t, c in zip(tokens, covered, strict=True) if not c and t.lower not in _ELLIPSIS
    ]
    if found and not leftover:
        return None
    start = min([body_start, *(f.start for f in found)])
    pieces, cursor = [], start
    for f in sorted(found, key=lambda f: f.start):
        pieces += [text[cursor : f.start], slot(focus.index(f.concept))]
        cursor = f.end
    pieces.append(text[cursor:])
    return as_question("".join(pieces))
