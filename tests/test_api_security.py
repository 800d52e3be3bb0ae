"""API keys, CORS and keeping questions out of logs."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from answer.engine import IndexEngine
from api.deps import key_matches
from tests.fixtures_api import engine_app

Q1 = "What causes pernicious anemia?"
KEYS = ["key-for-site-a", "key-for-site-b"]
SITE = "https://www.example.com"


@pytest.fixture
def keyed(answer_engine: IndexEngine, tmp_path: Path) -> Iterator[TestClient]:
    app = engine_app(answer_engine, tmp_path, api_keys=KEYS, cors_origins=[SITE])
    with TestClient(app) as client:
        yield client


# ---------------------------------------------------------------------------------- keys


def test_no_key_gets_401_with_how_to_send_one(keyed: TestClient) -> None:
    response = keyed.post("/v1/answers", json={"question": Q1})
    assert response.status_code == 401
    assert response.json() == {
        "detail": "an API key is required: send `Authorization: Bearer <key>` or `X-API-Key: <key>`"
    }
    assert response.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer key-for-site-a-but-longer"},
        {"Authorization": "Bearer key-for-site-"},
        {"X-API-Key": "KEY-FOR-SITE-A"},
        {"Authorization": "Basic key-for-site-a"},  # not a Bearer credential: no key at all
    ],
)
def test_a_wrong_key_gets_401(keyed: TestClient, headers: dict[str, str]) -> None:
    response = keyed.post("/v1/answers", json={"question": Q1}, headers=headers)
    assert response.status_code == 401
    assert response.json()["detail"] in (
        "the API key is not valid",
        "an API key is required: send `Authorization: Bearer <key>` or `X-API-Key: <key>`",
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer key-for-site-a"},
        {"Authorization": "bearer key-for-site-b"},
        {"X-API-Key": "key-for-site-b"},
    ],
)
def test_any_configured_key_in_either_header_is_accepted(keyed: TestClient, headers) -> None:
    assert keyed.post("/v1/answers", json={"question": Q1}, headers=headers).status_code == 200


def test_every_v1_route_needs_the_key(keyed: TestClient) -> None:
    for method, path in [
        ("post", "/v1/answers"),
        ("post", "/v1/conversations"),
        ("get", "/v1/conversations/c_x"),
        ("delete", "/v1/conversations/c_x"),
        ("post", "/v1/conversations/c_x/followups"),
        ("post", "/v1/search"),
        ("get", "/v1/passages/p0000000000000000"),
        ("post", "/v1/chat/completions"),
        ("get", "/v1/models"),
    ]:
        assert getattr(keyed, method)(path).status_code == 401, path


def test_probes_page_and_docs_stay_open(keyed: TestClient) -> None:
    for path in (
        "/healthz",
        "/readyz",
        "/",
        "/static/followup-widget.js",
        "/docs",
        "/openapi.json",
    ):
        assert keyed.get(path).status_code == 200, path


def test_key_matching_looks_at_every_key() -> None:
    """No early exit: the first key matching still costs the comparisons with the others."""
    seen: list[str] = []

    class Key(SecretStr):
        def get_secret_value(self) -> str:
            seen.append(super().get_secret_value())
            return super().get_secret_value()

    keys = [Key("alpha"), Key("beta"), Key("gamma")]
    assert key_matches("alpha", keys)
    assert seen == ["alpha", "beta", "gamma"]
    assert not key_matches("delta", keys)
    assert not key_matches("", keys)


# ---------------------------------------------------------------------------------- CORS


def test_cors_preflight_from_an_allowed_origin(keyed: TestClient) -> None:
    response = keyed.options(
        "/v1/answers",
        headers={
            "Origin": SITE,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == SITE
    assert "authorization" in response.headers["access-control-allow-headers"].lower()


def test_cors_refuses_other_origins(keyed: TestClient) -> None:
    response = keyed.options(
        "/v1/answers",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers
    plain = keyed.post(
        "/v1/answers",
        json={"question": Q1},
        headers={"Origin": "https://evil.example", "X-API-Key": KEYS[0]},
    )
    assert "access-control-allow-origin" not in plain.headers


def test_errors_carry_cors_headers_so_the_page_can_show_them(keyed: TestClient) -> None:
    response = keyed.post("/v1/answers", json={"question": Q1}, headers={"Origin": SITE})
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == SITE


# ------------------------------------------------------------------------------- logging


def _log_of(engine: IndexEngine, tmp_path: Path, caplog, **api) -> str:
    caplog.set_level(logging.INFO, logger="api")
    with TestClient(engine_app(engine, tmp_path, **api)) as client:
        secret = "my daughter's rare pernicious anemia"
        assert client.post("/v1/answers", json={"question": secret}).status_code == 200
        cid = client.post("/v1/conversations", json={"question": secret}).json()["id"]
        client.post(f"/v1/conversations/{cid}/followups", json={"question": secret})
        client.post(
            "/v1/chat/completions",
            json={"model": "followup", "messages": [{"role": "user", "content": secret}]},
        )
    return caplog.text


def test_questions_are_not_logged_by_default(
    answer_engine: IndexEngine, tmp_path: Path, caplog
) -> None:
    text = _log_of(answer_engine, tmp_path, caplog)
    assert "answer " in text and "chars=36" in text  # the requests were logged...
    assert "daughter" not in text  # ...without their questions


def test_questions_are_logged_when_asked_to(
    answer_engine: IndexEngine, tmp_path: Path, caplog
) -> None:
    logged = _log_of(answer_engine, tmp_path, caplog, log_questions=True)
    assert "my daughter's rare pernicious anemia" in logged
