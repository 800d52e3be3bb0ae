"""Session fixtures shared by every test: the real model, loaded once, offline; the real
engine on a small real index; a local LLM endpoint."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# Fixtures requested by parameter name: the eval fixtures (the real model and tiny real
# indexes) and the real engine on a small real index, shared by the engine, eval and API
# route tests.
pytest_plugins = ["tests.fixtures_eval", "tests.fixtures_answer"]

# The local OpenAI-compatible endpoint of the LLM generator and LLM rewriter tests.
from tests.fixtures_llm import endpoint  # noqa: E402, F401
