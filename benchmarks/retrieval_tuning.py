"""SciFact (train split) retrieval quality: BM25, dense and hybrid, nDCG@10 and recall@100.

Only the SciFact **train** split (809 claims, qrels/train.tsv) is used; the test split is held
out by the team. Metrics come from ir-measures (``nDCG@10``, ``R@100``).

Two parts:

* **system** (default): SciFact is loaded with ``corpus.loaders.load_corpus`` (document ids
  ``scifact:<id>``), chunked with the default ``ChunkingConfig`` and indexed with
  ``index.build.build_index`` (12,301 passages) under var/cache/scifact/index. Every system
  is a retriever of the ``retriever`` package on that index; a document's score is the best score
  of its passages (MaxP), and the ``scifact:`` prefix is dropped to match the qrels. Each row is
  also computed on two halves of the queries (split by a hash of the query id) to show how
  stable the differences are.
* **--explore**: the ideas that were tried, on raw score matrices (bm25s and cached embeddings,
  no index): BM25 variants, document- vs passage-level dense, fusion variants, pseudo-relevance
  feedback. Faster to iterate; the winners were then built into ``retriever.hybrid``.

Embeddings are cached under var/cache/scifact/ (see benchmarks/retrieval_data.py):
``all-MiniLM-L6-v2__queries-train``, ``__doc-embedding_text`` (title + abstract, 5,183 rows) and
``__passages-chunk200-o1-embedding_text`` (the 12,301 default-chunking passages).

Usage:
    nice python benchmarks/retrieval_tuning.py            # system table, retrieval_tuning.json
    nice python benchmarks/retrieval_tuning.py --explore  # raw exploration, ..._explore.json
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ir_measures  # noqa: E402
import numpy as np  # noqa: E402
from ir_measures import R, nDCG  # noqa: E402
from retrieval_data import (  # noqa: E402
    CACHE,
    DATA,
    RESULTS,
    CachingEmbedder,
    cached_embeddings,
    embedding_text,
    load_model,
    load_scifact,
    st_encoder,
)

log = logging.getLogger("retrieval_tuning")
MEASURES = [nDCG @ 10, R @ 100]
INDEX_DIR = CACHE / "scifact" / "index"
PASSAGE_RECIPE = "passages-chunk200-o1-embedding_text"
RUN_DEPTH = 1000  # passages asked for per query, so that ~100+ documents remain after MaxP


# ----------------------------------------------------------------------------- data


def scifact_passages():
    """SciFact documents chunked exactly as the index chunks them (default ChunkingConfig)."""
    from corpus.chunking import ChunkingConfig, chunk_documents
    from corpus.loaders import load_corpus

    return chunk_documents(load_corpus(DATA / "scifact", fmt="beir").documents, ChunkingConfig())


def scifact_passage_vectors(passages, encode: bool = False) -> np.ndarray:
    """Cached vectors of ``passages`` (encoded once, if ``encode``, with the real model)."""
    encoder = st_encoder(load_model()) if encode else None
    return cached_embeddings(
        "scifact",
        PASSAGE_RECIPE,
        [p.id for p in passages],
        [p.embedding_text for p in passages],
        encoder,
    )


def query_vectors(ds) -> np.ndarray:
    return cached_embeddings(
        "scifact", "queries-train", list(ds.queries), list(ds.queries.values())
    )


def fold_of(qid: str) -> int:
    return int(hashlib.sha1(qid.encode()).hexdigest(), 16) % 2


def evaluate(run: dict[str, dict[str, float]], qrels) -> dict[str, float]:
    """nDCG@10 and R@100 over all queries and on each fold."""
    out = {}
    agg = ir_measures.calc_aggregate(MEASURES, qrels, run)
    out["nDCG@10"], out["R@100"] = agg[nDCG @ 10], agg[R @ 100]
    for fold in (0, 1):
        sub = {q: r for q, r in qrels.items() if fold_of(q) == fold}
        agg = ir_measures.calc_aggregate(MEASURES, sub, {q: run[q] for q in sub if q in run})
        out[f"fold{fold} nDCG@10"] = agg[nDCG @ 10]
    return out


# ----------------------------------------------------------------------------- system


def open_index():
    from index.build import build_index
    from index.load import PassageIndex

    embedder = CachingEmbedder("scifact")
    if not (INDEX_DIR / "manifest.json").exists():
        passages = scifact_passages()
        embedder.seed([p.embedding_text for p in passages], scifact_passage_vectors(passages))
        from corpus.loaders import load_corpus

        build_index(load_corpus(DATA / "scifact", fmt="beir").documents, INDEX_DIR, embedder)
        if embedder.misses:
            log.warning("%d passages were not in the cache and were encoded", embedder.misses)
    return PassageIndex.load(INDEX_DIR, expected_model=embedder.model_name), embedder


class QueryVectorEmbedder:
    """Serves the cached SciFact query vectors by text (the queries were encoded once)."""

    def __init__(self, ds, inner) -> None:
        self._vectors = dict(zip(ds.queries.values(), query_vectors(ds), strict=True))
        self._inner = inner
        self.model_name = inner.model_name
        self.dimension = inner.dimension

    def encode_queries(self, texts):
        return np.stack(
            [
                self._vectors[t] if t in self._vectors else self._inner.encode_queries([t])[0]
                for t in texts
            ]
        )

    def encode_documents(self, texts, *, progress=False):
        return self._inner.encode_documents(texts, progress=progress)


def doc_run(scored, depth: int = 1000) -> dict[str, float]:
    """MaxP: each document scored by its best passage; ids without the ``scifact:`` prefix."""
    run: dict[str, float] = {}
    for sp in scored:
        doc = sp.passage.document_id.split(":", 1)[1]
        if doc not in run:
            run[doc] = sp.score
    return run


def system_runs(ds, index, embedder) -> dict[str, Callable[[str], list]]:
    from retriever.dense import DenseRetriever
    from retriever.fusion import FusionMode, FusionUnit, Normalization
    from retriever.hybrid import HybridRetriever, RetrievalConfig
    from retriever.lexical import LexicalRetriever

    plain = RetrievalConfig(
        fusion=FusionMode.RRF, rrf_k=60, unit=FusionUnit.PASSAGE, lexical_depth=100, dense_depth=100
    )
    zscore = replace(plain, fusion=FusionMode.WEIGHTED, normalization=Normalization.ZSCORE)
    variants = {
        "BM25 (LexicalRetriever)": LexicalRetriever(index.lexical, index.passages),
        "dense (DenseRetriever)": DenseRetriever(embedder, index.dense, index.passages),
        "hybrid RRF k=60, passages, depth 100": HybridRetriever(index, embedder, plain),
        "hybrid RRF k=60, passages, depth 1000": HybridRetriever(
            index, embedder, replace(plain, lexical_depth=1000, dense_depth=1000)
        ),
        "hybrid RRF k=60, documents, depth 100": HybridRetriever(
            index, embedder, replace(plain, unit=FusionUnit.DOCUMENT)
        ),
        "hybrid min-max, passages, depth 100": HybridRetriever(
            index, embedder, replace(zscore, normalization=Normalization.MINMAX)
        ),
        "hybrid z-score, passages, depth 100": HybridRetriever(index, embedder, zscore),
        "hybrid z-score, passages, depth 1000": HybridRetriever(
            index, embedder, replace(zscore, lexical_depth=1000, dense_depth=1000)
        ),
        "hybrid min-max, documents, depth 1000": HybridRetriever(
            index,
            embedder,
            replace(
                zscore,
                normalization=Normalization.MINMAX,
                unit=FusionUnit.DOCUMENT,
                lexical_depth=1000,
                dense_depth=1000,
            ),
        ),
    }
    for depth in (100, 200, 1000):
        variants[f"hybrid z-score, documents, depth {depth}"] = HybridRetriever(
            index,
            embedder,
            replace(zscore, unit=FusionUnit.DOCUMENT, lexical_depth=depth, dense_depth=depth),
        )
    variants["hybrid default (RetrievalConfig())"] = HybridRetriever(index, embedder)
    return {name: (lambda q, r=r: r.retrieve(q, RUN_DEPTH)) for name, r in variants.items()}


def run_system() -> dict:
    ds = load_scifact()
    index, cache = open_index()
    embedder = QueryVectorEmbedder(ds, cache)
    rows = {}
    for name, search in system_runs(ds, index, embedder).items():
        start = time.perf_counter()
        run = {qid: doc_run(search(text)) for qid, text in ds.queries.items()}
        seconds = time.perf_counter() - start
        rows[name] = {**evaluate(run, ds.qrels), "seconds": round(seconds, 1)}
        log.info("%s: %s", name, rows[name])
    return {"rows": rows, "manifest": json.loads(index.manifest.to_json())}


# ----------------------------------------------------------------------------- explore


class Matrices:
    """Score matrices (queries x documents) for the raw exploration."""

    def __init__(self) -> None:
        self.ds = ds = load_scifact()
        self.qids = list(ds.queries)
        self.doc_row = {d: i for i, d in enumerate(ds.doc_ids)}
        self.Q = query_vectors(ds)

    def run(self, S: np.ndarray, depth: int = 1000) -> dict[str, dict[str, float]]:
        run = {}
        for i, qid in enumerate(self.qids):
            top = np.argpartition(-S[i], depth)[:depth]
            run[qid] = {self.ds.doc_ids[j]: float(S[i, j]) for j in top}
        return run

    def evaluate(self, S: np.ndarray) -> dict[str, float]:
        return evaluate(self.run(S), self.ds.qrels)


def _bm25(texts, queries, **settings) -> np.ndarray:
    from index.lexical import Bm25LexicalStore, Bm25Settings

    store = Bm25LexicalStore.build(texts, Bm25Settings(**settings))
    return np.stack([store.scores(q) for q in queries])


def _maxp(P: np.ndarray, p2d: np.ndarray, ndocs: int) -> np.ndarray:
    order = np.argsort(p2d, kind="stable")
    bounds = np.r_[0, np.cumsum(np.bincount(p2d, minlength=ndocs))][:-1]
    return np.maximum.reduceat(P[:, order], bounds, axis=1)


def _ranks(S: np.ndarray, depth: int) -> np.ndarray:
    idx = np.argsort(-S, axis=1, kind="stable")[:, :depth]
    ranks = np.full(S.shape, np.inf, np.float32)
    np.put_along_axis(
        ranks, idx, np.broadcast_to(np.arange(1, depth + 1, dtype=np.float32), idx.shape), axis=1
    )
    return ranks


def _rrf(mats, k=60.0, depth=100, weights=None) -> np.ndarray:
    weights = weights or [1.0] * len(mats)
    out = np.zeros(mats[0].shape, np.float32)
    for M, w in zip(mats, weights, strict=True):
        r = _ranks(M, depth)
        out += np.where(np.isinf(r), 0, w / (k + r))
    return out


def _norm(S: np.ndarray, depth: int, how: str) -> np.ndarray:
    inside = ~np.isinf(_ranks(S, depth))
    out = np.zeros_like(S)
    for i in range(S.shape[0]):
        v = S[i, inside[i]]
        if how == "minmax":
            lo, hi = v.min(), v.max()
            n = (v - lo) / (hi - lo) if hi > lo else np.ones_like(v)
        else:
            sd = v.std()
            n = (v - v.mean()) / sd if sd > 0 else np.zeros_like(v)
        row = np.full(S.shape[1], n.min(), np.float32)
        row[inside[i]] = n
        out[i] = row
    return out


def _weighted(mats, weights, depth=100, how="minmax") -> np.ndarray:
    return sum(w * _norm(M, depth, how) for M, w in zip(mats, weights, strict=True))


def _rocchio(Q: np.ndarray, S: np.ndarray, V: np.ndarray, k: int, beta: float) -> np.ndarray:
    """Dense pseudo-relevance feedback: q + beta * mean of the top-k rows of V by S."""
    top = np.argsort(-S, axis=1)[:, :k]
    q = Q + beta * V[top].mean(axis=1)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def _rm3(store, texts, queries, S, fb_docs=5, terms=20, weight=0.3) -> np.ndarray:
    """RM3-style BM25 expansion: BM25 of the query plus ``weight`` x BM25 of the ``terms``
    highest tf-idf terms of the top ``fb_docs`` rows of ``S`` (query terms excluded)."""
    import collections
    import math

    tokens = store._tokenizer.tokenize(texts)
    df = collections.Counter(t for doc in tokens for t in set(doc))
    n = len(texts)
    idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
    vocab, bm25 = store._vocab, store._bm25
    out = np.zeros(S.shape, np.float32)
    for i, query in enumerate(queries):
        known = set(store.tokenize(query))
        salience: collections.Counter[str] = collections.Counter()
        for j in np.argsort(-S[i])[:fb_docs]:
            counts, length = collections.Counter(tokens[j]), len(tokens[j])
            for t, c in counts.items():
                if t not in known:
                    salience[t] += c / length * idf[t]
        expansion = np.zeros(n, np.float32)
        for t, _ in salience.most_common(terms):
            expansion += np.asarray(bm25.get_scores_from_ids([vocab[t]]), np.float32)
        out[i] = store.scores(query) + weight * expansion / max(terms, 1)
    return out


def run_explore() -> dict:
    from index.lexical import Bm25LexicalStore, Bm25Settings

    m = Matrices()
    ds, rows = m.ds, {}

    def row(name: str, S: np.ndarray) -> np.ndarray:
        rows[name] = m.evaluate(S)
        log.info("%-64s nDCG@10 %.4f  R@100 %.4f", name, rows[name]["nDCG@10"], rows[name]["R@100"])
        return S

    queries = list(ds.queries.values())
    doc_texts = [embedding_text(t, x) for t, x in zip(ds.titles, ds.texts, strict=True)]
    nd = len(ds.doc_ids)
    # --- BM25, one document per abstract
    d = Bm25Settings()
    B = row(
        f"BM25 doc (index defaults: k1 {d.k1}, b {d.b}, Snowball, stop words)",
        _bm25(doc_texts, queries),
    )
    row("BM25 doc, no stemming", _bm25(doc_texts, queries, stemming="none"))
    row("BM25 doc, no stop words", _bm25(doc_texts, queries, stopwords="none"))
    row("BM25 doc, k1 1.2 b 0.75", _bm25(doc_texts, queries, k1=1.2, b=0.75))
    titled = [f"{t} {t} {x}" for t, x in zip(ds.titles, doc_texts, strict=True)]
    row("BM25 doc, title x3", _bm25(titled, queries))
    # --- the index's passages (default chunking, 12,301)
    passages = scifact_passages()
    p2d = np.array([m.doc_row[p.document_id.split(":", 1)[1]] for p in passages])
    ptexts = [p.embedding_text for p in passages]
    store = Bm25LexicalStore.build(ptexts, Bm25Settings())
    BPp = np.stack([store.scores(q) for q in queries])
    BP = row("BM25 passages, MaxP", _maxp(BPp, p2d, nd))
    BPp12 = _bm25(ptexts, queries, k1=1.2, b=0.75)
    row("BM25 passages k1 1.2 b 0.75, MaxP", _maxp(BPp12, p2d, nd))
    # --- dense
    D = cached_embeddings("scifact", "doc-embedding_text", ds.doc_ids, doc_texts)
    Dd = row("dense doc (title. abstract, truncated at 256 tokens)", m.Q @ D.T)
    P = scifact_passage_vectors(passages)
    Pp = m.Q @ P.T
    Dp = row("dense passages, MaxP", _maxp(Pp, p2d, nd))
    mean_vec = np.zeros((nd, P.shape[1]), np.float32)
    np.add.at(mean_vec, p2d, P)
    mean_vec /= np.linalg.norm(mean_vec, axis=1, keepdims=True)
    Dm = row("dense, document = mean of its passage vectors", m.Q @ mean_vec.T)
    row("dense, max(document vector, passage MaxP)", np.maximum(Dp, Dd))

    # --- fusion of the passage-level legs (as the index works), then MaxP
    def fused(name: str, S: np.ndarray) -> np.ndarray:
        return row(name, _maxp(S, p2d, nd))

    fused("RRF k=60, depth 100 [passages]", _rrf([BPp, Pp]))
    fused("RRF k=60, depth 1000 [passages]", _rrf([BPp, Pp], depth=1000))
    fused("RRF k=10, depth 100 [passages]", _rrf([BPp, Pp], k=10))
    for depth in (100, 1000):
        for how in ("minmax", "zscore"):
            for w in (0.4, 0.5, 0.6):
                fused(
                    f"weighted {how} dense {w}, depth {depth} [passages]",
                    _weighted([BPp, Pp], [1 - w, w], depth, how),
                )
    H = _weighted([BPp, Pp], [0.5, 0.5], 100, "zscore")
    fused(
        "weighted zscore .5, BM25 k1 1.2 b 0.75 [passages]",
        _weighted([BPp12, Pp], [0.5, 0.5], 100, "zscore"),
    )
    # --- fusion at document level (MaxP per leg first)
    row("RRF k=60 [documents: MaxP legs]", _rrf([BP, Dp]))
    for depth in (100, 200, 1000):
        row(
            f"weighted zscore .5, depth {depth} [documents: MaxP legs]",
            _weighted([BP, Dp], [0.5, 0.5], depth, "zscore"),
        )
    row(
        "weighted zscore, + mean-vector leg 0.2 [documents]",
        _weighted([BP, Dp, Dm], [0.4, 0.4, 0.2], 100, "zscore"),
    )
    row("RRF k=60 [documents: BM25 doc + dense doc]", _rrf([B, Dd]))
    row(
        "weighted zscore .5 [documents: BM25 doc + dense doc]",
        _weighted([B, Dd], [0.5, 0.5], 100, "zscore"),
    )
    # --- pseudo-relevance feedback, feedback from the fused ranking H
    for k, beta in ((3, 0.3), (5, 0.6)):
        Pp2 = _rocchio(m.Q, H, P, k, beta) @ P.T
        fused(f"dense PRF (Rocchio k={k}, beta={beta}) alone [passages]", Pp2)
        fused(
            f"weighted zscore .5 with dense PRF k={k} beta={beta} [passages]",
            _weighted([BPp, Pp2], [0.5, 0.5], 100, "zscore"),
        )
    BPrm3 = _rm3(store, ptexts, queries, H)
    fused("BM25 RM3 (5 docs, 20 terms, weight 0.3) alone [passages]", BPrm3)
    fused(
        "weighted zscore .5 with BM25 RM3 [passages]",
        _weighted([BPrm3, Pp], [0.5, 0.5], 100, "zscore"),
    )
    # --- shorter chunks for the dense leg (model trained on 128-token inputs)
    try:
        from corpus.chunking import ChunkingConfig, chunk_documents
        from corpus.loaders import load_corpus

        short = chunk_documents(
            load_corpus(DATA / "scifact", fmt="beir").documents,
            ChunkingConfig(max_tokens=100, overlap_sentences=1),
        )
        S = cached_embeddings(
            "scifact",
            "passages-chunk100-o1-embedding_text",
            [p.id for p in short],
            [p.embedding_text for p in short],
        )
        s2d = np.array([m.doc_row[p.document_id.split(":", 1)[1]] for p in short])
        Sp = m.Q @ S.T
        row("dense passages of 100 tokens, MaxP", _maxp(Sp, s2d, nd))
        store100 = Bm25LexicalStore.build([p.embedding_text for p in short], Bm25Settings())
        BS = np.stack([store100.scores(q) for q in queries])
        row("BM25 passages of 100 tokens, MaxP", _maxp(BS, s2d, nd))
        for how in ("zscore",):
            S100 = _weighted([BS, Sp], [0.5, 0.5], 100, how)
            row(f"weighted {how} .5, 100-token passages", _maxp(S100, s2d, nd))
        row("RRF k=60, 100-token passages", _maxp(_rrf([BS, Sp]), s2d, nd))
    except FileNotFoundError:
        log.info("no 100-token passage cache; skipped")
    return {"rows": rows}


# ----------------------------------------------------------------------------- main


def print_table(rows: dict) -> None:
    print(f"{'system':62s} {'nDCG@10':>8s} {'R@100':>7s} {'fold0':>7s} {'fold1':>7s}")
    for name, r in rows.items():
        print(
            f"{name:62s} {r['nDCG@10']:8.4f} {r['R@100']:7.4f} "
            f"{r['fold0 nDCG@10']:7.4f} {r['fold1 nDCG@10']:7.4f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--explore", action="store_true", help="raw score-matrix exploration")
    parser.add_argument("--encode", action="store_true", help="encode missing caches (slow, once)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.encode:
        ds = load_scifact()
        model = load_model()
        cached_embeddings(
            "scifact",
            "queries-train",
            list(ds.queries),
            list(ds.queries.values()),
            st_encoder(model),
        )
        scifact_passage_vectors(scifact_passages(), encode=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.explore:
        result = run_explore()
        out = RESULTS / "retrieval_tuning_explore.json"
    else:
        result = run_system()
        out = RESULTS / "retrieval_tuning.json"
        from retriever.hybrid import RetrievalConfig

        result["default_config"] = json.loads(json.dumps(asdict(RetrievalConfig()), default=str))
    print_table(result["rows"])
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
