"""Does a cited passage support the sentence that cites it?

Two checks, chosen by how the answer was written:

**Extractive answers** quote passages. A sentence is supported when, after :func:`normalise`
(Unicode NFKC, case-folded, citation markers and surrounding quotes removed, dashes and quotes
unified, whitespace collapsed, final punctuation dropped), it is contained in the normalised
passage, or when some window of the passage has a character-level similarity of at least
:data:`NEAR_EXACT` (0.95) with it. The similarity is ``difflib.SequenceMatcher.ratio()``
(``2 * matches / (len(a) + len(b))``) between the sentence and passage windows of the
sentence's length placed at the anchors of the longest matching blocks. 0.95 allows about
one changed character in twenty (a trimmed label, a fixed typo, British spelling); because a
changed short word in a long sentence can stay above it, a near-exact match also needs every
number of the sentence to occur in the passage, so a changed dose or percentage never passes.

**Generated answers** (an LLM paraphrases) cannot be checked by containment. Their score is

    support = LEXICAL_WEIGHT * lexical + (1 - LEXICAL_WEIGHT) * cosine

where ``lexical`` is the share of the sentence's content words (lower-cased ``\\w\\w+`` tokens
that are not stop words, Snowball-stemmed) that occur in the passage (token recall), and
``cosine`` is the cosine similarity of the sentence and passage embeddings from the index's
embedder. The threshold is calibrated by :func:`calibrate` on examples cut from real passages:
positives are sentences of a passage scored against that passage; negatives are sentences of
other, unrelated passages (another document, and not among the passage's nearest neighbours)
scored against it. No text is invented. The threshold maximises Youden's J (TPR - FPR); among
equally good thresholds the middle one is taken, so it sits in the middle of the gap.

Example:
    >>> extractive_support("Ferritin reflects iron stores [1].",
    ...                    "Serum ferritin is a protein. Ferritin reflects iron stores.").supported
    True
"""

from __future__ import annotations

import difflib
import enum
import logging
import random
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import Stemmer

from corpus.types import Passage
from eval.parsing import split_sentences, strip_citations
from index.types import Embedder, Vectors

logger = logging.getLogger(__name__)

NEAR_EXACT = 0.95
"""Minimum character-level similarity for an extractive sentence that is not contained exactly."""

LEXICAL_WEIGHT = 0.5
"""Weight of content-word recall in the generated-support score; the rest is embedding cosine."""

DEFAULT_THRESHOLD = 0.5
"""Generated-support threshold used when no calibration is run: :func:`calibrate` on the demo
index gave 0.479, 0.538 and 0.527 for seeds 13-15 (60 + 60 examples each, perfectly separated);
see docs/eval.md."""

MIN_WORDS = 6  # calibration sentences shorter than this are headings or fragments

_STOP_WORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how however i if in
    into is it its itself just may me might more most must my myself no nor not now of off on
    once only or other our ours ourselves out over own per same she should so some such than
    that the their theirs them themselves then there these they this those through thus to too
    under until up upon us very via was we were what when where which while who whom why will
    with within without would you your yours yourself yourselves
    """.split()  # noqa: SIM905
)
_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_QUOTES = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'", "–": "-", "—": "-", "−": "-"})


class SupportMethod(str, enum.Enum):
    EXACT = "exact"  # normalised containment
    NEAR_EXACT = "near_exact"  # character similarity >= NEAR_EXACT
    GENERATED = "generated"  # lexical + embedding score >= calibrated threshold
    NONE = "none"  # not supported


@dataclass(frozen=True)
class SupportResult:
    supported: bool
    score: float
    method: SupportMethod


def normalise(text: str) -> str:
    """Text reduced for containment checks (see the module docstring)."""
    out = unicodedata.normalize("NFKC", strip_citations(text)).translate(_QUOTES).casefold()
    out = re.sub(r"\s+", " ", out).strip()
    out = out.strip("\"' ")
    return out.rstrip(".!?;:, ").strip()


def char_similarity(sentence: str, passage: str) -> float:
    """Best ``SequenceMatcher.ratio()`` of ``sentence`` against aligned windows of ``passage``.

    Both arguments should already be normalised. Windows have the sentence's length and start
    where a matching block implies the sentence would start (plus or minus a few characters).
    """
    if not sentence or not passage:
        return 0.0
    if sentence in passage:
        return 1.0
    matcher = difflib.SequenceMatcher(None, sentence, passage, autojunk=False)
    n = len(sentence)
    starts: set[int] = set()
    blocks = sorted(matcher.get_matching_blocks(), key=lambda b: -b.size)[:8]
    for block in blocks:
        if block.size == 0:
            continue
        anchor = block.b - block.a
        for shift in (-3, -1, 0, 1, 3):
            starts.add(max(0, min(len(passage) - 1, anchor + shift)))
    best = 0.0
    for start in sorted(starts):
        for length in (n - 2, n, n + 2):
            window = passage[start : start + max(1, length)]
            ratio = difflib.SequenceMatcher(None, sentence, window, autojunk=False).ratio()
            best = max(best, ratio)
    return best


def extractive_support(sentence: str, passage_text: str) -> SupportResult:
    """Containment, else near-exact character similarity (>= :data:`NEAR_EXACT`)."""
    s, p = normalise(sentence), normalise(passage_text)
    if not s:
        return SupportResult(False, 0.0, SupportMethod.NONE)
    if s in p:
        return SupportResult(True, 1.0, SupportMethod.EXACT)
    ratio = char_similarity(s, p)
    if ratio >= NEAR_EXACT and set(_NUMBER.findall(s)) <= set(_NUMBER.findall(p)):
        return SupportResult(True, ratio, SupportMethod.NEAR_EXACT)
    return SupportResult(False, ratio, SupportMethod.NONE)


_STEMMER: Stemmer.Stemmer | None = None


def content_words(text: str) -> set[str]:
    """Stemmed, lower-cased content words (stop words removed)."""
    global _STEMMER
    if _STEMMER is None:
        _STEMMER = Stemmer.Stemmer("english")
    tokens = [t for t in _TOKEN.findall(strip_citations(text).lower()) if t not in _STOP_WORDS]
    return set(_STEMMER.stemWords(tokens))


def lexical_recall(sentence: str, passage_text: str) -> float:
    """Share of the sentence's content words found in the passage (0 when it has none)."""
    words = content_words(sentence)
    if not words:
        return 0.0
    return len(words & content_words(passage_text)) / len(words)


class GeneratedSupportScorer:
    """Scores paraphrased sentences against passages: lexical recall plus embedding cosine.

    Example:
        >>> scorer = GeneratedSupportScorer(embedder, threshold=0.6)
        >>> scorer.check(["Low ferritin means low iron stores."], [passage.text])[0].supported
    """

    def __init__(self, embedder: Embedder, threshold: float = DEFAULT_THRESHOLD) -> None:
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {threshold}")
        self._embedder = embedder
        self.threshold = threshold

    def scores(self, sentences: Sequence[str], passages: Sequence[str]) -> list[float]:
        """One support score per ``(sentence, passage)`` pair, in order."""
        if len(sentences) != len(passages):
            raise ValueError(f"{len(sentences)} sentences for {len(passages)} passages")
        if not sentences:
            return []
        clean = [strip_citations(s) for s in sentences]
        s_vec = self._embedder.encode_queries(clean)
        p_vec = self._embedder.encode_documents(list(passages))
        cosines = np.sum(s_vec * p_vec, axis=1)
        return [
            LEXICAL_WEIGHT * lexical_recall(s, p) + (1 - LEXICAL_WEIGHT) * float(c)
            for s, p, c in zip(clean, passages, cosines, strict=True)
        ]

    def check(self, sentences: Sequence[str], passages: Sequence[str]) -> list[SupportResult]:
        return [
            SupportResult(
                score >= self.threshold,
                score,
                SupportMethod.GENERATED if score >= self.threshold else SupportMethod.NONE,
            )
            for score in self.scores(sentences, passages)
        ]


@dataclass(frozen=True)
class Calibration:
    """A calibrated generated-support threshold and the examples it was fitted on."""

    threshold: float
    tpr: float
    fpr: float
    positives: int
    negatives: int
    lowest_positive: float = float("nan")
    highest_negative: float = float("nan")
    lexical_weight: float = LEXICAL_WEIGHT
    examples: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "tpr": self.tpr,
            "fpr": self.fpr,
            "positives": self.positives,
            "negatives": self.negatives,
            "lowest_positive": self.lowest_positive,
            "highest_negative": self.highest_negative,
            "lexical_weight": self.lexical_weight,
            "score": "lexical_weight * content-word recall + (1 - lexical_weight) * cosine",
            "examples": self.examples,
        }


def youden_threshold(
    positive: Sequence[float], negative: Sequence[float]
) -> tuple[float, float, float]:
    """``(threshold, tpr, fpr)`` maximising TPR - FPR for "score >= threshold means supported".

    Candidates are midpoints between consecutive distinct scores (plus the extremes), so with
    perfectly separated scores the threshold is the middle of the gap between the highest
    negative and the lowest positive. Among equally good candidates the middle one is returned.

    Raises:
        ValueError: either list is empty.
    """
    if not positive or not negative:
        raise ValueError("calibration needs at least one positive and one negative score")
    pos, neg = np.asarray(positive, float), np.asarray(negative, float)
    values = np.unique(np.concatenate([pos, neg]))
    candidates = np.concatenate(
        [[values[0] - 1e-9], (values[:-1] + values[1:]) / 2, [values[-1] + 1e-9]]
    )
    tpr = np.array([np.mean(pos >= t) for t in candidates])
    fpr = np.array([np.mean(neg >= t) for t in candidates])
    j = tpr - fpr
    best = np.flatnonzero(np.isclose(j, j.max()))
    i = int(best[len(best) // 2])  # the middle of equally good candidates
    return float(candidates[i]), float(tpr[i]), float(fpr[i])


def calibrate(
    passages: Sequence[Passage],
    embedder: Embedder,
    *,
    pairs: int = 60,
    seed: int = 13,
    keep_examples: int = 10,
    passage_vectors: Vectors | None = None,
) -> Calibration:
    """Fit the generated-support threshold on sentences of real passages (no invented text).

    For up to ``pairs`` randomly chosen passages with at least one sentence of
    :data:`MIN_WORDS` words: one of its sentences, scored against it, is a positive; one
    sentence of an unrelated passage (another document, outside the passage's 10 nearest
    neighbours by embedding) scored against it is a negative.

    Args:
        passages: the pool to draw from (an index's passages).
        embedder: the index's model.
        pairs: positive/negative pairs to draw.
        seed: the sampling seed.
        keep_examples: pairs written into the calibration record.
        passage_vectors: the passages' stored vectors, row-aligned (``PassageIndex.vectors()``),
            used only to find each passage's neighbours; encoded when absent.

    Raises:
        ValueError: fewer than two documents with usable sentences.
    """
    rng = random.Random(seed)
    usable = []
    rows = []
    for row, passage in enumerate(passages):
        own = [s for s in split_sentences(passage.text) if len(s.split()) >= MIN_WORDS]
        if own:
            usable.append((passage, own))
            rows.append(row)
    if len({p.document_id for p, _ in usable}) < 2:
        raise ValueError("calibration needs passages from at least two documents")
    chosen = rng.sample(usable, min(pairs, len(usable)))
    if passage_vectors is not None:
        vectors = np.asarray(passage_vectors, dtype=np.float32)[rows]
    else:
        vectors = embedder.encode_documents([p.embedding_text for p, _ in usable])
    position = {p.id: i for i, (p, _) in enumerate(usable)}
    sentences: list[str] = []
    texts: list[str] = []
    labels: list[bool] = []
    for passage, own in chosen:
        sims = vectors @ vectors[position[passage.id]]
        near = set(np.argsort(-sims)[:11].tolist())
        others = [
            i
            for i, (p, _) in enumerate(usable)
            if p.document_id != passage.document_id and i not in near
        ]
        if not others:
            continue
        sentences.append(rng.choice(own))
        texts.append(passage.text)
        labels.append(True)
        sentences.append(rng.choice(usable[rng.choice(others)][1]))
        texts.append(passage.text)
        labels.append(False)
    scorer = GeneratedSupportScorer(embedder)
    scores = scorer.scores(sentences, texts)
    positive = [s for s, label in zip(scores, labels, strict=True) if label]
    negative = [s for s, label in zip(scores, labels, strict=True) if not label]
    threshold, tpr, fpr = youden_threshold(positive, negative)
    examples = [
        {"sentence": s, "passage": t[:200], "positive": label, "score": round(score, 4)}
        for s, t, label, score in list(zip(sentences, texts, labels, scores, strict=True))[
            : 2 * keep_examples
        ]
    ]
    logger.info(
        "calibrated support threshold %.3f on %d+%d examples (TPR %.2f, FPR %.2f)",
        threshold,
        len(positive),
        len(negative),
        tpr,
        fpr,
    )
    return Calibration(
        threshold,
        tpr,
        fpr,
        len(positive),
        len(negative),
        lowest_positive=min(positive),
        highest_negative=max(negative),
        examples=examples,
    )
