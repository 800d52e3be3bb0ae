"""Single-query retrieval latency, per stage, with a one-thread encoder (not a test).

Two indexes:

* ``demo``: the shipped demo corpus (corpus/data/demo.jsonl), default chunking, flat FAISS.
* ``100k``: about 100,000 passages: SciFact (5,183 abstracts), MedQuAD (16,407 answers) and
  PubMedQA (1,000 abstracts) chunked with the default chunking (~50,400 passages), padded with
  *synthetic* passages of 60-120 words made of real sentences drawn at random (seeded) from
  those passages, so term statistics stay realistic. Passage vectors: the cached real
  vectors where they exist (SciFact), otherwise seeded random unit vectors. Encoding 100K
  passages would take hours on this machine, and search cost does not depend on what the
  vectors say; BM25 runs on real and recombined real text. Built as ``flat`` (exact) and
  ``hnsw`` (M=32, efSearch=128).

Queries: SciFact train claims and MedQuAD questions (not used to build anything), one at a time
through ``HybridRetriever.evidence``, encoded by ``--encoder`` (default: the default encoder of
new indexes) on one thread, with ``torch.set_num_threads(1)`` and
``faiss.omp_set_num_threads(1)``; the first 20 are warm-up. Stages come from
``Evidence.timings_ms``: query = encoding + query building; lexical = BM25; dense = FAISS;
fusion = fusion + policy; total = wall time of ``evidence()``. Each index's files are read once
before measuring (page cache), and every query is encoded (no query-embedding cache).

Usage:
    nice python benchmarks/retrieval_latency.py [--queries 300] [--only demo|100k]
        [--encoder onnx-int8|torch]

Writes var/results/retrieval_latency.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from retrieval_data import DATA, RESULTS, ROOT, CachingEmbedder, load_scifact  # noqa: E402

from index.encoders import BACKENDS, DEFAULT_BACKEND, load_embedder  # noqa: E402

log = logging.getLogger("retrieval_latency")
OUT = ROOT / "var" / "cache" / "latency"
TARGET = 100_000
STAGES = ("query_ms", "lexical_ms", "dense_ms", "fusion_ms", "total_ms")


class PaddingEmbedder:
    """Document vectors from the disk cache when known, else seeded random unit vectors.

    Only for latency runs: the search cost of a vector does not depend on its content.
    """

    model_name = CachingEmbedder.model_name
    dimension = 384

    def __init__(self, cache: CachingEmbedder) -> None:
        self._cache = cache
        self.real = 0

    def encode_documents(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        out = np.empty((len(texts), self.dimension), np.float32)
        for i, text in enumerate(texts):
            vector = self._cache.lookup(text)
            if vector is None:
                seed = int.from_bytes(hashlib.sha1(text.encode()).digest()[:8], "little")
                vector = np.random.default_rng(seed).standard_normal(self.dimension)
                vector = vector / np.linalg.norm(vector)
            else:
                self.real += 1
            out[i] = vector
        return out

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        raise RuntimeError("PaddingEmbedder only builds indexes")


def corpus_100k():
    from corpus.chunking import ChunkingConfig, chunk_documents
    from corpus.loaders import load_corpus
    from corpus.types import Document, EvidenceTier

    documents = []
    documents += load_corpus(DATA / "scifact", fmt="beir").documents
    documents += load_corpus(
        DATA / "medquad" / "medquad_qa.jsonl", fmt="medquad", skip_bad=True
    ).documents
    documents += load_corpus(DATA / "pubmedqa" / "ori_pqal.json", fmt="pubmedqa").documents
    passages = chunk_documents(documents, ChunkingConfig())
    real = len(passages)
    rng = random.Random(13)
    sentences = [s.strip() + "." for p in passages for s in p.text.split(". ") if len(s) > 30]
    synthetic = []
    # One passage per synthetic document: real sentences recombined, at most ~120 words, so
    # that the default chunking (200 word pieces) keeps each whole.
    for i in range(max(TARGET - real, 0)):
        words: list[str] = []
        while len(words) < 60:
            words += rng.choice(sentences).split()
        text = " ".join(words[:120])
        synthetic.append(
            Document(
                id=f"synthetic:{i}",
                title=f"Synthetic passage {i}",
                text=text,
                tier=EvidenceTier.OTHER,
                source="synthetic",
                licence="derived from the corpora above",
                dataset="synthetic",
            )
        )
    log.info(
        "%d real passages from %d documents; %d synthetic documents",
        real,
        len(documents),
        len(synthetic),
    )
    return documents + synthetic, real


def build(name: str, documents, embedder, dense_kind: str):
    from index.build import build_index
    from index.dense import DenseConfig, DenseKind

    out = OUT / name
    if not (out / "manifest.json").exists():
        OUT.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        build_index(documents, out, embedder, dense=DenseConfig(kind=DenseKind.parse(dense_kind)))
        log.info("built %s in %.0fs", out, time.perf_counter() - start)
    return out


def queries(count: int) -> list[str]:
    claims = list(load_scifact().queries.values())
    with open(DATA / "medquad" / "medquad_qa.jsonl", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    questions = [row["question"] for row in rows[:: max(1, len(rows) // count)]]
    rng = random.Random(7)
    mixed = rng.sample(claims, count // 2) + rng.sample(questions, count - count // 2)
    rng.shuffle(mixed)
    return mixed


def warm(index_path: Path) -> None:
    """Read every file of the index once, so memory-mapped pages come from the page cache.

    A freshly loaded index maps FAISS and BM25 files lazily; the first queries then pay for
    disk reads (up to 0.5 s here for HNSW). A server pays that once; the benchmark should not
    count it against every configuration.
    """
    for path in index_path.resolve().rglob("*"):
        if path.is_file():
            with path.open("rb") as handle:
                while handle.read(1 << 24):
                    pass


def measure(index_path: Path, embedder, texts: list[str], config, warmup: int = 20) -> dict:
    from index.load import PassageIndex
    from retriever.hybrid import HybridRetriever

    warm(index_path)
    # No model check: the passage vectors are the cached torch ones whichever encoder the
    # queries use, and search time does not depend on which model made them.
    index = PassageIndex.load(index_path)
    retriever = HybridRetriever(index, embedder, config)
    samples: dict[str, list[float]] = {stage: [] for stage in STAGES}
    for i, text in enumerate(texts):
        evidence = retriever.evidence(text)
        if i < warmup:
            continue
        for stage in STAGES:
            samples[stage].append(evidence.timings_ms[stage])
    stats = {
        stage: {
            "p50": float(np.percentile(v, 50)),
            "p95": float(np.percentile(v, 95)),
            "mean": float(np.mean(v)),
        }
        for stage, v in samples.items()
    }
    return {
        "passages": len(index.passages),
        "dense": index.manifest.dense.kind.value,
        "stages": stats,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--only", choices=["demo", "100k"])
    parser.add_argument(
        "--depths", type=int, nargs="*", default=[100, 1000], help="extra leg depths to time"
    )
    parser.add_argument(
        "--encoder", choices=BACKENDS, default=DEFAULT_BACKEND, help="the query encoder"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")

    import faiss
    import torch

    from corpus.demo import DEMO_CORPUS
    from corpus.loaders import load_corpus

    texts = queries(args.queries + 20)
    results: dict[str, Path] = {}
    cache = CachingEmbedder("scifact")
    if args.only in (None, "demo"):
        demo = build(
            "demo-index", load_corpus(DEMO_CORPUS).documents, CachingEmbedder("demo"), "flat"
        )
        results["demo (flat)"] = demo
    if args.only in (None, "100k"):
        _seed_scifact(cache)
        documents, real = corpus_100k()
        padding = PaddingEmbedder(cache)
        results["100k (flat)"] = build("index-100k-flat", documents, padding, "flat")
        results["100k (hnsw)"] = build("index-100k-hnsw", documents, padding, "hnsw")
    torch.set_num_threads(1)
    faiss.omp_set_num_threads(1)
    # The query encoder under test; the passage vectors are the cached torch ones (search cost
    # does not depend on which encoder made them).
    embedder = load_embedder(args.encoder, threads=1)
    from retriever.hybrid import RetrievalConfig

    configs = {"default": RetrievalConfig(query_cache=0)}
    for depth in args.depths:
        configs[f"depth {depth}"] = RetrievalConfig(
            query_cache=0, lexical_depth=depth, dense_depth=depth
        )
    report: dict = {
        "encoder": args.encoder,
        "threads": {"torch": torch.get_num_threads(), "faiss": 1},
        "load_average_before": os.getloadavg(),
        "queries": len(texts) - 20,
        "default_config": json.loads(json.dumps(asdict(RetrievalConfig()), default=str)),
        "runs": {},
    }
    for name, path in results.items():
        for label, config in configs.items():
            if label != "default" and not name.startswith("100k (hnsw"):
                continue  # variants only on the index the target is about
            key = f"{name} {label}"
            report["runs"][key] = measure(path, embedder, texts, config)
            log.info("%s: %s", key, report["runs"][key]["stages"]["total_ms"])
    report["load_average_after"] = os.getloadavg()
    print(f"load average {report['load_average_before']} -> {report['load_average_after']}")
    print(f"{report['queries']} single queries, torch and FAISS on 1 thread; p50 / p95 ms")
    print(f"{'index, config':44s} {'passages':>8s} " + " ".join(f"{s[:-3]:>13s}" for s in STAGES))
    for key, r in report["runs"].items():
        cells = " ".join(
            f"{r['stages'][s]['p50']:5.1f} / {r['stages'][s]['p95']:5.1f}" for s in STAGES
        )
        print(f"{key:44s} {r['passages']:8d} {cells}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "retrieval_latency.json"
    out.write_text(json.dumps(report, indent=1))
    print(f"wrote {out}")


def _seed_scifact(cache: CachingEmbedder) -> None:
    """Make the cached SciFact passage vectors available by text."""
    from retrieval_tuning import scifact_passage_vectors, scifact_passages

    passages = scifact_passages()
    cache.seed([p.embedding_text for p in passages], scifact_passage_vectors(passages))


if __name__ == "__main__":
    main()
