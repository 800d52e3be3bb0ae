"""The served engine over a million passages: resident memory, dense recall (not a test).

Builds one whole ``ivf-sq8`` index of ``--passages`` (default 1,000,000) passages, records,
BM25, vectors and dense index, through ``index.build.write_index`` (the index-writing code of
``followup index build``, given vectors instead of an encoder), then in a fresh process
loads it with ``build_engine`` and answers ``--questions`` real questions through
``IndexEngine.answer``, reading ``VmRSS`` and ``VmHWM`` (``/proc/self/status``) after the
imports, after loading and after the answers.

Passages:

* **Real** (text and vectors): the SciFact passages (default chunking; their
  all-MiniLM-L6-v2 vectors cached by ``retrieval_tuning.py`` in ``var/cache/scifact``) and
  the passages of the index directories ``--real`` (default ``var/medquad-subset-index`` and
  ``var/demo-index``: MedQuAD, SciFact and PubMedQA text with their stored vectors). A
  document is taken whole from the first source that has it.
* **Synthetic**: the rest, one passage per document. Its vector is made as
  ``scale_1m.py`` makes one (a real passage's vector, its anchor, mixed with one or two of
  the anchor's 20 nearest real vectors, Dirichlet weights, Gaussian noise 0.02,
  renormalised; seeded). Its text is made of real sentences of the same passages: up to
  three consecutive sentences of the anchor, then one sentence of each partner, so text and
  vector are about the same thing. Its title is ``Synthetic: <anchor's topic>`` (no serial
  number: a million numbers would be a million BM25 terms no real text has), its source
  ``synthetic``; its tier is the anchor's. Nothing is invented: every sentence is a real
  passage's sentence, recombined.

The index has no sentence file (``sentences.npz``): encoding a million passages' sentences
is far beyond this machine, so answers encode the sentences of the passages they quote,
as the engine does for any index larger than ``answer.precompute_max_passages``.

Questions: ``--questions`` (default 50), half SciFact train claims and half distinct
MedQuAD questions, spread evenly over each list. Dense recall@10: each question's embedding
(the engine's encoder) searched in the index's ``ivf-sq8`` store against the exact top 10
by inner product over all stored vectors.

Usage:
    nice python benchmarks/stack_1m.py [--passages 1000000] [--out DIR] [--questions 50]
        [--real DIR...] [--rebuild]

Writes var/results/stack_1m.json. The index is built once into ``--out`` (default
``var/cache/stack/index-<passages>``) and reused; ``--rebuild`` builds it again.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402
from retrieval_data import CACHE, DATA, RESULTS, ROOT, cached_embeddings, load_scifact  # noqa: E402
from scale_1m import SEED, memory_mb, mixed_vectors, mixtures  # noqa: E402

from corpus.types import Document, Passage  # noqa: E402
from index.records import DocumentRecord  # noqa: E402

log = logging.getLogger("stack_1m")
K = 10
ANCHOR_SENTENCES = 3
DEFAULT_REAL = (ROOT / "var" / "medquad-subset-index", ROOT / "var" / "demo-index")
SCIFACT_RECIPE = "passages-chunk200-o1-embedding_text"  # retrieval_tuning.PASSAGE_RECIPE

Matrix = npt.NDArray[np.float32]


@dataclass
class Corpus:
    """Passages in row order, their vectors and their documents."""

    passages: list[Passage]
    vectors: list[Matrix]
    documents: dict[str, DocumentRecord]


# ----------------------------------------------------------------------------- real passages


def _add_whole_documents(
    corpus: Corpus, passages: Sequence[Passage], vectors: Matrix, records: dict[str, DocumentRecord]
) -> None:
    """Add the passages of documents the corpus does not hold yet."""
    keep = [i for i, p in enumerate(passages) if p.document_id not in corpus.documents]
    corpus.passages += [passages[i] for i in keep]
    corpus.vectors.append(np.asarray(vectors[keep], dtype=np.float32))
    for i in keep:
        corpus.documents.setdefault(passages[i].document_id, records[passages[i].document_id])


def real_corpus(indexes: Sequence[Path]) -> tuple[Corpus, dict[str, int]]:
    """The real passages with their vectors, and how many came from each source."""
    from corpus.chunking import ChunkingConfig, chunk_documents
    from corpus.loaders import load_corpus
    from index.load import PassageIndex
    from index.records import document_content_hash

    corpus = Corpus([], [], {})
    sources: dict[str, int] = {}
    for path in indexes:
        index = PassageIndex.load(path)
        before = len(corpus.passages)
        records = dict(index.documents.items())
        _add_whole_documents(corpus, list(index.passages), index.vectors(), records)
        sources[path.name] = len(corpus.passages) - before
    documents = load_corpus(DATA / "scifact", fmt="beir").documents
    passages = chunk_documents(documents, ChunkingConfig())
    vectors = cached_embeddings(
        "scifact", SCIFACT_RECIPE, [p.id for p in passages], [p.embedding_text for p in passages]
    )
    counts: dict[str, int] = {}
    for passage in passages:
        counts[passage.document_id] = counts.get(passage.document_id, 0) + 1
    records = {
        d.id: DocumentRecord(d.id, document_content_hash(d), counts.get(d.id, 0)) for d in documents
    }
    before = len(corpus.passages)
    _add_whole_documents(corpus, passages, vectors, records)
    sources["scifact passages"] = len(corpus.passages) - before
    return corpus, sources


# ----------------------------------------------------------------------------- synthetic


def sentences_of(passage: Passage) -> list[str]:
    from corpus.chunking import split_sentences

    found = [passage.text[a:b].strip() for a, b in split_sentences(passage.text)]
    return [s for s in found if s] or [passage.text]


def add_synthetic(corpus: Corpus, count: int, seed: int = SEED) -> None:
    """``count`` synthetic passages (see the module docstring), one per document."""
    from index.records import document_content_hash

    real = np.vstack(corpus.vectors)
    rng = np.random.default_rng(seed)
    mix = mixtures(real, count, rng)
    corpus.vectors.append(mixed_vectors(real, mix, rng))
    real_passages = corpus.passages[: len(real)]
    split: dict[int, list[str]] = {}

    def sentences(row: int) -> list[str]:
        if row not in split:
            split[row] = sentences_of(real_passages[row])
        return split[row]

    picks = np.random.default_rng(seed + 1)
    for i in range(count):
        anchor = int(mix.anchors[i])
        own = sentences(anchor)
        first = int(picks.integers(0, len(own)))
        parts = own[first : first + ANCHOR_SENTENCES]
        for slot in (0, 1):
            if mix.weights[i, slot + 1] > 0:
                theirs = sentences(int(mix.partners[i, slot]))
                parts.append(theirs[int(picks.integers(0, len(theirs)))])
        source = real_passages[anchor]
        document = Document(
            id=f"synthetic:{i}",
            title=f"Synthetic: {source.topic}",
            text=" ".join(parts),
            tier=source.tier,
            source="synthetic",
            licence=source.licence,
            dataset="synthetic",
        )
        corpus.passages.append(Passage.of(document, 0, len(document.text)))
        corpus.documents[document.id] = DocumentRecord(
            document.id, document_content_hash(document), 1
        )


def build(args: argparse.Namespace) -> dict[str, Any]:
    """Build the index into ``args.out`` unless it is there; return the facts of its making."""
    from index.build import write_index
    from index.dense import DenseConfig, DenseKind
    from index.load import PassageIndex

    facts_path = args.out.parent / f"{args.out.name}.facts.json"
    if (args.out / "manifest.json").exists() and facts_path.exists() and not args.rebuild:
        facts: dict[str, Any] = json.loads(facts_path.read_text())
        return facts
    start = time.perf_counter()
    corpus, sources = real_corpus(args.real)
    real = len(corpus.passages)
    if real > args.passages:
        raise SystemExit(f"{real} real passages already exceed --passages {args.passages}")
    log.info("%d real passages (%s); making %d synthetic", real, sources, args.passages - real)
    add_synthetic(corpus, args.passages - real)
    vectors = np.vstack(corpus.vectors)
    corpus.vectors = []
    model = PassageIndex.load(args.real[0]).manifest
    log.info("writing the index (%.0f s so far)", time.perf_counter() - start)
    manifest = write_index(
        args.out,
        corpus.passages,
        list(corpus.documents.values()),
        vectors,
        model_name=model.model_name,
        chunking=model.chunking,
        dense=DenseConfig(kind=DenseKind.IVF_SQ8),
    )
    facts = {
        "passages": manifest.passages,
        "documents": manifest.documents,
        "real": real,
        "real_sources": sources,
        "synthetic": args.passages - real,
        "model": manifest.model_name,
        "build_seconds": round(time.perf_counter() - start, 1),
        "files_mb": {
            name: round(entry.size / 2**20, 1) for name, entry in sorted(manifest.files.items())
        },
    }
    facts_path.write_text(json.dumps(facts, indent=1))
    log.info("built %s in %.0f s", args.out, facts["build_seconds"])
    return facts


# ----------------------------------------------------------------------------- measuring


def questions(count: int) -> list[str]:
    """Half SciFact train claims, half distinct MedQuAD questions, spread over each list."""
    claims = list(load_scifact().queries.values())
    with open(DATA / "medquad" / "medquad_qa.jsonl", encoding="utf-8") as handle:
        asked = list(dict.fromkeys(json.loads(line)["question"] for line in handle))
    half = count // 2
    return [
        *claims[:: max(1, len(claims) // half)][:half],
        *asked[:: max(1, len(asked) // (count - half))][: count - half],
    ]


def exact_truth(index_dir: Path, texts: Sequence[str]) -> tuple[Matrix, npt.NDArray[np.int64]]:
    """The questions' embeddings and their exact top 10 over every stored vector."""
    import faiss

    from index.encoders import backend_of, load_embedder
    from index.layout import VECTORS_FILE
    from index.manifest import Manifest

    manifest = Manifest.read(index_dir.resolve())
    embedder = load_embedder(backend_of(manifest.model_name))
    queries = np.asarray(embedder.encode_queries(list(texts)), dtype=np.float32)
    vectors = np.load(index_dir.resolve() / VECTORS_FILE, mmap_mode="r")
    _, rows = faiss.knn(queries, np.ascontiguousarray(vectors), K, faiss.METRIC_INNER_PRODUCT)
    return queries, rows.astype(np.int64)


def measure(index_dir: Path, truth_path: Path) -> dict[str, Any]:
    """In this (fresh) process: load the engine, answer every question, then the dense recall."""
    from answer.engine import build_engine
    from answer.settings import Settings

    memory = {"after imports": memory_mb()}
    settings = Settings(index={"path": index_dir}, answer={"sentence_cache_dir": None})
    engine = build_engine(settings)
    memory["after load"] = memory_mb()
    with np.load(truth_path, allow_pickle=False) as truth:
        texts = [str(t) for t in truth["texts"]]
        queries, exact = truth["queries"], truth["rows"]
    answers = [engine.answer(text) for text in texts]
    memory["after answers"] = memory_mb()
    cited = [{r.document_id.split(":")[0] for r in answer.references} for answer in answers]
    # Recall, after the memory figures: a second handle on the dense store.
    from index.load import PassageIndex

    dense = PassageIndex.load(index_dir).dense
    found = [dense.search(query[None], K).rows for query in queries]
    recalls = [
        len(set(f.tolist()) & set(e.tolist())) / K for f, e in zip(found, exact, strict=True)
    ]
    return {
        "questions": len(texts),
        "answered": sum(not answer.abstained for answer in answers),
        "answers_citing_synthetic": sum("synthetic" in sources for sources in cited),
        "dense_recall_at_10": float(np.mean(recalls)),
        "memory_mb": memory,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--passages", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--questions", type=int, default=50)
    parser.add_argument("--real", type=Path, nargs="+", default=list(DEFAULT_REAL))
    parser.add_argument("--rebuild", action="store_true", help="build the index again")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # child: the index
    parser.add_argument("--truth", type=Path, help=argparse.SUPPRESS)  # child: the questions
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if args.measure:
        print(json.dumps(measure(args.measure, args.truth)))
        return
    args.out = args.out or CACHE / "stack" / f"index-{args.passages}"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    facts = build(args)
    texts = questions(args.questions)
    queries, rows = exact_truth(args.out, texts)
    truth_path = args.out.parent / f"{args.out.name}.truth.npz"
    np.savez(truth_path, texts=np.array(texts), queries=queries, rows=rows)
    command = [sys.executable, __file__, "--measure", str(args.out), "--truth", str(truth_path)]
    done = subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    run = json.loads(done.stdout.strip().splitlines()[-1])
    report = {**facts, "run": run}
    memory = run["memory_mb"]
    print(
        f"{facts['passages']:,} passages ({facts['real']:,} real, {facts['synthetic']:,} "
        f"synthetic), ivf-sq8, served by build_engine; {run['questions']} real questions "
        f"({run['answered']} answered, {run['answers_citing_synthetic']} citing synthetic text)"
    )
    print("| stage | VmRSS MB | RssAnon MB | RssFile MB | VmHWM MB |")
    print("|---|---|---|---|---|")
    for stage, figures in memory.items():
        print(
            f"| {stage} | {figures['VmRSS']:.0f} | {figures['RssAnon']:.0f} "
            f"| {figures['RssFile']:.0f} | {figures['VmHWM']:.0f} |"
        )
    print(f"dense recall@10 against exact search: {run['dense_recall_at_10']:.3f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "stack_1m.json"
    out.write_text(json.dumps(report, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
