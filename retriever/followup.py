"""Follow-up questions without an LLM: a retrieval query built from the conversation so far.

A follow-up such as "What dose?" or "Is it safe in pregnancy?" is not a search query on its own.
The retriever (``HybridRetriever.plan``) first rewrites it into a standalone question with
:mod:`retriever.rewrite` ("And for B12?" after "How is iron deficiency treated?" becomes "How is
vitamin B12 deficiency treated?"), unless ``FollowupConfig.rewrite`` is off. :func:`build_query`
then turns that query, with the earlier turns, into the parts of one search:

* **Lexical leg.** The follow-up, plus up to ``lexical_terms`` salient words from earlier turns
  searched as a second BM25 query whose scores are added with weight ``lexical_weight``. BM25 is
  a sum over query terms, so this is BM25 of one query in which the context words count
  ``lexical_weight`` times. A word's salience is its idf in the index times the weight of the
  turn it came from (``decay ** age``, age 0 for the most recent turn; answer words are further
  multiplied by ``answer_term_weight``). Words already in the follow-up and stop words
  (:data:`retriever.terms.QUERY_STOP_WORDS` and the index's own) are skipped. The chosen words
  are shown in the order they were said.
* **Dense leg.** One query vector: the normalised sum of the follow-up's embedding (weight 1)
  and each earlier question's embedding with weight ``dense_weight * decay ** age``
  (a Rocchio-style blend; Rocchio 1971).
* **Carried passages.** Passages the previous answers cited are offered again as candidates,
  as a third ranked list (ordered by similarity to the query vector) fused with weight
  ``carry_weight``.

**Topic shift.** A follow-up that changes the subject must not be dragged back to the old one.
An elliptical follow-up, with at most ``short_question_terms`` content words (an index term of a
word outside :data:`~retriever.terms.QUERY_STOP_WORDS`), always leans on the conversation ("What
dose?", "Is it safe in pregnancy?"): its embedding says little on its own. A longer question is
judged a topic shift when its embedding's cosine to every considered earlier question is below
``hard_shift_similarity``, or below ``shift_similarity`` unless it leans on the conversation:
it shares a content word with an earlier question or answer, or it contains an anaphoric or
elliptical cue (``it``, ``this``, ``they``, ``what about``, ``what dose`` ...). A stray "this"
does not tie a question about a burger chain to one about inventory turnover. On a shift no
context is used at all: the query is the follow-up alone. The thresholds were tuned on MTRAG
only (benchmarks/followup_mtrag.py); there a genuine follow-up's cosine to the previous
question is often low (10th percentile 0.16), which is why cues and shared words matter.
``FollowupConfig.shift_rule`` (:class:`ShiftRule`) says whether the rewriter's decisions
override this rule: by default only an explicit substitution of the focus ("And for B12?") is
a shift whatever the cosines, since the two questions are otherwise close and the old focus
would come back as a context word. The rewriter's other topic-shift decisions (a question with a
new focus of its own) are not taken: on MTRAG they flag most genuine follow-ups.

Everything here is pure: the caller encodes the texts (:func:`context_texts` says which) and
passes the vectors and the index's term statistics in.

Example (``embedder`` and ``stats`` come from a loaded index; the question as typed)::

    convo = Conversation((Turn("Which foods contain vitamin B12 for vegetarians?"),))
    texts = context_texts("What dose should I take?", convo, FollowupConfig())
    plan = build_query(texts[0], convo, embedder.encode_queries(texts), stats)
    plan.standalone_query  # 'What dose should I take? foods vitamin b12 vegetarians'
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from corpus.types import parse_choice
from index.types import TermCounts, Vectors
from retriever.question import QuestionAnalysis
from retriever.rewrite import Rewrite, RewriteRule
from retriever.terms import QUERY_STOP_WORDS
from retriever.types import Conversation

_WORD = re.compile(r"(?u)\b\w\w+\b")
# Words that make a question lean on what was said before (English anaphora and ellipsis).
_CUES = re.compile(
    r"\b(it|its|it's|itself|they|them|their|theirs|this|that|these|those|he|she|him|her|his|"
    r"hers|such|same|former|latter|there|then|also|too|else|other|another|instead|"
    r"what about|how about|and what|what if|how much|how many|how long|how often|what dose|"
    r"which one|which ones|more|less|again)\b",
    re.IGNORECASE,
)


class ShiftRule(enum.StrEnum):
    """Who decides that a follow-up changes the topic (and so gets no context).

    * ``EMBEDDING``: :func:`detect_shift` (cosines, cues and shared words).
    * ``SUBSTITUTION``: :func:`detect_shift`, and also every follow-up the rewriter answered by
      swapping the focus for an unrelated one ("And for B12?" after iron deficiency): its
      standalone question already carries the frame, and the old focus must not come back.
    * ``RECOGNISED``: as ``SUBSTITUTION``, and also every new topic the rewriter judged
      between entries of the synonym table (:attr:`retriever.rewrite.Rewrite.recognised`:
      "What causes pernicious anemia?" after a question on ferritin). Between noun phrases
      it does not know, its judgment is left to :func:`detect_shift`.
    * ``REWRITER``: the rewriter's own decision (:attr:`retriever.rewrite.Rewrite.topic_shift`:
      a new unrelated focus, or a swapped one).

    The rewriter's decisions are only used when the standalone question is searched
    (``FollowupConfig.rewrite``); without it the rule is always ``EMBEDDING``.
    """

    EMBEDDING = "embedding"
    SUBSTITUTION = "substitution"
    RECOGNISED = "recognised"
    REWRITER = "rewriter"

    @classmethod
    def parse(cls, value: str) -> ShiftRule:
        """Parse a rule name, with an error that lists the valid names."""
        return parse_choice(cls, value, "shift rule")


class TermStatistics(Protocol):
    """The index's view of words: how it analyses them and how rare they are."""

    def analyze(self, text: str) -> list[str]:
        """Index terms of ``text`` (lower-cased, stop words removed, stemmed), in order."""
        ...

    def idf(self, word: str) -> float:
        """Inverse document frequency of the index term ``word`` analyses to; 0 for a stop
        word or a term in no passage."""
        ...


@dataclass(frozen=True)
class FollowupConfig:
    """Knobs of the follow-up query builder (module docstring; chosen on MTRAG only).

    Attributes:
        max_turns: Earlier turns considered, most recent first.
        decay: Weight multiplier per turn of age (age 0 = the most recent earlier turn).
        dense_weight: Weight of the most recent earlier question's embedding in the blend
            (the follow-up's own embedding has weight 1).
        lexical_terms: Most salient context words added to the BM25 query.
        lexical_weight: Weight of the BM25 scores of the context words.
        answer_term_weight: Salience multiplier for words from earlier answers (0 ignores them).
        carry_weight: RRF weight of the previously cited passages' list.
        shift_similarity: Below this cosine to every earlier question, with no cue and no
            shared word, a topic shift.
        hard_shift_similarity: Below this cosine, a topic shift even with cues.
        short_question_terms: A follow-up with at most this many content words is never a
            topic shift.
        rewrite: Search for the standalone question of :mod:`retriever.rewrite` ("And for
            B12?" -> "How is vitamin B12 deficiency treated?") instead of the follow-up as
            typed; it is also the ``standalone_query`` shown to users.
        shift_rule: Who decides a topic shift (:class:`ShiftRule`).

    Example:
        >>> cfg = FollowupConfig(shift_rule="rewriter")
        >>> cfg.shift_rule is ShiftRule.REWRITER, cfg.rewrite
        (True, True)
    """

    # rewrite, shift_rule, dense_weight and lexical_weight: chosen by 5-fold cross-validation
    # on MTRAG's 222 later turns (`nice python benchmarks/followup_mtrag.py`), by nDCG@10, among
    # 18 candidates (the standalone question; SUBSTITUTION or REWRITER, the rules that never
    # drag a substituted focus back; dense_weight 0.3/0.5/1.0 x lexical_weight 0.3/0.6/1.0);
    # 4 of 5 folds and all tasks chose these. Held out, the procedure scores nDCG@10 0.914
    # (R@10 0.959) against 0.875 (0.933) for the last two user questions concatenated, the best
    # baseline (paired randomisation p < 0.001), and 0.842 (0.904) for the last turn alone; on
    # the 14 topic-change tasks 0.865 against 0.861 for the last turn alone. REWRITER drops the
    # context on 131 of 222 later turns (in-sample nDCG@10 0.886, the defaults 0.916).
    # The others were tuned on the same tasks before (in-sample, by recall@10, flat within
    # +-0.005 around these values): shift_similarity's plateau is 0.2-0.4, 0.3 taken to err
    # towards not dragging an unrelated question back; hard_shift_similarity 0.12-0.15 keeps the
    # topic-change tasks at their no-context recall, 0.2 starts to cut genuine follow-ups.
    # carry_weight is untuned (MTRAG has no cited passages).
    max_turns: int = 3
    decay: float = 0.5
    dense_weight: float = 0.3
    lexical_terms: int = 8
    lexical_weight: float = 0.3
    answer_term_weight: float = 0.0
    carry_weight: float = 0.5
    shift_similarity: float = 0.3
    hard_shift_similarity: float = 0.15
    short_question_terms: int = 2
    rewrite: bool = True
    shift_rule: ShiftRule = ShiftRule.RECOGNISED

    def __post_init__(self) -> None:
        if not isinstance(self.shift_rule, ShiftRule):
            object.__setattr__(self, "shift_rule", ShiftRule.parse(str(self.shift_rule)))
        if self.max_turns < 0 or self.lexical_terms < 0 or self.short_question_terms < 0:
            raise ValueError("max_turns, lexical_terms and short_question_terms must be >= 0")
        for name in (
            "decay",
            "dense_weight",
            "lexical_weight",
            "answer_term_weight",
            "carry_weight",
        ):
            value = getattr(self, name)
            if value < 0 or not math.isfinite(value):
                raise ValueError(f"{name} must be finite and >= 0, got {value}")
        if not -1.0 <= self.hard_shift_similarity <= self.shift_similarity <= 1.0:
            raise ValueError(
                "need -1 <= hard_shift_similarity <= shift_similarity <= 1, got "
                f"{self.hard_shift_similarity} and {self.shift_similarity}"
            )


@dataclass(frozen=True)
class WeightedText:
    """A query text and the weight its scores get."""

    text: str
    weight: float


@dataclass(frozen=True)
class ShiftSignals:
    """Why a follow-up was (or was not) judged a topic shift."""

    similarity: float  # max cosine to the earlier questions considered
    shared_terms: tuple[str, ...]  # follow-up index terms also found in earlier turns
    cue: str | None  # the anaphoric cue found, if any
    content_terms: int  # index terms in the follow-up


@dataclass(frozen=True)
class FollowupQuery:
    """How to search for one (follow-up) question.

    Attributes:
        question: The follow-up as asked.
        standalone_query: The text shown to users: the follow-up plus the context words used.
        lexical: BM25 queries and the weights their scores are added with.
        dense_weights: Weights of the rows of the vectors given to :func:`build_query`
            (follow-up first); :func:`blend` turns them into the query vector.
        carried: Ids of previously cited passages to offer as candidates.
        topic_shift: The follow-up was judged to change the topic.
        used_context: Anything from earlier turns went into the query.
        signals: The evidence for the topic-shift decision (``None`` without earlier turns).
        analysis: The standalone question's focus and type (set by the retriever).
        synonyms: A BM25 query of the synonym table's names for focus concepts the question
            words otherwise (set by the retriever, ``RetrievalConfig.synonym_weight``).
    """

    question: str
    standalone_query: str
    lexical: tuple[WeightedText, ...]
    dense_weights: tuple[float, ...]
    carried: tuple[str, ...] = ()
    topic_shift: bool = False
    used_context: bool = False
    signals: ShiftSignals | None = None
    analysis: QuestionAnalysis | None = None
    synonyms: WeightedText | None = None


def imposed_shift(config: FollowupConfig, rewritten: Rewrite) -> bool | None:
    """The topic-shift decision the rewriter imposes under ``config.shift_rule``.

    Returns:
        ``True`` or ``False`` to impose on :func:`build_query`, or ``None`` to leave the
        decision to :func:`detect_shift`.

    Example:
        >>> from retriever.rewrite import replay
        >>> swapped = replay(["How is iron deficiency treated?", "And for B12?"])[-1]
        >>> imposed_shift(FollowupConfig(shift_rule=ShiftRule.SUBSTITUTION), swapped)
        True
        >>> imposed_shift(FollowupConfig(shift_rule=ShiftRule.EMBEDDING), swapped) is None
        True
    """
    if not config.rewrite or config.shift_rule is ShiftRule.EMBEDDING:
        return None
    if config.shift_rule is ShiftRule.REWRITER:
        return rewritten.topic_shift
    swapped = rewritten.rule is RewriteRule.SUBSTITUTE_FOCUS and rewritten.topic_shift
    recognised = (
        config.shift_rule is ShiftRule.RECOGNISED
        and rewritten.rule is RewriteRule.NEW_TOPIC
        and rewritten.recognised
    )
    return True if swapped or recognised else None


def considered_turns(conversation: Conversation | None, config: FollowupConfig) -> list[int]:
    """Indexes of the earlier turns considered, most recent first."""
    if conversation is None or config.max_turns == 0:
        return []
    count = len(conversation.turns)
    return list(range(count - 1, max(count - 1 - config.max_turns, -1), -1))


def context_texts(
    question: str, conversation: Conversation | None, config: FollowupConfig
) -> list[str]:
    """The texts whose embeddings :func:`build_query` needs: the follow-up, then the earlier
    questions considered, most recent first."""
    turns = conversation.turns if conversation is not None else ()
    return [question] + [turns[i].question for i in considered_turns(conversation, config)]


def find_cue(question: str) -> str | None:
    """The first anaphoric or elliptical cue in ``question``, lower-cased, or ``None``."""
    match = _CUES.search(question)
    return match.group(0).lower() if match else None


def blend(vectors: Vectors, weights: Sequence[float]) -> Vectors:
    """The normalised weighted sum of ``vectors`` rows, shape ``(dimension,)``."""
    if len(weights) != len(vectors):
        raise ValueError(f"{len(weights)} weights for {len(vectors)} vectors")
    total = np.asarray(weights, np.float32) @ np.asarray(vectors, np.float32)
    norm = float(np.linalg.norm(total))
    return (total / norm if norm > 0 else total).astype(np.float32)


def index_terms(text: str, stats: TermStatistics) -> list[str]:
    """Index terms of the words of ``text`` that are not in :data:`QUERY_STOP_WORDS`, in
    order."""
    terms: list[str] = []
    for word in _WORD.findall(text.lower()):
        if word not in QUERY_STOP_WORDS:
            terms.extend(stats.analyze(word))
    return terms


def _salient_words(
    question_terms: set[str],
    conversation: Conversation,
    turns: list[int],
    stats: TermStatistics,
    config: FollowupConfig,
) -> list[str]:
    """Up to ``lexical_terms`` surface words from earlier turns, most salient first."""
    salience: dict[str, float] = {}
    surface: dict[str, str] = {}
    order: dict[str, int] = {}
    for age, index in enumerate(turns):
        turn = conversation.turns[index]
        sources = [(turn.question, 1.0)]
        if config.answer_term_weight > 0 and turn.answer:
            sources.append((turn.answer, config.answer_term_weight))
        for text, source_weight in sources:
            weight = source_weight * config.decay**age
            seen_here: set[str] = set()
            for word in _WORD.findall(text.lower()):
                if word in QUERY_STOP_WORDS:
                    continue
                terms = stats.analyze(word)
                if len(terms) != 1:  # a stop word, or a word the analyser splits
                    continue
                term = terms[0]
                if term in question_terms or term in seen_here:
                    continue
                seen_here.add(term)
                idf = stats.idf(word)
                if idf <= 0:
                    continue
                salience[term] = salience.get(term, 0.0) + idf * weight
                surface.setdefault(term, word)
                order.setdefault(term, len(order))
    ranked = sorted(salience, key=lambda term: (-salience[term], order[term]))
    chosen = sorted(ranked[: config.lexical_terms], key=order.__getitem__)
    # Chosen by salience, shown in the order they were said (most recent turn first).
    return [surface[term] for term in chosen]


def _earlier_terms(conversation: Conversation, turns: list[int], stats: TermStatistics) -> set[str]:
    terms: set[str] = set()
    for index in turns:
        turn = conversation.turns[index]
        terms.update(index_terms(turn.question, stats))
        terms.update(index_terms(turn.answer, stats))
    return terms


def detect_shift(
    question: str,
    conversation: Conversation,
    vectors: Vectors,
    stats: TermStatistics,
    config: FollowupConfig,
) -> tuple[bool, ShiftSignals]:
    """The topic-shift rule of the module docstring; ``vectors`` as for :func:`build_query`."""
    turns = considered_turns(conversation, config)
    matrix = np.asarray(vectors, np.float32)
    similarity = float(np.max(matrix[1:] @ matrix[0])) if len(matrix) > 1 else 1.0
    question_terms = index_terms(question, stats)
    shared = sorted(set(question_terms) & _earlier_terms(conversation, turns, stats))
    cue = find_cue(question)
    signals = ShiftSignals(similarity, tuple(shared), cue, len(question_terms))
    if len(question_terms) <= config.short_question_terms:
        return False, signals  # elliptical: "What dose?", "Is it safe in pregnancy?"
    if similarity < config.hard_shift_similarity:
        return True, signals
    leans = bool(shared) or cue is not None
    return (similarity < config.shift_similarity and not leans), signals


def build_query(
    question: str,
    conversation: Conversation | None,
    vectors: Vectors,
    stats: TermStatistics,
    config: FollowupConfig | None = None,
    *,
    shift: bool | None = None,
) -> FollowupQuery:
    """Plan the search for ``question`` given the conversation so far.

    Args:
        question: The follow-up (already checked to be non-empty).
        conversation: Earlier turns; ``None`` or no turns means a first question.
        vectors: Normalised embeddings of :func:`context_texts` (same order).
        stats: The index's term statistics, for salient context words.
        config: Knobs; defaults to :class:`FollowupConfig`.
        shift: A topic-shift decision already taken (by the rewriter); ``None`` applies
            :func:`detect_shift`.

    Returns:
        The query parts, the standalone query text and the topic-shift decision.
    """
    config = config or FollowupConfig()
    turns = considered_turns(conversation, config)
    if len(vectors) != 1 + len(turns):
        raise ValueError(
            f"expected {1 + len(turns)} vectors (see context_texts), got {len(vectors)}"
        )
    alone = FollowupQuery(
        question=question,
        standalone_query=question,
        lexical=(WeightedText(question, 1.0),),
        dense_weights=(1.0,) + (0.0,) * len(turns),
    )
    if conversation is None or not turns:
        return alone
    detected, signals = detect_shift(question, conversation, vectors, stats, config)
    if shift is None:
        shift = detected
    if shift:
        return FollowupQuery(
            question=question,
            standalone_query=question,
            lexical=alone.lexical,
            dense_weights=alone.dense_weights,
            topic_shift=True,
            signals=signals,
        )
    words = _salient_words(set(index_terms(question, stats)), conversation, turns, stats, config)
    lexical = [WeightedText(question, 1.0)]
    if words and config.lexical_weight > 0:
        lexical.append(WeightedText(" ".join(words), config.lexical_weight))
    dense_weights = (1.0,) + tuple(
        config.dense_weight * config.decay**age for age in range(len(turns))
    )
    carried: list[str] = []
    if config.carry_weight > 0:
        for index in turns:
            for passage_id in conversation.turns[index].cited:
                if passage_id not in carried:
                    carried.append(passage_id)
    used = len(lexical) > 1 or any(w > 0 for w in dense_weights[1:]) or bool(carried)
    standalone = f"{question} {' '.join(words)}" if len(lexical) > 1 else question
    return FollowupQuery(
        question=question,
        standalone_query=standalone,
        lexical=tuple(lexical),
        dense_weights=dense_weights,
        carried=tuple(carried),
        topic_shift=False,
        used_context=used,
        signals=signals,
    )


class LexicalTermStatistics:
    """:class:`TermStatistics` from a lexical store's analyser and document frequencies.

    It uses the store's own analyser (``tokenize``), so context words are chosen in the terms
    the index matches on, and the Lucene idf ``ln(1 + (N - df + 0.5) / (df + 0.5))`` over the
    store's document frequencies. Results are memoised per term.

    Args:
        counts: The lexical store (:class:`index.types.TermCounts`).
    """

    def __init__(self, counts: TermCounts) -> None:
        self._counts = counts
        self._tokenize = counts.tokenize
        self._idf: dict[str, float] = {}
        self._analysed: dict[str, list[str]] = {}

    def analyze(self, text: str) -> list[str]:
        if len(text) < 40:  # single words and short questions repeat across turns
            cached = self._analysed.get(text)
            if cached is None:
                cached = self._analysed[text] = self._tokenize(text)
            return list(cached)
        return self._tokenize(text)

    def idf(self, word: str) -> float:
        terms = self.analyze(word)
        if len(terms) != 1:
            return 0.0
        cached = self._idf.get(terms[0])
        if cached is None:
            # Counting the surface word, not its stem: the store analyses what it is given, and
            # stemming a stem again is not always the identity.
            df = self._counts.document_frequency(word)
            n = self._counts.num_docs
            cached = 0.0 if df == 0 else math.log(1.0 + (n - df + 0.5) / (df + 0.5))
            self._idf[terms[0]] = cached
        return cached
