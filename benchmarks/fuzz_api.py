"""Fuzz the HTTP API with schemathesis: generated requests against the real app on an index.

Starts ``create_app`` (the real engine, conversations in a temporary directory, no rate limit so
that every case reaches the routes) behind uvicorn on 127.0.0.1, then runs schemathesis on its
own OpenAPI document: examples, coverage and fuzzing phases, valid and invalid data, and the
stateful phase (create a conversation, follow up, read, delete). Every response is checked: no
5xx, the status code, content type, headers and body as the document declares them.

Prints the run's figures and writes schemathesis's JSON report; exits non-zero on any failure.

    nice python benchmarks/fuzz_api.py --index var/demo-index --max-examples 200
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from answer.settings import Settings  # noqa: E402
from api.app import create_app  # noqa: E402

CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
)
# A request the schema forbids must be refused with one of these. 413 is among them: a
# history over its 200 messages is usually also a body over the size limit, refused unread.
CONFIG = """\
[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "409", "413", "415", "422", "429"]
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(settings: Settings, port: int) -> uvicorn.Server:
    config = uvicorn.Config(
        create_app(settings, load_in_background=False),
        host="127.0.0.1",
        port=port,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, daemon=True).start()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise TimeoutError("the server did not become ready in 300 s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=ROOT / "var" / "demo-index")
    parser.add_argument("--max-examples", type=int, default=200, help="cases per operation")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "fuzz-api")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    logging.basicConfig(level=logging.WARNING)

    args.out.mkdir(parents=True, exist_ok=True)
    data = Path(tempfile.mkdtemp(prefix="fuzz-api-"))
    settings = Settings.model_validate(
        {"index": {"path": args.index}, "api": {"data_dir": data, "rate_limit": None}}
    )
    port = free_port()
    server = serve(settings, port)
    ndjson = args.out / "events.ndjson"
    config = args.out / "schemathesis.toml"
    config.write_text(CONFIG)
    started = time.perf_counter()
    try:
        command = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config)]
        command += ["run", f"http://127.0.0.1:{port}/openapi.json", "--checks", ",".join(CHECKS)]
        command += f"""--max-examples {args.max_examples} --seed {args.seed} --workers 1
            --continue-on-failure --suppress-health-check too_slow,filter_too_much,data_too_large
            --report ndjson --generation-database none --no-color""".split()
        command += ["--report-ndjson-path", str(ndjson)]
        result = subprocess.run(
            command,
            cwd=args.out,  # schemathesis keeps a .schemathesis folder in its working directory
            capture_output=True,
            text=True,
        )
    finally:
        server.should_exit = True
    seconds = time.perf_counter() - started
    (args.out / "schemathesis.txt").write_text(result.stdout + result.stderr)
    statuses: Counter[str] = Counter()
    cases = 0
    for line in ndjson.read_text().splitlines():
        event = json.loads(line)
        for interaction in _interactions(event):
            cases += 1
            statuses[str(interaction)] += 1
    summary = result.stdout.strip().splitlines()[-15:]
    print("\n".join(summary))
    print(
        json.dumps(
            {
                "cases": cases,
                "statuses": dict(sorted(statuses.items())),
                "seconds": round(seconds, 1),
                "exit_code": result.returncode,
            },
            indent=2,
        )
    )
    return result.returncode


def _interactions(event: dict[str, Any]) -> list[int]:
    """The response statuses recorded in one NDJSON event (a scenario's finished cases)."""
    found: list[int] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            response = value.get("response")
            if isinstance(response, dict) and isinstance(response.get("status_code"), int):
                found.append(response["status_code"])
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(event)
    return found


if __name__ == "__main__":
    sys.exit(main())
