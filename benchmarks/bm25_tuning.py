"""Choose the BM25 tokenisation and parameters on the SciFact train split.

Grid: stop words (none | English) x stemming (none | Snowball English) x (k1, b) in
{(1.2, 0.75), (0.9, 0.4), (1.5, 0.75)} x bm25s method (lucene | robertson). Each cell indexes the
5,183 SciFact abstracts (``title. text``, as ``Passage.embedding_text`` joins them) with
:class:`index.lexical.Bm25LexicalStore`, runs the 809 train claims, and scores the top 100 with
ir-measures (nDCG@10, R@100, RR@10). With ``--passages`` it runs the same grid again on the
chunked abstracts (``ChunkingConfig()`` defaults; a document scores its best passage), which is
how the index uses BM25; the defaults of :class:`index.lexical.Bm25Settings` are the best cell
of that passage-level table.

Run: ``nice .venv/bin/python benchmarks/bm25_tuning.py [--passages]`` (about 4 minutes; no model).
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ir_measures  # noqa: E402
from ir_measures import RR, R, nDCG  # noqa: E402

from corpus.types import Document, EvidenceTier  # noqa: E402
from index.lexical import (  # noqa: E402
    Bm25LexicalStore,
    Bm25Method,
    Bm25Settings,
    Stemming,
    StopWords,
)

SCIFACT = ROOT.parent / "shared" / "data" / "scifact"
DEPTH = 100
MEASURES = [nDCG @ 10, R @ 100, RR @ 10]
K1_B = [(1.2, 0.75), (0.9, 0.4), (1.5, 0.75)]


def load_scifact() -> tuple[
    list[str], list[str], list[str], dict[str, str], list[ir_measures.Qrel]
]:
    ids, titles, texts = [], [], []
    with open(SCIFACT / "corpus.jsonl", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            ids.append(str(row["_id"]))
            titles.append(row["title"])
            texts.append(row["text"])
    qrels = list(ir_measures.read_trec_qrels(_trec_qrels(SCIFACT / "qrels" / "train.tsv")))
    judged = {q.query_id for q in qrels}
    queries = {}
    with open(SCIFACT / "queries.jsonl", encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if str(row["_id"]) in judged:
                queries[str(row["_id"])] = row["text"]
    return ids, titles, texts, queries, qrels


def _trec_qrels(path: Path) -> str:
    lines = path.read_text(encoding="utf-8").splitlines()[1:]  # skip the BEIR header
    return "\n".join(f"{q} 0 {d} {s}" for q, d, s in (line.split("\t") for line in lines))


def run(
    store: Bm25LexicalStore, row_docs: list[str], queries: dict[str, str]
) -> list[ir_measures.ScoredDoc]:
    """Top-DEPTH documents per query; a document scores its best row (passage)."""
    qids = list(queries)
    scored = []
    for qid, hits in zip(
        qids, store.search_batch([queries[q] for q in qids], DEPTH * 4), strict=True
    ):
        best: dict[str, float] = {}
        for row, score in zip(hits.rows, hits.scores, strict=True):
            doc = row_docs[int(row)]
            if doc not in best:
                best[doc] = float(score)
        for doc, score in list(best.items())[:DEPTH]:
            scored.append(ir_measures.ScoredDoc(qid, doc, score))
    return scored


def evaluate(settings: Bm25Settings, texts: list[str], row_docs: list[str], queries, qrels):
    """Aggregate measures, per-query nDCG@10 and seconds for one cell of the grid."""
    started = time.perf_counter()
    store = Bm25LexicalStore.build(texts, settings)
    scored = run(store, row_docs, queries)
    results = ir_measures.calc_aggregate(MEASURES, qrels, scored)
    per_query = {m.query_id: m.value for m in ir_measures.iter_calc([nDCG @ 10], qrels, scored)}
    return {str(m): results[m] for m in MEASURES}, per_query, time.perf_counter() - started


def paired(rows, chosen: Bm25Settings, title: str) -> None:
    """Paired t-test of the chosen settings against the best cell, per query (nDCG@10)."""
    from scipy.stats import ttest_rel

    best = max(rows, key=lambda r: r[1]["nDCG@10"])
    mine = next(r for r in rows if r[0] == chosen)
    qids = sorted(best[2])
    a = [best[2][q] for q in qids]
    b = [mine[2].get(q, 0.0) for q in qids]
    if a == b:
        print(f"{title}: the default is the best cell")
        return
    test = ttest_rel(a, b)
    print(
        f"{title}: best {best[1]['nDCG@10']:.4f} vs default {mine[1]['nDCG@10']:.4f} "
        f"(difference {best[1]['nDCG@10'] - mine[1]['nDCG@10']:+.4f}, paired t-test over "
        f"{len(qids)} queries p = {test.pvalue:.3f})"
    )


def table(rows, title: str) -> None:
    print(f"\n{title}")
    header = f"{'method':<10} {'stopwords':<9} {'stemming':<16} {'k1':>4} {'b':>5}"
    header += "".join(f" {str(m):>9}" for m in MEASURES) + f" {'secs':>6}"
    print(header)
    print("-" * len(header))
    best = max(r[1]["nDCG@10"] for r in rows)
    for settings, scores, _per_query, seconds in rows:
        mark = "  <- best" if scores["nDCG@10"] == best else ""
        mark += "  <- default" if settings == Bm25Settings() else ""
        print(
            f"{settings.method.value:<10} {settings.stopwords.value:<9} "
            f"{settings.stemming.value:<16} {settings.k1:>4} {settings.b:>5}"
            + "".join(f" {scores[str(m)]:>9.4f}" for m in MEASURES)
            + f" {seconds:>6.1f}{mark}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", action="store_true", help="also rank chunked passages")
    args = parser.parse_args()
    logging.getLogger("bm25s").setLevel(logging.WARNING)

    ids, titles, texts, queries, qrels = load_scifact()
    doc_texts = [f"{title}. {text}" for title, text in zip(titles, texts, strict=True)]
    print(f"SciFact: {len(ids)} abstracts, {len(queries)} train queries, {len(qrels)} qrels")

    grid = [
        Bm25Settings(k1=k1, b=b, method=method, stopwords=stopwords, stemming=stemming)
        for method, stopwords, stemming, (k1, b) in itertools.product(
            Bm25Method, StopWords, Stemming, K1_B
        )
    ]
    rows = []
    for settings in grid:
        rows.append((settings, *evaluate(settings, doc_texts, ids, queries, qrels)))
    table(rows, "Abstract level (one BM25 document per abstract), SciFact train, top 100")
    paired(rows, Bm25Settings(), "abstract level")

    if args.passages:
        from corpus.chunking import ChunkingConfig, chunk_documents

        documents = [
            Document(
                id=i,
                title=t,
                text=x,
                tier=EvidenceTier.OTHER,
                source="SciFact",
                licence="CC BY-NC 2.0",
                dataset="scifact",
            )
            for i, t, x in zip(ids, titles, texts, strict=True)
            if x.strip()
        ]
        passages = chunk_documents(documents, ChunkingConfig())
        print(f"\n{len(passages)} passages from ChunkingConfig() defaults")
        passage_rows = []
        passage_texts = [p.embedding_text for p in passages]
        passage_docs = [p.document_id for p in passages]
        for settings in grid:
            passage_rows.append(
                (settings, *evaluate(settings, passage_texts, passage_docs, queries, qrels))
            )
        table(passage_rows, "Passage level (document = its best passage), SciFact train, top 100")
        paired(passage_rows, Bm25Settings(), "passage level")
    return 0


if __name__ == "__main__":
    sys.exit(main())
