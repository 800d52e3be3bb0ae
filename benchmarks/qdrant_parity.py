"""SciFact train nDCG@10 of the served hybrid retriever on both storage backends, same vectors.

The FAISS index is the one ``followup eval retrieval`` builds and reuses
(``var/indexes/<dataset>-<fingerprint>``, default chunking, the default encoder, vectors through
the embedding cache ``var/cache/embeddings/``). The local-mode Qdrant index is built from the
same documents with the FAISS index's own vectors (nothing is encoded again) under
``var/cache/qdrant-parity/`` and reused while its stored vectors equal the FAISS index's; the
script checks that they do, and that both hold the same passages in the same rows.

Each backend then runs every judged query with the hybrid retriever the engine serves for the
default settings (``eval.runs.served_hybrid``: ``answer.engine.build_retriever``), scored as
``followup eval retrieval`` scores it: 300 passages per query, MaxP to the best 100 documents,
ir-measures over pytrec_eval (``eval.metrics.evaluate``). Besides the measures it reports the
mean top-10 passage overlap between the backends and the queries whose nDCG@10 differs.

Prints a table; writes var/results/qdrant_parity.json (the figures, per-query nDCG@10 and
overlap, both manifests and the engine settings).

Usage:
    nice python benchmarks/qdrant_parity.py [--dataset ../shared/data/scifact] [--split train]

The first run encodes SciFact's 12,301 passages with the int8 ONNX encoder (about 14 minutes
on 2 shared cores) and loads them into Qdrant's local mode (about a minute); later runs reuse
both indexes. The 809 claims then take seconds on FAISS and about 6 minutes on local-mode
Qdrant, which searches by brute force in Python.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from answer.settings import Settings  # noqa: E402
from corpus.chunking import ChunkingConfig  # noqa: E402
from corpus.types import Document  # noqa: E402
from eval.embedcache import CachedEmbedder, encoder_for_eval  # noqa: E402
from eval.metrics import MEASURES, evaluate  # noqa: E402
from eval.runs import (  # noqa: E402
    BeirData,
    ensure_index,
    load_beir,
    load_documents,
    run_retriever,
    served_hybrid,
)
from eval.types import MetricTable  # noqa: E402
from index.build import build_index  # noqa: E402
from index.errors import IndexLoadError  # noqa: E402
from index.load import PassageIndex  # noqa: E402
from index.storage import QdrantConfig, StorageBackend, StorageConfig  # noqa: E402
from index.types import Embedder  # noqa: E402
from retriever.types import Retriever, ScoredPassage  # noqa: E402

DATASET = ROOT.parent / "shared" / "data" / "scifact"
INDEXES = ROOT / "var" / "indexes"  # shared with `followup eval retrieval`
CACHE = ROOT / "var" / "cache"
QDRANT_DIR = CACHE / "qdrant-parity"
RESULTS = ROOT / "var" / "results" / "qdrant_parity.json"
TOP = 10  # the overlap's cut-off, as the demo parity test's

log = logging.getLogger("qdrant_parity")


class _Recorder:
    """A retriever that remembers the ids of the top passages of every query it answers."""

    def __init__(self, retriever: Retriever) -> None:
        self._retriever = retriever
        self.tops: dict[str, list[str]] = {}

    def retrieve(self, query: str, top_k: int) -> list[ScoredPassage]:
        hits = self._retriever.retrieve(query, top_k)
        self.tops[query] = [hit.passage.id for hit in hits[:TOP]]
        return hits


@dataclass(frozen=True)
class BackendRun:
    """One backend's evaluation: the metric table, each query's top passages, the time taken."""

    metrics: MetricTable
    tops: dict[str, list[str]]
    seconds: float


def evaluate_backend(
    index: PassageIndex, embedder: Embedder, settings: Settings, data: BeirData
) -> BackendRun:
    """The served hybrid over ``index`` on every query of ``data``, as the eval harness runs it."""
    recorder = _Recorder(served_hybrid(settings, index, embedder)({}))
    started = time.perf_counter()
    run = run_retriever(recorder, data.queries, progress=True, desc=index.manifest.storage.backend)
    seconds = time.perf_counter() - started
    return BackendRun(evaluate(data.qrels, run, MEASURES), recorder.tops, seconds)


def overlap(a: list[str], b: list[str]) -> float:
    """The share of ``a``'s top passages that are also in ``b``'s (as the demo parity test)."""
    return len(set(a) & set(b)) / max(len(a), 1)


def qdrant_twin(
    faiss: PassageIndex, documents: Sequence[Document], embedder: CachedEmbedder, path: Path
) -> PassageIndex:
    """The local-mode Qdrant index ``path`` of ``documents`` with ``faiss``'s vectors, built
    unless it is there already.

    Raises:
        SystemExit: the two indexes differ in their passages or vectors.
    """
    vectors = faiss.vectors()
    try:
        twin = PassageIndex.load(path, expected_model=faiss.manifest.model_name)
    except IndexLoadError:
        twin = None
    if twin is not None and not np.array_equal(twin.vectors(), vectors):
        log.info("rebuilding %s: its vectors are not the FAISS index's", path)
        twin.close()
        twin = None
    if twin is None:
        # The FAISS index's rows are handed to the cache, so the build reads them back
        # instead of encoding (the cache already holds them if it built the FAISS index).
        embedder.seed([p.embedding_text for p in faiss.passages], vectors)
        log.info("building the Qdrant index %s", path)
        build_index(
            documents,
            path,
            embedder,
            ChunkingConfig.from_dict(dict(faiss.manifest.chunking)),
            bm25=faiss.manifest.bm25,
            storage=StorageConfig(StorageBackend.QDRANT, QdrantConfig(prefix=path.name)),
            progress=True,
        )
        twin = PassageIndex.load(path, expected_model=faiss.manifest.model_name)
    if [p.id for p in twin.passages] != [p.id for p in faiss.passages] or not np.array_equal(
        twin.vectors(), vectors
    ):
        twin.close()
        raise SystemExit(f"{path} does not hold the FAISS index's passages and vectors")
    return twin


def summary(
    runs: Mapping[str, BackendRun], data: BeirData
) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    """The comparison's figures and, per query, both nDCG@10 values and the top-10 overlap."""
    faiss, qdrant = runs["faiss"], runs["qdrant"]
    texts = data.queries
    per_query = {
        qid: {
            "faiss": faiss.metrics.per_query["nDCG@10"][qid],
            "qdrant": qdrant.metrics.per_query["nDCG@10"][qid],
            "overlap": overlap(faiss.tops.get(texts[qid], []), qdrant.tops.get(texts[qid], [])),
        }
        for qid in faiss.metrics.query_ids
    }
    differences = [abs(q["faiss"] - q["qdrant"]) for q in per_query.values()]
    figures = {
        "queries": len(per_query),
        "ndcg@10": {name: run.metrics.mean("nDCG@10") for name, run in runs.items()},
        "ndcg@10_difference": qdrant.metrics.mean("nDCG@10") - faiss.metrics.mean("nDCG@10"),
        "queries_with_other_ndcg@10": sum(d > 0 for d in differences),
        "largest_query_difference": max(differences, default=0.0),
        "mean_top10_overlap": float(np.mean([q["overlap"] for q in per_query.values()])),
        "queries_with_other_top10_order": sum(
            faiss.tops.get(text) != qdrant.tops.get(text) for text in texts.values()
        ),
        "metrics": {name: run.metrics.aggregate() for name, run in runs.items()},
        "seconds": {name: run.seconds for name, run in runs.items()},
    }
    return figures, per_query


def main() -> None:
    parser = argparse.ArgumentParser(
        description="SciFact nDCG@10 of the served hybrid on the FAISS and Qdrant backends"
    )
    parser.add_argument("--dataset", type=Path, default=DATASET, help="BEIR-layout folder")
    parser.add_argument("--split", default="train", help="qrels split (default: train)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    settings = Settings()
    data = load_beir(args.dataset, args.split)
    documents = load_documents(args.dataset)
    embedder = encoder_for_eval(settings.embedder, CACHE, root=ROOT)
    built = ensure_index(documents, INDEXES, data.name, embedder, progress=True)
    faiss = PassageIndex.load(built, expected_model=embedder.model_name)
    qdrant = qdrant_twin(faiss, documents, embedder, QDRANT_DIR / built.name)
    try:
        embedder.encode_queries(list(data.queries.values()))  # one batch, then cache hits
        runs = {
            "faiss": evaluate_backend(faiss, embedder, settings, data),
            "qdrant": evaluate_backend(qdrant, embedder, settings, data),
        }
        manifests = {"faiss": faiss.manifest.to_dict(), "qdrant": qdrant.manifest.to_dict()}
    finally:
        qdrant.close()
        embedder.flush()
    figures, per_query = summary(runs, data)

    print(
        f"\n{data.name} {data.split}: {figures['queries']} queries, {len(faiss.passages)} passages"
    )
    print(f"{'backend':<8} " + " ".join(f"{m:>8}" for m in MEASURES) + "  seconds")
    for name, run in runs.items():
        values = " ".join(f"{run.metrics.mean(m):>8.4f}" for m in MEASURES)
        print(f"{name:<8} {values}  {run.seconds:7.0f}")
    print(
        f"nDCG@10 qdrant - faiss: {figures['ndcg@10_difference']:+.4f} "
        f"({figures['queries_with_other_ndcg@10']} queries differ, the most by "
        f"{figures['largest_query_difference']:.4f}); mean top-{TOP} passage overlap "
        f"{figures['mean_top10_overlap']:.4f} ({figures['queries_with_other_top10_order']} "
        f"queries with another top-{TOP} order)"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "command": shlex.join(["python", "benchmarks/qdrant_parity.py", *sys.argv[1:]]),
        "dataset": data.describe(),
        "passages": len(faiss.passages),
        **figures,
        "per_query": per_query,
        "indexes": {"faiss": str(faiss.directory), "qdrant": str(qdrant.directory)},
        "manifests": manifests,
        "engine_settings": settings.model_dump(mode="json"),
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
