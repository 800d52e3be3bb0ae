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
  dose?".)
* ``unchanged`` / ``new_topic``: a question with its own focus and frame stands as asked. It is
  a topic shift (``new_topic``, state reset to it) when no focus concept shares a head with the
  current focus; ``unchanged`` otherwise. A bare noun phrase starting a topic becomes "What is
  known about <focus>?".

``topic_shift`` means the focus changed to something unrelated (no shared head), so context
about the earlier focus should not be mixed into retrieval: it is true for ``new_topic`` and for
a ``substitute_focus`` that swaps the head ("And for B12?" after iron deficiency), whose
standalone already carries what is still needed (the frame).

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
from dataclasses import dataclass

from retriever.question import (
    Concept,
    QuestionAnalysis,
    QuestionType,
    Vocabulary,
    analyze,
    as_question,
    concept,
    fill,
    is_content_word,
    normalize,
    slot,
    with_head,
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

    Example:
        >>> state = rewrite("How is iron deficiency treated?").state
        >>> state.frame, [c.name for c in state.focus]
        ('How is {focus} treated?', ['iron deficiency'])
    """

    focus: tuple[Concept, ...] = ()
    frame: str | None = None
    qtype: QuestionType | None = None
    standalone: str | None = None


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
    asked = analyze(question, vocabulary)
    current = state or ConversationState()
    turn = _Turn(question, asked, _resolvable_pronouns(question, asked), current)
    rule = _choose(turn)
    outcome = _RULES[rule](turn)
    return Rewrite(
        question=question,
        standalone=outcome.standalone,
        analysis=analyze(outcome.standalone, vocabulary),
        state=outcome.state,
        rule=rule,
        topic_shift=outcome.topic_shift,
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
    return RewriteRule.UNCHANGED if shares_head(asked.focus, state.focus) else RewriteRule.NEW_TOPIC


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


def _as_asked(turn: _Turn, topic_shift: bool) -> _Outcome:
    asked = turn.asked
    if asked.frame is None:
        frame = BARE_FRAME
        standalone = fill(BARE_FRAME, asked.focus)
    else:
        frame = asked.frame
        standalone = as_question(turn.question)
    state = ConversationState(asked.focus, frame, asked.qtype, standalone)
    return _Outcome(standalone, state, topic_shift)


def _first(turn: _Turn) -> _Outcome:
    return _as_asked(turn, topic_shift=False)


def _new_topic(turn: _Turn) -> _Outcome:
    return _as_asked(turn, topic_shift=True)


def _unchanged(turn: _Turn) -> _Outcome:
    return _as_asked(turn, topic_shift=False)


def _substitute_focus(turn: _Turn) -> _Outcome:
    state, new = turn.state, turn.asked.focus
    old = state.focus
    swapped = tuple(with_head(old[i], c) if i < len(old) else c for i, c in enumerate(new))
    focus = swapped + old[len(new) :]
    frame = state.frame or BARE_FRAME
    standalone = fill(frame, focus)
    next_state = ConversationState(focus, frame, state.qtype, standalone)
    return _Outcome(standalone, next_state, topic_shift=not shares_head(new, old))


def _inherit_focus(turn: _Turn) -> _Outcome:
    state, asked = turn.state, turn.asked
    own = asked.frame or as_question(turn.question)
    chain = _chain(state.frame, own)
    standalone = fill(chain, state.focus)
    qtype = state.qtype if asked.qtype is QuestionType.OTHER else asked.qtype
    return _Outcome(standalone, ConversationState(state.focus, chain, qtype, standalone), False)


def _pronoun(turn: _Turn) -> _Outcome:
    state, asked = turn.state, turn.asked
    template, used = _template(turn)
    standalone = fill(template, used)
    if asked.focus:
        # The question names things of its own: after resolution it is a full question.
        resolved = analyze(standalone)
        frame = resolved.frame or BARE_FRAME
        next_state = ConversationState(resolved.focus, frame, resolved.qtype, standalone)
        return _Outcome(standalone, next_state, False)
    chain = _chain(state.frame, as_question(template))
    qtype = state.qtype if asked.qtype is QuestionType.OTHER else asked.qtype
    return _Outcome(standalone, ConversationState(state.focus, chain, qtype, standalone), False)


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
