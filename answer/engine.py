"""The engine: one object that the CLI, the API and the eval harness share, built in one place.

:func:`build_engine` loads the index and the model named in the settings, wires the hybrid
retriever, the sentence bank and the generator (extractive, or an LLM endpoint with the
extractive answer as fallback), and returns an :class:`IndexEngine`, the implementation of the
:class:`answer.types.Engine` Protocol the API serves from. The engine's constructor only
stores what it is given, so tests can assemble one from their own parts.

Example:
    >>> engine = build_engine(Settings(index={"path": "var/demo-index"}))  # doctest: +SKIP
    >>> engine.answer("Are vitamin B12 levels higher with lower ferritin levels?").abstained
    False
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from answer.compose import UNIT_CACHE_SIZE, ComposeConfig, ExtractiveComposer
from answer.followups import SearchGrounding, focus_of
from answer.llm import ChatClient, LLMGenerator
from answer.render import cited_passage_ids, plain_text
from answer.schema import Answer, Audience
from answer.sentences import SENTENCES_FILE, SentenceBank
from answer.settings import Settings
from answer.types import PassageLookup, StreamEvent
from corpus.types import EvidenceKind, Passage
from index.types import Embedder, Vectors
from retriever.fusion import FusionMode
from retriever.hybrid import HybridRetriever, RetrievalConfig
from retriever.policy import PolicyConfig
from retriever.types import Conversation, EmptyQueryError, Evidence, Filters, Turn

if TYPE_CHECKING:
    from index.load import PassageIndex
    from index.manifest import Manifest

logger = logging.getLogger(__name__)

# Guideline pages whose sibling sections may be suggested as follow-ups.
RELATED_PAGES = 3


class EvidenceSource(Protocol):
    """What the engine needs from a retriever (``retriever.hybrid.HybridRetriever`` is one):
    the evidence for a question, each list of the configured size or of ``top_k``."""

    def evidence(
        self,
        question: str,
        conversation: Conversation | None = None,
        filters: Filters | None = None,
        *,
        top_k: int | None = None,
    ) -> Evidence: ...


class LoadedIndex(PassageLookup, Protocol):
    """Passages by id, by document and by page topic, and the index's manifest
    (``index.load.PassageIndex`` is one)."""

    manifest: Manifest

    @property
    def documents(self) -> Mapping[str, object]:
        """The index's documents by id."""
        ...

    def document_passages(self, document_id: str) -> list[Passage]:
        """A document's passages, in row order."""
        ...

    def topic_passages(self, topic: str) -> list[Passage]:
        """The passages of one page topic (lower-cased), in row order."""
        ...


class CachingEmbedder:
    """An :class:`Embedder` that remembers recent single-query embeddings.

    The retriever encodes the question, and the composer encodes the same standalone query
    again to score sentences; with this wrapper shared by both, the model runs once.

    Example:
        >>> cached = CachingEmbedder(embedder, size=256)
        >>> cached.encode_queries(["ferritin"]) is not None
        True
    """

    def __init__(self, embedder: Embedder, size: int = 256) -> None:
        if size < 1:
            raise ValueError(f"size must be at least 1, got {size}")
        self._embedder = embedder
        self._size = size
        self._cache: OrderedDict[str, Vectors] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def model_name(self) -> str:
        return self._embedder.model_name

    @property
    def dimension(self) -> int:
        return self._embedder.dimension

    def encode_queries(self, texts: Sequence[str]) -> Vectors:
        with self._lock:  # requests run in threads; the model runs outside the lock
            known = {t: self._cache[t] for t in texts if t in self._cache}
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            for text, vector in zip(missing, self._embedder.encode_queries(missing), strict=True):
                known[text] = np.asarray(vector, dtype=np.float32)
        with self._lock:
            for text in texts:
                self._cache[text] = known[text]
                self._cache.move_to_end(text)
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([known[t] for t in texts])

    def encode_documents(self, texts: Sequence[str], *, progress: bool = False) -> Vectors:
        return self._embedder.encode_documents(texts, progress=progress)


def as_turn(answer: Answer) -> Turn:
    """The conversation turn an answer becomes: its question, quoted text and cited passages."""
    return Turn(
        question=answer.question, answer=plain_text(answer), cited=cited_passage_ids(answer)
    )


def _log_failure(step: str, error: Exception) -> None:
    """Log a failed step with the exception's type and frames, not its message: a message may
    quote the question, and questions are health data (docs/api.md, Access and privacy)."""
    frames = "".join(traceback.format_tb(error.__traceback__))
    logger.error("%s failed: %s (message withheld)\n%s", step, type(error).__name__, frames)


def _error_status(error: Exception) -> int:
    return 422 if isinstance(error, (EmptyQueryError, ValueError)) else 500


class IndexEngine:
    """The :class:`~answer.types.Engine`: retrieval plus answer composition over one index.

    Args:
        retriever: produces the evidence for a question in a conversation.
        composer: the extractive composer (also the LLM path's scorer and fallback).
        llm: an LLM generator, or ``None`` for extractive answers only.
        default_audience: used when a call does not say.
        index: the loaded index, for :meth:`passage`, :attr:`manifest` and follow-up
            suggestions from the same page topic as the best guideline passages (optional).

    Example:
        >>> engine = IndexEngine(retriever, ExtractiveComposer(embedder))
        >>> [event.name for event in engine.stream("What is pernicious anemia?")][:2]
        ['retrieval', 'section']
    """

    def __init__(
        self,
        retriever: EvidenceSource,
        composer: ExtractiveComposer,
        *,
        llm: LLMGenerator | None = None,
        default_audience: Audience = Audience.CLINICIAN,
        index: LoadedIndex | None = None,
    ) -> None:
        self._retriever = retriever
        self._index = index
        self._composer = composer
        self._llm = llm
        self._default_audience = default_audience

    @property
    def composer(self) -> ExtractiveComposer:
        return self._composer

    @property
    def manifest(self) -> Manifest | None:
        """The index manifest, when the engine was given an index."""
        return self._index.manifest if self._index is not None else None

    def passage(self, passage_id: str) -> Passage | None:
        """A passage of the index by id (``None`` if unknown or no index was given)."""
        return self._index.get(passage_id) if self._index is not None else None

    @property
    def generator(self) -> str:
        """What answers by default: ``extractive`` or ``llm:<model>``."""
        return self._llm.name if self._llm is not None else "extractive"

    def search(self, query: str, *, top_k: int = 10, filters: Filters | None = None) -> Evidence:
        """The evidence for a standalone query, each list ``top_k`` long: the retrieval an
        answer makes (the same candidates, filters and policy), sized for a result page.

        Raises:
            EmptyQueryError: the query is empty.
            ValueError: ``top_k`` is below 1.
        """
        return self._retriever.evidence(query, None, filters, top_k=top_k)

    def retrieve(
        self,
        question: str,
        *,
        conversation: Conversation | None = None,
        filters: Filters | None = None,
    ) -> Evidence:
        """The evidence :meth:`answer` would compose from (for evaluation and calibration).

        Raises:
            EmptyQueryError: the question is empty or only whitespace.
        """
        return self._retriever.evidence(question, conversation, filters)

    def _related(self, evidence: Evidence) -> list[Passage]:
        """The sibling passages (same page topic) of the best guideline pages."""
        guideline = evidence.guideline or [
            s for s in evidence.fused if s.passage.kind is EvidenceKind.GUIDELINE
        ]
        if self._index is None:
            return []
        topics = dict.fromkeys(focus_of(s.passage) for s in guideline[:RELATED_PAGES])
        return [
            p
            for topic in topics
            for p in self._index.topic_passages(topic)
            if p.kind is EvidenceKind.GUIDELINE
        ]

    def _compose(
        self,
        evidence: Evidence,
        audience: Audience,
        conversation: Conversation | None,
    ) -> Answer:
        related = self._related(evidence)
        if self._llm is not None:
            return self._llm.generate(
                evidence, audience, conversation=conversation, related=related
            )
        return self._composer.compose(
            evidence, audience, conversation=conversation, related=related
        )

    def answer(
        self,
        question: str,
        *,
        conversation: Conversation | None = None,
        audience: Audience | None = None,
        filters: Filters | None = None,
    ) -> Answer:
        """Retrieve evidence for ``question`` (in ``conversation``) and compose the answer.

        Raises:
            EmptyQueryError: the question is empty or only whitespace.
        """
        started = time.perf_counter()
        evidence = self._retriever.evidence(question, conversation, filters)
        answer = self._compose(evidence, audience or self._default_audience, conversation)
        answer.timings_ms["total"] = (time.perf_counter() - started) * 1000.0
        return answer

    def stream(
        self,
        question: str,
        *,
        conversation: Conversation | None = None,
        audience: Audience | None = None,
        filters: Filters | None = None,
    ) -> Iterator[StreamEvent]:
        """The answer as events: retrieval, (section, sentence*)*, references, done.

        A failure becomes a final ``error {status, detail}`` event (422 for a bad question,
        500 otherwise) instead of an exception, so a stream always ends with an event.
        """
        started = time.perf_counter()
        try:
            evidence = self._retriever.evidence(question, conversation, filters)
        except Exception as error:  # noqa: BLE001 - reported as an event, see docstring
            status = _error_status(error)
            if status == 500:
                _log_failure("retrieval", error)
            detail = str(error) if status == 422 else "retrieval failed"
            yield StreamEvent("error", {"status": status, "detail": detail})
            return
        yield StreamEvent(
            "retrieval",
            {
                "standalone_query": evidence.standalone_query,
                "topic_shift": evidence.topic_shift,
                "passages": len(evidence.fused),
            },
        )
        try:
            answer = self._compose(evidence, audience or self._default_audience, conversation)
        except Exception as error:  # noqa: BLE001
            _log_failure("answer composition", error)
            yield StreamEvent("error", {"status": 500, "detail": "answer composition failed"})
            return
        answer.timings_ms["total"] = (time.perf_counter() - started) * 1000.0
        yield from answer_events(answer)


def answer_events(answer: Answer) -> Iterator[StreamEvent]:
    """The section, sentence, references and done events of a finished answer."""
    for section in answer.sections:
        yield StreamEvent("section", {"kind": section.kind.value, "title": section.title})
        for sentence in section.sentences:
            yield StreamEvent(
                "sentence",
                {"section": section.kind.value, **sentence.model_dump(mode="json")},
            )
    yield StreamEvent(
        "references",
        {
            "references": [r.model_dump(mode="json") for r in answer.references],
            "suggested_followups": list(answer.suggested_followups),
            "disclaimer": answer.disclaimer,
        },
    )
    yield StreamEvent("done", {"answer": answer.model_dump(mode="json")})


# --------------------------------------------------------------------------------- building


def sentence_cache_path(directory: Path, manifest: Any, model_name: str) -> Path:
    """The sentence-bank file for one index: named by index and a hash of what shapes it."""
    shape = {
        "model": model_name,
        "corpus": getattr(manifest, "corpus_fingerprint", None),
        "chunking": dict(getattr(manifest, "chunking", {}) or {}),
    }
    digest = hashlib.sha256(json.dumps(shape, sort_keys=True, default=str).encode()).hexdigest()
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", model_name.split("/")[-1])
    return directory / f"sentences-{slug}-{digest[:16]}.npz"


def _chat_client(settings: Settings) -> ChatClient:
    """The client for ``settings.llm`` (its ``base_url`` must be set), shared by the LLM
    generator and the LLM rewriter."""
    llm = settings.llm
    if not llm.base_url:
        raise ValueError("llm.base_url is not set")
    key = llm.api_key.get_secret_value() if llm.api_key else None
    return ChatClient(
        llm.base_url,
        model=llm.model,
        api_key=key,
        timeout_s=llm.timeout_s,
        max_retries=llm.max_retries,
    )


class Abstracts(Mapping[str, Sequence[Passage]]):
    """Each research document's passages in text order (the composer's ``abstracts``), read
    from the index when a document is asked for; documents without research passages are
    not keys.

    Example:
        >>> Abstracts(index).get("scifact:4983", ())[0].start
        0
    """

    def __init__(self, index: LoadedIndex) -> None:
        self._index = index

    def __getitem__(self, document_id: str) -> Sequence[Passage]:
        passages = [
            p for p in self._index.document_passages(document_id) if p.kind is EvidenceKind.RESEARCH
        ]
        if not passages:
            raise KeyError(document_id)
        return sorted(passages, key=lambda p: p.start)  # stable: row order among equal starts

    def __iter__(self) -> Iterator[str]:
        # Walks the index's documents: for completeness, not for serving.
        return (document_id for document_id in self._index.documents if document_id in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def retrieval_config(settings: Settings) -> RetrievalConfig:
    """The hybrid retriever's configuration for ``settings``: the one mapping from the settings
    to :class:`~retriever.hybrid.RetrievalConfig` (what the settings do not name keeps the
    config's default), shared by the engine and the eval harness."""
    retrieval, answer = settings.retrieval, settings.answer
    return RetrievalConfig(
        fusion=FusionMode.parse(retrieval.fusion),
        lexical_depth=retrieval.lexical_depth,
        dense_depth=retrieval.dense_depth,
        policy=PolicyConfig(
            fused_k=retrieval.top_k,
            guideline_k=answer.passages_per_kind,
            research_k=answer.passages_per_kind,
        ),
    )


def compose_config(settings: Settings) -> ComposeConfig:
    """The extractive composer's configuration for ``settings``."""
    answer = settings.answer
    return ComposeConfig(
        passages_per_kind=answer.passages_per_kind,
        guideline_sentences=answer.guideline_sentences,
        research_sentences=answer.research_sentences,
        abstain_below=answer.abstain_threshold,
        weak_below=answer.weak_threshold,
        sentence_floor=answer.abstain_threshold,
        focused=answer.composer == "focused",
    )


def build_retriever(
    settings: Settings,
    index: PassageIndex,
    embedder: Embedder,
    config: RetrievalConfig | None = None,
) -> HybridRetriever:
    """The engine's retriever over a loaded index: :func:`retrieval_config` (or ``config``,
    for an evaluation's variant) and the rewriter ``settings.answer.rewriter`` names.

    :func:`build_engine` builds its retriever here, and so do the retrieval and follow-up
    evaluations, so what is evaluated is what is served.
    """
    from answer.llm_rewrite import LLMRewriter
    from retriever.hybrid import index_vocabulary
    from retriever.rewrite import RuleRewriter

    rewriter = None
    if settings.answer.rewriter == "llm":
        if settings.llm.base_url:
            vocabulary = index_vocabulary(index)
            rewriter = LLMRewriter(
                _chat_client(settings), RuleRewriter(vocabulary), vocabulary=vocabulary
            )
        else:
            logger.warning("answer.rewriter is 'llm' but llm.base_url is not set: rules")
    return HybridRetriever(index, embedder, config or retrieval_config(settings), rewriter=rewriter)


def build_engine(settings: Settings) -> IndexEngine:
    """Load the index and model named in ``settings`` and assemble the engine.

    Loading order: the index, the model (``settings.embedder``; by default the encoder the
    index was built with, checked against its manifest; one query is encoded, so that the
    first request does no warm-up work), the sentence bank (the index's own sentence file,
    written at build time; for an index without one, ``settings.answer.sentence_cache_dir``,
    and with ``precompute_sentences`` every passage's sentences are encoded now, once, and
    saved), then the retriever and the generator.

    Raises:
        index.errors.IndexLoadError: the index is missing, damaged or built with another model.
    """
    from index.encoders import backend_of, load_embedder
    from index.load import PassageIndex
    from retriever.lexical import LexicalRetriever

    started = time.perf_counter()
    # The index first: a missing or damaged index fails before the model is loaded.
    key = settings.index.qdrant_api_key
    index = PassageIndex.load(
        settings.index.path, qdrant_api_key=key.get_secret_value() if key else None
    )
    encoder = settings.embedder
    model = load_embedder(
        backend_of(index.manifest.model_name) if encoder.backend == "auto" else encoder.backend,
        threads=encoder.threads,
        batch_size=encoder.batch_size,
        export_dir=encoder.export_dir,
    )
    index.check_embedder(model)
    model.encode_queries(["warm-up"])  # the encoder's first run allocates; not a request's
    embedder = CachingEmbedder(model)
    answer_settings = settings.answer
    bank = SentenceBank(embedder)
    # The index's own sentence file (written at build time) first: then nothing is encoded here.
    bank.load(index.directory / SENTENCES_FILE)
    cache_path = None
    if answer_settings.sentence_cache_dir is not None:
        cache_path = sentence_cache_path(
            Path(answer_settings.sentence_cache_dir), index.manifest, model.model_name
        )
        bank.load(cache_path)
    precompute = (
        answer_settings.precompute_sentences
        and len(index.passages) <= answer_settings.precompute_max_passages
    )
    if precompute:
        encoded = bank.warm(index.passages)
        if encoded:
            logger.info("encoded %d sentences of %d passages", encoded, len(index.passages))
    elif answer_settings.precompute_sentences:
        logger.info(
            "index has %d passages (> %d): sentences are encoded as answers need them",
            len(index.passages),
            answer_settings.precompute_max_passages,
        )
    if cache_path is not None and bank.dirty:
        bank.save(cache_path)

    retriever = build_retriever(settings, index, embedder)
    lexical = LexicalRetriever(index.lexical, index.passages)
    composer = ExtractiveComposer(
        embedder,
        bank,
        compose_config(settings),
        grounded=SearchGrounding(lexical.retrieve),
        abstracts=Abstracts(index),
    )
    if precompute and len(index.passages) <= UNIT_CACHE_SIZE:
        composer.warm(index.passages)  # the first answers then split no passage into quotes
    llm = None
    if answer_settings.generator == "llm":
        if settings.llm.base_url:
            llm = LLMGenerator(_chat_client(settings), composer)
        else:
            logger.warning("answer.generator is 'llm' but llm.base_url is not set: extractive")

    engine = IndexEngine(
        retriever,
        composer,
        llm=llm,
        default_audience=Audience(answer_settings.audience),
        index=index,
    )
    logger.info(
        "engine ready in %.1f s: %d passages, generator %s",
        time.perf_counter() - started,
        len(index.passages),
        engine.generator,
    )
    return engine
