"""The hybrid retriever: BM25 and dense search fused, then the evidence policy.

:meth:`HybridRetriever.retrieve` answers one standalone query (the :class:`Retriever` verb).
:meth:`HybridRetriever.evidence` answers a (follow-up) question in a conversation: it builds the
query with :mod:`retriever.followup`, searches both legs, fuses them with the previously cited
passages, and groups the result with :mod:`retriever.policy`.

The fusion defaults of :class:`RetrievalConfig` were measured on SciFact train
(benchmarks/retrieval_tuning.py) and then cross-validated on four dev sets
(benchmarks/fusion_cv.py); the follow-up knobs were cross-validated on MTRAG
(benchmarks/followup_mtrag.py).
By default the fused list holds one passage per document (the document's best passage).

Example::

    index = PassageIndex.load("var/demo-index", expected_model=embedder.model_name)
    retriever = HybridRetriever(index, embedder)
    evidence = retriever.evidence("Is it worse in vegans?", conversation, Filters())
    evidence.standalone_query, [sp.passage.title for sp in evidence.research]
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from index.types import Embedder, Hits, PassageFilter, TermCounts, Vectors
from retriever.adaptive import (
    FEEDBACK_PASSAGES,
    FITTED,
    AdaptiveFusion,
    content_words,
    key_terms,
    leg_weights,
    query_features,
)
from retriever.concepts import renamed
from retriever.dense import DenseRetriever
from retriever.feedback import FeedbackConfig, feedback_words, relevance_model, rocchio
from retriever.followup import (
    FollowupConfig,
    FollowupQuery,
    LexicalTermStatistics,
    TermStatistics,
    WeightedText,
    blend,
    build_query,
    context_texts,
    imposed_shift,
)
from retriever.fusion import (
    RRF_K,
    ArrayRun,
    DocumentScore,
    FusionMode,
    FusionUnit,
    Normalization,
    collapse_arrays,
    fuse_arrays,
    pool_arrays,
    sum_arrays,
)
from retriever.lexical import LexicalRetriever, check_query, check_top_k
from retriever.policy import PolicyConfig, apply_policy, passes
from retriever.question import Vocabulary
from retriever.rewrite import Rewrite, Rewriter, RuleRewriter
from retriever.types import (
    Conversation,
    Evidence,
    Filters,
    ScoredPassage,
    SearchIndex,
    passage_filter,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetrievalConfig:
    """How the hybrid retriever searches, fuses and groups.

    The defaults: z-score weighted fusion of BM25 and dense, fused per document (each leg
    max-pooled by document), 200 candidates per leg, the SciFact train winner
    (benchmarks/retrieval_tuning.py: nDCG@10 0.746 against 0.728 for plain RRF, k=60, passages,
    depth 100; :meth:`plain_rrf`); in its adaptive form (:mod:`retriever.adaptive`), whose
    fitted model (:data:`~retriever.adaptive.FITTED`) keeps the weights equal and has BM25
    search a query of more than 16 content terms as its 16 key terms. Cross-validated on four
    dev sets (benchmarks/fusion_cv.py, docs/eval.md) it is above the better single leg on each
    and above RRF on average; the key terms gain +0.022 nDCG@10 on LiveQA-Med consumer
    questions and change nothing elsewhere. Per-query weights did not survive
    cross-validation, so the fitted weight coefficients are 0. The depth trades 0.0016 nDCG@10
    (depth 1000) for latency. The follow-up knobs were chosen on MTRAG
    (:class:`FollowupConfig`).

    Attributes:
        fusion: Reciprocal rank fusion, weighted score fusion, or adaptive: weighted z-score
            fusion whose leg weights depend on the query (:mod:`retriever.adaptive`).
        rrf_k: The RRF rank constant (60, Cormack et al. 2009).
        normalization: Score normalisation for weighted fusion (the short list of carried
            passages is always min-max normalised: a z-score of one value carries nothing).
        unit: Fuse passages, or documents (each leg max-pooled by document, each document
            then represented by its best passage, so the result holds one passage per
            document).
        lexical_weight: Weight of the BM25 leg in the fusion (not used by adaptive fusion).
        dense_weight: Weight of the dense leg in the fusion (not used by adaptive fusion).
        adaptive: The adaptive fusion's model and key-term cut (used only when ``fusion`` is
            adaptive); by default the one fitted on the four dev sets.
        lexical_depth: Candidates taken from BM25 (independent of the final ``top_k``).
        dense_depth: Candidates taken from the dense index.
        filter_oversample: With filters set, each leg fetches this many times its depth, so
            that enough candidates survive the filters.
        query_cache: Query embeddings kept in memory (earlier questions repeat every turn).
        policy: Sizes of the evidence lists and the relevance band width.
        followup: Follow-up query building and topic-shift detection.
        document_score: How each leg scores a document from its passages under document
            fusion (best passage by default; the sum of the best two, or of all, did not win
            cross-validated: docs/eval.md).
        feedback: Pseudo-relevance feedback (RM3 on BM25, Rocchio on the dense vector); off
            by default, as neither won cross-validated (docs/eval.md).
        synonym_weight: Weight of a second BM25 query, the synonym table's names of the focus
            entities that the question words otherwise ("granulomatosis with polyangiitis" for
            "Wegener's", :func:`retriever.concepts.renamed`): pages that use the name are found
            too. 0 turns it off. LiveQA-Med dev summaries over the MedQuAD subset (the 35 with
            qrels): nDCG@10 0.663 -> 0.673; SciFact train 0.7435 -> 0.7431 (3 claims move);
            MTRAG unchanged. 0, 0.5 and 1 were tried on LiveQA dev: in-sample.
    """

    fusion: FusionMode = FusionMode.ADAPTIVE
    rrf_k: float = RRF_K
    normalization: Normalization = Normalization.ZSCORE
    unit: FusionUnit = FusionUnit.DOCUMENT
    lexical_weight: float = 1.0
    dense_weight: float = 1.0
    adaptive: AdaptiveFusion = FITTED
    lexical_depth: int = 200
    dense_depth: int = 200
    filter_oversample: int = 4
    query_cache: int = 256
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    followup: FollowupConfig = field(default_factory=FollowupConfig)
    document_score: DocumentScore = DocumentScore.MAX
    feedback: FeedbackConfig = field(default_factory=FeedbackConfig)
    synonym_weight: float = 1.0

    @classmethod
    def plain_rrf(cls, **changes: Any) -> RetrievalConfig:
        """The textbook baseline: RRF with k=60 over passages, 100 candidates per leg, each leg
        searching the question's own words (no synonym query)."""
        base = {
            "synonym_weight": 0.0,
            "fusion": FusionMode.RRF,
            "rrf_k": RRF_K,
            "unit": FusionUnit.PASSAGE,
            "lexical_depth": 100,
            "dense_depth": 100,
        }
        return cls(**{**base, **changes})

    def __post_init__(self) -> None:
        for name in ("lexical_depth", "dense_depth", "filter_oversample"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.query_cache < 0:
            raise ValueError(f"query_cache must be >= 0, got {self.query_cache}")
        if self.rrf_k < 0:
            raise ValueError(f"rrf_k must be >= 0, got {self.rrf_k}")
        if min(self.lexical_weight, self.dense_weight, self.synonym_weight) < 0:
            raise ValueError("leg and synonym weights must be >= 0")
        if not isinstance(self.fusion, FusionMode):
            object.__setattr__(self, "fusion", FusionMode.parse(str(self.fusion)))
        if not isinstance(self.normalization, Normalization):
            object.__setattr__(self, "normalization", Normalization(str(self.normalization)))
        if not isinstance(self.unit, FusionUnit):
            object.__setattr__(self, "unit", FusionUnit.parse(str(self.unit)))
        if not isinstance(self.document_score, DocumentScore):
            object.__setattr__(
                self, "document_score", DocumentScore.parse(str(self.document_score))
            )


def _array_run(hits: Hits) -> ArrayRun:
    return ArrayRun.of(hits.rows, hits.scores)


@dataclass(frozen=True)
class _Signals:
    """How well the index matches a query at all, for :class:`Evidence` (see its fields)."""

    lexical_top: float | None
    dense_top: float | None
    joint_z: float | None


def _top(run: ArrayRun) -> float | None:
    """The best score of a run (runs are best first), or ``None`` for an empty run."""
    return float(run.scores[0]) if len(run.scores) else None


def _keep(run: ArrayRun, allowed: npt.NDArray[np.bool_], depth: int) -> ArrayRun:
    mask = allowed[run.keys]
    return ArrayRun(run.keys[mask][:depth], run.scores[mask][:depth])


class HybridRetriever:
    """BM25 + dense retrieval with fusion, follow-up handling and the evidence policy.

    The constructor only stores its arguments; the index and embedder are loaded by the caller.

    Args:
        index: An opened index (``index.load.PassageIndex``).
        embedder: The model the index was built with.
        config: Search, fusion, policy and follow-up settings.
        term_stats: Term statistics for follow-up context words; by default taken from the
            index's BM25 store (when it offers :class:`~index.types.TermCounts`, as both
            storage backends do); without them follow-ups add no context words to the BM25
            query.
        rewriter: Makes follow-ups standalone (:meth:`rewrite`); by default the rules of
            :mod:`retriever.rewrite` over the index's :attr:`vocabulary`.

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
        rewriter: Rewriter | None = None,
    ) -> None:
        self._index = index
        self._config = config or RetrievalConfig()
        self._lexical = LexicalRetriever(index.lexical, index.passages)
        self._dense = DenseRetriever(embedder, index.dense, index.passages)
        self._term_stats = term_stats or _default_term_stats(index)
        self._vocabulary = IndexVocabulary(self._term_stats) if self._term_stats else None
        self._rewriter = rewriter or RuleRewriter(self._vocabulary)
        self._vector_cache: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()
        self._documents: npt.NDArray[np.int64] | None = None
        self._masks: dict[Filters, npt.NDArray[np.bool_]] = {}

    @property
    def config(self) -> RetrievalConfig:
        return self._config

    # ----------------------------------------------------------------- single queries

    def candidates(self, query: str) -> list[ScoredPassage]:
        """Every fused candidate of a standalone query (both legs at their full depth).

        Raises:
            EmptyQueryError: The query is empty or only whitespace.
        """
        return self._search(query, None, None)[1]

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

        The question is rewritten into a standalone question (:meth:`rewrite`), which is what
        is searched when ``followup.rewrite`` is on and what ``standalone_query`` shows; the
        rewriter's topic-shift decision is imposed as ``followup.shift_rule`` says
        (:func:`retriever.followup.imposed_shift`); :func:`retriever.followup.build_query`
        adds the conversation's context.

        Raises:
            EmptyQueryError: The question is empty or only whitespace.
        """
        question = check_query(question)
        cfg = self._config.followup
        rewritten = self.rewrite(question, conversation)
        # A first question is searched as typed; a follow-up as its standalone question.
        follow_up = cfg.rewrite and conversation is not None and bool(conversation.turns)
        query = rewritten.standalone if follow_up else question
        vectors = self._encode(context_texts(query, conversation, cfg))
        if self._term_stats is None:
            cfg = _without_lexical_context(cfg)
        stats = self._term_stats or _NoTermStatistics()
        shift = imposed_shift(cfg, rewritten)
        plan = build_query(query, conversation, vectors, stats, cfg, shift=shift)
        plan = replace(
            plan,
            question=question,
            standalone_query=rewritten.standalone if follow_up else plan.standalone_query,
            analysis=rewritten.analysis,
        )
        weight = self._config.synonym_weight
        if weight > 0 and (names := renamed(rewritten.analysis.focus, query)):
            plan = replace(plan, synonyms=WeightedText(" ".join(names), weight))
        return plan, blend(vectors, plan.dense_weights)

    def rewrite(self, question: str, conversation: Conversation | None = None) -> Rewrite:
        """``question`` as a standalone question, given the earlier turns' questions (by the
        ``rewriter`` the retriever was given)."""
        earlier = [turn.question for turn in conversation.turns] if conversation else []
        return self._rewriter.rewrite(question, earlier)

    def evidence(
        self,
        question: str,
        conversation: Conversation | None = None,
        filters: Filters | None = None,
        *,
        top_k: int | None = None,
    ) -> Evidence:
        """Evidence for a question, using the conversation so far unless the topic changed.

        Each list holds the configured policy's number of passages, or ``top_k`` when given
        (a search's result size: the same passages, in the same order, as far as they go).
        ``timings_ms`` holds ``query_ms`` (encoding and query building), ``lexical_ms`` (BM25),
        ``dense_ms``, ``fusion_ms`` (fusion and the policy) and ``total_ms`` (wall time).

        Raises:
            EmptyQueryError: The question is empty or only whitespace.
            ValueError: ``top_k`` is below 1.
        """
        policy = self._config.policy
        if top_k is not None:
            check_top_k(top_k)
            policy = replace(policy, fused_k=top_k, guideline_k=top_k, research_k=top_k)
        start = time.perf_counter()
        plan, fused, timings, signals = self._search(question, conversation, filters)
        mark = time.perf_counter()
        grouped = apply_policy(fused, filters=filters, config=policy)
        now = time.perf_counter()
        timings["fusion_ms"] += (now - mark) * 1000
        timings["total_ms"] = (now - start) * 1000
        return Evidence(
            question=plan.question,
            standalone_query=plan.standalone_query,
            fused=grouped.fused,
            guideline=grouped.guideline,
            research=grouped.research,
            topic_shift=plan.topic_shift,
            used_context=plan.used_context,
            timings_ms=timings,
            analysis=plan.analysis,
            lexical_top=signals.lexical_top,
            dense_top=signals.dense_top,
            joint_z=signals.joint_z,
        )

    # ----------------------------------------------------------------- the search

    def _search(
        self, question: str, conversation: Conversation | None, filters: Filters | None
    ) -> tuple[FollowupQuery, list[ScoredPassage], dict[str, float], _Signals]:
        """Plan, search both legs and fuse; every candidate list stays a numpy array."""
        question = check_query(question)
        cfg = self._config
        oversample = cfg.filter_oversample if filters is not None else 1
        lexical_depth, dense_depth = cfg.lexical_depth * oversample, cfg.dense_depth * oversample
        timings: dict[str, float] = {}
        start = time.perf_counter()
        plan, vector = self.plan(question, conversation)
        now = time.perf_counter()
        timings["query_ms"], start = (now - start) * 1000, now
        # Pushed down to the stores that filter as they search (index.types); the rows that
        # come back are checked against the filters below all the same.
        where = passage_filter(filters) if filters is not None else None
        # Dense first: under adaptive fusion its best passages guide the BM25 query's terms.
        dense = _array_run(self._dense.hits_for_vector(vector, dense_depth, where))
        if cfg.feedback.rocchio_beta > 0 and len(dense.keys):
            rows = dense.keys[: cfg.feedback.rocchio_passages]
            moved = rocchio(vector, self._index.vectors(rows), cfg.feedback.rocchio_beta)
            dense = _array_run(self._dense.hits_for_vector(moved, dense_depth, where))
        now = time.perf_counter()
        timings["dense_ms"], start = (now - start) * 1000, now
        lexical = sum_arrays(
            [
                (_array_run(self._lexical.hits(p.text, lexical_depth, where)), p.weight)
                for p in self._lexical_queries(plan, dense)
            ]
        )
        if cfg.feedback.rm3_weight > 0:
            lexical = self._rm3(plan, lexical, lexical_depth, where)
        synonyms = plan.synonyms
        named = (
            _array_run(self._lexical.hits(synonyms.text, lexical_depth, where))
            if synonyms is not None
            else ArrayRun.of([], [])
        )
        now = time.perf_counter()
        timings["lexical_ms"], start = (now - start) * 1000, now
        carried = self._carried_run(plan.carried, vector)
        if filters is not None:
            # Ranks are counted among the passages that pass, down to each leg's usual depth.
            allowed = self._allowed(filters)
            lexical = _keep(lexical, allowed, cfg.lexical_depth)
            named = _keep(named, allowed, cfg.lexical_depth)
            dense = _keep(dense, allowed, cfg.dense_depth)
            carried = _keep(carried, allowed, len(carried.keys))
        # How far the best match stands out, whatever fusion ranks the evidence: z-score
        # fusion of the two legs by document with equal weights (the default fusion, without
        # carried passages), its top score. For abstention (answer/abstain.py), which was
        # calibrated on full dense candidate lists: over a shorter one (an index or a filter
        # smaller than the depth) z-scores are bounded lower, so none is reported.
        joint = None
        if len(dense.keys) >= cfg.dense_depth:
            documents = self._document_codes()
            legs = [collapse_arrays(run, documents) for run in (lexical, dense) if len(run.keys)]
            fused_z = fuse_arrays(FusionMode.WEIGHTED, legs, normalization=Normalization.ZSCORE)
            joint = _top(fused_z)
        signals = _Signals(_top(lexical), _top(dense), joint)
        # The synonym table's names join the BM25 leg after the signals are read: abstention
        # was calibrated on the question's own words.
        if synonyms is not None and len(named.keys):
            lexical = sum_arrays([(lexical, 1.0), (named, synonyms.weight)])
        runs, weights = [lexical, dense], list(self._leg_weights(plan, lexical, dense))
        if len(carried.keys):
            runs.append(carried)
            weights.append(cfg.followup.carry_weight)
        fused = self._to_scored(self._fuse(runs, weights))
        timings["fusion_ms"] = (time.perf_counter() - start) * 1000
        return plan, fused, timings, signals

    def _lexical_queries(self, plan: FollowupQuery, dense: ArrayRun) -> tuple[WeightedText, ...]:
        """The BM25 queries: the plan's, the question cut to its key terms under adaptive
        fusion (:func:`retriever.adaptive.key_terms`, guided by the dense leg's best passages;
        context words are already few)."""
        cut = self._config.adaptive.max_terms
        if self._config.fusion is not FusionMode.ADAPTIVE or not cut or self._term_stats is None:
            return plan.lexical
        passages = self._index.passages
        feedback = [passages[row].text for row in dense.keys[:FEEDBACK_PASSAGES].tolist()]
        first, *rest = plan.lexical
        reduced = key_terms(first.text, self._term_stats, cut, feedback)
        return (replace(first, text=reduced), *rest)

    def _rm3(
        self, plan: FollowupQuery, lexical: ArrayRun, depth: int, where: PassageFilter | None
    ) -> ArrayRun:
        """The BM25 run plus ``rm3_weight`` times the run of RM3's expansion terms, chosen
        from the run's best passages (:func:`retriever.feedback.relevance_model`)."""
        fb = self._config.feedback
        top = lexical.keys[: fb.rm3_passages].tolist()
        passages = self._index.passages
        query_words = frozenset(w for p in plan.lexical for w in feedback_words(p.text))
        terms = relevance_model(
            [feedback_words(passages[row].text) for row in top],
            lexical.scores[: len(top)].tolist(),
            fb.rm3_terms,
            exclude=query_words,
        )
        if not terms:
            return lexical
        expansion = _array_run(self._lexical.hits(" ".join(t for t, _ in terms), depth, where))
        return sum_arrays([(lexical, 1.0), (expansion, fb.rm3_weight)])

    def _leg_weights(
        self, plan: FollowupQuery, lexical: ArrayRun, dense: ArrayRun
    ) -> tuple[float, float]:
        """The configured leg weights, or under adaptive fusion the query's own
        (:func:`retriever.adaptive.leg_weights`, features of the legs' document runs)."""
        cfg = self._config
        if cfg.fusion is not FusionMode.ADAPTIVE:
            return cfg.lexical_weight, cfg.dense_weight
        if cfg.adaptive.uniform:  # the fitted default: no features to work out
            return 1.0, 1.0
        documents = self._document_codes()
        lex, den = collapse_arrays(lexical, documents), collapse_arrays(dense, documents)
        words = content_words(plan.lexical[0].text, self._term_stats or _NoTermStatistics())
        features = query_features(words, lex.keys, lex.scores, den.keys, den.scores)
        return leg_weights(features, cfg.adaptive)

    def _fuse(self, runs: Sequence[ArrayRun], weights: Sequence[float]) -> ArrayRun:
        """Fuse passage runs, by passage or by document as configured."""
        cfg = self._config
        methods = [cfg.normalization, cfg.normalization, Normalization.MINMAX][: len(runs)]

        def fused(items: Sequence[ArrayRun]) -> ArrayRun:
            return fuse_arrays(
                cfg.fusion, items, weights=weights, k=cfg.rrf_k, normalization=methods
            )

        by_passage = fused(runs)
        if cfg.unit is FusionUnit.PASSAGE:
            return by_passage
        document_of = self._document_codes()
        # Each document is represented by its best passage under passage-level fusion.
        documents, first = np.unique(document_of[by_passage.keys], return_index=True)
        best = np.full(int(document_of.max()) + 1, -1, np.int64)
        best[documents] = by_passage.keys[first]
        by_document = fused([pool_arrays(run, document_of, cfg.document_score) for run in runs])
        return ArrayRun(best[by_document.keys], by_document.scores)

    def _document_codes(self) -> npt.NDArray[np.int64]:
        """An integer code per row: rows of the same document share it."""
        if self._documents is None:
            self._documents = self._index.document_codes()
        return self._documents

    def _allowed(self, filters: Filters) -> npt.NDArray[np.bool_]:
        """Which rows pass ``filters`` (computed once per distinct filter, then kept)."""
        mask = self._masks.get(filters)
        if mask is None:
            passages = self._index.passages
            mask = np.fromiter((passes(p, filters) for p in passages), np.bool_, len(passages))
            with self._lock:
                if len(self._masks) >= 32:
                    self._masks.pop(next(iter(self._masks)))
                self._masks[filters] = mask
        return mask

    # ----------------------------------------------------------------- helpers

    def _to_scored(self, fused: ArrayRun) -> list[ScoredPassage]:
        passages = self._index.passages
        return [
            ScoredPassage(passages[row], score)
            for row, score in zip(fused.keys.tolist(), fused.scores.tolist(), strict=True)
        ]

    def _carried_run(self, passage_ids: Sequence[str], vector: Vectors) -> ArrayRun:
        rows = [row for row in (self._index.row(pid) for pid in passage_ids) if row is not None]
        if not rows:
            return ArrayRun.of([], [])
        scores = self._index.vectors(rows) @ vector
        order = np.argsort(-scores, kind="stable")
        return ArrayRun.of(np.asarray(rows)[order], scores[order])

    def _encode(self, texts: Sequence[str]) -> Vectors:
        """Query embeddings, remembering recent ones (earlier questions repeat every turn)."""
        cache = self._vector_cache
        with self._lock:
            known = {t: cache[t] for t in texts if t in cache}
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            encoded = self._dense.embedder.encode_queries(missing)
            for text, vector in zip(missing, encoded, strict=True):
                known[text] = np.asarray(vector, np.float32)
        with self._lock:
            for text in texts:
                cache[text] = known[text]
                cache.move_to_end(text)
            while len(cache) > self._config.query_cache:
                cache.popitem(last=False)
        return np.stack([known[t] for t in texts])


def index_vocabulary(index: SearchIndex) -> Vocabulary | None:
    """The vocabulary of an opened index (``None`` if its BM25 store offers no statistics)."""
    stats = _default_term_stats(index)
    return IndexVocabulary(stats) if stats is not None else None


class IndexVocabulary:
    """The :class:`~retriever.question.Vocabulary` of an index: words with an idf above 0."""

    def __init__(self, stats: TermStatistics) -> None:
        self._stats = stats

    def known(self, word: str) -> bool:
        return self._stats.idf(word) > 0


class _NoTermStatistics:
    def analyze(self, text: str) -> list[str]:
        return []

    def idf(self, word: str) -> float:
        return 0.0


def _without_lexical_context(cfg: FollowupConfig) -> FollowupConfig:
    return replace(cfg, lexical_terms=0)


def _default_term_stats(index: SearchIndex) -> TermStatistics | None:
    store = index.lexical
    if all(callable(getattr(store, name, None)) for name in ("tokenize", "document_frequency")):
        counts: TermCounts = store  # type: ignore[assignment]  # checked just above
        return LexicalTermStatistics(counts)
    logger.info("lexical store offers no term statistics; follow-ups add no BM25 context words")
    return None
