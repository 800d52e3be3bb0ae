"""One configuration: the settings' defaults are the library configs' defaults, and the engine
and the eval harness map settings to those configs in one place."""

from __future__ import annotations

import pytest

from answer.compose import ComposeConfig
from answer.engine import compose_config, retrieval_config
from answer.settings import Settings
from retriever.hybrid import RetrievalConfig


def test_default_settings_are_the_library_defaults() -> None:
    assert retrieval_config(Settings()) == RetrievalConfig()
    assert compose_config(Settings()) == ComposeConfig()


def test_an_environment_variable_reaches_the_retriever_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FOLLOWUP_RETRIEVAL__FUSION", "rrf")
    monkeypatch.setenv("FOLLOWUP_RETRIEVAL__DENSE_DEPTH", "50")
    config = retrieval_config(Settings())
    assert (config.fusion.value, config.dense_depth) == ("rrf", 50)
    assert config.lexical_depth == RetrievalConfig().lexical_depth  # the rest keeps its default
