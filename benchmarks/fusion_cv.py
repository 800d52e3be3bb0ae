"""Fusion across domains and query styles, cross-validated on four dev sets (issue 17).

Does the hybrid hold against its best single leg on every kind of query the engine meets? Four
dev sets, each searched over its own index built with the project's ``index.store.build_index``
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
from retriever.followup import LexicalTermStatistics  # noqa: E402
from retriever.fusion import (  # noqa: E402
    RRF_K,
    ArrayRun,
    FusionMode,
    Normalization,
    collapse_arrays,
    fuse_arrays,
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
        from index.store import PassageIndex, build_index

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
