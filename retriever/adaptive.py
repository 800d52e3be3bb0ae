"""Query-adaptive fusion: how much to trust each leg, decided per query.

Equal-weight z-score fusion trusts BM25 as much on a 90-word consumer message ("Hello, my
daughter was prescribed Ocella ...") as on a 12-word scientific claim. It should not: a long,
chatty message drowns BM25 in incidental words, while the dense leg reads it as a whole. This
module decides, from what is known about one query once both legs have run, the weights of the
two legs, and it reduces a long query to its key terms for the BM25 leg. Everything here is a
pure function over plain values; :class:`retriever.hybrid.HybridRetriever` calls it when
``RetrievalConfig.fusion`` is :attr:`~retriever.fusion.FusionMode.ADAPTIVE`.

**Key terms** (:func:`key_terms`). A query with more than ``max_terms`` distinct content terms
is searched by BM25 as its ``max_terms`` key terms, in the order they were typed: the rarest
in the index (highest idf) among those that the dense leg's :data:`FEEDBACK_PASSAGES` best
passages also use (a form of pseudo-relevance feedback that selects query words and adds
none). Stop words, :data:`BOILERPLATE` words (greetings, thanks, "question") and bare numbers
(package codes, dates) never count; nor do words the index does not hold (a misspelling has
no idf and matches nothing). The dense leg still gets the query as typed.

**Features** (:func:`query_features`), over the two legs' document runs (best first):

* ``terms``: distinct content terms of the query as typed (index terms, stop words out);
* ``rare_share``: the share of them with idf >= :data:`RARE_IDF` (in at most ~2 % of the
  passages): names of drugs, genes, conditions;
* ``lexical_top_z`` / ``dense_top_z``: how far each leg's best score stands above that leg's
  other candidates, in standard deviations (a sharp peak means a confident leg);
* ``overlap``: the share of the two legs' top :data:`OVERLAP_DEPTH` documents they have in
  common (legs that agree need no arbitration).

**Weights** (:func:`leg_weights`). A logistic model gives BM25's share of the trust,
``a = sigmoid(intercept + length * (log2(terms) - 3) + rare * rare_share
+ peak * (lexical_top_z - dense_top_z) + agreement * overlap)``, and the legs get weights
``(2a, 2(1 - a))`` in z-score fusion: with every coefficient 0, ``a = 0.5`` and the fusion is
exactly the equal-weight z-score fusion of :class:`~retriever.hybrid.RetrievalConfig` before
this module. benchmarks/fusion_cv.py fits the coefficients and the key-term cut on four dev
sets together (SciFact train, LiveQA-Med dev over MedQuAD, MTRAG last turns, PubMedQA), with
cross-validation.

Example:
    >>> features = QueryFeatures(terms=40, rare_share=0.2, lexical_top_z=2.0,
    ...                          dense_top_z=3.0, overlap=0.1)
    >>> weights = leg_weights(features, AdaptiveFusion(intercept=0.0, length=-1.0))
    >>> [round(w, 3) for w in weights]  # a long query: BM25 trusted less
    [0.179, 1.821]
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from retriever.followup import TermStatistics
from retriever.terms import QUERY_STOP_WORDS

RARE_IDF = 4.0
"""An index term this rare or rarer counts as rare: idf ``ln(1 + (N - df + .5)/(df + .5))``
>= 4 means it is in at most about 1.8 % of the passages, whatever the index size."""

OVERLAP_DEPTH = 10
"""How many top documents of each leg are compared for :attr:`QueryFeatures.overlap`."""

FEEDBACK_PASSAGES = 10
"""The dense leg's best passages whose words guide :func:`key_terms`."""

SUPPORT_FLOOR = 0.05
"""A word no feedback passage contains keeps this share of its idf in :func:`key_terms`, so
among such words the rarer still wins. Picked on LiveQA-Med dev in an exploratory run (BM25
alone 0.517 against 0.484 nDCG@10 for 0.25 at 10 terms; fused at 16 terms, 0.25 was 0.003
higher): weak evidence either way (docs/eval.md)."""

LENGTH_PIVOT = 3.0
"""``log2`` of the query length (8 content terms) at which the length term is 0."""

BOILERPLATE = frozenset(
    """
    hello hi hey dear sir madam mam greetings regards sincerely thank thanks thankyou please
    question questions query help helpful advice information info informations appreciate
    appreciated wondering wonder kindly anyone somebody someone hope hoping regard reply
    answer answers email mail letter wrote write writing ask asking asked
    """.split()  # noqa: SIM905 - a word list reads better as text
)
"""Words of the message around a health question ("Hello, I have a question ... Thank you"),
never key terms even when the index happens to hold them rarely."""

WORD = re.compile(r"(?u)\b\w\w+\b")


@dataclass(frozen=True)
class QueryFeatures:
    """What is known about one query once both legs have searched (module docstring).

    Attributes:
        terms: Distinct content terms of the query as typed.
        rare_share: Share of those terms with idf >= :data:`RARE_IDF` (0 without terms).
        lexical_top_z: BM25's best document score, in standard deviations above its run's mean.
        dense_top_z: The same for the dense leg.
        overlap: Share of the legs' top :data:`OVERLAP_DEPTH` documents in common.
    """

    terms: int
    rare_share: float
    lexical_top_z: float
    dense_top_z: float
    overlap: float


@dataclass(frozen=True)
class AdaptiveFusion:
    """The model behind :func:`leg_weights` and the key-term cut (module docstring).

    All coefficients 0 and ``max_terms`` 0 reproduce equal-weight z-score fusion of the query
    as typed.

    Attributes:
        intercept: Log-odds of BM25's share of the trust for an 8-term query with no other
            signal.
        length: Per doubling of the number of content terms.
        rare: Per unit of :attr:`QueryFeatures.rare_share`.
        peak: Per standard deviation by which BM25's top score stands out more than dense's.
        agreement: Per unit of :attr:`QueryFeatures.overlap`.
        max_terms: BM25 searches a longer query as its this many rarest terms; 0 never cuts.

    Example::

        RetrievalConfig(fusion=FusionMode.ADAPTIVE, adaptive=AdaptiveFusion(length=-1.0))
    """

    intercept: float = 0.0
    length: float = 0.0
    rare: float = 0.0
    peak: float = 0.0
    agreement: float = 0.0
    max_terms: int = 0

    @property
    def uniform(self) -> bool:
        """Every coefficient is 0: equal weights whatever the query (no features needed)."""
        return not any((self.intercept, self.length, self.rare, self.peak, self.agreement))

    def __post_init__(self) -> None:
        if self.max_terms < 0:
            raise ValueError(f"max_terms must be >= 0, got {self.max_terms}")
        for name in ("intercept", "length", "rare", "peak", "agreement"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be finite, got {getattr(self, name)}")


FITTED = AdaptiveFusion(max_terms=16)
"""The model ``RetrievalConfig`` uses under adaptive fusion: benchmarks/fusion_cv.py's
recommended procedure ("key terms only": the cut chosen, weights equal) fitted on all queries
of the four dev sets. The full model's weight coefficients did not survive cross-validation
(no move gained 0.001 mean nDCG@10 on the training folds often enough to help held-out
queries), so they stay 0 here. In-sample: docs/eval.md gives the procedure's CV figures."""


# ----------------------------------------------------------------------------- key terms


def content_words(query: str, stats: TermStatistics) -> list[tuple[str, str, float]]:
    """``(word as typed, index term, idf)`` of each distinct content term, in typed order.

    A content word is one the index analyses to a single term that occurs in some passage
    (idf above 0), and that is not a stop word, a :data:`BOILERPLATE` word or a bare number.
    """
    seen: set[str] = set()
    out = []
    for word in WORD.findall(query):
        lower = word.lower()
        if lower in QUERY_STOP_WORDS or lower in BOILERPLATE or lower.isdigit():
            continue
        terms = stats.analyze(word)
        if len(terms) != 1 or terms[0] in seen:
            continue
        idf = stats.idf(word)
        if idf <= 0.0:
            continue
        seen.add(terms[0])
        out.append((word, terms[0], idf))
    return out


def key_terms(
    query: str, stats: TermStatistics, max_terms: int, feedback: Sequence[str] = ()
) -> str:
    """The query BM25 searches: ``query`` itself, or its ``max_terms`` key content words.

    A word's weight is its idf times ``SUPPORT_FLOOR + support``, where ``support`` is the
    share of the ``feedback`` texts (the dense leg's best passages) that contain its term: a
    rare word that the passages about the question also use ("DVT", "menstrual") beats a rare
    word of the story around it ("daughter", "huge"), which a formal corpus seldom holds.
    Without feedback the weight is the idf alone.

    Args:
        query: The query as typed.
        stats: The index's analyser and idf.
        max_terms: The cut; 0 (or a query with at most this many content terms) keeps the
            query as it is.
        feedback: Texts that answer the query, best first (only read when the query is cut).

    Returns:
        ``query`` unchanged, or the chosen words joined by spaces in the order typed (equal
        weights go to the earlier word).

    Example::

        key_terms(message, stats, 10, [sp.passage.text for sp in dense_top_10])
        # 'DVT birth control pains redness swelling thigh clots menstrual worsened'
    """
    if max_terms <= 0:
        return query
    words = content_words(query, stats)
    if len(words) <= max_terms:
        return query
    weights = [idf for _, _, idf in words]
    if feedback:
        vocabularies = [set(stats.analyze(text)) for text in feedback]
        weights = [
            idf * (SUPPORT_FLOOR + sum(term in v for v in vocabularies) / len(vocabularies))
            for (_, term, idf) in words
        ]
    ranked = sorted(range(len(words)), key=lambda i: (-weights[i], i))[:max_terms]
    return " ".join(words[i][0] for i in sorted(ranked))


# ----------------------------------------------------------------------------- features


def top_z(scores: npt.ArrayLike) -> float:
    """``(best - mean) / std`` of a run's scores (best first); 0 for fewer than 2 or all equal."""
    values = np.asarray(scores, np.float64)
    if len(values) < 2:
        return 0.0
    std = float(values.std())
    return 0.0 if std == 0.0 else float((values[0] - values.mean()) / std)


def overlap(
    lexical: Sequence[int] | npt.NDArray[np.int64],
    dense: Sequence[int] | npt.NDArray[np.int64],
    depth: int = OVERLAP_DEPTH,
) -> float:
    """Share of the two runs' top ``depth`` keys they have in common (0 if either is empty)."""
    a = {int(k) for k in list(lexical)[:depth]}
    b = {int(k) for k in list(dense)[:depth]}
    if not a or not b:
        return 0.0
    return len(a & b) / min(depth, max(len(a), len(b)))


def query_features(
    words: Sequence[tuple[str, str, float]],
    lexical_keys: Sequence[int] | npt.NDArray[np.int64],
    lexical_scores: npt.ArrayLike,
    dense_keys: Sequence[int] | npt.NDArray[np.int64],
    dense_scores: npt.ArrayLike,
) -> QueryFeatures:
    """The features of one query.

    Args:
        words: :func:`content_words` of the query as typed.
        lexical_keys: The BM25 leg's documents, best first.
        lexical_scores: Their scores.
        dense_keys: The dense leg's documents, best first.
        dense_scores: Their scores.
    """
    rare = sum(1 for _, _, idf in words if idf >= RARE_IDF)
    return QueryFeatures(
        terms=len(words),
        rare_share=rare / len(words) if words else 0.0,
        lexical_top_z=top_z(lexical_scores),
        dense_top_z=top_z(dense_scores),
        overlap=overlap(lexical_keys, dense_keys),
    )


# ----------------------------------------------------------------------------- weights


def lexical_share(features: QueryFeatures, model: AdaptiveFusion) -> float:
    """BM25's share ``a`` of the trust, in (0, 1) (module docstring)."""
    length = math.log2(max(features.terms, 1)) - LENGTH_PIVOT
    logit = (
        model.intercept
        + model.length * length
        + model.rare * features.rare_share
        + model.peak * (features.lexical_top_z - features.dense_top_z)
        + model.agreement * features.overlap
    )
    return 1.0 / (1.0 + math.exp(-max(min(logit, 50.0), -50.0)))


def leg_weights(features: QueryFeatures, model: AdaptiveFusion) -> tuple[float, float]:
    """``(lexical, dense)`` fusion weights ``(2a, 2(1 - a))``; ``(1, 1)`` when ``a = 0.5``."""
    share = lexical_share(features, model)
    return 2.0 * share, 2.0 * (1.0 - share)
