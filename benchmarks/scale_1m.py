"""A million passage vectors in one dense index: resident memory, recall@10, latency (not a test).

Passage vectors (``--passages``, default 1,000,000):

* **Real**: every all-MiniLM-L6-v2 passage and sentence vector at hand, duplicates dropped.
  By default the SciFact passages (default chunking, ``var/cache/scifact``, written by
  ``retrieval_tuning.py``), and ``vectors.npy`` and ``sentences.npz`` of ``var/demo-index`` and
  ``var/medquad-subset-index``; ``--real`` takes other index directories or ``.npy`` files.
* **Synthetic**: the rest. Each is a real vector (its anchor) mixed with one or two of the
  anchor's 20 nearest real vectors, weights drawn from Dirichlet(1, 1, 1), plus Gaussian noise
  (0.02 per component), renormalised; seeded. They lie where real passages lie (cosine about
  0.8 to their anchor), not spread evenly over the sphere, where every method looks worse than
  on text. There is no synthetic text: BM25 and the passage records are not in these figures
  (``--stack-index`` measures them on a built index).

Queries: real query embeddings, never used to make passage vectors: the 809 SciFact train
claims and ``--medquad`` (default 500) distinct MedQuAD questions, encoded with the torch
model (cached in ``var/cache/scale``). Ground truth: exact top-10 by brute force
(``faiss.knn``, inner product) over all vectors.

Each index kind (``--kinds``) is built once, by ``FaissDenseStore.build`` on all cores, and
saved under ``var/cache/scale``; ``hnsw-sq8`` (FAISS ``IndexHNSWSQ``, M 32, efConstruction
200, efSearch 128) is the alternative ``ivf-sq8`` was chosen over, built here only. Each is
then measured in a fresh process: the index file is read once (page cache), loaded as the
index loads it (memory-mapped), and searched with every query, one at a time, FAISS on one
thread: a first pass for recall@10 (it also maps the index's pages in, as a server's first
minutes would), a second pass timed. ``--knobs`` compares search settings (nprobe, efSearch)
on the same built index. Resident memory is ``VmRSS`` from ``/proc/self/status`` after the
imports, after loading, and after the queries (which touch nearly every inverted list, so the
whole index is resident by then), with the peak (``VmHWM``).

Usage:
    nice python benchmarks/scale_1m.py [--passages 1000000] [--kinds ivf-sq8 flat hnsw-sq8]
        [--knobs 64 128 256] [--real PATH...] [--medquad 500] [--stack-index DIR]

Writes var/results/scale_1m.json. A second run reuses the built indexes, the vectors' facts and
the exact top-10, kept per ``--passages``: delete ``var/cache/scale`` after changing ``--real``
or ``--medquad``.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import faiss  # noqa: E402
import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402
from retrieval_data import (  # noqa: E402
    CACHE,
    DATA,
    RESULTS,
    ROOT,
    cached_embeddings,
    load_model,
    load_scifact,
    st_encoder,
)

from index.dense import DenseConfig, DenseKind, FaissDenseStore  # noqa: E402

log = logging.getLogger("scale_1m")
OUT = CACHE / "scale"
K = 10
NEIGHBOURS = 20
NOISE = 0.02
SEED = 13
DEFAULT_REAL = (
    CACHE / "scifact" / "all-MiniLM-L6-v2__passages-chunk200-o1-embedding_text.npy",
    ROOT / "var" / "demo-index",
    ROOT / "var" / "medquad-subset-index",
)

Matrix = npt.NDArray[np.float32]
Search = Callable[[Matrix], npt.NDArray[np.int64]]


# ----------------------------------------------------------------------------- index kinds


@dataclass(frozen=True)
class Variant:
    """How to build, save and load one kind of index; ``knob`` names its search-time setting,
    which ``load`` sets when given (``None``: the default)."""

    build: Callable[[Matrix, Path], None]
    load: Callable[[Path, int | None], Search]
    knob: str | None = None


# The DenseConfig field each dense kind's --knobs value sets.
_KNOB_FIELDS = {DenseKind.HNSW: "hnsw_ef_search", DenseKind.IVF_SQ8: "ivf_nprobe"}


def _dense_kind(kind: DenseKind) -> Variant:
    """A dense kind as the index uses it: FaissDenseStore with the default DenseConfig."""
    config = DenseConfig(kind=kind)
    field = _KNOB_FIELDS.get(kind)

    def build(vectors: Matrix, path: Path) -> None:
        FaissDenseStore.build(vectors, config).save(path)

    def load(path: Path, knob: int | None) -> Search:
        changes: dict[str, Any] = {} if knob is None or field is None else {field: knob}
        store = FaissDenseStore.load(path, replace(config, **changes))
        return lambda query: store.search(query, K).rows

    return Variant(build, load, field)


def _hnsw_sq8() -> Variant:
    """FAISS IndexHNSWSQ, the alternative to ivf-sq8; not a dense kind of the index."""

    def build(vectors: Matrix, path: Path) -> None:
        index = faiss.IndexHNSWSQ(
            vectors.shape[1],
            faiss.ScalarQuantizer.QT_8bit,  # type: ignore[arg-type]  # the stub wants an object
            32,
            faiss.METRIC_INNER_PRODUCT,
        )
        index.hnsw.efConstruction = 200
        index.train(vectors)
        index.add(vectors)
        faiss.write_index(index, str(path))

    def load(path: Path, knob: int | None) -> Search:
        index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)
        params = faiss.SearchParametersHNSW(efSearch=knob or 128)  # type: ignore[attr-defined]
        return lambda query: np.asarray(index.search(query[None], K, params=params)[1][0])

    return Variant(build, load, "efSearch")


VARIANTS = {kind.value: _dense_kind(kind) for kind in DenseKind} | {"hnsw-sq8": _hnsw_sq8()}


# ----------------------------------------------------------------------------- vectors


def real_vectors(paths: Sequence[Path]) -> tuple[Matrix, dict[str, int]]:
    """Distinct real vectors from index directories (vectors.npy, sentences.npz) and .npy files."""
    parts: dict[str, Matrix] = {}
    for path in paths:
        if path.is_dir():
            parts[f"{path.name}/vectors.npy"] = np.load(path / "vectors.npy")
            if (path / "sentences.npz").exists():
                with np.load(path / "sentences.npz", allow_pickle=False) as sentences:
                    parts[f"{path.name}/sentences.npz"] = sentences["vectors"]
        elif path.exists():
            parts[path.name] = np.load(path, allow_pickle=False)
        else:
            log.warning("no real vectors at %s", path)
    if not parts:
        raise SystemExit("no real vectors found; give --real PATH...")
    stacked = np.unique(np.vstack(list(parts.values())).astype(np.float32), axis=0)
    return np.ascontiguousarray(stacked), {name: len(v) for name, v in parts.items()}


@dataclass(frozen=True)
class Mixtures:
    """Which real vectors each synthetic vector mixes: ``anchors[i]`` and ``partners[i]``
    (two of the anchor's near neighbours), with ``weights[i]`` (the second partner's weight is
    0 for half of them)."""

    anchors: npt.NDArray[np.int64]
    partners: npt.NDArray[np.int64]
    weights: npt.NDArray[np.float64]


def mixtures(real: Matrix, count: int, rng: np.random.Generator) -> Mixtures:
    """``count`` seeded mixtures of a real vector and one or two of its 20 nearest."""
    _, near = faiss.knn(real, real, NEIGHBOURS + 1, faiss.METRIC_INNER_PRODUCT)
    anchors = rng.integers(0, len(real), count)
    partners = near[anchors[:, None], rng.integers(1, NEIGHBOURS + 1, (count, 2))]
    weights = rng.dirichlet([1.0, 1.0, 1.0], count)
    weights[rng.random(count) < 0.5, 2] = 0.0  # half mix two vectors, half three
    weights /= weights.sum(axis=1, keepdims=True)
    return Mixtures(anchors, partners, weights)


def synthetic_vectors(real: Matrix, count: int, seed: int = SEED) -> Matrix:
    """``count`` normalised mixtures of a real vector and one or two of its near neighbours,
    plus noise (see the module docstring)."""
    rng = np.random.default_rng(seed)
    return mixed_vectors(real, mixtures(real, count, rng), rng)


def mixed_vectors(real: Matrix, mix_of: Mixtures, rng: np.random.Generator) -> Matrix:
    """The vectors of ``mix_of``, plus Gaussian noise, renormalised."""
    anchors, partners, weights = mix_of.anchors, mix_of.partners, mix_of.weights
    count = len(anchors)
    out = np.empty((count, real.shape[1]), np.float32)
    for start in range(0, count, 100_000):
        rows = slice(start, start + 100_000)
        mix = weights[rows, :1] * real[anchors[rows]]
        mix += weights[rows, 1:2] * real[partners[rows, 0]]
        mix += weights[rows, 2:3] * real[partners[rows, 1]]
        mix /= np.linalg.norm(mix, axis=1, keepdims=True)
        mix += NOISE * rng.standard_normal(mix.shape)
        out[rows] = mix / np.linalg.norm(mix, axis=1, keepdims=True)
    return out


def query_vectors(medquad: int) -> tuple[Matrix, dict[str, int]]:
    """SciFact train claims and distinct MedQuAD questions, encoded with the torch model."""

    model = functools.cache(load_model)  # loaded only if a cache is missing, then once

    def encode(texts: Sequence[str]) -> Matrix:
        return st_encoder(model())(texts)

    claims = load_scifact().queries
    with open(DATA / "medquad" / "medquad_qa.jsonl", encoding="utf-8") as handle:
        questions = list(dict.fromkeys(json.loads(line)["question"] for line in handle))
    questions = questions[:: max(1, len(questions) // medquad)][:medquad]
    parts = {
        "scifact-train-claims": cached_embeddings(
            "scale", "queries-scifact-train", list(claims), list(claims.values()), encode
        ),
        "medquad-questions": cached_embeddings(
            "scale", f"queries-medquad-{medquad}", questions, questions, encode
        ),
    }
    return np.vstack(list(parts.values())), {name: len(v) for name, v in parts.items()}


# ----------------------------------------------------------------------------- measuring


def memory_mb() -> dict[str, float]:
    """VmRSS, RssAnon, RssFile and VmHWM of this process, in MB."""
    wanted = ("VmRSS", "RssAnon", "RssFile", "VmHWM")
    out = {}
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            name, _, value = line.partition(":")
            if name in wanted:
                out[name] = int(value.split()[0]) / 1024
    return out


def _read_once(path: Path) -> None:
    for file in [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()):
        with file.open("rb") as handle:
            while handle.read(1 << 24):
                pass


def measure(kind: str, knob: int | None, index_path: Path, truth_path: Path) -> dict[str, Any]:
    """Load one index in this (fresh) process and search it with every query, twice."""
    memory = {"after imports": memory_mb()}
    _read_once(index_path)
    search = VARIANTS[kind].load(index_path, knob)
    memory["after load"] = memory_mb()
    with np.load(truth_path, allow_pickle=False) as truth:
        queries, exact = truth["queries"], truth["rows"]
    faiss.omp_set_num_threads(1)
    # The first pass maps the index's pages into the process (what a server does in its first
    # minutes); the second is timed.
    found = [search(query) for query in queries]
    latencies = []
    for query in queries:
        start = time.perf_counter()
        search(query)
        latencies.append((time.perf_counter() - start) * 1000)
    memory["after queries"] = memory_mb()
    recalls = [
        len(set(f.tolist()) & set(e.tolist())) / K for f, e in zip(found, exact, strict=True)
    ]
    return {
        "kind": kind,
        "knob": None if knob is None else {VARIANTS[kind].knob: knob},
        "file_mb": index_path.stat().st_size / 2**20,
        "recall_at_10": float(np.mean(recalls)),
        "queries": len(queries),
        "search_ms": {
            "p50": float(np.percentile(latencies, 50)),
            "p95": float(np.percentile(latencies, 95)),
            "mean": float(np.mean(latencies)),
        },
        "memory_mb": memory,
    }


def measure_stack(index_dir: Path, truth_path: Path, texts: Sequence[str]) -> dict[str, Any]:
    """The whole retrieval stack of a built index: passages, BM25 and dense, loaded and used."""
    from index.load import PassageIndex

    memory = {"after imports": memory_mb()}
    _read_once(index_dir.resolve())
    index = PassageIndex.load(index_dir)
    memory["after load"] = memory_mb()
    with np.load(truth_path, allow_pickle=False) as truth:
        queries = truth["queries"]
    for text, query in zip(texts, queries, strict=False):
        index.lexical.search(text, 100)
        index.dense.search(query, 100)
    memory["after queries"] = memory_mb()
    return {
        "index": index_dir.name,
        "passages": len(index.passages),
        "dense": index.manifest.dense.kind.value,
        "queries": min(len(texts), len(queries)),
        "memory_mb": memory,
    }


def _child(*args: str) -> dict[str, Any]:
    """Run this script in a fresh process (clean memory figures) and read its JSON line."""
    command = [sys.executable, __file__, *args]
    done = subprocess.run(command, check=True, cwd=ROOT, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# ----------------------------------------------------------------------------- main


def prepare(args: argparse.Namespace, truth_path: Path) -> dict[str, Any]:
    """Make the vectors, the exact top-10 and every index not yet built; return their facts."""
    facts_path = truth_path.with_suffix(".json")
    facts: dict[str, Any] = json.loads(facts_path.read_text()) if facts_path.exists() else {}
    missing = [k for k in args.kinds if not (OUT / f"{k}-{args.passages}.faiss").exists()]
    if truth_path.exists() and not missing:
        return facts
    OUT.mkdir(parents=True, exist_ok=True)
    real, sources = real_vectors(args.real)
    count = args.passages - len(real)
    if count < 0:
        raise SystemExit(f"{len(real)} real vectors already exceed --passages {args.passages}")
    log.info("%d distinct real vectors from %s; %d synthetic", len(real), sources, count)
    vectors = np.vstack([real, synthetic_vectors(real, count)])
    facts.update(real=len(real), real_sources=sources, synthetic=count)
    if not truth_path.exists():
        queries, query_sources = query_vectors(args.medquad)
        start = time.perf_counter()
        _, rows = faiss.knn(queries, vectors, K, faiss.METRIC_INNER_PRODUCT)
        seconds = time.perf_counter() - start
        log.info("exact top-%d of %d queries in %.0fs", K, len(queries), seconds)
        np.savez(truth_path, queries=queries, rows=rows)
        facts["queries"] = query_sources
    for kind in missing:
        path = OUT / f"{kind}-{args.passages}.faiss"
        start = time.perf_counter()
        VARIANTS[kind].build(vectors, path.with_suffix(".partial"))
        facts.setdefault("build_seconds", {})[kind] = round(time.perf_counter() - start, 1)
        path.with_suffix(".partial").rename(path)
        log.info("built %s in %.0fs", path, facts["build_seconds"][kind])
    facts_path.write_text(json.dumps(facts, indent=1))
    return facts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passages", type=int, default=1_000_000)
    parser.add_argument(
        "--kinds", nargs="+", choices=list(VARIANTS), default=["ivf-sq8", "flat"], metavar="KIND"
    )
    parser.add_argument("--real", type=Path, nargs="+", default=list(DEFAULT_REAL))
    parser.add_argument("--medquad", type=int, default=500, help="MedQuAD questions as queries")
    parser.add_argument(
        "--knobs",
        type=int,
        nargs="+",
        metavar="N",
        help="search settings to compare: nprobe for ivf-sq8, efSearch for hnsw and hnsw-sq8 "
        "(default: each kind's default)",
    )
    parser.add_argument("--stack-index", type=Path, help="also measure this built index whole")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # child: one kind
    parser.add_argument("--knob", type=int, help=argparse.SUPPRESS)  # child: its setting
    parser.add_argument("--measure-stack", type=Path, help=argparse.SUPPRESS)  # child
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    truth_path = OUT / f"truth-{args.passages}.npz"
    if args.measure:
        path = OUT / f"{args.measure}-{args.passages}.faiss"
        print(json.dumps(measure(args.measure, args.knob, path, truth_path)))
        return
    if args.measure_stack:
        texts = list(load_scifact().queries.values())
        print(json.dumps(measure_stack(args.measure_stack, truth_path, texts)))
        return

    facts = prepare(args, truth_path)
    report: dict[str, Any] = {"passages": args.passages, **facts, "runs": {}}
    for kind in args.kinds:
        knob = VARIANTS[kind].knob
        for value in args.knobs if args.knobs and knob else [None]:
            label = kind if value is None else f"{kind} {knob}={value}"
            extra = [] if value is None else ["--knob", str(value)]
            report["runs"][label] = _child(
                "--passages", str(args.passages), "--measure", kind, *extra
            )
    if args.stack_index:
        report["stack"] = _child(
            "--passages", str(args.passages), "--measure-stack", str(args.stack_index)
        )
    print(
        f"{args.passages:,} passage vectors: {report.get('real', '?')} real, "
        f"{report.get('synthetic', '?')} synthetic; {sum(report['queries'].values())} real "
        "queries, FAISS on one thread"
    )
    print(
        "| index | build s | recall@10 | search p50 / p95 ms | RSS MB after load / queries "
        "(peak) | file MB |"
    )
    print("|---|---|---|---|---|---|")
    for label, run in report["runs"].items():
        memory = run["memory_mb"]
        print(
            f"| {label} | {report.get('build_seconds', {}).get(run['kind'], '?')} "
            f"| {run['recall_at_10']:.4f} "
            f"| {run['search_ms']['p50']:.2f} / {run['search_ms']['p95']:.2f} "
            f"| {memory['after load']['VmRSS']:.0f} / {memory['after queries']['VmRSS']:.0f} "
            f"({memory['after queries']['VmHWM']:.0f}) | {run['file_mb']:.0f} |"
        )
    if "stack" in report:
        stack = report["stack"]
        memory = stack["memory_mb"]
        print(
            f"whole stack, {stack['index']} ({stack['passages']:,} passages, {stack['dense']}): "
            f"RSS {memory['after imports']['VmRSS']:.0f} MB after imports, "
            f"{memory['after load']['VmRSS']:.0f} after load, "
            f"{memory['after queries']['VmRSS']:.0f} after {stack['queries']} queries"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "scale_1m.json"
    out.write_text(json.dumps(report, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
