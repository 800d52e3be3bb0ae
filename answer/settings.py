"""One typed settings tree, read by the entry points only (CLI, API server, eval harness).

Values come from arguments, then ``FOLLOWUP_*`` environment variables with ``__`` between
sections (``FOLLOWUP_API__API_KEYS='["k1"]'``), then these defaults. Library code never reads
the environment: it receives the plain values from here.

Example:
    >>> settings = Settings(index={"path": "var/demo-index"})
    >>> settings.api.port
    8000
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import limits
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from answer.compose import ComposeConfig
from answer.llm import DEFAULT_MAX_RETRIES
from index.embedder import DEFAULT_BATCH_SIZE
from index.encoders import DEFAULT_EXPORT_DIR
from retriever.hybrid import RetrievalConfig

# The library's defaults live in its configs, once; a setting's default is read from there.
_RETRIEVAL = RetrievalConfig()
_COMPOSE = ComposeConfig()


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IndexSettings(_Section):
    path: Path = Field(Path("var/demo-index"), description="Index directory to load.")
    qdrant_api_key: SecretStr | None = Field(
        None,
        description="API key of the Qdrant server a Qdrant index lives on (docs/scale-out.md); "
        "FOLLOWUP_INDEX__QDRANT_API_KEY, which `followup index` reads too.",
    )


class EmbedderSettings(_Section):
    backend: Literal["auto", "onnx-int8", "torch"] = Field(
        "auto",
        description="The query encoder: 'auto' uses the one the index was built with (its "
        "manifest says); 'onnx-int8' or 'torch' insists, and an index built with the other "
        "is refused.",
    )
    export_dir: Path = Field(
        DEFAULT_EXPORT_DIR, description="Where the int8 ONNX export of the model is cached."
    )
    threads: int | None = Field(
        None,
        ge=1,
        description="Encoder threads; None keeps the library's default. The API uses 1: on "
        "2 cores, 2 threads under load from another process gave 450 ms p90 spikes.",
    )
    batch_size: int = Field(DEFAULT_BATCH_SIZE, ge=1, le=1024, description="Encoding batch size.")


class RetrievalSettings(_Section):
    top_k: int = Field(
        _RETRIEVAL.policy.fused_k,
        ge=1,
        le=100,
        description="Passages handed to the answer composer.",
    )
    lexical_depth: int = Field(
        _RETRIEVAL.lexical_depth, ge=1, le=1000, description="Candidates from BM25."
    )
    dense_depth: int = Field(
        _RETRIEVAL.dense_depth, ge=1, le=1000, description="Candidates from the dense index."
    )
    fusion: Literal["rrf", "weighted", "adaptive"] = Field(
        _RETRIEVAL.fusion.value,
        description="How the two legs are fused (default: RetrievalConfig's): 'weighted' "
        "(z-score, equal weights), 'adaptive' (z-score with per-query weights and BM25 on the "
        "key terms of long queries, retriever/adaptive.py) or 'rrf' (k = 60). docs/eval.md "
        "has the cross-validated comparison on four dev sets.",
    )


class LLMSettings(_Section):
    base_url: str | None = Field(
        None, description="OpenAI-compatible base URL (…/v1). None: extractive answers only."
    )
    model: str = Field("gpt-4o-mini", description="Model name sent to the endpoint.")
    api_key: SecretStr | None = Field(None, description="Bearer key for the endpoint.")
    timeout_s: float = Field(
        20.0, gt=0, le=300, description="Time allowed for one attempt, in seconds."
    )
    max_retries: int = Field(
        DEFAULT_MAX_RETRIES,
        ge=0,
        le=10,
        description="Attempts after a failed one (connection error, timeout, 429, 5xx), with "
        "exponential back-off; then the answer falls back (extractive, or the rule rewriter).",
    )


class AnswerSettings(_Section):
    generator: Literal["extractive", "llm"] = Field(
        "extractive", description="'llm' needs llm.base_url; it falls back to extractive."
    )
    rewriter: Literal["rules", "llm"] = Field(
        "rules",
        description="Who makes follow-ups standalone: 'rules' (retriever/rewrite.py) or 'llm' "
        "(answer/llm_rewrite.py; needs llm.base_url; falls back to the rules).",
    )
    audience: Literal["clinician", "patient"] = Field("clinician", description="Default wording.")
    composer: Literal["focused", "baseline"] = Field(
        "focused" if _COMPOSE.focused else "baseline",
        description="'focused': the lead must cover the question's focus and fit its type, or "
        "name the gap. 'baseline': the earlier composer that leads with the most relevant "
        "sentence, kept for side-by-side evaluation.",
    )
    passages_per_kind: int = Field(
        _COMPOSE.passages_per_kind,
        ge=1,
        le=20,
        description="Top guideline and top research passages an answer quotes from.",
    )
    guideline_sentences: int = Field(
        _COMPOSE.guideline_sentences,
        ge=1,
        le=10,
        description="Quotes at most under 'From the Guidelines' (answer/compose.py says why 5).",
    )
    research_sentences: int = Field(
        _COMPOSE.research_sentences,
        ge=0,
        le=10,
        description="Sentences at most under 'From the Research'.",
    )
    abstain_threshold: float = Field(
        _COMPOSE.abstain_below,
        ge=0,
        le=1,
        description="Abstain when no candidate sentence scores this high (answer/abstain.py says "
        "how it was calibrated).",
    )
    weak_threshold: float = Field(
        _COMPOSE.weak_below,
        ge=0,
        le=1,
        description="Below this best sentence score the answer carries a weak-evidence notice.",
    )
    sentence_cache_dir: Path | None = Field(
        Path("var/cache/answer"),
        description="Where sentence embeddings are kept between runs (one file per index); "
        "None keeps them in memory only.",
    )
    precompute_sentences: bool = Field(
        True,
        description="Encode every passage's sentences when the engine starts (once: later "
        "starts read the cache), so no answer waits for the encoder.",
    )
    precompute_max_passages: int = Field(
        5000,
        ge=0,
        description="Larger indexes are not precomputed: their sentences are encoded (and "
        "cached) as answers need them.",
    )

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> AnswerSettings:
        if self.weak_threshold < self.abstain_threshold:
            raise ValueError("weak_threshold must not be below abstain_threshold")
        return self


class APISettings(_Section):
    host: str = Field("127.0.0.1", description="Bind address.")
    port: int = Field(8000, ge=1, le=65535, description="Bind port.")
    workers: int = Field(1, ge=1, le=16, description="Uvicorn worker processes.")
    data_dir: Path = Field(Path("var/data"), description="Where conversations.sqlite3 lives.")
    api_keys: list[SecretStr] = Field(
        default_factory=list, description="Accepted keys; empty means no key is required."
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed to call the API from a browser."
    )
    max_question_chars: int = Field(2000, ge=1, description="Longer questions get 422.")
    max_body_bytes: int = Field(256_000, ge=1024, description="Larger request bodies get 413.")
    max_turns: int = Field(
        50,
        ge=1,
        le=1000,
        description="Turns one server-side conversation may hold; a follow-up past it gets 409. "
        "Every follow-up reads the earlier turns, so this bounds its work.",
    )
    rate_limit: str | None = Field(
        "300/minute",
        description="Requests to /v1 per API key (per client address when no keys are set) "
        "and worker process, in the notation of the `limits` package ('300/minute', "
        "'10/second'); over it, 429 with Retry-After. None: no limit.",
    )
    log_questions: bool = Field(
        False, description="Questions are health data: they are not logged unless this is set."
    )

    @field_validator("rate_limit")
    @classmethod
    def _rate_limit_parses(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                limits.parse(value)
            except ValueError as error:
                raise ValueError(f"not a rate such as '300/minute': {error}") from error
        return value


class Settings(BaseSettings):
    """The whole configuration of an engine and its entry points."""

    model_config = SettingsConfigDict(
        env_prefix="FOLLOWUP_", env_nested_delimiter="__", extra="forbid"
    )

    index: IndexSettings = Field(default_factory=IndexSettings, description="The index.")
    embedder: EmbedderSettings = Field(default_factory=EmbedderSettings, description="Encoder.")
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings, description="Search.")
    answer: AnswerSettings = Field(default_factory=AnswerSettings, description="Composition.")
    llm: LLMSettings = Field(default_factory=LLMSettings, description="Optional LLM endpoint.")
    api: APISettings = Field(default_factory=APISettings, description="HTTP service.")
