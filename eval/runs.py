"""Retrieval runs on any BEIR-layout data set and split: BM25, dense, hybrid and variants.

The index chunks documents into passages, while BEIR qrels judge whole documents, so each
system's passage ranking becomes a document run by **MaxP** (Dai and Callan, SIGIR 2019): a
document's score is the best score of any of its retrieved passages. Each system retrieves
``passage_depth`` passages per query and the run keeps the best ``doc_depth`` documents.
Document ids in the run are the data set's own ids: the prefix the corpus loader puts in front
(``scifact:4983``) is removed so the qrels match (:func:`beir_id`). A hybrid system is the
engine's retriever as the settings configure it (:func:`served_hybrid`), so an evaluation
measures what is served; a variant changes only the fields it names.

The index of a data set is built once per (corpus, chunking, model, BM25 settings) and reused:
``<indexes>/<dataset>-<fingerprint>`` (:func:`index_key`). Encoding goes through
:class:`eval.embedcache.CachedEmbedder`, so vectors computed by any earlier run or benchmark are
reused rather than recomputed.

Example:
    >>> data = load_beir(Path("../shared/data/scifact"), "train")
    >>> systems = {"bm25": build_retriever(SystemSpec.parse("bm25"), index, embedder)}
    >>> results = run_systems(systems, data, doc_id=beir_id)
    >>> results[0].metrics.mean("nDCG@10")
"""

from __future__ import annotations

import enum
import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from corpus.types import Document, Passage, parse_choice
from eval.embedcache import CachedEmbedder, seed_from_benchmark_cache, seed_from_text_cache
from eval.metrics import MEASURES, evaluate
from eval.trec import read_qrels, read_queries
from eval.types import Qrels, Run, SystemResult
from retriever.types import Retriever, ScoredPassage

if TYPE_CHECKING:
    from answer.settings import Settings
    from corpus.chunking import ChunkingConfig
    from index.load import PassageIndex
    from index.types import Embedder
    from retriever.hybrid import HybridRetriever, RetrievalConfig

logger = logging.getLogger(__name__)

DEFAULT_PASSAGE_DEPTH = 300
"""Passages retrieved per query; enough for 100 distinct documents on SciFact (~3 per abstract)."""

DEFAULT_DOC_DEPTH = 100
"""Documents kept per query in a run: the deepest cut-off reported (R@100)."""


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class BeirData:
    """The queries and qrels of one split of a BEIR-layout folder (documents load separately).

    ``queries`` holds only the queries judged in the split's qrels.
    """

    name: str
    root: Path
    split: str
    queries: dict[str, str]
    qrels: Qrels

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": str(self.root),
            "split": self.split,
            "queries": len(self.queries),
            "judgements": sum(len(d) for d in self.qrels.values()),
        }


def load_beir(root: Path | str, split: str) -> BeirData:
    """Read ``queries.jsonl`` and ``qrels/<split>.tsv`` of a BEIR-layout folder.

    Raises:
        FileNotFoundError: a required file is missing (the message lists the splits present).
        ValueError: a judged query is missing from ``queries.jsonl``.
    """
    folder = Path(root)
    qrels_path = folder / "qrels" / f"{split}.tsv"
    if not qrels_path.exists():
        present = sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))
        raise FileNotFoundError(f"{qrels_path} not found; splits present: {present or 'none'}")
    qrels = read_qrels(qrels_path)
    all_queries = read_queries(folder / "queries.jsonl")
    missing = sorted(set(qrels) - set(all_queries))
    if missing:
        raise ValueError(f"{len(missing)} judged queries are not in queries.jsonl: {missing[:5]}")
    queries = {qid: all_queries[qid] for qid in all_queries if qid in qrels}
    return BeirData(folder.resolve().name, folder, split, queries, qrels)


def load_documents(root: Path | str) -> list[Document]:
    """The documents of a BEIR folder, through the corpus package's loader."""
    from corpus.loaders import load_corpus

    return list(load_corpus(Path(root), fmt="beir").documents)


def beir_id(passage: Passage) -> str:
    """The data set's own document id: the loader's ``<dataset>:`` prefix removed."""
    document_id = passage.document_id
    prefix = f"{passage.dataset}:"
    return document_id[len(prefix) :] if document_id.startswith(prefix) else document_id


# --------------------------------------------------------------------------- index


def index_key(
    documents: Sequence[Document],
    chunking: Mapping[str, Any],
    model_name: str,
    extra: Mapping[str, Any] | None = None,
) -> str:
    """A 12-hex fingerprint of everything an index depends on.

    The corpus part is the index package's own fingerprint (sorted document ids and content
    hashes), so it changes exactly when the index package would see a different corpus.
    """
    from index.manifest import corpus_fingerprint
    from index.records import document_content_hash

    corpus = corpus_fingerprint((d.id, document_content_hash(d)) for d in documents)
    recipe = {"corpus": corpus, "chunking": dict(chunking), "model": model_name, **(extra or {})}
    blob = json.dumps(recipe, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def ensure_index(
    documents: Sequence[Document],
    indexes_dir: Path,
    name: str,
    embedder: Embedder,
    *,
    chunking: ChunkingConfig | None = None,
    progress: bool = False,
) -> Path:
    """The index of ``documents`` under ``indexes_dir``, built only if it does not exist yet.

    Returns:
        ``indexes_dir / f"{name}-{index_key(...)}"``, a loadable index.
    """
    from corpus.chunking import ChunkingConfig
    from index.build import build_index
    from index.errors import IndexLoadError
    from index.load import PassageIndex

    config = chunking if chunking is not None else ChunkingConfig()
    path = (
        Path(indexes_dir) / f"{name}-{index_key(documents, config.to_dict(), embedder.model_name)}"
    )
    if path.exists():
        try:
            PassageIndex.load(path, expected_model=embedder.model_name)
            logger.info("reusing index %s", path)
            return path
        except IndexLoadError as error:
            logger.warning("rebuilding %s: %s", path, error)
    path.parent.mkdir(parents=True, exist_ok=True)
    logger.info("building index %s from %d documents", path, len(documents))
    build_index(documents, path, embedder, config, progress=progress)
    return path


def made_with(cache: Path, model_name: str) -> bool:
    """Whether a benchmark cache file (``<model>__<recipe>.npy``) holds ``model_name``'s
    vectors: the full name with "/" as "_", or, for a name without a backend suffix, its last
    part (the per-text caches say "all-MiniLM-L6-v2" for the torch model). An int8 ONNX
    encoder's name carries its backend, so torch vectors are never taken for its own.

    Example:
        >>> torch = "sentence-transformers/all-MiniLM-L6-v2"
        >>> made_with(Path("all-MiniLM-L6-v2__by-text.npy"), torch)
        True
        >>> made_with(Path("all-MiniLM-L6-v2__by-text.npy"),
        ...           "sentence-transformers/all-MiniLM-L6-v2@onnx-int8:53aa51172d142c89")
        False
    """
    prefix = cache.name.split("__", 1)[0]
    return prefix in {model_name.replace("/", "_"), model_name.rsplit("/", 1)[-1]}


def seed_benchmark_caches(
    embedder: CachedEmbedder,
    folder: Path,
    *,
    passages: Sequence[Passage],
    queries: Mapping[str, str],
    documents: Sequence[Document] = (),
) -> int:
    """Adopt every benchmark cache in ``folder`` made from exactly these passages or queries.

    The retrieval benchmarks cache vectors as ``<model>__<recipe>.npy`` with a sidecar listing
    row ids, and per text as ``<model>__by-text.npy`` (see benchmarks/retrieval_data.py). A
    recipe sidecar whose ids are these passage ids (texts: ``Passage.embedding_text``) or these
    query ids (texts: the queries) is adopted after its text hash is checked; a per-text cache
    gives up every row whose text is one of them. ``documents`` (for whole-document systems)
    match a sidecar listing the data set's own document ids, with texts the embedding text of
    :func:`document_passages`. Returns the number of vectors adopted.
    """
    if not folder.is_dir():
        return 0
    passage_ids = [p.id for p in passages]
    query_ids = list(queries)
    whole = document_passages(documents)
    document_ids = [beir_id(p) for p in whole]
    adopted = 0
    texts = [p.embedding_text for p in passages] + [p.embedding_text for p in whole]
    for npy in sorted(folder.glob("*__by-text.npy")):
        if not made_with(npy, embedder.model_name):
            continue
        adopted += seed_from_text_cache(embedder, npy, texts)
        adopted += seed_from_text_cache(embedder, npy, list(queries.values()), queries=True)
    for meta_path in sorted(folder.glob("*.json")):
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except ValueError:
            continue
        ids = meta.get("ids") if isinstance(meta, dict) else None
        npy = meta_path.with_suffix(".npy")
        if not isinstance(ids, list) or not made_with(npy, embedder.model_name):
            continue
        if passage_ids and ids == passage_ids:
            adopted += seed_from_benchmark_cache(
                embedder, npy, ids, [p.embedding_text for p in passages]
            )
        elif document_ids and ids == document_ids:
            adopted += seed_from_benchmark_cache(
                embedder, npy, ids, [p.embedding_text for p in whole]
            )
        elif query_ids and ids == query_ids:
            adopted += seed_from_benchmark_cache(
                embedder, npy, ids, [queries[q] for q in query_ids], queries=True
            )
    return adopted


# --------------------------------------------------------------------------- systems


class SystemKind(str, enum.Enum):
    """The retrievers a run can compare."""

    BM25 = "bm25"
    DENSE = "dense"
    HYBRID = "hybrid"

    @classmethod
    def parse(cls, value: str) -> SystemKind:
        return parse_choice(cls, value, "system")


@dataclass(frozen=True)
class SystemSpec:
    """A named system: a retriever kind plus options for it.

    Written on the command line as ``bm25``, ``dense``, ``hybrid``, or a variant
    ``NAME=KIND:key=value:key=value`` (for example ``hybrid-w=hybrid:fusion=weighted``).
    Values are parsed as JSON when they can be (numbers, true/false), else kept as strings.
    """

    name: str
    kind: SystemKind
    options: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> SystemSpec:
        text = text.strip()
        if not text:
            raise ValueError("empty system name")
        name, _, definition = text.partition("=")
        if not definition:
            return cls(name, SystemKind.parse(name))
        kind_text, *pairs = definition.split(":")
        options: dict[str, Any] = {}
        for pair in pairs:
            key, sep, value = pair.partition("=")
            if not sep or not key:
                raise ValueError(f"variant option {pair!r} in {text!r} is not key=value")
            try:
                options[key] = json.loads(value)
            except ValueError:
                options[key] = value
        return cls(name.strip(), SystemKind.parse(kind_text), options)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind.value, "options": dict(self.options)}


def parse_systems(text: str, variants: Sequence[str] = ()) -> list[SystemSpec]:
    """``"bm25,dense"`` plus ``--variant`` definitions, checked for repeated names."""
    specs = [SystemSpec.parse(part) for part in text.split(",") if part.strip()]
    specs += [SystemSpec.parse(v) for v in variants]
    names = [s.name for s in specs]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"system names must be unique; repeated: {repeated}")
    if not specs:
        raise ValueError("no systems given")
    return specs


class Granularity(str, enum.Enum):
    """What a BM25 or dense system searches: the index's passages, or whole documents."""

    PASSAGE = "passage"  # the index as built (chunked), MaxP to documents
    DOCUMENT = "document"  # one unit per document, as BEIR baselines and MTEB score

    @classmethod
    def parse(cls, value: Any) -> Granularity:
        return parse_choice(cls, value, "granularity")


HybridFactory = Callable[[Mapping[str, Any]], "HybridRetriever"]
"""Builds a hybrid system from a variant's options (``{}`` for the plain ``hybrid``)."""


def served_hybrid(settings: Settings, index: PassageIndex, embedder: Embedder) -> HybridFactory:
    """Hybrid systems as the engine builds its retriever for ``settings``
    (``answer.engine.build_retriever``: the settings' retrieval config and rewriter), a
    variant's options applied on top, so what is evaluated is what is served."""
    from answer.engine import build_retriever, retrieval_config

    served = retrieval_config(settings)

    def build(options: Mapping[str, Any]) -> HybridRetriever:
        return build_retriever(settings, index, embedder, hybrid_config(options, served))

    return build


def default_hybrid(index: PassageIndex, embedder: Embedder) -> HybridFactory:
    """Hybrid systems from the library defaults (``RetrievalConfig()``, the rule rewriter),
    which are the default settings' (tests/test_answer_settings.py)."""
    from retriever.hybrid import HybridRetriever, RetrievalConfig

    def build(options: Mapping[str, Any]) -> HybridRetriever:
        return HybridRetriever(index, embedder, hybrid_config(options, RetrievalConfig()))

    return build


@dataclass(frozen=True)
class BuildContext:
    """What a system is built from: the loaded index, its model, the hybrid's builder and, for
    document-granularity systems, the documents themselves."""

    index: PassageIndex
    embedder: Embedder
    hybrid: HybridFactory
    documents: Sequence[Document] = ()


def document_passages(documents: Sequence[Document]) -> list[Passage]:
    """One passage per document covering its whole text (title carried, no section)."""
    from corpus.types import passage_id

    return [
        Passage(
            id=passage_id(doc.id, 0, len(doc.text)),
            document_id=doc.id,
            text=doc.text,
            start=0,
            end=len(doc.text),
            section="",
            title=doc.title,
            tier=doc.tier,
            source=doc.source,
            licence=doc.licence,
            dataset=doc.dataset,
            year=doc.year,
            url=doc.url,
            mesh=doc.mesh,
        )
        for doc in documents
    ]


def _units(ctx: BuildContext, options: dict[str, Any]) -> tuple[Granularity, Sequence[Passage]]:
    granularity = Granularity.parse(options.pop("granularity", Granularity.PASSAGE.value))
    if granularity is Granularity.PASSAGE:
        return granularity, ctx.index.passages
    if not ctx.documents:
        raise ValueError("granularity=document needs the documents of the data set")
    return granularity, document_passages(ctx.documents)


def _lexical(ctx: BuildContext, options: Mapping[str, Any]) -> Retriever:
    from index.lexical import Bm25LexicalStore, Bm25Settings
    from retriever.lexical import LexicalRetriever

    rest = dict(options)
    granularity, units = _units(ctx, rest)
    if not rest and granularity is Granularity.PASSAGE:
        return LexicalRetriever(ctx.index.lexical, ctx.index.passages)
    # A BM25 variant (other k1, b, method, stop words, stemming, or whole documents): an
    # in-memory store built in seconds; the index on disk is not touched.
    try:
        settings = Bm25Settings.from_dict({**ctx.index.manifest.bm25.to_dict(), **rest})
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"bad bm25 option in {dict(options)}: {error}") from None
    store = Bm25LexicalStore.build([p.embedding_text for p in units], settings)
    config = {**settings.to_dict(), "granularity": granularity.value}
    return _Variant(LexicalRetriever(store, units), config)


class _Variant:
    """A retriever built for one evaluation variant, exposing what it was built with."""

    def __init__(self, retriever: Retriever, config: Mapping[str, Any]) -> None:
        self._retriever = retriever
        self.settings = dict(config)

    def retrieve(self, query: str, top_k: int) -> list[ScoredPassage]:
        return self._retriever.retrieve(query, top_k)


def _dense(ctx: BuildContext, options: Mapping[str, Any]) -> Retriever:
    from index.dense import DenseConfig, FaissDenseStore
    from retriever.dense import DenseRetriever

    rest = dict(options)
    granularity, units = _units(ctx, rest)
    _no_options(SystemKind.DENSE, rest)
    if granularity is Granularity.PASSAGE:
        return DenseRetriever(ctx.embedder, ctx.index.dense, ctx.index.passages)
    # Whole documents: the encoder truncates each at its window (256 word pieces), as MTEB's
    # evaluation of this model does.
    vectors = ctx.embedder.encode_documents([p.embedding_text for p in units])
    store = FaissDenseStore.build(vectors, DenseConfig())
    return _Variant(DenseRetriever(ctx.embedder, store, units), {"granularity": granularity.value})


def hybrid_config(options: Mapping[str, Any], served: RetrievalConfig) -> RetrievalConfig:
    """``served`` with a variant's options applied (nested fields written ``policy.fused_k=20``).

    Raises:
        ValueError: an option is not a field of ``retriever.hybrid.RetrievalConfig``.
    """
    from dataclasses import replace

    flat = {k: v for k, v in options.items() if "." not in k}
    nested: dict[str, dict[str, Any]] = {}
    for key, value in options.items():
        if "." in key:
            head, _, tail = key.partition(".")
            nested.setdefault(head, {})[tail] = value
    try:
        config = replace(served, **flat)
        for head, values in nested.items():
            config = replace(config, **{head: replace(getattr(config, head), **values)})
    except (TypeError, AttributeError) as error:
        raise ValueError(f"bad hybrid option in {dict(options)}: {error}") from None
    return config


def _hybrid(ctx: BuildContext, options: Mapping[str, Any]) -> Retriever:
    return ctx.hybrid(options)


def _no_options(kind: SystemKind, options: Mapping[str, Any]) -> None:
    if options:
        raise ValueError(
            f"{kind.value} takes no options (its parameters live in the index); got {dict(options)}"
        )


_FACTORIES: dict[SystemKind, Callable[[BuildContext, Mapping[str, Any]], Retriever]] = {
    SystemKind.BM25: _lexical,
    SystemKind.DENSE: _dense,
    SystemKind.HYBRID: _hybrid,
}


def build_retriever(
    spec: SystemSpec,
    index: PassageIndex,
    embedder: Embedder,
    *,
    hybrid: HybridFactory | None = None,
    documents: Sequence[Document] = (),
) -> Retriever:
    """The retriever a spec names, over a loaded index.

    ``hybrid`` builds the hybrid systems (:func:`served_hybrid` for the engine's settings);
    by default :func:`default_hybrid`.

    Options by kind:

    * ``bm25``: fields of ``index.lexical.Bm25Settings`` (``k1``, ``b``, ``method``,
      ``stopwords``, ``stemming``; the rest come from the index manifest) and
      ``granularity=document`` (BM25 over whole documents, needs ``documents``).
    * ``dense``: only ``granularity=document`` (whole documents encoded, truncated at the
      model's window; needs ``documents``); the model is fixed by the index.
    * ``hybrid``: fields of ``retriever.hybrid.RetrievalConfig`` (nested ones as
      ``policy.fused_k``), applied to the served configuration; each leg searches as deep as
      the served retriever's unless set.
    """
    ctx = BuildContext(index, embedder, hybrid or default_hybrid(index, embedder), tuple(documents))
    return _FACTORIES[spec.kind](ctx, spec.options)


def retriever_settings(retriever: object) -> dict[str, Any]:
    """A retriever's configuration as plain data, for the report."""
    from dataclasses import asdict, is_dataclass

    out: dict[str, Any] = {"class": type(retriever).__name__}
    settings = getattr(retriever, "settings", None)
    if isinstance(settings, Mapping):
        return {**out, **settings}
    config = getattr(retriever, "config", None)
    if config is None or not is_dataclass(config) or isinstance(config, type):
        return out
    return {**out, **json.loads(json.dumps(asdict(config), default=str))}


# --------------------------------------------------------------------------- runs


def maxp(
    hits: Sequence[ScoredPassage], doc_id: Callable[[Passage], str], depth: int | None = None
) -> dict[str, float]:
    """Document scores from passage hits: each document's best passage score (MaxP).

    Args:
        hits: one query's passages with scores, any order.
        doc_id: maps a passage to the document id the qrels use.
        depth: keep only the best ``depth`` documents (ties by document id, as trec_eval).
    """
    scores: dict[str, float] = {}
    for hit in hits:
        key = doc_id(hit.passage)
        if key not in scores or hit.score > scores[key]:
            scores[key] = float(hit.score)
    if depth is None or len(scores) <= depth:
        return scores
    ranked = sorted(scores.items(), key=lambda item: (item[1], item[0]), reverse=True)
    return dict(ranked[:depth])


def run_retriever(
    retriever: Retriever,
    queries: Mapping[str, str],
    *,
    doc_id: Callable[[Passage], str] = beir_id,
    passage_depth: int = DEFAULT_PASSAGE_DEPTH,
    doc_depth: int = DEFAULT_DOC_DEPTH,
    progress: bool = False,
    desc: str = "queries",
) -> Run:
    """One retriever over every query: a document run by MaxP over ``passage_depth`` passages."""
    if passage_depth < 1 or doc_depth < 1:
        raise ValueError(f"depths must be at least 1, got {passage_depth} and {doc_depth}")
    from retriever.types import EmptyQueryError

    run: Run = {}
    for qid, text in tqdm(queries.items(), desc=desc, unit="q", disable=not progress):
        try:
            hits = retriever.retrieve(text, passage_depth)
        except EmptyQueryError:
            logger.warning("query %s is empty; it retrieves nothing", qid)
            hits = []
        run[qid] = maxp(hits, doc_id, doc_depth)
    return run


def run_systems(
    retrievers: Mapping[str, Retriever],
    data: BeirData,
    *,
    doc_id: Callable[[Passage], str] = beir_id,
    passage_depth: int = DEFAULT_PASSAGE_DEPTH,
    doc_depth: int = DEFAULT_DOC_DEPTH,
    measures: Sequence[str] = MEASURES,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
    progress: bool = False,
) -> list[SystemResult]:
    """Run and evaluate every retriever on ``data``, in the given order."""
    results = []
    for name, retriever in retrievers.items():
        start = time.perf_counter()
        run = run_retriever(
            retriever,
            data.queries,
            doc_id=doc_id,
            passage_depth=passage_depth,
            doc_depth=doc_depth,
            progress=progress,
            desc=name,
        )
        seconds = time.perf_counter() - start
        table = evaluate(data.qrels, run, measures)
        logger.info("%s: %s", name, {m: round(v, 4) for m, v in table.aggregate().items()})
        results.append(
            SystemResult(
                name=name,
                run=run,
                metrics=table,
                settings=dict((settings or {}).get(name, {})),
                seconds=seconds,
            )
        )
    return results
