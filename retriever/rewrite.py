"""Standalone questions for follow-ups, by rules over question analyses. Pure: no model, no I/O.

A follow-up such as "What dose?", "And for B12?" or "Is it safe in pregnancy?" does not say
what it is about. :func:`rewrite` turns it, given the :class:`ConversationState` after the
earlier turns, into a question that reads on its own, and returns the next state.
:func:`replay` folds a whole conversation.

The state keeps the current focus and a **chain of frames**: the frame of the last full
question followed by the frames of the follow-ups that leaned on it, one sentence each, for
example ``"How is {focus} treated? What dose?"`` (placeholders as in
:func:`retriever.question.fill`). The chain keeps the full question's frame and the latest
:data:`MAX_CHAIN` - 1 follow-up frames.

The state also keeps the **population** of the question that set the focus ("pregnant women"
in "Why do pregnant women get anemia?"). Inside a conversation with a focus, population words
are never a focus ("How much should a woman take before pregnancy?" leans on the focus). A
follow-up that inherits the focus (``pronoun``, ``inherit_focus``) inherits the population
unless it names its own, and its standalone names it: "How common is it?" becomes "How common
is anemia in pregnant women?". The baby of a pregnancy is no population of its own: "What are
the risks for the baby?" keeps "pregnant women".

Rules (:class:`RewriteRule`), chosen in this order:

* ``first``: no earlier focus or frame. The question is its own standalone.
* ``substitute_focus``: the follow-up names a focus but no frame ("And for B12?", "What about
  folate?"). The chain is replayed with the new focus in the first slot, keeping the earlier
  qualifier (:func:`retriever.question.with_head`): after "How is iron deficiency treated?" and
  "What dose?", "And for B12?" becomes "How is vitamin B12 deficiency treated? What dose?". A
  bare noun phrase with no cue ("Virtualization") is substituted only into a one-focus chain;
  into a chain about several concepts it is a new topic.
* ``pronoun``: a pronoun refers back ("Is it safe in pregnancy?"). It is replaced by the current
  focus's name, or, when the conversation is about treating or dosing a deficiency, by the
  deficient nutrient ("Is iron safe in pregnancy?"): the thing taken is the nutrient. "its X"
  becomes "the X of <focus>"; "they" with several concepts names them all. A pronoun after the
  question's own focus refers to that focus, and a dummy "it" ("Is it necessary to have a
  will?") refers to nothing; neither is replaced.
* ``inherit_focus``: a frame but no focus ("What dose?"). The frame joins the chain and the
  standalone is the whole chain with the current focus: "How is iron deficiency treated? What
  dose?". (With a chain that has no placeholder the focus is prefixed: "Iron deficiency: what
  dose?".) So does a question whose only focus is "the" + a noun that needs an argument ("How
  large was the effect?": the effect of the current focus; :data:`_RELATIONAL_NOUNS`). In a
  one-concept conversation, a follow-up that lacks the focus as its object gets it and stands
  alone: "How much should I take?" becomes "How much folate should I take?" (the nutrient when
  the focus is a deficiency), "What are the risks for the baby?" becomes "What are the risks
  of anemia for the baby?".
* ``unchanged`` / ``new_topic``: a question with its own focus and frame stands as asked. It is
  a topic shift (``new_topic``, state reset to it) when no focus concept shares a head with the
  current focus and it is not about the conversation's people; ``unchanged`` otherwise. It is
  about those people when it says "she"/"he" (only people can be meant) or names one of their
  population words: "Should she take iron supplements?" after "Why do pregnant women get
  anemia?" is no shift, and keeps the population. A bare noun phrase starting a topic becomes
  "What is known about <focus>?".

``topic_shift`` means the focus changed to something unrelated (no shared head, not the same
people), so context about the earlier focus should not be mixed into retrieval: it is true for
``new_topic`` and for a ``substitute_focus`` that swaps the head ("And for B12?" after iron
deficiency), whose standalone already carries what is still needed (the frame).

Every standalone is tidied into a question: capitalised and ending in "?".

Example:
    >>> turns = replay(["How is iron deficiency treated?", "What dose?", "And for B12?"])
    >>> [t.standalone for t in turns]  # doctest: +NORMALIZE_WHITESPACE
    ['How is iron deficiency treated?', 'How is iron deficiency treated? What dose?',
     'How is vitamin B12 deficiency treated? What dose?']
    >>> [t.rule.value for t in turns]
    ['first', 'inherit_focus', 'substitute_focus']
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from retriever.concepts import Concept, concept, is_known, normalize, with_head
from retriever.question import (
    QuestionAnalysis,
    QuestionType,
    Vocabulary,
    analyze,
    as_question,
    fill,
    is_content_word,
    slot,
)

MAX_CHAIN = 3
"""Frames kept in the chain: the full question's and the latest two follow-ups'. A longer chain
makes a standalone question that is mostly history."""

BARE_FRAME = "What is known about {focus}?"
"""The frame given to a topic opened by a bare noun phrase ("EV used car market")."""

# A deficiency treated or dosed is treated with the nutrient: "it" is the nutrient.
_DEFICIENCY_QUALIFIERS = frozenset({"deficiency", "deficiency anemia", "anemia"})
_TAKING_TYPES = frozenset(
    {
        QuestionType.TREATMENT,
        QuestionType.DOSAGE,
        QuestionType.SIDE_EFFECTS,
        QuestionType.INTERACTION,
    }
)


class RewriteRule(str, enum.Enum):  # noqa: UP042 - str mixin like the project's other enums
    """Which rule made the standalone question (module docstring)."""

    FIRST = "first"
    NEW_TOPIC = "new_topic"
    SUBSTITUTE_FOCUS = "substitute_focus"
    INHERIT_FOCUS = "inherit_focus"
    PRONOUN = "pronoun"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class ConversationState:
    """What a conversation is about after some turns.

    Attributes:
        focus: The current focus concepts.
        frame: The chain of frames since the last full question, e.g.
            ``"How is {focus} treated? What dose?"``.
        qtype: The type of the latest question that had one.
        standalone: The last standalone question.
        population: Who the focus is asked about ("pregnant women"), from the question that
            set the focus or the latest follow-up that named its own.
        aside: Concepts of the same topic set aside when a pronoun took one of several: a
            question on them continues the topic.

    Example:
        >>> state = rewrite("How is iron deficiency treated?").state
        >>> state.frame, [c.name for c in state.focus]
        ('How is {focus} treated?', ['iron deficiency'])
    """

    focus: tuple[Concept, ...] = ()
    frame: str | None = None
    qtype: QuestionType | None = None
    standalone: str | None = None
    population: tuple[str, ...] = ()
    aside: tuple[Concept, ...] = ()


@dataclass(frozen=True)
class Rewrite:
    """One turn, rewritten.

    Attributes:
        question: The question as asked.
        standalone: A question that reads on its own.
        analysis: The analysis of the standalone question.
        state: The conversation state after this turn.
        rule: The rule that applied.
        topic_shift: The focus changed to something unrelated (module docstring).
        recognised: Every focus concept before and after the turn is an entry of the synonym
            table, so the topic decision was made between known entities, not between noun
            phrases the analyser cut from the text.

    Example:
        >>> r = rewrite("What dose?", rewrite("How is iron deficiency treated?").state)
        >>> r.standalone, r.analysis.qtype.value
        ('How is iron deficiency treated? What dose?', 'dosage')
    """

    question: str
    standalone: str
    analysis: QuestionAnalysis
    state: ConversationState
    rule: RewriteRule
    topic_shift: bool
    recognised: bool = False


@dataclass(frozen=True)
class _Turn:
    """What the rules need about the new question."""

    question: str
    asked: QuestionAnalysis
    pronouns: tuple[re.Match[str], ...]
    state: ConversationState


@dataclass(frozen=True)
class _Outcome:
    standalone: str
    state: ConversationState
    topic_shift: bool


def rewrite(
    question: str,
    state: ConversationState | None = None,
    vocabulary: Vocabulary | None = None,
) -> Rewrite:
    """Make ``question`` standalone given the conversation ``state``.

    Args:
        question: The new user question.
        state: The state after the earlier turns (``None`` for the first turn).
        vocabulary: The index's vocabulary, passed to :func:`retriever.question.analyze`.

    Returns:
        The standalone question, its analysis, the next state and the rule that applied.

    Raises:
        ValueError: If the question has no word in it.

    Example:
        >>> first = rewrite("Are vitamin B12 levels higher with lower ferritin levels?")
        >>> rewrite("Why are they related?", first.state).standalone
        'Why are vitamin B12 levels and ferritin levels related?'
    """
    current = state or ConversationState()
    # Inside a conversation with a focus, "a woman" or "pregnancy" is never the focus.
    asked = analyze(question, vocabulary, population_focus=not current.focus)
    turn = _Turn(question, asked, _resolvable_pronouns(question, asked), current)
    rule = _choose(turn)
    outcome = _RULES[rule](turn)
    return Rewrite(
        question=question,
        standalone=outcome.standalone,
        # Called as above, so that a question that is its own standalone form is analysed once
        # (the cache tells keyword arguments from defaults).
        analysis=analyze(outcome.standalone, vocabulary, population_focus=True),
        state=outcome.state,
        rule=rule,
        topic_shift=outcome.topic_shift,
        recognised=bool(current.focus and asked.focus)
        and all(is_known(c) for c in (*current.focus, *asked.focus)),
    )


def replay(questions: Sequence[str], vocabulary: Vocabulary | None = None) -> list[Rewrite]:
    """Rewrite a conversation's questions in order, oldest first, threading the state.

    Example:
        >>> [r.rule.value for r in replay(["What causes anemia?", "How is it treated?"])]
        ['first', 'pronoun']
    """
    out: list[Rewrite] = []
    state: ConversationState | None = None
    for question in questions:
        out.append(rewrite(question, state, vocabulary))
        state = out[-1].state
    return out


class Rewriter(Protocol):
    """Makes a follow-up standalone, given the earlier user questions (oldest first)."""

    def rewrite(self, question: str, earlier: Sequence[str]) -> Rewrite: ...


class RuleRewriter:
    """The rule-based :class:`Rewriter`: :func:`replay` over the whole conversation.

    Args:
        vocabulary: The index's vocabulary, passed to :func:`retriever.question.analyze`.

    Example:
        >>> rules = RuleRewriter()
        >>> rules.rewrite("What dose?", ["How is iron deficiency treated?"]).standalone
        'How is iron deficiency treated? What dose?'
    """

    def __init__(self, vocabulary: Vocabulary | None = None) -> None:
        self._vocabulary = vocabulary

    def rewrite(self, question: str, earlier: Sequence[str]) -> Rewrite:
        """``question`` as a standalone question, the ``earlier`` questions replayed first.

        Raises:
            ValueError: If a question has no word in it.
        """
        return replay([*earlier, question], self._vocabulary)[-1]


# --------------------------------------------------------------------------------------------
# Choosing a rule.
# --------------------------------------------------------------------------------------------

_ELLIPSIS_CUE = re.compile(
    r"^\W*(?:and|or|also|then)\b|\b(?:what|how) about\b|\band (?:for|with|in)\b", re.IGNORECASE
)


def _choose(turn: _Turn) -> RewriteRule:
    state, asked = turn.state, turn.asked
    if not state.focus and state.frame is None:
        return RewriteRule.FIRST
    if asked.frame is None:
        cue = _ELLIPSIS_CUE.search(turn.question) is not None
        single = len(asked.focus) == 1 and _slots(state.frame or "") <= 1
        if state.frame is not None and (cue or single):
            return RewriteRule.SUBSTITUTE_FOCUS
        return RewriteRule.NEW_TOPIC
    if not state.focus:
        return RewriteRule.UNCHANGED
    if turn.pronouns:
        return RewriteRule.PRONOUN
    if not asked.focus:
        return RewriteRule.INHERIT_FOCUS
    if shares_head(asked.focus, (*state.focus, *state.aside)) or _same_people(turn):
        return RewriteRule.UNCHANGED
    return RewriteRule.INHERIT_FOCUS if _definite_relational(turn) else RewriteRule.NEW_TOPIC


# Nouns that need an argument ("the effect" of what?). Named with "the" and nothing else, they
# refer to the current focus: "How large was the effect?" after a folic acid question.
_RELATIONAL_NOUNS = frozenset(
    (  # noqa: SIM905 - a word list reads better as text
        "effect effects impact result results outcome outcomes finding findings risk risks "
        "difference differences rate rates cause causes reason reasons mechanism trial trials "
        "sample participants response"
    ).split()
)


def _definite_relational(turn: _Turn) -> bool:
    """Whether every focus of the question is "the" + a relational noun ("the effect")."""
    return all(
        c.name.lower() in _RELATIONAL_NOUNS
        and re.search(rf"\bthe\s+{re.escape(c.name)}\b", turn.question, re.I) is not None
        for c in turn.asked.focus
    )


_PERSON = re.compile(r"\b(?:she|he|her|him|hers|his)\b", re.IGNORECASE)


def _same_people(turn: _Turn) -> bool:
    """Whether the question is about the people the conversation is about: a "she"/"he" that
    can only point back to them, or one of their population words ("Should she take iron
    supplements?" after "Why do pregnant women get anemia?")."""
    people = turn.state.population
    if not people:
        return False
    if _PERSON.search(turn.question):
        return True
    return bool(_population_words(turn.asked.population) & _population_words(people))


def _population_words(phrases: Sequence[str]) -> frozenset[str]:
    return frozenset(w for p in phrases for w in p.split())


def _slots(frame: str) -> int:
    return len(set(re.findall(r"\{focus\d*\}", frame)))


def shares_head(new: Sequence[Concept], old: Sequence[Concept]) -> bool:
    """Whether any concept of ``new`` is about the same entity as one of ``old``.

    Heads are related when one's words contain the other's, when they share at least half
    their words, or when one is mentioned in the other's name (synonyms included).

    Example:
        >>> shares_head([concept("iron deficiency anemia")], [concept("low iron")])
        True
        >>> shares_head([concept("ferritin")], [concept("vitamin B12 deficiency")])
        False
    """
    return any(_related(a, b) for a in new for b in old)


def _words(text: str) -> frozenset[str]:
    return frozenset(w for w in normalize(text).split() if is_content_word(w))


def _related(a: Concept, b: Concept) -> bool:
    wa, wb = _words(a.head), _words(b.head)
    if wa and wb and (wa <= wb or wb <= wa or len(wa & wb) * 2 >= len(wa | wb)):
        return True
    return concept(a.head).mentioned_in(b.name) or concept(b.head).mentioned_in(a.name)


# --------------------------------------------------------------------------------------------
# Pronouns.
# --------------------------------------------------------------------------------------------

_PRONOUN = re.compile(r"\b(it|its|they|them|their|this|that|these|those)\b", re.IGNORECASE)
_PLURAL = frozenset({"they", "them", "their", "these", "those"})
_DEMONSTRATIVE = frozenset({"this", "that", "these", "those"})
_DUMMY_IT = re.compile(
    r"it(?:'s| is| was| be| would be)?(?: (?:not|really|very|so|too|even|also|still|a|an))* "
    r"(?:necessary|possible|impossible|important|true|worth|better|best|easy|easier|hard|"
    r"difficult|ok|okay|fine|normal|common|wise|advisable|smart|good|bad|late|too late|legal|"
    r"illegal|required|mandatory|time|a good idea)\b",
    re.IGNORECASE,
)
_COMPLEMENTISER_NEXT = frozenset(
    "the a an i you we they he she it my your his her our their this these those there".split()  # noqa: SIM905
)
_WORD = re.compile(r"[\w'\u2019-]+")


def _resolvable_pronouns(question: str, asked: QuestionAnalysis) -> tuple[re.Match[str], ...]:
    """Pronouns that stand for an earlier focus (module docstring)."""
    found = []
    for match in _PRONOUN.finditer(question):
        word = match.group(1).lower()
        before = question[: match.start()]
        if any(c.mentioned_in(before) for c in asked.focus):
            continue  # it refers to the question's own focus
        following = _WORD.match(question, _skip_spaces(question, match.end()))
        after_word = following.group() if following else None
        preceding = _WORD.findall(before)
        if word in _DEMONSTRATIVE and after_word and is_content_word(after_word):
            continue  # a determiner: "this dashboard"
        if word == "that" and preceding and is_content_word(preceding[-1]):
            continue  # a relative pronoun: "drugs that cause ..."
        if word == "that" and after_word and after_word.lower() in _COMPLEMENTISER_NEXT:
            continue  # a complementiser: "you said that those gifts ..."
        if word == "it" and _DUMMY_IT.match(question, match.start()):
            continue  # "Is it necessary to have a will?"
        found.append(match)
    return tuple(found)


def _skip_spaces(text: str, position: int) -> int:
    while position < len(text) and text[position] == " ":
        position += 1
    return position


def _referent(state: ConversationState, plural: bool) -> tuple[str, tuple[Concept, ...]]:
    """The placeholder a pronoun becomes, and the concepts that fill it."""
    focus = state.focus
    if plural and len(focus) > 1:
        return " and ".join(slot(i) for i in range(len(focus))), focus
    first = focus[0]
    if first.qualifier in _DEFICIENCY_QUALIFIERS and state.qtype in _TAKING_TYPES:
        return "{head}", (first,)
    return "{focus}", (first,)


def _template(turn: _Turn) -> tuple[str, tuple[Concept, ...]]:
    """The question with its pronouns replaced by placeholders, and the concepts they stand for.

    "its symptoms" becomes "the symptoms of {focus}"."""
    text = turn.question
    used: tuple[Concept, ...] = ()
    for match in reversed(turn.pronouns):
        word = match.group(1).lower()
        placeholder, concepts = _referent(turn.state, word in _PLURAL)
        used = concepts if len(concepts) > len(used) else used
        start, end = match.span()
        replacement = placeholder
        if word in {"its", "their"}:
            noun_end = _possessed_end(text, end)
            if noun_end > end:
                noun = text[end:noun_end].strip()
                replacement, end = f"the {noun} of {placeholder}", noun_end
            else:
                replacement = f"{placeholder}'s"
        text = text[:start] + replacement + text[end:]
    return text, used


def _possessed_end(text: str, position: int) -> int:
    """End of the noun phrase after "its" (content words only, at most four)."""
    end, count = position, 0
    for match in _WORD.finditer(text, position):
        between = text[end : match.start()]
        if between.strip() or not is_content_word(match.group()) or count == 4:
            break
        end, count = match.end(), count + 1
    return end


# --------------------------------------------------------------------------------------------
# The rules.
# --------------------------------------------------------------------------------------------


def _as_asked(turn: _Turn, topic_shift: bool, population: tuple[str, ...] = ()) -> _Outcome:
    asked = turn.asked
    if asked.frame is None:
        frame = BARE_FRAME
        standalone = fill(BARE_FRAME, asked.focus)
    else:
        frame = asked.frame
        standalone = as_question(turn.question)
    people = asked.population or population
    state = ConversationState(asked.focus, frame, asked.qtype, standalone, people)
    return _Outcome(standalone, state, topic_shift)


def _first(turn: _Turn) -> _Outcome:
    return _as_asked(turn, topic_shift=False)


def _new_topic(turn: _Turn) -> _Outcome:
    return _as_asked(turn, topic_shift=True)


def _unchanged(turn: _Turn) -> _Outcome:
    # "Should she take iron supplements?": still about the conversation's people, who are
    # named in the standalone question ("Should a pregnant woman take iron supplements?").
    people = turn.state.population if _same_people(turn) else ()
    outcome = _as_asked(turn, topic_shift=False, population=people)
    person = next((_one_of(p) for p in people if _one_of(p)), None)
    if person is None or turn.asked.frame is None:
        return outcome
    standalone = _SUBJECT.sub(person, outcome.standalone, count=1)
    standalone = standalone[:1].upper() + standalone[1:]
    state = replace(outcome.state, standalone=standalone)
    return _Outcome(standalone, state, outcome.topic_shift)


def _substitute_focus(turn: _Turn) -> _Outcome:
    state, new = turn.state, turn.asked.focus
    old = state.focus
    swapped = tuple(with_head(old[i], c) if i < len(old) else c for i, c in enumerate(new))
    focus = swapped + old[len(new) :]
    frame = state.frame or BARE_FRAME
    standalone = fill(frame, focus)
    next_state = ConversationState(focus, frame, state.qtype, standalone, state.population)
    return _Outcome(standalone, next_state, topic_shift=not shares_head(new, old))


def _inherit_focus(turn: _Turn) -> _Outcome:
    state, asked = turn.state, turn.asked
    # "How large was the effect?" names a focus of its own ("effect"): it is its own frame.
    own = (None if asked.focus else asked.frame) or as_question(turn.question)
    added, people = _population(turn)
    placed = _with_object(own, state.focus)
    chain = _chain(state.frame, placed or own)
    if placed is not None:
        # "How much should a woman take?" with the focus as its object reads on its own.
        standalone = fill(_with_population(placed, added), state.focus)
    else:
        standalone = fill(_with_population(chain, added), state.focus)
    qtype = state.qtype if asked.qtype is QuestionType.OTHER else asked.qtype
    next_state = ConversationState(state.focus, chain, qtype, standalone, people, state.aside)
    return _Outcome(standalone, next_state, False)


def _pronoun(turn: _Turn) -> _Outcome:
    state, asked = turn.state, turn.asked
    template, used = _template(turn)
    added, people = _population(turn)
    # The user's words for what the pronoun stands for: a page that says "folic acid" is found
    # by "folic acid", not by the table's "folate".
    standalone = fill(_with_population(template, added), [c.as_said for c in used])
    if asked.focus:
        # The question names things of its own: after resolution it is a full question. Its
        # pronoun comes before them (a pronoun after them is theirs), so the concept it stood
        # for stays first: "Can it be mistaken for iron deficiency?" keeps thalassemia the
        # focus and adds iron deficiency as a second concept.
        resolved = analyze(standalone)
        frame = resolved.frame or BARE_FRAME
        next_state = ConversationState(resolved.focus, frame, resolved.qtype, standalone, people)
        return _Outcome(standalone, next_state, False)
    qtype = state.qtype if asked.qtype is QuestionType.OTHER else asked.qtype
    focus, frame, aside = state.focus, as_question(template), state.aside
    if len(used) < len(focus):
        # "it" stands for one of the concepts ("How is it treated?" after "Are B12 levels
        # higher with lower ferritin?"): the conversation goes on about that one, and the
        # earlier question, which related them, is no longer part of what is asked ("What
        # dose?" asks how B12 is dosed). The others stay on topic.
        focus, aside = used, (*(c for c in focus if c not in used), *aside)
    else:
        frame = _chain(state.frame, frame)
    next_state = ConversationState(focus, frame, qtype, standalone, people, aside)
    return _Outcome(standalone, next_state, False)


# --------------------------------------------------------------------------------------------
# Objects and populations carried over.
# --------------------------------------------------------------------------------------------

_HOW_MUCH = re.compile(
    r"^\W*how much\b(?=\s+(?:should|do|does|did|can|could|would|will|must|may|might|is|are)\b)",
    re.IGNORECASE,
)
_THE_ATTRIBUTE = re.compile(
    r"\bthe (?:risks?|symptoms|signs|complications|causes|side effects)\b(?!\s+of\b)",
    re.IGNORECASE,
)


def _with_object(frame: str, focus: Sequence[Concept]) -> str | None:
    """A one-concept conversation's follow-up that lacks the focus as its object, with it:
    "How much should a woman take?" -> "How much {focus} should a woman take?" (the nutrient,
    ``{head}``, when the focus is a deficiency), "What are the risks for the baby?" -> "What are
    the risks of {focus} for the baby?". ``None`` when the frame is neither."""
    if len(focus) != 1 or _slots(frame):
        return None
    how_much = _HOW_MUCH.match(frame)
    if how_much is not None:
        taken = focus[0].qualifier in _DEFICIENCY_QUALIFIERS
        placeholder = "{head}" if taken else "{focus}"
        return f"{frame[: how_much.end()]} {placeholder}{frame[how_much.end() :]}"
    attribute = _THE_ATTRIBUTE.search(frame)
    if attribute is not None:
        return f"{frame[: attribute.end()]} of {{focus}}{frame[attribute.end() :]}"
    return None


_OFFSPRING = frozenset(
    "baby babies infant infants newborn newborns fetus fetuses unborn".split()  # noqa: SIM905
)
_MOTHERHOOD = frozenset(
    "pregnancy pregnancies pregnant breastfeeding lactating mother mothers mom moms mum "  # noqa: SIM905
    "mums".split()
)
_LONE_ADJECTIVES = {
    "pregnant": "pregnancy",
    "lactating": "breastfeeding",
    "elderly": "older people",
    "older": "older people",
    "unborn": "the unborn baby",
}
_ONE_PERSON = frozenset(
    "woman man child kid toddler infant baby newborn adult teenager teen adolescent mother "  # noqa: SIM905
    "mom mum girl boy fetus vegetarian vegan athlete".split()
)


def _population(turn: _Turn) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """For a follow-up that inherits the focus: the inherited population its standalone should
    name, and the population of the next state.

    It inherits the conversation's population unless it names its own; the baby of a pregnancy
    is no new population ("What are the risks for the baby?" after pregnant women)."""
    inherited, own = turn.state.population, turn.asked.population
    if not own:
        return inherited, inherited
    offspring = _population_words(own) <= _OFFSPRING
    if offspring and _population_words(inherited) & _MOTHERHOOD:
        return inherited, inherited
    return (), own


_AFTER_SLOT = re.compile(
    r"\s*[?!.]|\s+(?:for|of|during|before|after|with|to|on|at|from|when|while|if|and|or)\b",
    re.IGNORECASE,
)
_ANY_SLOT = re.compile(r"\{(?:focus|head)\d*\}")


def _with_population(template: str, phrases: Sequence[str]) -> str:
    """``template`` naming ``phrases`` ("in pregnant women") in its last sentence about the
    focus (one with a placeholder), right after that placeholder when a preposition or the end
    follows it ("How common is {focus} in pregnant women?"), otherwise at the sentence's end.
    Phrases it already names are not repeated; a template with no placeholder is left alone."""
    words = set(re.findall(r"[a-z]+", normalize(template)))
    missing = [p for p in phrases if not set(p.split()) & words]
    sentences = _SENTENCE_END.split(template)
    about = [i for i, s in enumerate(sentences) if _ANY_SLOT.search(s)]
    if not missing or not about:
        return template
    people = "in " + " and ".join(_people(p) for p in missing)
    sentence = sentences[about[-1]]
    found = _ANY_SLOT.search(sentence)
    if found and _AFTER_SLOT.match(sentence, found.end()):
        sentence = f"{sentence[: found.end()]} {people}{sentence[found.end() :]}"
    else:
        body = sentence.rstrip(" ?!.")
        sentence = f"{body} {people}{sentence[len(body) :]}"
    sentences[about[-1]] = sentence
    return " ".join(sentences)


_SUBJECT = re.compile(r"\b(?:she|he)\b", re.IGNORECASE)
_SINGULAR = {
    "women": "woman", "men": "man", "children": "child", "kids": "kid", "babies": "baby",
    "infants": "infant", "newborns": "newborn", "mothers": "mother", "moms": "mom",
    "mums": "mum", "adults": "adult", "teenagers": "teenager", "teens": "teen",
    "adolescents": "adolescent", "girls": "girl", "boys": "boy", "toddlers": "toddler",
    "athletes": "athlete", "vegetarians": "vegetarian", "vegans": "vegan",
}  # fmt: skip


def _one_of(phrase: str) -> str | None:
    """One person of a population ("a pregnant woman" of "pregnant women"), or ``None`` when
    the phrase names no people ("pregnancy")."""
    *words, last = phrase.split()
    last = _SINGULAR.get(last, last)
    if last not in _ONE_PERSON:
        return None
    return ("an " if (words or [last])[0][0] in "aeiou" else "a ") + " ".join([*words, last])


def _people(phrase: str) -> str:
    """A population phrase as it reads after "in": "pregnancy", "a woman", "older people"."""
    phrase = _LONE_ADJECTIVES.get(phrase, phrase)
    if phrase.split()[-1] in _ONE_PERSON:
        return ("an " if phrase[0] in "aeiou" else "a ") + phrase
    return phrase


def _chain(old: str | None, new: str) -> str:
    segments = [*_SENTENCE_END.split(old), new] if old else [new]
    if len(segments) > MAX_CHAIN:
        segments = [segments[0], *segments[-(MAX_CHAIN - 1) :]]
    return " ".join(segments)


_SENTENCE_END = re.compile(r"(?<=[?!.])\s+")

_RULES: dict[RewriteRule, Callable[[_Turn], _Outcome]] = {
    RewriteRule.FIRST: _first,
    RewriteRule.NEW_TOPIC: _new_topic,
    RewriteRule.UNCHANGED: _unchanged,
    RewriteRule.SUBSTITUTE_FOCUS: _substitute_focus,
    RewriteRule.INHERIT_FOCUS: _inherit_focus,
    RewriteRule.PRONOUN: _pronoun,
}
