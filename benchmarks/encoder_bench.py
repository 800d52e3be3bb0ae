"""The encoder backends side by side: query-encoding latency, and the SciFact quality gate.

For each backend (``torch``, ``onnx-int8``; :mod:`index.encoders`), in one run:

* **Query encoding**: p50/p95 of one ``encode_queries`` call per demo question
  (benchmarks/questions_demo.jsonl, repeated to ``--queries``), one thread, after warm-up.
* **Quality gate** (skip with ``--no-quality``): SciFact **train** (809 claims), each abstract
  one text (title + abstract, the passage recipe), 5,183 texts per backend, cached under
  var/cache/scifact/ by model name. nDCG@10 (ir-measures) of the dense leg alone, and of the
  hybrid as served (BM25 from :class:`index.lexical.Bm25LexicalStore` with its default
  settings, z-score weighted fusion 1:1 of 200 candidates per leg, as ``RetrievalConfig``).
  The issue's gate: onnx-int8 within 0.005 of torch. Abstracts are not cut into passages here
  (the served index is; SciFact abstracts mostly fit one passage), so absolute figures differ
  a little from ``benchmarks/retrieval_tuning.py``.

Usage:
    nice python benchmarks/encoder_bench.py [--queries 300] [--no-quality]
Writes var/results/encoder_bench.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ir_measures  # noqa: E402
import numpy as np  # noqa: E402
from ir_measures import nDCG  # noqa: E402
from retrieval_data import RESULTS, cached_embeddings, embedding_text, load_scifact  # noqa: E402

from index.encoders import BACKENDS, encoder_name, load_embedder  # noqa: E402
from index.lexical import Bm25LexicalStore, Bm25Settings  # noqa: E402
from retriever.fusion import ArrayRun, FusionMode, Normalization, fuse_arrays  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "benchmarks" / "questions_demo.jsonl"
DEPTH = 200
log = logging.getLogger("encoder_bench")


def query_latency(embedder: Any, questions: list[str], n: int) -> dict[str, float]:
    for q in questions[:10]:
        embedder.encode_queries([q])
    times = []
    for i in range(n):
        text = f"{questions[i % len(questions)]} ({i})"  # never the same text twice
        start = time.perf_counter()
        embedder.encode_queries([text])
        times.append(time.perf_counter() - start)
    ms = np.array(times) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95))}


def _top(scores: np.ndarray, k: int) -> ArrayRun:
    top = np.argpartition(-scores, min(k, len(scores) - 1))[:k]
    top = top[np.argsort(-scores[top], kind="stable")]
    return ArrayRun.of(top, scores[top])


def quality(backend: str, embedder: Any) -> dict[str, float]:
    data = load_scifact("train")
    texts = [embedding_text(t, x) for t, x in zip(data.titles, data.texts, strict=True)]
    name = encoder_name(backend)  # type: ignore[arg-type]
    docs = cached_embeddings(
        "scifact",
        "doc-embedding_text",
        data.doc_ids,
        texts,
        lambda t: embedder.encode_documents(t, progress=True),
        model_name=name.replace("/", "_"),
    )
    qids = list(data.queries)
    queries = cached_embeddings(
        "scifact",
        "queries-train",
        qids,
        [data.queries[q] for q in qids],
        embedder.encode_queries,
        model_name=name.replace("/", "_"),
    )
    lexical = Bm25LexicalStore.build(texts, Bm25Settings())
    dense_run, hybrid_run = [], []
    for qid, vector in zip(qids, queries, strict=True):
        dense = _top(docs @ vector, DEPTH)
        hits = lexical.search(data.queries[qid], DEPTH)
        bm25 = ArrayRun.of(hits.rows, hits.scores)
        fused = fuse_arrays(FusionMode.WEIGHTED, [bm25, dense], normalization=Normalization.ZSCORE)
        for run, out in ((dense, dense_run), (fused, hybrid_run)):
            for key, score in zip(run.keys[:DEPTH], run.scores[:DEPTH], strict=True):
                out.append(ir_measures.ScoredDoc(qid, data.doc_ids[int(key)], float(score)))
    qrels = [ir_measures.Qrel(q, d, r) for q, docs_ in data.qrels.items() for d, r in docs_.items()]
    return {
        "dense_nDCG@10": ir_measures.calc_aggregate([nDCG @ 10], qrels, dense_run)[nDCG @ 10],
        "hybrid_nDCG@10": ir_measures.calc_aggregate([nDCG @ 10], qrels, hybrid_run)[nDCG @ 10],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--no-quality", dest="quality", action="store_false")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    questions = [json.loads(line)["question"] for line in QUESTIONS.open(encoding="utf-8")]
    rows: dict[str, dict[str, float]] = {}
    for backend in BACKENDS:
        embedder = load_embedder(backend, threads=1)  # type: ignore[arg-type]
        rows[backend] = query_latency(embedder, questions, args.queries)
        if args.quality:
            rows[backend] |= quality(backend, embedder)
    torch_row = rows["torch"]
    print(
        f"{'encoder':<10} {'p50 ms':>7} {'p95 ms':>7} {'dense nDCG@10':>14} {'hybrid nDCG@10':>15}"
    )
    for backend, row in rows.items():
        print(
            f"{backend:<10} {row['p50_ms']:>7.2f} {row['p95_ms']:>7.2f} "
            f"{row.get('dense_nDCG@10', float('nan')):>14.4f} "
            f"{row.get('hybrid_nDCG@10', float('nan')):>15.4f}"
        )
    onnx = rows["onnx-int8"]
    print(f"onnx-int8 / torch query p50: {onnx['p50_ms'] / torch_row['p50_ms']:.2f}x")
    if args.quality:
        for measure in ("dense_nDCG@10", "hybrid_nDCG@10"):
            delta = onnx[measure] - torch_row[measure]
            print(f"{measure}: onnx-int8 - torch = {delta:+.4f} (gate: within 0.005)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "encoder_bench.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
