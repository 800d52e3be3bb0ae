"""`make bench`: the speed benchmarks in one run, and one table of what they measured.

Runs, one after the other (never two at once: on 2 cores they would measure each other):

1. ``encoder_bench.py --no-quality``: query encoding p50/p95 per encoder (torch, onnx-int8);
   add ``--quality`` here to run its SciFact quality gate too (tens of minutes the first time).
2. ``retrieval_latency.py --only demo`` with each encoder (``--scale`` adds the ~100K-passage
   index, which takes a long first build).
3. ``api_bench.py`` on the served index: ``POST /v1/answers`` at 1, 4 and 8 clients, and
   streamed at 8, with one worker (the default); then at 8 clients with two.
4. ``build_rate.py``: the demo corpus indexed with each encoder, passages per second.
5. ``scale_1m.py`` once its 1M-vector indexes are built (``--million`` builds them, a few
   minutes the first time): dense search alone (no encoding, no BM25), recall@10 against
   exact search and resident memory, ``ivf-sq8`` against exact ``flat``.
6. ``stack_1m.py`` once its 1M-passage index is built (``--stack`` builds it, about six
   minutes the first time): the whole served engine's resident memory over 50 answers.

Then prints one Markdown table from their JSON results (var/results/), alternatives side by
side as ratios. Run it on a quiet machine: every figure is wall time.

Usage:
    nice python benchmarks/run.py [--index var/demo-index] [--quality] [--scale] [--million]
        [--stack]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "var" / "results"
HERE = Path(__file__).resolve().parent
MILLION_BUILT = ROOT / "var" / "cache" / "scale" / "truth-1000000.npz"  # made by scale_1m.py
STACK_BUILT = ROOT / "var" / "cache" / "stack" / "index-1000000" / "manifest.json"  # stack_1m.py


def _run(script: str, *args: str) -> None:
    command = [sys.executable, str(HERE / script), *args]
    print(f"$ {' '.join(command[1:])}", flush=True)
    subprocess.run(command, check=True, cwd=ROOT)


def _read(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((RESULTS / name).read_text(encoding="utf-8"))
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", default="var/demo-index", help="the index api_bench serves")
    parser.add_argument("--quality", action="store_true", help="also the SciFact quality gate")
    parser.add_argument("--scale", action="store_true", help="also the ~100K-passage index")
    parser.add_argument(
        "--million", action="store_true", help="also build the 1M-vector dense indexes"
    )
    parser.add_argument(
        "--stack", action="store_true", help="also build the 1M-passage whole index"
    )
    args = parser.parse_args()

    _run("encoder_bench.py", *([] if args.quality else ["--no-quality"]))
    encoders = _read("encoder_bench.json")
    retrieval: dict[str, Any] = {}
    only = [] if args.scale else ["--only", "demo"]
    for encoder in ("torch", "onnx-int8"):
        # "--depths" with no values: the default configuration only.
        _run("retrieval_latency.py", "--encoder", encoder, *only, "--depths")
        retrieval[encoder] = _read("retrieval_latency.json")["runs"]
    _run("api_bench.py", "--index", args.index)
    api = _read("api_bench.json")
    # Throughput with a worker process per core, as a 2-core deployment would serve.
    _run("api_bench.py", "--index", args.index, "--workers", "2", "--clients", "8")
    two_workers = _read("api_bench.json")
    _run("build_rate.py")
    build = _read("build_rate.json")
    million: dict[str, Any] = {}
    if args.million or MILLION_BUILT.exists():
        _run("scale_1m.py", "--kinds", "ivf-sq8", "flat")
        million = _read("scale_1m.json")["runs"]

    rows = [
        ("query encode p50 / p95 ms, " + e, f"{r['p50_ms']:.2f} / {r['p95_ms']:.2f}")
        for e, r in encoders.items()
    ]
    rows.append(
        (
            "query encode p50, onnx-int8 / torch",
            f"{encoders['onnx-int8']['p50_ms'] / encoders['torch']['p50_ms']:.2f}x",
        )
    )
    for key in retrieval["torch"]:
        total = {e: retrieval[e][key]["stages"]["total_ms"] for e in retrieval}
        for encoder, t in total.items():
            rows.append(
                (f"retrieval p50 / p95 ms, {key}, {encoder}", f"{t['p50']:.1f} / {t['p95']:.1f}")
            )
        rows.append(
            (
                f"retrieval p95, {key}, onnx-int8 / torch",
                f"{total['onnx-int8']['p95'] / total['torch']['p95']:.2f}x",
            )
        )
    for level in api["levels"]:
        rows.append(
            (
                f"POST /v1/answers at {level['clients']} client(s): p50 / p95 ms, req/s",
                f"{level['p50_ms']:.1f} / {level['p95_ms']:.1f}, {level['throughput_rps']:.0f}",
            )
        )
    for level in two_workers["levels"]:
        rows.append(
            (
                f"POST /v1/answers at {level['clients']} clients, 2 workers: p50 / p95 ms, req/s",
                f"{level['p50_ms']:.1f} / {level['p95_ms']:.1f}, {level['throughput_rps']:.0f}",
            )
        )
    plain = {level["clients"]: level for level in api["levels"]}
    for level in api.get("stream_levels", []):
        rows.append(
            (
                f"streamed at {level['clients']} client(s): p50 / p95 ms, p50 / plain p50",
                f"{level['p50_ms']:.1f} / {level['p95_ms']:.1f}, "
                f"{level['p50_ms'] / plain[level['clients']]['p50_ms']:.2f}x",
            )
        )
    stack: dict[str, Any] = {}
    if args.stack or STACK_BUILT.exists():
        _run("stack_1m.py")
        stack = _read("stack_1m.json")["run"]

    rows += [
        (f"index build, demo, passages/s, {e}", f"{build[e]['passages_per_s']:.1f}")
        for e in ("torch", "onnx-int8")
    ]
    rows.append(("index build rate, onnx-int8 / torch", f"{build['ratio']:.2f}x"))
    rss = {kind: run["memory_mb"]["after queries"]["VmRSS"] for kind, run in million.items()}
    for kind, run in million.items():
        rows += [
            (
                f"dense search p50 / p95 ms, 1M vectors, {kind} (FAISS alone)",
                f"{run['search_ms']['p50']:.2f} / {run['search_ms']['p95']:.2f}",
            ),
            (f"recall@10 vs exact, 1M vectors, {kind}", f"{run['recall_at_10']:.4f}"),
            (f"RSS MB, 1M vectors, {kind} loaded and searched", f"{rss[kind]:.0f}"),
        ]
    if {"ivf-sq8", "flat"} <= million.keys():
        p95 = {kind: million[kind]["search_ms"]["p95"] for kind in ("ivf-sq8", "flat")}
        rows.append(
            (
                "1M vectors, ivf-sq8 / flat: search p95, RSS",
                f"{p95['ivf-sq8'] / p95['flat']:.3f}x, {rss['ivf-sq8'] / rss['flat']:.2f}x",
            )
        )
    if stack:
        memory = stack["memory_mb"]
        rows += [
            (
                "RSS MB, 1M-passage index served whole: loaded / after 50 answers",
                f"{memory['after load']['VmRSS']:.0f} / {memory['after answers']['VmRSS']:.0f}",
            ),
            (
                "dense recall@10 vs exact, 1M-passage index served whole",
                f"{stack['dense_recall_at_10']:.3f}",
            ),
        ]
    print("\n| measure | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
