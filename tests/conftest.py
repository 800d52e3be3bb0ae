"""Session fixtures shared by every test: the real model, loaded once, offline."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# The eval fixtures (the real model and tiny real indexes), requested by parameter name.
pytest_plugins = ["tests.fixtures_eval"]

# The local OpenAI-compatible endpoint of the LLM generator and LLM rewriter tests.
from tests.fixtures_llm import endpoint  # noqa: E402, F401
