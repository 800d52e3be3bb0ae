"""`followup serve` settings: flags over environment over defaults, and the worker factory.

The commands themselves run as subprocesses in tests/test_api_integration.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from followup.cli import build_parser
from followup.commands.serve import SETTINGS_ENV, app_factory, serve_settings, settings_json


def parse(*argv: str):
    return build_parser().parse_args(["serve", *argv])


def test_flags_override_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOLLOWUP_API__PORT", "9000")
    monkeypatch.setenv("FOLLOWUP_API__CORS_ORIGINS", '["https://env.example"]')
    settings = serve_settings(
        parse("--port", "8123", "--index", "var/x", "--api-key", "a", "--api-key", "b")
    )
    assert settings.api.port == 8123  # the flag wins
    assert settings.api.cors_origins == ["https://env.example"]  # the environment fills in
    assert [k.get_secret_value() for k in settings.api.api_keys] == ["a", "b"]
    assert settings.index.path == Path("var/x")
    assert settings.api.host == "127.0.0.1"  # the default


def test_the_server_gets_one_torch_thread_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    assert serve_settings(parse()).embedder.threads == 1
    assert serve_settings(parse("--threads", "2")).embedder.threads == 2
    monkeypatch.setenv("FOLLOWUP_EMBEDDER__THREADS", "3")
    assert serve_settings(parse()).embedder.threads == 3


def test_make_run_flags_are_accepted() -> None:
    # The README's main command (make run).
    args = parse("--index", "var/demo-index", "--host", "127.0.0.1", "--port", "8000")
    assert (args.index, args.host, args.port) == (Path("var/demo-index"), "127.0.0.1", 8000)
    assert args.func.__name__ == "run_serve"


def test_worker_processes_get_the_resolved_settings(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """--workers > 1: uvicorn imports app_factory in each worker; settings travel as JSON."""
    settings = serve_settings(
        parse("--index", str(tmp_path / "none"), "--data-dir", str(tmp_path), "--api-key", "k1")
    )
    monkeypatch.setenv(SETTINGS_ENV, settings_json(settings))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # app_factory sets it when unset: undo after
    monkeypatch.setenv("FOLLOWUP_API__API_KEYS", '["from-env-ignored"]')
    app = app_factory()
    resolved = app.state.settings
    assert [k.get_secret_value() for k in resolved.api.api_keys] == ["k1"]  # secret kept
    assert resolved.embedder.threads == 1
    with TestClient(app) as client:
        for _ in range(100):
            ready = client.get("/readyz")
            if ready.json()["status"] != "loading":
                break
        assert ready.status_code == 503 and ready.json()["status"] == "failed"
        assert client.get("/v1/models").status_code == 401  # the key from the parent applies
