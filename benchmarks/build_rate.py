"""Index build rate per encoder: the demo corpus built by ``index.build.build_index`` with each
encoder, one after the other, passages only (no companion files), 2 threads.

Prints passages per second per encoder and their ratio; writes var/results/build_rate.json.

Usage:
    python benchmarks/build_rate.py
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from corpus.demo import load_demo  # noqa: E402
from index.build import build_index  # noqa: E402
from index.encoders import BACKENDS, load_embedder  # noqa: E402

RESULTS = ROOT / "var" / "results" / "build_rate.json"


def main() -> None:
    documents = load_demo().documents
    rows = {}
    for backend in BACKENDS:
        embedder = load_embedder(backend, threads=2)
        embedder.encode_documents(["warm-up"])
        with tempfile.TemporaryDirectory() as tmp:
            began = time.perf_counter()
            manifest = build_index(documents, Path(tmp) / "index", embedder)
            seconds = time.perf_counter() - began
        rows[backend] = {
            "passages": manifest.passages,
            "seconds": seconds,
            "passages_per_s": manifest.passages / seconds,
        }
        print(
            f"{backend:<10} {manifest.passages} passages in {seconds:.1f} s: "
            f"{rows[backend]['passages_per_s']:.1f} passages/s",
            flush=True,
        )
    ratio = rows["onnx-int8"]["passages_per_s"] / rows["torch"]["passages_per_s"]
    print(f"onnx-int8 / torch build rate: {ratio:.2f}x")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(rows | {"ratio": ratio}, indent=2) + "\n")


if __name__ == "__main__":
    main()
