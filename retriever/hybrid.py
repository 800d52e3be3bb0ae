"""The hybrid retriever: BM25 and dense search fused, then the evidence policy.

:meth:`HybridRetriever.retrieve` answers one standalone query (the :class:`Retriever` verb).
:meth:`HybridRetriever.evidence` answers a (follow-up) question in a conversation: it builds the
query with :mod:`retriever.followup`, searches both legs, fuses them with the previously cited
passages, and groups the result with :mod:`retriever.policy`.

Every default of :class:`RetrievalConfig` is the one measured best on the SciFact train split
(benchmarks/retrieval_tuning.py; the follow-up knobs on MTRAG, benchmarks/followup_mtrag.py).

Example::

    index = PassageIndex.load("var/demo-index", expected_model=embedder.model_name)
    retriever = HybridRetriever(index, embedder)
    evidence = retriever.evidence("Is it worse in vegans?", conversation, Filters())
    evidence.standalone_query, [sp.passage.title for sp in evidence.research]
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from index.types import Embedder, Hits, Vectors
from retriever.dense import DenseRetriever
from retriever.followup import (
    FollowupConfig,
    FollowupQuery,
    LexicalTermStatistics,
    TermStatistics,
    blend,
    build_query,
    context_texts,
)
from retriever.fusion import RRF_K, FusionMode, Normalization, fuse
from retriever.lexical import LexicalRetriever, check_query, check_top_k
from retriever.policy import PolicyConfig, apply_policy, passes
from retriever.types import Conversation, Evidence, Filters, ScoredPassage, SearchIndex

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetrievalConfig:
    """How the hybrid retriever searches, fuses and groups.

    Attributes:
        fusion: Reciprocal rank fusion or weighted score fusion.
        rrf_k: The RRF rank constant (60, Cormack et al. 2009).
        normalization: Score normalisation for weighted fusion.
        lexical_weight: Weight of the BM25 leg in the fusion.
        dense_weight: Weight of the dense leg in the fusion.
        lexical_depth: Candidates taken from BM25 (independent of the final ``top_k``).
        dense_depth: Candidates taken from the dense index.
        filter_oversample: With filters set, each leg fetches this many times its depth, so
            that enough candidates survive the filters.
        query_cache: Query embeddings kept in memory (earlier questions repeat every turn).
        policy: Sizes of the evidence lists and the relevance band width.
        followup: Follow-up query building and topic-shift detection.
    """

    fusion: FusionMode = FusionMode.RRF
    rrf_k: float = RRF_K
    normalization: Normalization = Normalization.MINMAX
    lexical_weight: float = 1.0
    dense_weight: float = 1.0
    lexical_depth: int = 100
    dense_depth: int = 100
    filter_oversample: int = 4
    query_cache: int = 256
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    followup: FollowupConfig = field(default_factory=FollowupConfig)

    def __post_init__(self) -> None:
        for name in ("lexical_depth", "dense_depth", "filter_oversample"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.query_cache < 0:
            raise ValueError(f"query_cache must be >= 0, got {self.query_cache}")
        if self.rrf_k < 0:
            raise ValueError(f"rrf_k must be >= 0, got {self.rrf_k}")
        if self.lexical_weight < 0 or self.dense_weight < 0:
            raise ValueError("leg weights must be >= 0")
        if not isinstance(self.fusion, FusionMode):
            object.__setattr__(self, "fusion", FusionMode.parse(str(self.fusion)))
        if not isinstance(self.normalization, Normalization):
            object.__setattr__(self, "normalization", Normalization(str(self.normalization)))


Run = list[tuple[int, float]]


def _run(hits: Hits) -> Run:
    return list(zip(hits.rows.tolist(), hits.scores.tolist(), strict=True))


def _add_runs(runs: Sequence[tuple[Run, float]]) -> Run:
    """Weighted sum of score runs; a row missing from a run adds 0 there (BM25 is a sum over
    query terms, so this is BM25 of the union query with per-part weights)."""
    if len(runs) == 1 and runs[0][1] == 1.0:
        return runs[0][0]
    total: dict[int, float] = {}
    for run, weight in runs:
        for row, score in run:
            total[row] = total.get(row, 0.0) + weight * score
    return sorted(total.items(), key=lambda item: -item[1])


class HybridRetriever:
    """BM25 + dense retrieval with fusion, follow-up handling and the evidence policy.

    The constructor only stores its arguments; the index and embedder are loaded by the caller.

    Args:
        index: An opened index (``index.store.PassageIndex``).
        embedder: The model the index was built with.
        config: Search, fusion, policy and follow-up settings.
        term_stats: Term statistics for follow-up context words; by default taken from the
            index's BM25 store (it must offer ``tokenize`` and ``scores``, as
            ``index.lexical.Bm25LexicalStore`` does); without them follow-ups add no context
            words to the BM25 query.

    Example::

        retriever = HybridRetriever(index, embedder, RetrievalConfig(lexical_depth=200))
        [sp.passage.id for sp in retriever.retrieve("ferritin in B12 deficiency", top_k=5)]
    """

    def __init__(
        self,
        index: SearchIndex,
        embedder: Embedder,
        config: RetrievalConfig | None = None,
        *,
        term_stats: TermStatistics | None = None,
    ) -> None:
        self._index = index
        self._config = config or RetrievalConfig()
        self._lexical = LexicalRetriever(index.lexical, index.passages)
        self._dense = DenseRetriever(embedder, index.dense, index.passages)
        self._term_stats = term_stats or _default_term_stats(index)
        self._vector_cache: OrderedDict[str, Vectors] = OrderedDict()

    @property
    def config(self) -> RetrievalConfig:
        return self._config

    # ----------------------------------------------------------------- single queries

    def candidates(self, query: str) -> list[ScoredPassage]:
        """Every fused candidate of a standalone query (both legs at their full depth)."""
        query = check_query(query)
        vector = self._encode([query])[0]
        runs = [
            _run(self._lexical.hits(query, self._config.lexical_depth)),
            _run(self._dense.hits_for_vector(vector, self._config.dense_depth)),
        ]
        return self._to_scored(
            self._fuse(runs, [self._config.lexical_weight, self._config.dense_weight])
        )

    def retrieve(self, query: str, top_k: int) -> list[ScoredPassage]:
        """At most ``top_k`` fused passages for a standalone query, best first.

        Raises:
            EmptyQueryError: The query is empty or only whitespace.
            ValueError: ``top_k`` is below 1.
        """
        check_top_k(top_k)
        return self.candidates(query)[:top_k]

    # ----------------------------------------------------------------- conversations

    def plan(
        self, question: str, conversation: Conversation | None = None
    ) -> tuple[FollowupQuery, Vectors]:
        """The follow-up query plan and the dense query vector for ``question``.

        Raises:
            EmptyQueryError: The question is empty or only whitespace.
        """
        question = check_query(question)
        cfg = self._config.followup
        vectors = self._encode(context_texts(question, conversation, cfg))
        if self._term_stats is None:
            cfg = _without_lexical_context(cfg)
        stats = self._term_stats or _NoTermStatistics()
        plan = build_query(question, conversation, vectors, stats, cfg)
        return plan, blend(vectors, plan.dense_weights)

    def evidence(
        self,
        question: str,
        conversation: Conversation | None = None,
        filters: Filters | None = None,
    ) -> Evidence:
        """Evidence for a question, using the conversation so far unless the topic changed.

        Raises:
            EmptyQueryError: The question is empty or only whitespace.
        """
        timings: dict[str, float] = {}
        start = time.perf_counter()
        plan, vector = self.plan(question, conversation)
        now = time.perf_counter()
        timings["query_ms"], start = (now - start) * 1000, now

        cfg = self._config
        oversample = cfg.filter_oversample if filters is not None else 1
        lexical = _add_runs(
            [
                (_run(self._lexical.hits(part.text, cfg.lexical_depth * oversample)), part.weight)
                for part in plan.lexical
            ]
        )
        now = time.perf_counter()
        timings["lexical_ms"], start = (now - start) * 1000, now
        dense = _run(self._dense.hits_for_vector(vector, cfg.dense_depth * oversample))
        now = time.perf_counter()
        timings["dense_ms"], start = (now - start) * 1000, now

        carried = self._carried_run(plan.carried, vector)
        if filters is not None:
            # Ranks are counted among the passages that pass, down to each leg's usual depth.
            lexical = self._filtered(lexical, filters)[: cfg.lexical_depth]
            dense = self._filtered(dense, filters)[: cfg.dense_depth]
            carried = self._filtered(carried, filters)
        runs, weights = [lexical, dense], [cfg.lexical_weight, cfg.dense_weight]
        if carried:
            runs.append(carried)
            weights.append(cfg.followup.carry_weight)
        fused = self._to_scored(self._fuse(runs, weights))
        grouped = apply_policy(fused, filters=filters, config=cfg.policy)
        timings["fusion_ms"] = (time.perf_counter() - start) * 1000
        return Evidence(
            question=plan.question,
            standalone_query=plan.standalone_query,
            fused=grouped.fused,
            guideline=grouped.guideline,
            research=grouped.research,
            topic_shift=plan.topic_shift,
            used_context=plan.used_context,
            timings_ms=timings,
        )

    # ----------------------------------------------------------------- helpers

    def _fuse(self, runs: Sequence[Run], weights: Sequence[float]) -> list[tuple[int, float]]:
        cfg = self._config
        return fuse(cfg.fusion, runs, weights=weights, k=cfg.rrf_k, normalization=cfg.normalization)

    def _to_scored(self, fused: Sequence[tuple[int, float]]) -> list[ScoredPassage]:
        passages = self._index.passages
        return [ScoredPassage(passages[row], score) for row, score in fused]

    def _filtered(self, run: Run, filters: Filters) -> Run:
        passages = self._index.passages
        return [(row, score) for row, score in run if passes(passages[row], filters)]

    def _carried_run(self, passage_ids: Sequence[str], vector: Vectors) -> Run:
        rows = [row for row in (self._index.row(pid) for pid in passage_ids) if row is not None]
        if not rows:
            return []
        scores = self._index.vectors(rows) @ vector
        order = np.argsort(-scores, kind="stable")
        return [(rows[i], float(scores[i])) for i in order]

    def _encode(self, texts: Sequence[str]) -> Vectors:
        """Query embeddings, remembering recent ones (earlier questions repeat every turn)."""
        cache = self._vector_cache
        missing = [t for t in dict.fromkeys(texts) if t not in cache]
        if missing:
            encoded = self._dense.embedder.encode_queries(missing)
            for text, vector in zip(missing, encoded, strict=True):
                cache[text] = np.asarray(vector, np.float32)
        out = np.stack([cache[t] for t in texts])
        for text in texts:
            cache.move_to_end(text)
        while len(cache) > self._config.query_cache:
            cache.popitem(last=False)
        return out


class _NoTermStatistics:
    def analyze(self, text: str) -> list[str]:
        return []

    def idf(self, word: str) -> float:
        return 0.0


def _without_lexical_context(cfg: FollowupConfig) -> FollowupConfig:
    from dataclasses import replace

    return replace(cfg, lexical_terms=0)


def _default_term_stats(index: SearchIndex) -> TermStatistics | None:
    store = index.lexical
    tokenize = getattr(store, "tokenize", None)
    scores = getattr(store, "scores", None)
    if callable(tokenize) and callable(scores):
        return LexicalTermStatistics(tokenize, scores)
    logger.info("lexical store offers no term statistics; follow-ups add no BM25 context words")
    return None
