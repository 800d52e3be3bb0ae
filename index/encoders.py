"""The encoder backends, by name, and the one place for their defaults.

* ``onnx-int8`` (the default for new indexes): :class:`index.onnx_embedder.OnnxEmbedder`, the
  model exported to ONNX and quantised to int8; about 1.5-3 ms per query on one thread.
* ``torch``: :class:`index.embedder.SentenceTransformerEmbedder`, the model as shipped.

The two give different vectors (cosine about 0.99), so an index records its encoder in the
manifest's model name and is queried with the same one: :func:`backend_of` reads it back.

Example:
    >>> backend_of("sentence-transformers/all-MiniLM-L6-v2@onnx-int8:53aa51172d142c89")
    'onnx-int8'
    >>> backend_of("sentence-transformers/all-MiniLM-L6-v2")
    'torch'
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from index.embedder import DEFAULT_BATCH_SIZE
from index.types import Embedder

Backend = Literal["onnx-int8", "torch"]
BACKENDS: tuple[Backend, ...] = ("onnx-int8", "torch")
DEFAULT_BACKEND: Backend = "onnx-int8"
# Exports of the ONNX encoder, one directory per weights file (relative to the working
# directory, like the other var/ paths).
DEFAULT_EXPORT_DIR = Path("var/cache/encoders")


def backend_of(model_name: str) -> Backend:
    """The backend that produced vectors recorded under ``model_name``."""
    return "onnx-int8" if "@onnx-int8:" in model_name else "torch"


def encoder_name(backend: Backend) -> str:
    """The model name an index built with ``backend`` records, without loading the model."""
    from index.embedder import MODEL_NAME, default_model_path

    if backend == "torch":
        return MODEL_NAME
    from index.onnx_embedder import onnx_model_name, weights_sha256

    return onnx_model_name(weights_sha256(default_model_path()))


def load_embedder(
    backend: Backend = DEFAULT_BACKEND,
    *,
    threads: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    export_dir: Path = DEFAULT_EXPORT_DIR,
) -> Embedder:
    """Load the encoder named ``backend``.

    Raises:
        ValueError: an unknown backend, or ``threads``/``batch_size`` below 1.
        index.errors.ModelNotInstalledError: the model (or onnxruntime) is not installed.
    """
    if backend == "torch":
        from index.embedder import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder.load(threads=threads, batch_size=batch_size)
    if backend == "onnx-int8":
        from index.onnx_embedder import OnnxEmbedder

        return OnnxEmbedder.load(export_dir, threads=threads)  # one text per run: no batches
    raise ValueError(f"unknown encoder {backend!r}; choose one of {', '.join(BACKENDS)}")
