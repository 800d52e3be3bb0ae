"""Latency and throughput of POST /v1/answers on a real server over loopback.

Starts ``followup serve`` (real uvicorn, one worker, one torch thread: the server's defaults)
on the demo index, waits for /readyz, sends warm-up requests, then runs N concurrent clients
(1, 4, 8 by default), each a thread with its own keep-alive HTTP connection sending requests
back to back. Every request asks a question not asked before in the run, so no cache of query
embeddings helps (the engine keeps one); the questions are the demo questions and the question
headings of the demo corpus's guideline pages, then templated questions about its topics.

Printed: per concurrency level, requests, throughput and client-side latency percentiles; then
where the time of one request goes at concurrency 1: the engine's own timings (from the
answer's ``timings_ms``: query encoding, BM25, FAISS, fusion, composition) against the
latency the client saw, the rest being HTTP, JSON and the server's queueing.

Usage:
    nice python benchmarks/api_bench.py [--index var/demo-index] [--clients 1 4 8]
        [--requests 120] [--warmup 10] [--workers 1] [--threads 1] [--stream-clients 8]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "benchmarks" / "questions_demo.jsonl"
DEMO = ROOT / "corpus" / "data" / "demo.jsonl"
RESULTS = ROOT / "var" / "results" / "api_bench.json"
TEMPLATES = (
    "What causes {}?",
    "Who is at risk of {}?",
    "What are the symptoms of {}?",
    "How is {} diagnosed?",
    "How is {} treated?",
    "Can {} be prevented?",
)


def question_pool(seed: int = 13) -> list[str]:
    """Distinct questions: the demo set, corpus headings, then templates over corpus topics."""
    questions = [
        json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines() if line
    ]
    headings, topics = [], []
    for line in DEMO.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row.get("tier") != "guideline":
            continue
        topics.append(row["title"])
        sections = row.get("sections") or []
        headings.extend(s["heading"].replace(" ?", "?") for s in sections if s.get("heading"))
    rng = random.Random(seed)
    rng.shuffle(headings)
    templated = [t.format(topic.lower()) for topic in dict.fromkeys(topics) for t in TEMPLATES]
    rng.shuffle(templated)
    return list(dict.fromkeys([*questions, *headings, *templated]))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(args: argparse.Namespace, data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    command = [
        sys.executable, "-m", "followup", "serve",
        "--index", str(args.index), "--host", "127.0.0.1", "--port", str(port),
        "--data-dir", str(data_dir), "--workers", str(args.workers), "--threads", str(args.threads),
    ]  # fmt: skip
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        # The clients share one address: the per-client rate limit (api.rate_limit) would
        # measure the 429 path, not the answers.
        "FOLLOWUP_API__RATE_LIMIT": "1000000/second",
    }
    log = (data_dir / "server.log").open("wb")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + args.startup_timeout
    with httpx.Client(base_url=url, timeout=5) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                sys.exit(f"server exited with {process.returncode}; see {data_dir / 'server.log'}")
            try:
                if client.get("/readyz").status_code == 200:
                    return process, url
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    process.kill()
    sys.exit(f"server not ready after {args.startup_timeout} s")


class Questions:
    """Hands out each question once, from any thread."""

    def __init__(self, pool: list[str]) -> None:
        self._pool = pool
        self._next = 0
        self._lock = threading.Lock()
        self.wrapped = False

    def take(self) -> str:
        with self._lock:
            if self._next >= len(self._pool):
                self._next, self.wrapped = 0, True
            question = self._pool[self._next]
            self._next += 1
            return question


def run_level(
    url: str, clients: int, requests: int, questions: Questions, *, stream: bool = False
) -> dict[str, Any]:
    """``requests`` in all, spread over ``clients`` threads sending back to back; with
    ``stream``, each asks for Server-Sent Events and its latency ends with the last event."""
    latencies: list[float] = []
    timings: list[dict[str, float]] = []
    errors: list[str] = []
    lock = threading.Lock()
    per_client = [
        requests // clients + (1 if i < requests % clients else 0) for i in range(clients)
    ]
    barrier = threading.Barrier(clients + 1)

    def client(count: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            http.get("/healthz")  # open the connection before the clock starts
            barrier.wait()
            for _ in range(count):
                question = questions.take()
                began = time.perf_counter()
                body = {"question": question, "stream": stream}
                response = http.post("/v1/answers", json=body)  # reads the whole stream
                elapsed = (time.perf_counter() - began) * 1000
                with lock:
                    if response.status_code != 200 or "event: error" in response.text:
                        errors.append(f"{response.status_code} {response.text[:200]}")
                        continue
                    latencies.append(elapsed)
                    if stream:
                        continue  # the engine's timings are in the done event, not parsed here
                    timing = dict(response.json().get("timings_ms", {}))
                    timing["app"] = server_timing(response)
                    timing["cpu"] = server_timing(response, "cpu")
                    timings.append(timing)

    threads = [threading.Thread(target=client, args=(n,)) for n in per_client]
    for t in threads:
        t.start()
    barrier.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    values = np.array(latencies)
    return {
        "clients": clients,
        "requests": len(latencies),
        "errors": len(errors),
        "error_samples": errors[:3],
        "seconds": wall,
        "throughput_rps": len(latencies) / wall,
        "p50_ms": float(np.percentile(values, 50)),
        "p95_ms": float(np.percentile(values, 95)),
        "p99_ms": float(np.percentile(values, 99)),
        "max_ms": float(values.max()),
        "mean_ms": float(values.mean()),
        "engine_timings": timings,
        "latencies": latencies,
    }


def server_timing(response: httpx.Response, metric: str = "app") -> float:
    """One metric (``app`` wall, ``cpu``) of the Server-Timing header (api/timing.py), in ms."""
    for part in response.headers.get("server-timing", "").split(","):
        name, _, duration = part.strip().partition(";dur=")
        if name == metric and duration:
            return float(duration)
    return float("nan")


def breakdown(level: dict[str, Any]) -> list[tuple[str, float, float, float]]:
    """(part, p50, p95, mean ms): the engine's parts, then the layers around the engine."""
    timings = level["engine_timings"]
    parts = sorted({k for t in timings for k in t} - {"total", "app", "cpu"})
    rows = []

    def row(name: str, values: np.ndarray) -> None:
        rows.append(
            (
                name,
                float(np.percentile(values, 50)),
                float(np.percentile(values, 95)),
                float(values.mean()),
            )
        )

    for key in parts:
        row(f"engine: {key}", np.array([t.get(key, 0.0) for t in timings]))
    total = np.array([t.get("total", 0.0) for t in timings])
    app = np.array([t["app"] for t in timings])
    latency = np.array(level["latencies"])
    row("engine total", total)
    row("app around the engine (validation, thread hand-off, JSON)", app - total)
    row("outside the app (uvicorn, loopback, client)", latency - app)
    row("client latency", latency)
    row(
        "server CPU time per request (what it costs on an idle core)",
        np.array([t["cpu"] for t in timings]),
    )
    return rows


def healthz_round_trip(url: str, count: int = 100) -> float:
    """p50 ms of GET /healthz: the HTTP stack with no work behind it."""
    values = []
    with httpx.Client(base_url=url, timeout=10) as http:
        http.get("/healthz")
        for _ in range(count):
            began = time.perf_counter()
            http.get("/healthz")
            values.append((time.perf_counter() - began) * 1000)
    return float(np.percentile(values, 50))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=ROOT / "var" / "demo-index")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--requests", type=int, default=120, help="requests per level")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    parser.add_argument("--startup-timeout", type=float, default=900)
    parser.add_argument(
        "--stream-clients",
        type=int,
        nargs="*",
        default=[8],
        help="then the same, streamed (Server-Sent Events), at these concurrencies",
    )
    args = parser.parse_args()
    if not (args.index / "manifest.json").is_file():
        sys.exit(f"no index at {args.index}; run `followup index build --demo --out {args.index}`")

    pool = question_pool()
    questions = Questions(pool)
    with tempfile.TemporaryDirectory(prefix="api-bench-") as tmp:
        process, url = start_server(args, Path(tmp))
        try:
            run_level(url, 1, args.warmup, questions)
            healthz = healthz_round_trip(url)
            levels = [run_level(url, n, args.requests, questions) for n in args.clients]
            streamed = [
                run_level(url, n, args.requests, questions, stream=True)
                for n in args.stream_clients
            ]
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)

    manifest = json.loads((args.index / "manifest.json").read_text())
    repeated = " (the pool wrapped: some were repeated)" if questions.wrapped else ""
    print(
        f"\nPOST /v1/answers on {args.index} ({manifest['corpus']['passages']} passages), "
        f"{args.workers} worker(s), {args.threads} torch thread(s), {os.cpu_count()} CPUs, "
        f"loopback; every question distinct{repeated}\n"
    )
    print("| clients | requests | errors | req/s | p50 ms | p95 ms | p99 ms | max ms |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for lv in levels:
        print(
            f"| {lv['clients']} | {lv['requests']} | {lv['errors']} | {lv['throughput_rps']:.1f} "
            f"| {lv['p50_ms']:.1f} | {lv['p95_ms']:.1f} | {lv['p99_ms']:.1f} | {lv['max_ms']:.1f} |"
        )
    for lv in streamed:
        plain = next((p for p in levels if p["clients"] == lv["clients"]), None)
        ratio = f", {lv['p50_ms'] / plain['p50_ms']:.2f}x plain p50" if plain else ""
        print(
            f"| {lv['clients']} streamed | {lv['requests']} | {lv['errors']} "
            f"| {lv['throughput_rps']:.1f} | {lv['p50_ms']:.1f}{ratio} | {lv['p95_ms']:.1f} "
            f"| {lv['p99_ms']:.1f} | {lv['max_ms']:.1f} |"
        )
    single = next((lv for lv in levels if lv["clients"] == 1), levels[0])
    print(f"\nWhere the time goes ({single['clients']} client, engine timings_ms):\n")
    print("| part | p50 ms | p95 ms | mean ms |")
    print("|---|---:|---:|---:|")
    for part, p50, p95, mean in breakdown(single):
        print(f"| {part} | {p50:.2f} | {p95:.2f} | {mean:.2f} |")
    print(f"\nGET /healthz round trip (no work): p50 {healthz:.2f} ms")
    load = os.getloadavg()
    print(
        f"load average during the run (1/5/15 min): {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}"
    )
    for lv in levels:
        for sample in lv["error_samples"]:
            print(f"error at {lv['clients']} clients: {sample}")

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    summary = {
        "index": str(args.index),
        "manifest_build": manifest.get("build", {}),
        "workers": args.workers,
        "threads": args.threads,
        "stream_levels": [
            {k: v for k, v in lv.items() if k not in ("engine_timings", "latencies")}
            for lv in streamed
        ],
        "levels": [
            {k: v for k, v in lv.items() if k not in ("engine_timings", "latencies")}
            for lv in levels
        ],
        "breakdown_1_client": breakdown(single),
        "healthz_p50_ms": healthz,
        "load_average": os.getloadavg(),
    }
    RESULTS.write_text(json.dumps(summary, indent=2))
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
