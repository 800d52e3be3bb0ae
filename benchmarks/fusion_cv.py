"""Fusion across domains and query styles, cross-validated on four dev sets (issue 17).

Does the hybrid hold against its best single leg on every kind of query the engine meets? Four
dev sets, each searched over its own index built with the project's ``index.build.build_index``
(default chunking and BM25 settings; a document's score in a leg is its best passage's):

* ``scifact``: SciFact **train** claims (809) over the 5,183 abstracts (var/indexes/scifact);
* ``liveqa``: LiveQA-Med dev questions as typed, subject plus message (the 35 with qrels),
  over the documented MedQuAD subset of scripts/medquad_subset.py (3,000 answers: every judged
  uid, the other answers on the same focus, and a seeded random sample of the rest;
  var/indexes/medquad-subset, a copy of the index that script's build made);
* ``mtrag``: MTRAG later turns with gold passages (222), searched as the **last user turn as
  typed** (the ``last turn`` baseline of benchmarks/followup_mtrag.py, over its index of the
  717 gold documents): this measures fusion, not the follow-up machinery;
* ``pubmedqa``: the 1,000 PubMedQA PQA-L questions, each judged against its own abstract
  (var/indexes/pubmedqa-untitled: ``corpus.loaders`` PubMedQA documents *without their
  title*, because a PubMedQA question is its article's title and with it every system scores
  nDCG@10 = 1.0: sections and conclusion only).

Rows, all fusing the same two document runs (each leg's 200 best passages, max-pooled by
document, as ``HybridRetriever`` does):

* ``BM25`` and ``dense``: one leg alone; ``RRF``: k = 60 (Cormack et al. 2009);
* ``z-score (old default)``: equal-weight z-score fusion, the default before issue 17;
* ``key terms only (CV)``: the same, BM25 searching the key terms of long queries, the cut
  chosen by cross-validation;
* ``adaptive (CV)``: :mod:`retriever.adaptive`, its model fitted by cross-validation;
* ``adaptive (FITTED)``: the coefficients shipped in ``retriever.adaptive.FITTED``, which were
  fitted on all queries of all four sets: **in-sample**, shown for reference only.

**Cross-validation.** Each set's queries are split into :data:`FOLDS` folds (seeded shuffle).
For fold ``i`` the model is fitted on folds ``!= i`` of *all four sets together* (the objective
is the mean over the sets of their mean nDCG@10, so a large set cannot outvote a small one) and
scored on fold ``i`` of every set; the CV figure pools the held-out queries. The fit: for each
key-term cut in :data:`CUTS`, coordinate ascent over the coefficient grid :data:`COEFFICIENTS`
from all zeros (the old default), a move kept only if it gains :data:`MIN_GAIN` (a guard
against fitting noise), on a lookup table of each query's nDCG@10 at lexical shares
``a`` in steps of 1/:data:`SHARE_STEPS` (checked against ir-measures at start-up). Held-out
runs are then fused with the exact continuous weights by the retriever's own functions.
Fixed rows involve no fitting; their figures are plain means.

**Issue 17, item 3** (printed after the table above): options on top of the shipped default,
each family a small grid whose first value is the default, the value chosen by the same
cross-validation (one choice for all sets; BM25 (k1, b) chosen within each set) and paired
against the default: document scoring (:class:`retriever.fusion.DocumentScore`), Rocchio on the
dense vector and RM3 on BM25 (:mod:`retriever.feedback`), a BM25 field over each passage's
title and heading added to the BM25 leg, and BM25 (k1, b) per corpus. The first three are
``RetrievalConfig`` options, and ``HybridRetriever`` with each is checked to rank the same top 10
documents on a few queries per set; the last two are measured here only (new BM25 stores built
from the index's passages, no encoding).

Measures by ir-measures (pytrec_eval); paired tests by ``eval.significance.compare`` (t-test
and sign-flip randomisation), adaptive (CV) against each leg, RRF and the old default.
A check at the end runs ``HybridRetriever`` with ``fusion=adaptive`` and the fitted model on a
sample of queries of every set and asserts it ranks the same top-10 documents as this script.

Usage:
    nice python benchmarks/fusion_cv.py     # table on stdout, var/results/fusion_cv.json

Each index is built on first use under var/indexes/ (MTRAG's: var/cache/mtrag/index, shared
with benchmarks/followup_mtrag.py); passage and query vectors are cached under
var/cache/<set>/ (benchmarks/retrieval_data.py). Encoding SciFact's 12,301 passages took
~30 minutes on this machine, PubMedQA's 4,605 ~8; the LiveQA set needs
``python scripts/medquad_subset.py`` first (var/medquad-subset.jsonl).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import math
import random
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ir_measures  # noqa: E402
import numpy as np  # noqa: E402
from ir_measures import nDCG  # noqa: E402
from retrieval_data import DATA, RESULTS, ROOT, CachingEmbedder  # noqa: E402

from eval.significance import compare  # noqa: E402
from index.lexical import Bm25LexicalStore, Bm25Settings, Bm25Tokenizer  # noqa: E402
from retriever.adaptive import (  # noqa: E402
    FEEDBACK_PASSAGES,
    FITTED,
    AdaptiveFusion,
    QueryFeatures,
    content_words,
    key_terms,
    leg_weights,
    query_features,
)
from retriever.dense import DenseRetriever  # noqa: E402
from retriever.feedback import (  # noqa: E402
    FeedbackConfig,
    feedback_words,
    relevance_model,
    rocchio,
)
from retriever.followup import LexicalTermStatistics  # noqa: E402
from retriever.fusion import (  # noqa: E402
    RRF_K,
    ArrayRun,
    DocumentScore,
    FusionMode,
    Normalization,
    collapse_arrays,
    fuse_arrays,
    pool_arrays,
    sum_arrays,
)
from retriever.hybrid import HybridRetriever, RetrievalConfig  # noqa: E402
from retriever.lexical import LexicalRetriever  # noqa: E402

log = logging.getLogger("fusion_cv")
MEASURE = nDCG @ 10
DEPTH = 200  # passages per leg: RetrievalConfig's lexical_depth and dense_depth
FOLDS = 5
SEED = 20240601
SHARE_STEPS = 20  # the lookup table's lexical shares: 0, 1/20, ..., 1
CUTS = (0, 6, 10, 16)  # key-term cuts tried (0: BM25 searches the query as typed)
COEFFICIENTS: dict[str, tuple[float, ...]] = {
    "intercept": tuple(np.round(np.arange(-3.0, 3.01, 0.25), 2)),
    "length": tuple(np.round(np.arange(-3.0, 3.01, 0.25), 2)),
    "rare": tuple(np.round(np.arange(-4.0, 4.01, 0.5), 2)),
    "peak": tuple(np.round(np.arange(-1.5, 1.51, 0.125), 3)),
    "agreement": tuple(np.round(np.arange(-4.0, 4.01, 0.5), 2)),
}
PASSES = 4  # coordinate-ascent sweeps over the coefficients
MIN_GAIN = 0.001  # a coefficient moves only if the training objective gains this much
SETS = ("scifact", "liveqa", "mtrag", "pubmedqa")
# Fitting procedures, cross-validated: which coefficients each may move from 0 (the cut is
# always chosen). "key terms only" keeps equal weights; "one weight" tunes a fixed BM25 share.
FITS: dict[str, tuple[str, ...]] = {
    "key terms only (CV)": (),
    "key terms + one weight (CV)": ("intercept",),
    "adaptive (CV)": tuple(COEFFICIENTS),
}
CHECK_QUERIES = 10  # per set, for the HybridRetriever consistency check
MEDQUAD_SUBSET = ROOT / "var" / "medquad-subset.jsonl"  # scripts/medquad_subset.py writes it


# ----------------------------------------------------------------------------- the sets


@dataclass(frozen=True)
class DevSet:
    name: str
    index_dir: Path
    cache: str  # CachingEmbedder data set (query vectors)
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]  # index document ids
    groups: dict[str, str]  # query id -> fold group (MTRAG: the conversation)
    documents: Callable[[], list[Any]]  # the corpus, to build the index when it is missing

    def open_index(self, embedder: CachingEmbedder) -> Any:
        """The set's index, built first (encoding through the cache) if it is not there."""
        from index.build import build_index
        from index.load import PassageIndex

        if not (self.index_dir / "manifest.json").exists():
            log.info("building %s (encoding is slow on CPU; vectors are cached)", self.index_dir)
            self.index_dir.parent.mkdir(parents=True, exist_ok=True)
            build_index(self.documents(), self.index_dir, embedder, progress=True)
        return PassageIndex.load(self.index_dir, expected_model=embedder.model_name)


def _load(path: Path, fmt: str | None = None) -> list[Any]:
    from corpus.loaders import load_corpus

    return list(load_corpus(path, fmt=fmt).documents)


def _untitled(documents: list[Any]) -> list[Any]:
    return [replace(d, title="") for d in documents]


def _qrels_tsv(path: Path, prefix: str) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if int(row["score"]) > 0:
                qrels.setdefault(row["query-id"], {})[prefix + row["corpus-id"]] = int(row["score"])
    return qrels


def _queries_jsonl(path: Path, keep: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if str(row["_id"]) in keep:
                out[str(row["_id"])] = row["text"]
    return out


def scifact() -> DevSet:
    qrels = _qrels_tsv(DATA / "scifact" / "qrels" / "train.tsv", "scifact:")
    queries = _queries_jsonl(DATA / "scifact" / "queries.jsonl", qrels)
    return DevSet(
        "scifact",
        ROOT / "var" / "indexes" / "scifact",
        "scifact",
        queries,
        qrels,
        {q: q for q in queries},
        lambda: _load(DATA / "scifact", "beir"),
    )


def liveqa() -> DevSet:
    root = DATA / "liveqa-med-dev"
    qrels = _qrels_tsv(root / "qrels" / "dev.tsv", "medquad:")
    queries = _queries_jsonl(root / "queries.jsonl", qrels)
    return DevSet(
        "liveqa",
        ROOT / "var" / "indexes" / "medquad-subset",
        "liveqa",
        queries,
        qrels,
        {q: q for q in queries},
        lambda: _load(MEDQUAD_SUBSET),
    )


def mtrag() -> DevSet:
    from followup_mtrag import load_tasks

    documents, tasks = load_tasks(DATA / "mtrag" / "reference.jsonl")
    queries = {t.id: t.question for t in tasks}
    qrels = {t.id: {d: 1 for d in t.gold} for t in tasks}
    return DevSet(
        "mtrag",
        ROOT / "var" / "cache" / "mtrag" / "index",
        "mtrag",
        queries,
        qrels,
        {t.id: t.conversation_id for t in tasks},
        lambda: documents,
    )


def pubmedqa() -> DevSet:
    records = json.loads((DATA / "pubmedqa" / "ori_pqal.json").read_text(encoding="utf-8"))
    queries = {pmid.strip(): r["QUESTION"] for pmid, r in records.items()}
    qrels = {q: {f"pubmedqa:{q}": 1} for q in queries}
    return DevSet(
        "pubmedqa",
        ROOT / "var" / "indexes" / "pubmedqa-untitled",
        "pubmedqa",
        queries,
        qrels,
        {q: q for q in queries},
        lambda: _untitled(_load(DATA / "pubmedqa" / "ori_pqal.json", "pubmedqa")),
    )


LOADERS: dict[str, Callable[[], DevSet]] = {
    "scifact": scifact,
    "liveqa": liveqa,
    "mtrag": mtrag,
    "pubmedqa": pubmedqa,
}


def folds_of(ds: DevSet) -> dict[str, int]:
    """Query id -> fold; queries of one group share a fold (seeded shuffle of the groups)."""
    groups = sorted(set(ds.groups.values()))
    random.Random(f"{SEED}-{ds.name}").shuffle(groups)
    fold = {g: i % FOLDS for i, g in enumerate(groups)}
    return {q: fold[ds.groups[q]] for q in ds.queries}


# ----------------------------------------------------------------------------- the legs


@dataclass(frozen=True)
class Query:
    """One query's document runs (document codes) and features, per key-term cut."""

    id: str
    dense: ArrayRun
    lexical: dict[int, ArrayRun]  # cut -> BM25 document run
    typed: ArrayRun  # BM25 over the query as typed (cut 0)
    features: dict[int, QueryFeatures]


def legs(ds: DevSet) -> tuple[list[Query], list[str], Any]:
    """Search both legs for every query of ``ds``, as ``HybridRetriever`` does."""

    embedder = CachingEmbedder(ds.cache)
    index = ds.open_index(embedder)
    codes: dict[str, int] = {}
    document_of = np.fromiter(
        (codes.setdefault(p.document_id, len(codes)) for p in index.passages),
        np.int64,
        len(index.passages),
    )
    names = list(codes)
    lexical = LexicalRetriever(index.lexical, index.passages)
    dense = DenseRetriever(embedder, index.dense, index.passages)
    stats = LexicalTermStatistics(index.lexical.tokenize, index.lexical.scores)
    qids = list(ds.queries)
    vectors = embedder.encode_queries([ds.queries[q].strip() for q in qids])
    out = []
    for qid, vector in zip(qids, vectors, strict=True):
        text = ds.queries[qid].strip()
        hits = dense.hits_for_vector(vector, DEPTH)
        d = collapse_arrays(ArrayRun.of(*_hits(hits)), document_of)
        feedback = [index.passages[row].text for row in hits.rows[:FEEDBACK_PASSAGES].tolist()]
        words = content_words(text, stats)
        runs, features = {}, {}
        for cut in CUTS:
            query = key_terms(text, stats, cut, feedback)
            if cut and query == text:
                runs[cut] = runs[0]
            else:
                runs[cut] = collapse_arrays(
                    ArrayRun.of(*_hits(lexical.hits(query, DEPTH))), document_of
                )
            r = runs[cut]
            features[cut] = query_features(words, r.keys, r.scores, d.keys, d.scores)
        out.append(Query(qid, d, runs, runs[0], features))
    return out, names, (index, embedder)


def _hits(hits: Any) -> tuple[Any, Any]:
    return hits.rows, hits.scores


# ----------------------------------------------------------------------------- fusion and runs


def zscore_fuse(lexical: ArrayRun, dense: ArrayRun, weights: Sequence[float]) -> ArrayRun:
    runs = [r for r in (lexical, dense) if len(r.keys)]
    w = [wt for r, wt in zip((lexical, dense), weights, strict=True) if len(r.keys)]
    if not runs:
        return ArrayRun.of([], [])
    return fuse_arrays(FusionMode.WEIGHTED, runs, weights=w, normalization=Normalization.ZSCORE)


def rrf_fuse(lexical: ArrayRun, dense: ArrayRun) -> ArrayRun:
    return fuse_arrays(FusionMode.RRF, [lexical, dense], k=RRF_K)


def as_run(fused: ArrayRun, names: Sequence[str], depth: int = 100) -> dict[str, float]:
    """Document ids scored by rank (ties in fused scores would be re-broken by trec_eval)."""
    keys = fused.keys[:depth].tolist()
    return {names[k]: float(depth - i) for i, k in enumerate(keys)}


def per_query(
    runs: Mapping[str, dict[str, float]],
    qrels: Mapping[str, Mapping[str, int]],
    qids: Sequence[str],
) -> dict[str, float]:
    """nDCG@10 per query by ir-measures; a query with an empty run scores 0."""
    values = {q: 0.0 for q in qids}
    sub_qrels = {q: dict(qrels[q]) for q in qids}
    sub_runs = {q: runs[q] for q in qids if runs.get(q)}
    for row in ir_measures.iter_calc([MEASURE], sub_qrels, sub_runs):
        values[row.query_id] = float(row.value)
    return values


# ----------------------------------------------------------------------------- the lookup table


def _gains(fused: ArrayRun, rel: np.ndarray, ideal: float) -> float:
    """nDCG@10 of one fused run (linear gains, log2 discount: trec_eval's ndcg_cut_10)."""
    top = fused.keys[:10]
    dcg = float(np.sum(rel[top] / np.log2(np.arange(2, len(top) + 2))))
    return dcg / ideal if ideal > 0 else 0.0


def lookup(ds: DevSet, queries: Sequence[Query], names: Sequence[str]) -> dict[int, np.ndarray]:
    """cut -> array [query, share step] of nDCG@10 of z-score fusion with lexical share a."""
    code = {n: i for i, n in enumerate(names)}
    table = {}
    shares = np.linspace(0.0, 1.0, SHARE_STEPS + 1)
    for cut in CUTS:
        rows = np.zeros((len(queries), len(shares)))
        for qi, query in enumerate(queries):
            judged = ds.qrels[query.id]
            rel = np.zeros(len(names))
            for doc, grade in judged.items():
                if doc in code:
                    rel[code[doc]] = grade
            gains = sorted(judged.values(), reverse=True)[:10]
            ideal = float(np.sum(np.asarray(gains) / np.log2(np.arange(2, len(gains) + 2))))
            for si, a in enumerate(shares):
                fused = zscore_fuse(query.lexical[cut], query.dense, (2 * a, 2 * (1 - a)))
                rows[qi, si] = _gains(fused, rel, ideal)
        table[cut] = rows
    return table


def check_lookup(ds: DevSet, queries: Sequence[Query], names, table) -> None:
    """The lookup's nDCG@10 must equal ir-measures' on the same runs (an oracle check)."""
    for cut, si in ((0, SHARE_STEPS // 2), (CUTS[-1], 5)):
        a = si / SHARE_STEPS
        runs = {
            q.id: as_run(zscore_fuse(q.lexical[cut], q.dense, (2 * a, 2 * (1 - a))), names)
            for q in queries
        }
        ref = per_query(runs, ds.qrels, [q.id for q in queries])
        mine = table[cut][:, si]
        gap = max(abs(ref[q.id] - m) for q, m in zip(queries, mine, strict=True))
        if gap > 1e-6:
            raise AssertionError(f"{ds.name}: lookup nDCG differs from ir-measures by {gap}")


# ----------------------------------------------------------------------------- fitting


@dataclass
class Bank:
    """Everything the fit needs for one set, as arrays over its queries."""

    name: str
    table: dict[int, np.ndarray]  # cut -> [query, share]
    x: dict[int, np.ndarray]  # cut -> [query, 4] features: length, rare, peak, agreement
    fold: np.ndarray


def feature_matrix(features: Sequence[QueryFeatures]) -> np.ndarray:
    from retriever.adaptive import LENGTH_PIVOT

    return np.array(
        [
            [
                math.log2(max(f.terms, 1)) - LENGTH_PIVOT,
                f.rare_share,
                f.lexical_top_z - f.dense_top_z,
                f.overlap,
            ]
            for f in features
        ]
    )


def objective(banks: Sequence[Bank], masks: Sequence[np.ndarray], cut: int, theta) -> float:
    """Mean over sets of the mean lookup nDCG@10 of the training queries."""
    total = 0.0
    for bank, mask in zip(banks, masks, strict=True):
        logit = theta[0] + bank.x[cut][mask] @ theta[1:]
        share = 1.0 / (1.0 + np.exp(-np.clip(logit, -50, 50)))
        step = np.rint(share * SHARE_STEPS).astype(int)
        total += float(bank.table[cut][mask][np.arange(mask.sum()), step].mean())
    return total / len(banks)


def fit(
    banks: Sequence[Bank], masks: Sequence[np.ndarray], free: Sequence[str] = tuple(COEFFICIENTS)
) -> tuple[AdaptiveFusion, float]:
    """The best key-term cut and ``free`` coefficients (the others 0) on the masked queries."""
    names = list(COEFFICIENTS)
    best_model, best_score = AdaptiveFusion(), -1.0
    for cut in CUTS:
        theta = np.zeros(len(names))
        score = objective(banks, masks, cut, theta)
        for _ in range(PASSES if free else 0):
            improved = False
            for j, name in enumerate(names):
                if name not in free:
                    continue
                for value in COEFFICIENTS[name]:
                    trial = theta.copy()
                    trial[j] = value
                    s = objective(banks, masks, cut, trial)
                    if s > score + MIN_GAIN:
                        theta, score, improved = trial, s, True
            if not improved:
                break
        if score > best_score + 1e-9:
            best_score = score
            best_model = AdaptiveFusion(
                **{n: float(v) for n, v in zip(names, theta, strict=True)}, max_terms=cut
            )
    return best_model, best_score


def model_runs(queries: Sequence[Query], names, model: AdaptiveFusion) -> dict[str, dict]:
    """Runs of adaptive fusion under ``model``, with the retriever's own functions."""
    cut = model.max_terms
    runs = {}
    for q in queries:
        weights = leg_weights(q.features[cut], model)
        runs[q.id] = as_run(zscore_fuse(q.lexical[cut], q.dense, weights), names)
    return runs


# ----------------------------------------------------------------------------- consistency


def check_retriever(ds: DevSet, queries, names, resources, model: AdaptiveFusion) -> int:
    """``HybridRetriever`` with adaptive fusion ranks the same top-10 documents as this script."""
    index, embedder = resources
    retriever = HybridRetriever(
        index, embedder, RetrievalConfig(fusion=FusionMode.ADAPTIVE, adaptive=model)
    )
    offline = model_runs(queries[:CHECK_QUERIES], names, model)
    for q in queries[:CHECK_QUERIES]:
        served: list[str] = []
        for sp in retriever.candidates(ds.queries[q.id]):
            if sp.passage.document_id not in served:
                served.append(sp.passage.document_id)
        mine = sorted(offline[q.id], key=lambda d: -offline[q.id][d])[:10]
        if served[:10] != mine:
            raise AssertionError(f"{ds.name} {q.id}: HybridRetriever {served[:10]} != {mine}")
    return min(CHECK_QUERIES, len(queries))


# ----------------------------------------------------------------------------- item 3 candidates
#
# Issue 17, item 3: options on top of the shipped default (FITTED: key terms for long queries on
# BM25, equal-weight z-score fusion by document). Each family is a small grid whose first value is
# the default; cross-validation picks a value on the training folds of all four sets (the mean
# of the sets' mean nDCG@10, as above) and scores it on the held-out fold.

ITEM3: dict[str, tuple[tuple[str, dict[str, Any]], ...]] = {
    "document score": (
        ("max", {}),
        ("top2", {"document_score": DocumentScore.TOP2}),
        ("sum", {"document_score": DocumentScore.SUM}),
    ),
    "Rocchio (dense)": (
        ("off", {}),
        ("beta 0.25", {"feedback": FeedbackConfig(rocchio_beta=0.25)}),
        ("beta 0.5", {"feedback": FeedbackConfig(rocchio_beta=0.5)}),
        ("beta 1.0", {"feedback": FeedbackConfig(rocchio_beta=1.0)}),
    ),
    "RM3 (BM25)": (
        ("off", {}),
        ("weight 0.2", {"feedback": FeedbackConfig(rm3_weight=0.2)}),
        ("weight 0.5", {"feedback": FeedbackConfig(rm3_weight=0.5)}),
        ("weight 1.0", {"feedback": FeedbackConfig(rm3_weight=1.0)}),
    ),
}
# Measured here only, not RetrievalConfig options (see docs/eval.md): a BM25 field over each
# passage's title and heading alone, its run added to the BM25 leg with this weight ...
HEADING_WEIGHTS = (0.25, 0.5, 1.0)
# ... and BM25 (k1, b) per corpus, chosen by CV within each set (the manifest already stores
# an index's Bm25Settings, so a per-corpus choice needs no new code in the retriever).
BM25_GRID = tuple((k1, b) for k1 in (0.6, 0.9, 1.2) for b in (0.2, 0.4, 0.75))
PER_SET = frozenset({"BM25 k1, b per corpus"})
ITEM3_CHECK = 5  # queries per set and option checked against HybridRetriever


def option_run(
    ds: DevSet,
    qid: str,
    vector: np.ndarray,
    resources: Any,
    document_of,
    config: RetrievalConfig,
    lexical: Any = None,
    heading: tuple[Any, float] | None = None,
) -> ArrayRun:
    """One query's fused document run under ``config``, step by step as ``HybridRetriever``;
    ``lexical`` replaces the index's BM25 store, ``heading`` adds (a heading-field retriever,
    weight) to the BM25 leg."""
    index, _, default_lexical, dense, stats = resources
    lexical = lexical or default_lexical
    fb = config.feedback
    text = ds.queries[qid].strip()
    d = ArrayRun.of(*_hits(dense.hits_for_vector(vector, DEPTH)))
    if fb.rocchio_beta > 0:
        moved = rocchio(vector, index.vectors(d.keys[: fb.rocchio_passages]), fb.rocchio_beta)
        d = ArrayRun.of(*_hits(dense.hits_for_vector(moved, DEPTH)))
    feedback = [index.passages[row].text for row in d.keys[:FEEDBACK_PASSAGES].tolist()]
    query = key_terms(text, stats, FITTED.max_terms, feedback)
    lex = ArrayRun.of(*_hits(lexical.hits(query, DEPTH)))
    if fb.rm3_weight > 0:
        top = lex.keys[: fb.rm3_passages].tolist()
        terms = relevance_model(
            [feedback_words(index.passages[r].text) for r in top],
            lex.scores[: len(top)].tolist(),
            fb.rm3_terms,
            exclude=frozenset(feedback_words(query)),
        )
        if terms:
            extra = ArrayRun.of(*_hits(lexical.hits(" ".join(t for t, _ in terms), DEPTH)))
            lex = sum_arrays([(lex, 1.0), (extra, fb.rm3_weight)])
    if heading is not None:
        field, weight = heading
        lex = sum_arrays([(lex, 1.0), (ArrayRun.of(*_hits(field.hits(query, DEPTH))), weight)])
    pooled = [pool_arrays(r, document_of, config.document_score) for r in (lex, d)]
    return zscore_fuse(pooled[0], pooled[1], (1.0, 1.0))


def item3(ds: DevSet, names: Sequence[str]) -> tuple[dict[str, dict[str, dict[str, float]]], int]:
    """family -> option -> per-query nDCG@10; and how many queries HybridRetriever matched."""
    embedder = CachingEmbedder(ds.cache)
    index = ds.open_index(embedder)
    code = {n: i for i, n in enumerate(names)}
    document_of = np.array([code[p.document_id] for p in index.passages], np.int64)
    lexical = LexicalRetriever(index.lexical, index.passages)
    dense = DenseRetriever(embedder, index.dense, index.passages)
    stats = LexicalTermStatistics(index.lexical.tokenize, index.lexical.scores)
    resources = (index, embedder, lexical, dense, stats)
    qids = list(ds.queries)
    vectors = embedder.encode_queries([ds.queries[q].strip() for q in qids])
    out: dict[str, dict[str, dict[str, float]]] = {}
    checked = 0
    for family, options in ITEM3.items():
        out[family] = {}
        for label, changes in options:
            config = RetrievalConfig(**changes)
            fused = {
                q: option_run(ds, q, v, resources, document_of, config)
                for q, v in zip(qids, vectors, strict=True)
            }
            runs = {q: as_run(f, names) for q, f in fused.items()}
            out[family][label] = per_query(runs, ds.qrels, qids)
            if changes:  # the served retriever must rank the same top 10 documents
                retriever = HybridRetriever(index, embedder, config)
                for q in qids[:ITEM3_CHECK]:
                    served: list[str] = []
                    for sp in retriever.candidates(ds.queries[q]):
                        if sp.passage.document_id not in served:
                            served.append(sp.passage.document_id)
                    mine = [names[k] for k in fused[q].keys[:10].tolist()]
                    if served[:10] != mine:
                        raise AssertionError(
                            f"{ds.name} {family} {label} {q}: {served[:10]} != {mine}"
                        )
                    checked += 1

    def score(**extras: Any) -> dict[str, float]:
        config = RetrievalConfig()
        runs = {
            q: as_run(option_run(ds, q, v, resources, document_of, config, **extras), names)
            for q, v in zip(qids, vectors, strict=True)
        }
        return per_query(runs, ds.qrels, qids)

    family = "title/heading BM25 field"
    out[family] = {"off": out["document score"]["max"]}
    texts = [heading_text(p) for p in index.passages]
    if any(Bm25Tokenizer(Bm25Settings()).tokenize(texts)):
        headings = LexicalRetriever(Bm25LexicalStore.build(texts), index.passages)
        for weight in HEADING_WEIGHTS:
            out[family][f"weight {weight}"] = score(heading=(headings, weight))
    else:  # no passage has a title or heading (PubMedQA untitled): nothing to weight
        for weight in HEADING_WEIGHTS:
            out[family][f"weight {weight}"] = out[family]["off"]
    family = "BM25 k1, b per corpus"
    out[family] = {}
    stores = bm25_variants([p.embedding_text for p in index.passages])
    for (k1, b), store in stores.items():
        label = f"k1 {k1}, b {b}"
        if store is None:
            out[family][label] = out["document score"]["max"]
        else:
            out[family][label] = score(lexical=LexicalRetriever(store, index.passages))
    return out, checked


def bm25_variants(texts: Sequence[str]) -> dict[tuple[float, float], Bm25LexicalStore | None]:
    """A BM25 store per (k1, b) of :data:`BM25_GRID` (None for the default's), the texts
    tokenised once, as ``Bm25LexicalStore.build`` does."""
    import bm25s

    default = Bm25Settings()
    tokens = Bm25Tokenizer(default).tokenize(texts)
    vocab: dict[str, int] = {}
    ids = [[vocab.setdefault(term, len(vocab)) for term in doc] for doc in tokens]
    stores: dict[tuple[float, float], Bm25LexicalStore | None] = {}
    for k1, b in BM25_GRID:
        if (k1, b) == (default.k1, default.b):
            stores[(k1, b)] = None
            continue
        settings = replace(default, k1=k1, b=b)
        bm25 = bm25s.BM25(k1=k1, b=b, method=settings.method.value)
        bm25.index((ids, vocab), show_progress=False)
        stores[(k1, b)] = Bm25LexicalStore(bm25, settings)
    return stores


def heading_text(passage: Any) -> str:
    """A passage's title and heading (the heading only when it differs from the title)."""
    heading = passage.section if passage.section and passage.section != passage.title else ""
    return ". ".join(t for t in (passage.title, heading) if t)


def option_labels(family: str) -> list[str]:
    """A family's options, the shipped default first."""
    if family in ITEM3:
        return [label for label, _ in ITEM3[family]]
    if family == "title/heading BM25 field":
        return ["off", *(f"weight {w}" for w in HEADING_WEIGHTS)]
    default = (Bm25Settings().k1, Bm25Settings().b)
    grid = [default, *(kb for kb in BM25_GRID if kb != default)]
    return [f"k1 {k1}, b {b}" for k1, b in grid]


FAMILIES = (*ITEM3, "title/heading BM25 field", "BM25 k1, b per corpus")


def item3_cv(
    per_set: Mapping[str, Mapping[str, Mapping[str, dict[str, float]]]],
    folds: Mapping[str, Mapping[str, int]],
) -> tuple[dict[str, dict[str, dict[str, float]]], dict[str, list[str]], dict[str, str]]:
    """family -> set -> per-query CV nDCG@10; each fold's choice; the all-data choice."""
    cv: dict[str, dict[str, dict[str, float]]] = {}
    choices: dict[str, list[str]] = {}
    full: dict[str, str] = {}

    def best(family: str, keep: Callable[[str, str], bool], only: str | None = None) -> str:
        labels = option_labels(family)
        scores = []
        for label in labels:
            means = []
            for name, fams in per_set.items():
                if only is not None and name != only:
                    continue
                vals = [v for q, v in fams[family][label].items() if keep(name, q)]
                means.append(float(np.mean(vals)))
            scores.append(float(np.mean(means)))
        # The first (the default) unless another is better by MIN_GAIN.
        top = int(np.argmax(scores))
        return labels[top] if scores[top] > scores[0] + MIN_GAIN else labels[0]

    for family in FAMILIES:
        cv[family] = {name: {} for name in per_set}
        choices[family] = []
        for i in range(FOLDS):
            # One choice for all sets, or (PER_SET) each set's own, on its training folds.
            for only in per_set if family in PER_SET else (None,):
                label = best(family, lambda name, q, i=i: folds[name][q] != i, only)
                choices[family].append(f"fold {i}" + (f" {only}" if only else "") + f": {label}")
                for name, fams in per_set.items():
                    if only is None or name == only:
                        cv[family][name].update(
                            {q: v for q, v in fams[family][label].items() if folds[name][q] == i}
                        )
        for only in per_set if family in PER_SET else (None,):
            full[family + (f" {only}" if only else "")] = best(family, lambda n, q: True, only)
    return cv, choices, full


def report_item3(data, per_set, cv, choices, full, out: Path) -> dict[str, Any]:
    """The item-3 tables (Markdown on stdout) and their JSON, with paired tests against the
    shipped default (each family's first option)."""
    sets = list(per_set)
    result: dict[str, Any] = {"choices": choices, "all_data_choice": full, "sets": {}}
    print("\n## Issue 17 item 3: candidates against the shipped default (nDCG@10)\n")
    print("| candidate | " + " | ".join(sets) + " | mean of sets |")
    print("|---|" + "---|" * (len(sets) + 1))
    default = next(iter(ITEM3))
    base = {s: per_set[s][default][ITEM3[default][0][0]] for s in sets}
    rows: dict[str, dict[str, dict[str, float]]] = {"default (shipped)": base}
    for family in FAMILIES:
        for label in option_labels(family)[1:]:
            rows[f"{family}: {label} (in-sample)"] = {s: per_set[s][family][label] for s in sets}
        rows[f"{family} (CV)"] = cv[family]
    for row, vals in rows.items():
        means = [float(np.mean(list(vals[s].values()))) for s in sets]
        print(f"| {row} | " + " | ".join(f"{m:.4f}" for m in means) + f" | {np.mean(means):.4f} |")
    print("\nPaired against the default: difference (t p, randomisation p; better/worse)\n")
    print("| candidate | " + " | ".join(sets) + " |")
    print("|---|" + "---|" * len(sets))
    for row, vals in rows.items():
        if row == "default (shipped)":
            continue
        cells = []
        for s in sets:
            qids = list(base[s])
            c = compare(
                "nDCG@10", "default", [base[s][q] for q in qids], row, [vals[s][q] for q in qids]
            ).to_dict()
            result["sets"].setdefault(s, {})[row] = {"comparison": c, "per_query": vals[s]}
            p = c["p_values"]
            cells.append(
                f"{c['mean_diff']:+.4f} (t {p['paired_t']:.2g}, rand {p['randomisation']:.2g}; "
                f"{c['wins']}/{c['losses']})"
                if c["wins"] or c["losses"]
                else "+0.0000 (no query differs)"
            )
        print(f"| {row} | " + " | ".join(cells) + " |")
    print("\nCV choices per fold:", choices, "\nall-data choice:", full)
    result["verdicts"] = item3_verdicts(result, sets)
    for family, verdict in result["verdicts"].items():
        print(f"{family}: {verdict}")
    return result


def item3_verdicts(result: Mapping[str, Any], sets: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Item 3's bar for a new default, on each family's CV row: a mean over the sets above
    the shipped default's, and no set where it loses with randomisation p < 0.05."""
    verdicts = {}
    for family in FAMILIES:
        comps = {s: result["sets"][s][f"{family} (CV)"]["comparison"] for s in sets}
        gain = float(np.mean([c["mean_diff"] for c in comps.values()]))
        losing = [
            s
            for s, c in comps.items()
            if c["mean_diff"] < 0 and c["p_values"]["randomisation"] < 0.05
        ]
        verdicts[family] = {
            "mean_gain": gain,
            "significant_losses": losing,
            "keep": gain > 0 and not losing,
        }
    return verdicts


# ----------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    parser.add_argument("--out", type=Path, default=RESULTS / "fusion_cv.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    started = time.perf_counter()

    data, banks, fixed = {}, [], {}
    for name in args.sets:
        ds = LOADERS[name]()
        t0 = time.perf_counter()
        queries, names, resources = legs(ds)
        table = lookup(ds, queries, names)
        check_lookup(ds, queries, names, table)
        fold = folds_of(ds)
        banks.append(
            Bank(
                name,
                table,
                {cut: feature_matrix([q.features[cut] for q in queries]) for cut in CUTS},
                np.array([fold[q.id] for q in queries]),
            )
        )
        qids = [q.id for q in queries]
        rows = {
            "BM25": {q.id: as_run(q.typed, names) for q in queries},
            "dense": {q.id: as_run(q.dense, names) for q in queries},
            "RRF": {q.id: as_run(rrf_fuse(q.typed, q.dense), names) for q in queries},
            "z-score (old default)": {
                q.id: as_run(zscore_fuse(q.typed, q.dense, (1.0, 1.0)), names) for q in queries
            },
        }
        fixed[name] = {row: per_query(runs, ds.qrels, qids) for row, runs in rows.items()}
        data[name] = (ds, queries, names, resources, fold)
        log.info(
            "%s: %d queries, legs and lookup in %.0fs", name, len(queries), time.perf_counter() - t0
        )

    # Cross-validation: fit on folds != i of all sets, score fold i of every set.
    cv: dict[str, dict[str, dict[str, float]]] = {row: {n: {} for n in args.sets} for row in FITS}
    choices: dict[str, list[dict[str, Any]]] = {row: [] for row in cv}
    for i in range(FOLDS):
        train = [bank.fold != i for bank in banks]
        for row, free in FITS.items():
            model, score = fit(banks, train, free)
            choices[row].append({"fold": i, "model": asdict(model), "train_objective": score})
            log.info("fold %d %s: %s (train %.4f)", i, row, model, score)
            for name in args.sets:
                ds, queries, names, _, fold = data[name]
                held = [q for q in queries if fold[q.id] == i]
                runs = model_runs(held, names, model)
                cv[row][name].update(per_query(runs, ds.qrels, [q.id for q in held]))

    everything = [np.ones(len(b.fold), bool) for b in banks]
    full = {row: fit(banks, everything, free) for row, free in FITS.items()}
    for row, (model, score) in full.items():
        log.info("%s fitted on everything: %s (objective %.4f)", row, model, score)
    results: dict[str, Any] = {"sets": {}}
    for name in args.sets:
        ds, queries, names, resources, _ = data[name]
        qids = [q.id for q in queries]
        rows = dict(fixed[name])
        rows.update({row: cv[row][name] for row in FITS})
        rows["adaptive (FITTED, in-sample)"] = per_query(
            model_runs(queries, names, FITTED), ds.qrels, qids
        )
        checked = check_retriever(ds, queries, names, resources, FITTED)
        comparisons = {
            row: [
                compare(
                    "nDCG@10",
                    base,
                    [rows[base][q] for q in qids],
                    row,
                    [rows[row][q] for q in qids],
                ).to_dict()
                for base in BASES
            ]
            for row in CANDIDATES
        }
        results["sets"][name] = {
            "queries": len(qids),
            "index_manifest": json.loads((ds.index_dir / "manifest.json").read_text()),
            "mean": {row: float(np.mean([v[q] for q in qids])) for row, v in rows.items()},
            "per_query": rows,
            "comparisons": comparisons,
            "retriever_check_queries": checked,
            "queries_cut": {
                str(cut): sum(q.features[0].terms > cut for q in queries) for cut in CUTS if cut
            },
            "median_terms": float(np.median([q.features[0].terms for q in queries])),
        }

    # Issue 17, item 3: feedback and document scoring on top of the shipped default.
    t0 = time.perf_counter()
    per_set3, checked3 = {}, {}
    for name in args.sets:
        ds, queries, names, _, fold = data[name]
        per_set3[name], checked3[name] = item3(ds, names)
        log.info("item 3: %s done (%.0fs)", name, time.perf_counter() - t0)
        shipped = results["sets"][name]["per_query"]["adaptive (FITTED, in-sample)"]
        default3 = per_set3[name][next(iter(ITEM3))][ITEM3[next(iter(ITEM3))][0][0]]
        gap = max(abs(shipped[q] - default3[q]) for q in shipped)
        if gap > 1e-9:
            raise AssertionError(f"{name}: item-3 default differs from FITTED by {gap}")
    cv3, choices3, full3 = item3_cv(per_set3, {n: data[n][4] for n in args.sets})
    results["item3"] = report_item3(data, per_set3, cv3, choices3, full3, args.out)
    results["item3"]["retriever_check_queries"] = checked3
    results["item3"]["options"] = {
        family: {label: {k: str(v) for k, v in changes.items()} for label, changes in options}
        for family, options in ITEM3.items()
    }
    log.info("item 3 in %.0fs", time.perf_counter() - t0)

    results["cv_choices"] = choices
    results["all_data_fits"] = {
        row: {"model": asdict(model), "objective": score} for row, (model, score) in full.items()
    }
    results["shipped_fitted"] = asdict(FITTED)
    results["recommendation"] = recommend(results, {row: m for row, (m, _) in full.items()})
    results["config"] = {
        "folds": FOLDS,
        "seed": SEED,
        "depth": DEPTH,
        "cuts": list(CUTS),
        "share_steps": SHARE_STEPS,
        "coefficients": {k: list(v) for k, v in COEFFICIENTS.items()},
        "passes": PASSES,
        "mtrag_query": "last user turn as typed",
        "liveqa_corpus": "MedQuAD subset (scripts/medquad_subset.py, 3,000 answers)",
    }
    results["seconds"] = round(time.perf_counter() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1, default=str))
    print_table(results)
    rec = results["recommendation"]
    print(f"\nrecommended procedure: {rec['recommended']}; its all-data fit: {rec['model']}")
    print(f"retriever.adaptive.FITTED matches it: {rec['shipped_fitted_matches']}")
    print(f"\n{results['seconds']:.0f} s; wrote {args.out}")


BASES = ("BM25", "dense", "RRF", "z-score (old default)")


def recommend(results: Mapping[str, Any], models: Mapping[str, AdaptiveFusion]) -> dict:
    """The issue's bar for a default, applied to each fitting procedure's CV figures.

    A procedure qualifies when, on every set, its CV nDCG@10 is at least the better single
    leg's, and its mean over the sets is above RRF's. The recommended one is the qualifying
    procedure with the best mean; ``FITTED`` should be its all-data fit (checked here).
    """
    sets = results["sets"]
    verdicts = {}
    for row in FITS:
        mean = float(np.mean([sets[s]["mean"][row] for s in sets]))
        rrf = float(np.mean([sets[s]["mean"]["RRF"] for s in sets]))
        legs_ok = {
            s: sets[s]["mean"][row] >= max(sets[s]["mean"]["BM25"], sets[s]["mean"]["dense"])
            for s in sets
        }
        verdicts[row] = {
            "mean": mean,
            "above_rrf": mean > rrf,
            "not_below_best_leg": legs_ok,
            "qualifies": mean > rrf and all(legs_ok.values()),
        }
    qualifying = [row for row in FITS if verdicts[row]["qualifies"]]
    best = max(qualifying, key=lambda row: verdicts[row]["mean"]) if qualifying else None
    model = models[best] if best else None
    return {
        "verdicts": verdicts,
        "recommended": best,
        "model": asdict(model) if model else None,
        "shipped_fitted_matches": model == FITTED,
    }


CANDIDATES = tuple(FITS)


def print_table(results: Mapping[str, Any]) -> None:
    """The per-set table and the paired tests, as Markdown (docs/eval.md quotes it)."""
    sets = list(results["sets"])
    rows = list(next(iter(results["sets"].values()))["mean"])
    counts = " | ".join(f"{s} ({results['sets'][s]['queries']})" for s in sets)
    print(f"| nDCG@10 | {counts} | mean of sets |")
    print("|---|" + "---|" * (len(sets) + 1))
    for row in rows:
        values = [results["sets"][s]["mean"][row] for s in sets]
        cells = " | ".join(f"{v:.4f}" for v in values)
        print(f"| {row} | {cells} | {np.mean(values):.4f} |")
    for row in CANDIDATES:
        print(f"\n| {row} against | " + " | ".join(sets) + " |")
        print("|---|" + "---|" * len(sets))
        for base in BASES:
            cells = []
            for s in sets:
                c = next(c for c in results["sets"][s]["comparisons"][row] if c["a"] == base)
                p = c["p_values"]
                cells.append(
                    f"{c['mean_diff']:+.4f} (t {p['paired_t']:.2g}, rand "
                    f"{p['randomisation']:.2g}; {c['wins']}/{c['losses']})"
                )
            print(f"| {base} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
