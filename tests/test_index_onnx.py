"""The int8 ONNX encoder: exported once from the shipped weights, close to torch, refused by an
index built with the other encoder, chosen by the index it serves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from answer.engine import build_engine
from answer.settings import Settings
from index.build import build_index
from index.embedder import MODEL_NAME, SentenceTransformerEmbedder
from index.encoders import backend_of, encoder_name, load_embedder
from index.errors import IndexModelMismatchError
from index.load import PassageIndex
from index.onnx_embedder import OnnxEmbedder
from tests.fixtures_index import index_embedder, sample_documents, sample_index  # noqa: F401


@pytest.fixture(scope="module")
def export_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("encoders")


@pytest.fixture(scope="module")
def onnx(export_dir: Path) -> OnnxEmbedder:
    return OnnxEmbedder.load(export_dir, threads=1)


def test_the_export_is_made_once_and_named_by_the_weights(
    onnx: OnnxEmbedder, export_dir: Path
) -> None:
    exports = list(export_dir.iterdir())
    assert [e.name for e in exports] == [onnx.model_name.rsplit(":", 1)[1]]
    model = exports[0] / "model-int8.onnx"
    written = model.stat().st_mtime_ns
    again = OnnxEmbedder.load(export_dir, threads=1)  # cached: not exported again
    assert model.stat().st_mtime_ns == written and again.model_name == onnx.model_name
    assert onnx.model_name == encoder_name("onnx-int8") != MODEL_NAME
    assert backend_of(onnx.model_name) == "onnx-int8" and backend_of(MODEL_NAME) == "torch"


def test_vectors_are_unit_rows_in_input_order_and_close_to_torch(
    onnx: OnnxEmbedder,
    export_dir: Path,
    index_embedder: SentenceTransformerEmbedder,  # noqa: F811
) -> None:
    texts = [d.text[:400] for d in sample_documents()[:10]]
    vectors = onnx.encode_documents(texts)
    assert vectors.dtype == np.float32 and vectors.shape == (10, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # A text's vector does not depend on the texts encoded with it, nor on their order.
    one_by_one = np.vstack([onnx.encode_queries([t]) for t in texts])
    np.testing.assert_allclose(one_by_one, vectors, atol=1e-6)
    np.testing.assert_allclose(onnx.encode_documents(texts[::-1])[::-1], vectors, atol=1e-6)
    # Encoded side by side, on two threads, each text gets the same vector, in input order.
    two = OnnxEmbedder.load(export_dir, threads=2)
    np.testing.assert_array_equal(two.encode_documents(texts), vectors)
    cosines = (vectors * index_embedder.encode_documents(texts)).sum(axis=1)
    assert cosines.min() > 0.97 and cosines.mean() > 0.985
    assert onnx.encode_queries([]).shape == (0, 384)


def test_an_index_refuses_the_other_encoder(
    onnx: OnnxEmbedder,
    sample_index: Path,  # noqa: F811
) -> None:
    index = PassageIndex.load(sample_index)  # built with torch
    with pytest.raises(IndexModelMismatchError, match="encoder it was built with"):
        index.check_embedder(onnx)


def test_the_engine_queries_with_the_encoder_its_index_was_built_with(
    onnx: OnnxEmbedder, export_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "index"
    build_index(sample_documents(), out, onnx)
    settings = Settings(index={"path": out}, embedder={"export_dir": export_dir, "threads": 1})
    engine = build_engine(settings)  # backend "auto": the manifest names the ONNX export
    assert engine.retrieve("ferritin and iron stores").fused
    with pytest.raises(IndexModelMismatchError):
        build_engine(
            settings.model_copy(
                update={"embedder": settings.embedder.model_copy(update={"backend": "torch"})}
            )
        )


def test_an_unknown_encoder_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="onnx-int8, torch"):
        load_embedder("tensorflow")  # type: ignore[arg-type]
