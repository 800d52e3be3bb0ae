"""Latency of ``Engine.answer`` on the demo index with a one-thread encoder (the API's setting).

The engine is built once (sentence embeddings come from the cache, see answer/engine.py), one
warm-up answer is discarded, then every question of the question file is answered ``--rounds``
times in turn. Prints p50/p95/max of the whole call and of its parts (the retriever's query
encoding and search, and composition), and writes var/results/answer_latency.json.

Usage:
    nice python benchmarks/answer_latency.py [--index var/demo-index] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from answer.engine import build_engine  # noqa: E402
from answer.schema import Audience  # noqa: E402
from answer.settings import Settings  # noqa: E402

QUESTIONS = ROOT / "benchmarks" / "questions_demo.jsonl"
RESULTS = ROOT / "var" / "results" / "answer_latency.json"


def percentiles(values: list[float]) -> dict[str, float]:
    array = np.array(values)
    return {
        "p50": float(np.percentile(array, 50)),
        "p95": float(np.percentile(array, 95)),
        "max": float(array.max()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=ROOT / "var" / "demo-index")
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the questions")
    parser.add_argument(
        "--audience", choices=("clinician", "patient"), default="clinician", help="wording"
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    started = time.perf_counter()
    engine = build_engine(
        Settings.model_validate(
            {"index": {"path": args.index}, "embedder": {"threads": args.threads}}
        )
    )
    build_s = time.perf_counter() - started
    questions = [
        json.loads(line)["question"]
        for line in args.questions.read_text(encoding="utf-8").splitlines()
    ]
    audience = Audience(args.audience)
    engine.answer(questions[0], audience=audience)  # warm-up: first-call allocations
    totals: list[float] = []
    first: list[float] = []
    parts: dict[str, list[float]] = {}
    for round_number in range(args.rounds):
        for question in questions:
            begun = time.perf_counter()
            answer = engine.answer(question, audience=audience)
            elapsed = (time.perf_counter() - begun) * 1000.0
            totals.append(elapsed)
            if round_number == 0:
                first.append(elapsed)
            for name, value in answer.timings_ms.items():
                parts.setdefault(name, []).append(value)
    # Round 1 is the honest figure for new questions: in later rounds the question's
    # embedding is found in the query caches and the encoder is skipped.
    summary = {"answer, round 1": percentiles(first), "answer, all": percentiles(totals)}
    summary |= {
        name: percentiles(values) for name, values in sorted(parts.items()) if name != "total"
    }
    print(
        f"engine built in {build_s:.1f} s; {len(totals)} answers "
        f"({len(questions)} questions x {args.rounds} rounds), {args.threads} encoder thread(s)"
    )
    print(f"{'ms':<18} {'p50':>8} {'p95':>8} {'max':>8}")
    for name, stats in summary.items():
        print(f"{name:<18} {stats['p50']:8.1f} {stats['p95']:8.1f} {stats['max']:8.1f}")
    report = {
        "command": "nice python benchmarks/answer_latency.py "
        + " ".join(argv if argv is not None else sys.argv[1:]),
        "index": str(args.index),
        "threads": args.threads,
        "answers": len(totals),
        "load_average": os.getloadavg(),
        "ms": summary,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
