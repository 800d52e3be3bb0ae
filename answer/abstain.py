"""When to abstain, when to warn, and the fixed wording of every notice.

**Features.** :func:`abstention_features` summarises, per question, what retrieval and sentence
scoring already computed (:class:`AbstentionFeatures`): the best candidate sentence's relevance
(:func:`answer.compose.relevance`), whether one retrieved passage (text or title) names every
focus concept of the question analysis and the largest share it names, the number of focus
concepts, the BM25 and dense top scores of the retriever's two legs, ``joint_z`` (how far the
best document stands out in both legs: its z-scores summed, as z-score fusion computes them,
whatever fusion the retriever is configured with) and the gap between the first two fused
scores.

**Model.** :data:`MODEL` is a logistic regression over standardised inputs giving the
probability that the index cannot answer the question; :func:`judge_support` abstains at
:data:`ABSTAIN_PROBABILITY` or above and adds the weak-evidence notice from
:data:`WEAK_PROBABILITY`. Served inputs: best sentence relevance, dense top cosine, ``joint_z``
and log(1 + BM25 top), every coefficient negative (better matches, less abstention). The focus
coverage, the number of concepts and the fused gap were candidates but did not raise the
out-of-fold AUC (the question analysis is tuned to medical text; the gap alone separates
little: AUC 0.58 on MTRAG).

**Calibration** (``benchmarks/abstention_cv.py``): the real engine answers the 297 MTRAG-UN
tasks labelled ANSWERABLE, PARTIAL or UNANSWERABLE (../shared/data/mtrag, each last question in its
conversation, over an index of all gold contexts; UNDERSPECIFIED left out) and the 52 LiveQA-Med
dev questions (over var/medquad-subset-index; a question is answerable when a judged MedQuAD
answer is in that index, and the 17 without any judged answer, 16 of them drug questions whose
MedlinePlus pages MedQuAD withdrew, count as unanswerable). UNANSWERABLE is the positive
class. In 10 x 5-fold stratified cross-validation, each training part chooses the input set
among 8 fixed candidates (by inner out-of-fold AUC), fits the model, and sets the cuts on inner
out-of-fold probabilities: abstention at the F0.5-best cut (precision counts twice: a wrong
abstention withholds evidence the index has), the weak notice at the F1-best cut below it for
"not ANSWERABLE". Held-out figures, pooled per repeat, mean ± sd over the 10 repeats, with the
default int8 ONNX encoder:

=================================  ===========  ===========  ===========  ===========  ========
rule                               MTRAG P      MTRAG R      LiveQA P     LiveQA R     ANS abst
=================================  ===========  ===========  ===========  ===========  ========
this model (set chosen per fold)   0.760±0.021  0.581±0.021  0.795±0.042  0.588±0.046  4.1%
best sentence, cut refit per fold  0.502±0.010  0.520±0.036  0.626±0.028  0.482±0.058  14.8%
best sentence < 0.42 (old rule)    0.517        0.643        0.647        0.647        16.8%
=================================  ===========  ===========  ===========  ===========  ========

("ANS abst": share of MTRAG ANSWERABLE questions abstained on.) Out-of-fold AUC on MTRAG 0.892
against 0.823 for the best sentence score alone. The issue's target, precision >= 0.7 at
recall >= 0.5 on MTRAG, holds out of sample, with little margin. With the torch encoder (the
earlier default) the same procedure gave 0.722±0.020 / 0.557±0.020. The weak notice marks 44%
of the answers given (33% of ANSWERABLE ones); among them, 48% are not fully answerable. What
limits it: the features measure how well the index *matches* the question, not whether a
passage *answers* it (an MTRAG UNANSWERABLE question often matches on-topic passages well), and
349 questions from two non-clinical or consumer sets are few. Re-derive with::

    nice python benchmarks/abstention_cv.py  # table, var/results/abstention_cv.json, constants

It prints the constants below and whether they are in force. Evidence without retrieval
signals (``joint_z`` is ``None``: a hand-built or stand-in :class:`~retriever.types.Evidence`,
or an index or filter with fewer passages than the dense candidate depth, 200, where the
z-scores are not comparable with the calibration's) is judged by the old rule on the best
sentence score alone, with ``abstain_below`` / ``weak_below`` (by default
:data:`ABSTAIN_THRESHOLD`, :data:`WEAK_THRESHOLD`; ``ComposeConfig`` passes its own).

Example:
    >>> f = AbstentionFeatures(0.62, 1, True, 1.0, 12.0, 0.60, 10.5, 1.2)
    >>> judge_support(f)
    <Support.STRONG: 'strong'>
    >>> judge_support(AbstentionFeatures(None, 0, True, 1.0, None, None, None, 0.0))
    <Support.NONE: 'none'>
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from answer.lead import covers
from corpus.types import Passage
from retriever.question import QuestionAnalysis
from retriever.types import Evidence

# On the relevance scale of answer.compose.relevance. ABSTAIN_THRESHOLD is the floor below
# which the baseline composer quotes no sentence; WEAK_THRESHOLD is the relevance a lead quote
# needs to go without the weak-evidence notice. Both are also the old abstention rule (best
# sentence relevance below 0.42 abstains, below 0.50 warns; calibrated in-sample on MTRAG-UN by
# `nice python benchmarks/abstention_mtrag.py`), kept for evidence without retrieval signals.
ABSTAIN_THRESHOLD = 0.42
WEAK_THRESHOLD = 0.50

ABSTAIN_NOTICE = (
    "The indexed guideline and research evidence does not address this question, so no answer "
    "is given. Please ask a clinician, or rephrase the question."
)
WEAK_NOTICE = (
    "The indexed evidence only partly matches this question: the sentences below are the "
    "closest it contains. Check the cited sources before relying on them."
)
NO_GUIDELINE_NOTICE = "No indexed guideline passage addresses this question directly."
NO_RESEARCH_NOTICE = "No indexed research passage addresses this question directly."


class Support(str, enum.Enum):  # noqa: UP042 - str mixin like the other enums here
    """How well the retrieved evidence supports an answer."""

    NONE = "none"  # abstain
    WEAK = "weak"  # answer, with WEAK_NOTICE
    STRONG = "strong"  # answer


@dataclass(frozen=True)
class AbstentionFeatures:
    """What the retrieval and the sentence scoring of one question say about its support.

    Attributes:
        best_relevance: the best candidate sentence's :func:`answer.compose.relevance`, or
            ``None`` when no retrieved passage yielded a quotable sentence.
        focus_concepts: focus concepts of the question (:class:`QuestionAnalysis.focus`).
        focus_covered: some retrieved passage (its text or its title) names every focus
            concept; true for a question without focus concepts.
        focus_share: the largest share of the focus concepts that one retrieved passage names
            (1.0 without focus concepts).
        lexical_top: the best BM25 score of the lexical leg (``Evidence.lexical_top``;
            ``None`` when the leg found nothing or the evidence does not say).
        dense_top: the best dense score (cosine) of the dense leg (``Evidence.dense_top``).
        joint_z: how far the best document stands out in both legs (``Evidence.joint_z``:
            its z-scores over each leg's candidates, summed); ``None`` when the evidence
            reports no retrieval signals.
        fused_gap: the first fused score minus the second (0.0 with fewer than two).

    Example:
        >>> AbstentionFeatures(0.61, 2, True, 1.0, 14.2, 0.71, 9.5, 0.8).reported
        True
    """

    best_relevance: float | None
    focus_concepts: int
    focus_covered: bool
    focus_share: float
    lexical_top: float | None
    dense_top: float | None
    joint_z: float | None
    fused_gap: float

    @property
    def reported(self) -> bool:
        """Whether the retriever reported its signals (``HybridRetriever.evidence`` does)."""
        return self.joint_z is not None


def retrieved_passages(evidence: Evidence) -> list[Passage]:
    """Every passage the retriever handed over (fused list, then the groups), once each."""
    seen: dict[str, Passage] = {}
    for scored in (*evidence.fused, *evidence.guideline, *evidence.research):
        seen.setdefault(scored.passage.id, scored.passage)
    return list(seen.values())


def abstention_features(
    evidence: Evidence, best: float | None, analysis: QuestionAnalysis | None = None
) -> AbstentionFeatures:
    """The :class:`AbstentionFeatures` of ``evidence``; pure and cheap (no model calls).

    Args:
        evidence: what the retriever returned.
        best: the best candidate sentence relevance (``Prepared.best``).
        analysis: the question analysis the composer used; by default ``evidence.analysis``.
    """
    analysis = analysis if analysis is not None else evidence.analysis
    focus = analysis.focus if analysis is not None else ()
    if focus:
        counts = [covers(focus, p.text, p.title or None) for p in retrieved_passages(evidence)]
        most = max(counts, default=0)
        covered, share = most == len(focus), most / len(focus)
    else:
        covered, share = True, 1.0
    scores = [s.score for s in evidence.fused]
    return AbstentionFeatures(
        best_relevance=best,
        focus_concepts=len(focus),
        focus_covered=covered,
        focus_share=share,
        lexical_top=evidence.lexical_top,
        dense_top=evidence.dense_top,
        joint_z=evidence.joint_z,
        fused_gap=scores[0] - scores[1] if len(scores) > 1 else 0.0,
    )


def _value(value: float | None) -> float:
    return value if value is not None else 0.0


# The model's inputs, each a number computed from the features (a dispatch table, so a name
# in a stored model that is not here fails loudly). A missing score counts as 0.0 (no BM25
# match scores 0). BM25 grows with the query's length and rarity, so its logarithm is used.
INPUTS: dict[str, Callable[[AbstentionFeatures], float]] = {
    "best_relevance": lambda f: _value(f.best_relevance),
    "focus_covered": lambda f: float(f.focus_covered),
    "focus_share": lambda f: f.focus_share,
    "focus_concepts": lambda f: float(f.focus_concepts),
    "log_lexical_top": lambda f: math.log1p(max(_value(f.lexical_top), 0.0)),
    "dense_top": lambda f: _value(f.dense_top),
    "joint_z": lambda f: _value(f.joint_z),
    "fused_gap": lambda f: f.fused_gap,
}


def model_inputs(features: AbstentionFeatures, names: Sequence[str]) -> list[float]:
    """The values of the inputs ``names`` (keys of :data:`INPUTS`) for ``features``.

    Raises:
        KeyError: a name is not an input.
    """
    return [INPUTS[name](features) for name in names]


@dataclass(frozen=True)
class AbstentionModel:
    """Logistic regression over standardised inputs: the probability that the index cannot
    answer the question.

    ``p = 1 / (1 + exp(-(intercept + sum_i coefficients[i] * (x_i - means[i]) / scales[i])))``
    with ``x = model_inputs(features, inputs)``.

    Example:
        >>> model = AbstentionModel(("best_relevance",), (0.5,), (0.1,), (-2.0,), 0.0)
        >>> round(model.probability(AbstentionFeatures(0.6, 0, True, 1.0, 0, 0, 0, 0)), 4)
        0.1192
    """

    inputs: tuple[str, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    coefficients: tuple[float, ...]
    intercept: float

    def __post_init__(self) -> None:
        sizes = {len(self.inputs), len(self.means), len(self.scales), len(self.coefficients)}
        if len(sizes) != 1:
            raise ValueError("inputs, means, scales and coefficients must have one length")
        unknown = [name for name in self.inputs if name not in INPUTS]
        if unknown:
            raise ValueError(f"unknown inputs {unknown}; known: {sorted(INPUTS)}")
        if any(scale <= 0 for scale in self.scales):
            raise ValueError(f"scales must be positive, got {self.scales}")

    def logit(self, features: AbstentionFeatures) -> float:
        """The linear score (log-odds of "unanswerable")."""
        values = model_inputs(features, self.inputs)
        return self.intercept + sum(
            c * (x - m) / s
            for c, x, m, s in zip(self.coefficients, values, self.means, self.scales, strict=True)
        )

    def probability(self, features: AbstentionFeatures) -> float:
        """The probability that the question is unanswerable from the index."""
        z = self.logit(features)
        if z >= 0:  # the two forms keep exp() from overflowing
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)
        return e / (1.0 + e)


# Fitted on all 349 questions by `nice python benchmarks/abstention_cv.py` with the default
# int8 ONNX encoder and the key-term BM25 query of long messages (the set chosen
# by out-of-fold AUC, the cuts on out-of-fold probabilities, rounded down to 4 decimals); see
# var/results/abstention_cv.json and the module docstring for the cross-validated figures.
MODEL = AbstentionModel(
    inputs=("best_relevance", "dense_top", "joint_z"),
    means=(0.50941, 0.544747, 9.392011),
    scales=(0.161154, 0.139758, 3.409293),
    coefficients=(-0.756228, -0.772759, -1.169648),
    intercept=-1.948358,
)
ABSTAIN_PROBABILITY = 0.5496
WEAK_PROBABILITY = 0.0916


def judge_support(
    features: AbstentionFeatures,
    *,
    model: AbstentionModel = MODEL,
    abstain_at: float = ABSTAIN_PROBABILITY,
    weak_at: float = WEAK_PROBABILITY,
    abstain_below: float = ABSTAIN_THRESHOLD,
    weak_below: float = WEAK_THRESHOLD,
) -> Support:
    """How well the evidence supports an answer: by the model's probability that the question
    is unanswerable, or, for evidence without retrieval signals, by the best sentence score.

    Args:
        features: the question's :class:`AbstentionFeatures`.
        model: the calibrated model (:data:`MODEL` by default).
        abstain_at: abstain when the probability is at least this.
        weak_at: answer with the weak-evidence notice when it is at least this (and below
            ``abstain_at``).
        abstain_below: without retrieval signals, abstain when the best sentence relevance
            is below this.
        weak_below: without retrieval signals, warn when it is below this.

    Raises:
        ValueError: ``weak_at`` is above ``abstain_at`` or either is outside [0, 1], or
            ``weak_below`` is below ``abstain_below``.

    Example:
        >>> judge_support(AbstentionFeatures(0.45, 0, True, 1.0, None, None, None, 0.0))
        <Support.WEAK: 'weak'>
    """
    if not (0.0 <= weak_at <= abstain_at <= 1.0):
        raise ValueError(f"need 0 <= weak_at ({weak_at}) <= abstain_at ({abstain_at}) <= 1")
    if weak_below < abstain_below:
        raise ValueError(
            f"weak_below ({weak_below}) must not be below abstain_below ({abstain_below})"
        )
    best = features.best_relevance
    if best is None:
        return Support.NONE  # nothing quotable
    if not features.reported:  # the old rule, on the best sentence score alone
        if best < abstain_below:
            return Support.NONE
        return Support.WEAK if best < weak_below else Support.STRONG
    probability = model.probability(features)
    if probability >= abstain_at:
        return Support.NONE
    if probability >= weak_at:
        return Support.WEAK
    return Support.STRONG
